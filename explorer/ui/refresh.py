"""One event per change refreshes whichever tab is shown when the image, t or the seed change.

Each tab hands over a `Refresh`: its extra inputs, its outputs and the function that fills them.
The page decides which tab is shown: a trigger runs a few lines of JavaScript (no server call) that
press the shown tab's hidden refresh button, and that button's event computes and writes that tab's
outputs only. The other tabs are not touched (no `gr.skip()` outputs, which Gradio turns into a
component rebuild each). A tab whose view follows the slider in the page (`follows_drag=False`,
the Denoising lab) is refreshed when t is let go of, not at every step of a drag.
"""
from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer.ui import validate
from explorer.ui.pagejs import with_press
from explorer.ui.wiring import Wire, bind, flat, register
from explorer.ui.wiring import wire as wire_row


@dataclass
class Refresh:
    tab: str  # the tab's id: its panel has elem_id "tab-<tab>"
    inputs: list  # components read after (image, t, seed)
    outputs: list
    fn: Callable  # fn(image, t, seed, *inputs) -> tuple matching outputs
    follows_drag: bool = True  # False: refreshed when the t slider is released, not while it is dragged
    # The long job the page asks for once the refresh is in, computed from the same values (the Denoising lab's
    # strip of t values): follow_up(image, t, seed, *inputs). For the Lesson's warm-up (explorer/ui/warm.py).
    follow_up: Callable | None = None


def tab_refresh(tab: str, ctx, handler: Callable, inputs: list, outputs: list, follows_drag: bool = True,
                follow_up: Callable | None = None) -> Refresh:
    """A tab's `Refresh` from module-level handlers: `handler(ctx, image, t, seed, *inputs)` (and `follow_up`, with
    the same arguments), a `Pack` among `inputs` given as its one value."""
    names = ["image", "t", "seed", *inputs]
    return Refresh(tab, flat(inputs), outputs, bind(handler, ctx, names), follows_drag,
                   bind(follow_up, ctx, names) if follow_up is not None else None)


# Tracks whether the t slider is held by a pointer, so that a tab refreshed on release is not also refreshed at
# every `change` of a drag (keys, typed values and values set by the server still refresh it through `change`).
TRACK_DRAG = Path(__file__).with_name("track_drag.js").read_text(encoding="utf-8")


# Fills in TRACK_DRAG, UNLESS_DRAGGED and TABS (press_shown), and pressButton (pagejs); the placeholders keep the file
# valid JavaScript.
PRESS_SHOWN = with_press(Path(__file__).with_name("press_shown.js").read_text(encoding="utf-8"))


MARK_CHANGED = Path(__file__).with_name("mark_changed.js").read_text(encoding="utf-8")

# The refresh of a tab refreshed on release reads the released t (pressed before Gradio has taken it in); T_INDEX:
# t's place among the refresh's inputs.
RELEASED_T = Path(__file__).with_name("released_t.js").read_text(encoding="utf-8")


def press_shown(tabs: list[str], unless_dragged: bool = False, shown_only: bool = False, released: bool = False) -> str:
    """JavaScript that presses the refresh button of whichever of `tabs` is shown (not while t is held, if asked).
    `shown_only`: the trigger is a tab being shown, not a change of the image, t or the seed: a tab refreshed since
    their last change is left as it is (showing a tab sets the shown tab twice, from Show me and from the tab's own
    select, and each refresh of the Part-by-part tab redraws a dozen charts). `released`: the trigger is the t
    slider let go of."""
    return (PRESS_SHOWN.replace("TRACK_DRAG;", TRACK_DRAG).replace("UNLESS_DRAGGED", json.dumps(unless_dragged))
            .replace("RELEASED", json.dumps(released))
            .replace("SHOWN_ONLY", json.dumps(shown_only)).replace("TABS", json.dumps(tabs)))


