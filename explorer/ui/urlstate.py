"""Shareable app state in the page URL's query string.

    ?step=time&tab=denoising&image=00a9-fe0f&t=900&seed=0&knockouts=told:10

`parse` reads a query (unknown or malformed values are dropped, each with a note saying why),
`encode` writes one. Both are plain functions; the Gradio wiring (read on page load, written back
with `history.replaceState` on every change) lives in explorer/ui/lesson.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from explorer import knockouts
from explorer.diffusion import NUM_TIMESTEPS
from explorer.knockouts import Knockouts
from explorer.ui.pagejs import with_press
from explorer.views.context import MAX_SEED

KEYS = ("step", "tab", "image", "t", "seed", "block", "pixel", "knockouts")
ALIASES = {"ko": "knockouts", "knock-outs": "knockouts"}
MAX_SHOWN = 40  # characters of a rejected value repeated in the note
MAX_NOTES = 12  # rejected settings listed in the note; the rest are counted

# Replaces the query part of the address bar; an empty query leaves the bare path.
WRITE_JS = Path(__file__).with_name("urlstate.js").read_text(encoding="utf-8")

# Run in the page on every change of a recorded setting: presses the hidden button WRITE_BUTTON (whose event
# computes the query) once the changes of one event have all arrived, URL_QUIET_MS after the last of them.
WRITE_BUTTON = "lesson-url-write"
URL_QUIET_MS = 250
SCHEDULE_JS = (with_press(Path(__file__).with_name("urlstate_schedule.js").read_text(encoding="utf-8"))
               .replace("URL_QUIET_MS", str(URL_QUIET_MS)).replace("lesson-url-write", WRITE_BUTTON))


@dataclass(frozen=True)
class Choices:
    """What a query value may be: the step ids, tab ids, image stems and block names of this app."""

    steps: tuple[str, ...]
    tabs: tuple[str, ...]
    images: tuple[str, ...]
    blocks: tuple[str, ...]
    image_size: int
    num_levels: int
    max_t: int = NUM_TIMESTEPS - 1


@dataclass(frozen=True)
class UrlState:
    """The state a URL asks for; None (or an empty tuple for knock-outs) means "not given"."""

    step: str | None = None
    tab: str | None = None
    image: str | None = None
    t: int | None = None
    seed: int | None = None
    block: str | None = None
    pixel: tuple[int, int] | None = None  # (y, x)
    knockouts: tuple[str, ...] | None = None  # Knockouts tokens in the link's order, each spelled as `str` writes it
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return all(getattr(self, key) is None for key in KEYS)


def _shown(value: str) -> str:
    text = str(value).replace("`", "'").replace("\n", " ")
    return text[:MAX_SHOWN] + ("…" if len(text) > MAX_SHOWN else "")


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 12:  # isdigit also refuses '-3', '2.5', '1e3' and ''
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse(query: Mapping[str, str], choices: Choices) -> UrlState:
    """The state asked for by `query` (e.g. dict(request.query_params)); what cannot be used goes to notes."""
    notes, found = [], {}
    for raw_key, raw in query.items():
        key = ALIASES.get(str(raw_key).lower(), str(raw_key).lower())
        value = str(raw)
        if key not in KEYS:
            notes.append(f"`{_shown(raw_key)}` is not a setting (use {', '.join(KEYS)})")
            continue
        parsed = _parse_one(key, value, choices)
        if parsed is None:
            notes.append(f"`{key}={_shown(value)}`: {_expected(key, choices)}")
        else:
            found[key] = parsed
    return UrlState(**found, notes=tuple(notes))


def _parse_one(key: str, value: str, choices: Choices):
    if key == "step":
        if value in choices.steps:
            return value
        number = _whole(value, 1, len(choices.steps))
        return choices.steps[number - 1] if number else None
    if key == "tab":
        return value if value in choices.tabs else None
    if key == "image":
        return value if value in choices.images else None
    if key == "t":
        return _whole(value, 1, choices.max_t)
    if key == "seed":
        return _whole(value, 0, MAX_SEED)
    if key == "block":
        return value if value in choices.blocks else None
    if key == "pixel":
        parts = value.split(",")
        if len(parts) != 2:
            return None
        y, x = (_whole(part, 0, choices.image_size - 1) for part in parts)
        return None if y is None or x is None else (y, x)
    if key == "knockouts":
        try:
            Knockouts.parse(value, choices.num_levels, choices.max_t)  # the list as a whole (one told t at most)
            parsed = [str(Knockouts.parse(item, choices.num_levels, choices.max_t))
                      for item in value.split(",") if item.strip()]
        except ValueError:
            return None
        return tuple(dict.fromkeys(parsed))  # "none" is spelled as an empty value: knockouts=
    return None


def _expected(key: str, choices: Choices) -> str:
    return {
        "step": f"no such step (use 1 … {len(choices.steps)} or a step name)",
        "tab": f"no such tab (use {', '.join(choices.tabs)})",
        "image": "no held-out image of that name",
        "t": f"t must be a whole number from 1 to {choices.max_t}",
        "seed": f"the seed must be a whole number from 0 to {MAX_SEED}",
        "block": "no block of that name",
        "pixel": f"the pixel is 'y,x' with whole numbers from 0 to {choices.image_size - 1}",
        "knockouts": "knock-outs are " + knockouts.GRAMMAR.format(levels=choices.num_levels),
    }[key]


def encode(state: UrlState) -> str:
    """The query string (without '?') for `state`, keys in a fixed order; unset keys are left out."""
    pairs = []
    for key in KEYS:
        value = getattr(state, key)
        if value is None:
            continue
        if key == "pixel":
            value = f"{value[0]},{value[1]}"
        elif key == "knockouts":
            if not value:
                continue
            value = ",".join(value)
        pairs.append((key, str(value)))
    return urlencode(pairs, safe=",:")


def note_markdown(notes: tuple[str, ...] | list[str]) -> str:
    if not notes:
        return ""
    shown = list(notes[:MAX_NOTES]) + ([f"and {len(notes) - MAX_NOTES} more"] if len(notes) > MAX_NOTES else [])
    return ("**Part of this link could not be used, so those settings were left at their defaults:** "
            + "; ".join(shown) + ".")
