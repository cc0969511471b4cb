"""Page code several scripts share: a script names a shared piece by a placeholder statement, filled in here."""
from __future__ import annotations

from pathlib import Path

# `pressButton(id)`: press a Gradio button by its elem_id (the refresh buttons, the strip request, the URL writer).
PRESS_BUTTON = Path(__file__).with_name("press_button.js").read_text(encoding="utf-8")


def with_press(code: str) -> str:
    """`code` with its `PRESS_BUTTON;` placeholder replaced by the definition of `pressButton`."""
    if "PRESS_BUTTON;" not in code:
        raise ValueError("the script has no PRESS_BUTTON; placeholder where pressButton is to be defined")
    return code.replace("PRESS_BUTTON;", PRESS_BUTTON)