def quiet_on_bad_inputs(refresh: Refresh) -> Callable:
    """`refresh.fn`, leaving the tab as it is when t or the seed is not valid: the input panel's line and its one
    warning say what is wrong (inputs.shown_previews). Errors in the tab's own inputs are still raised.

    `functools.wraps` carries `refresh.fn`'s marks (`lanes.long_job`) over: without it the Part-by-part
    refresh, four backward passes, ran in the quick lane, where 30 of them held up every click."""
    @functools.wraps(refresh.fn)
    def run(image, t, seed, *inputs):
        try:
            validate.timestep(t)
            validate.seed(seed)
        except gr.Error:
            return tuple(gr.skip() for _ in refresh.outputs)
        return refresh.fn(image, t, seed, *inputs)
    return run


def stamped(run: Callable) -> Callable:
    """`run`, whose outputs are followed by a stamp that differs at every call: the page reads a refresh's end from
    its stamp (`refreshed-<tab>`), even when the views come back as they were (the Lesson's out-of-date mark)."""
    @functools.wraps(run)
    def with_stamp(*args):
        outputs = run(*args)
        return (*(outputs if isinstance(outputs, tuple) else (outputs,)), str(next(_stamps)))
    return with_stamp


_stamps = itertools.count(1)


def wire(active_tab: gr.State, shared: list, refreshes: list[Refresh]) -> None:
    """Run the shown tab's refresh when the image, t or the seed change (`shared`: the panel's image, t, seed), or
    another tab is shown (`active_tab`); the other tabs' outputs are left as they are."""
    buttons = [gr.Button(visible="hidden", elem_id=f"refresh-{refresh.tab}", elem_classes=["refresh-trigger"])
               for refresh in refreshes]
    stamps = [gr.Textbox(visible="hidden", elem_id=f"refreshed-{refresh.tab}") for refresh in refreshes]
    register(None, wires(active_tab, shared, refreshes, buttons, stamps))


def wires(active_tab: gr.State, shared: list, refreshes: list[Refresh], buttons: list[gr.Button],
          stamps: list[gr.Textbox] | None = None) -> list[Wire]:
    """Each tab's hidden refresh `buttons` call its refresh (and write its `stamps`, `stamped`); each change presses
    the shown tab's button, in the page. A tab that follows the slider in the page (`follows_drag=False`) is pressed
    when t is let go of instead of at every step of a drag."""
    rows = []
    image, t, seed = shared
    for index, (refresh, button) in enumerate(zip(refreshes, buttons)):
        run = quiet_on_bad_inputs(refresh)
        run.long_job_refresh = True  # asked for again on every change: two of one session may meet (lanes)
        outputs = refresh.outputs
        if stamps:
            run, outputs = stamped(run), outputs + [stamps[index]]
        released_t = {} if refresh.follows_drag else {"js": RELEASED_T.replace("T_INDEX", str(shared.index(t)))}
        rows.append(wire_row(button.click, run, shared + refresh.inputs, outputs, context=False,
                             api_name=False, preprocess=False, show_progress="hidden", trigger_mode="always_last",
                             **released_t))
    every_tab = [refresh.tab for refresh in refreshes]
    dragged = [refresh.tab for refresh in refreshes if refresh.follows_drag]
    released = [tab for tab in every_tab if tab not in dragged]
    page_only = dict(api_name=False, queue=False)
    rows.append(wire_row([image.change], None, js=press_shown(every_tab), **page_only))
    rows.append(wire_row([t.change], None, js=press_shown(dragged), **page_only))
    if released:
        rows.append(wire_row([t.change], None, js=press_shown(released, unless_dragged=True), **page_only))
    rows.append(wire_row([seed.change], None, js=press_shown(every_tab), **page_only))
    # A tab's own inputs may change while another tab is shown (the block chosen in the Receptive-field tab is the
    # Architecture tab's too): that marks the shown tabs' refreshes out of date, so showing the tab presses it.
    own = list({id(component): component for refresh in refreshes for component in refresh.inputs
                if hasattr(component, "change")}.values())
    if own:
        rows.append(wire_row([component.change for component in own], None, js=MARK_CHANGED, **page_only))
    rows.append(wire_row([active_tab.change], None, js=press_shown(every_tab, shown_only=True), **page_only))
    if released:
        rows.append(wire_row(t.release, None, js=press_shown(released, released=True), **page_only))
    return rows
