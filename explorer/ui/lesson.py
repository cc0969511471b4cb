"""The Lesson tab: "Why U-Net?" step by step, each step with a "Show me" button that sets up its proof.

`build` lays out the tab (it comes first); `wire`, called once every tab exists, finds the controls a
step sets in the other tabs (by their elem_id, the same names the browser tests use), connects the
buttons, and reads and writes the shareable state in the page URL (explorer/ui/urlstate.py).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer import lesson
from explorer.knockouts import Knockouts
from explorer.server import lanes
from explorer.ui import urlstate
from explorer.ui.inputs import Inputs, source_text
from explorer.views import kept, receptive
from explorer.views.context import Context

LESSON_TAB = "lesson"

# On a narrow screen the step itself comes first and the list of steps after it.
CSS = Path(__file__).with_name("lesson.css").read_text(encoding="utf-8")

VERDICT_WORDS = {lesson.AGREES: "agrees", lesson.PARTLY: "agrees in part", lesson.DISAGREES: "disagrees"}
TRAINED_BADGES = {
    lesson.AGREES: "✓ **Trained alternatives: they agree with the lesson.**",
    lesson.PARTLY: "◑ **Trained alternatives: they agree only in part.**",
    lesson.DISAGREES: "✗ **Trained alternatives: they disagree with the lesson.**",
    lesson.NOT_COMPUTED: "… **Trained alternatives: not computed yet.**",
}
BADGES = {
    lesson.AGREES: "✓ **Measured on this model: it agrees with the lesson.**",
    lesson.PARTLY: "◑ **Measured on this model: it agrees only in part.**",
    lesson.DISAGREES: "✗ **Measured on this model: it disagrees with the lesson.**",
    lesson.NOT_COMPUTED: "… **Measured on this model: not computed yet.**",
}

# elem_ids of the other tabs' controls a step may set: (attribute, elem_id, required)
CONTROL_IDS = (
    ("rf_y", "rf-y", True), ("rf_x", "rf-x", True), ("rf_block", "rf-block", True),
    ("override_t", "override-t", True), ("told_t", "told-t", True), ("skips", "skip-switches", True),
    ("attention", "attention-switch", True), ("bottleneck", "bottleneck-switch", False),
    ("ddim_steps", "ddim-steps", False),
)

# After "Show me" or a link: wait until the chosen tab is on screen and refresh it, then bring the evidence
# into view, move the keyboard focus there, and press the step's button if it names one.
SCROLL_JS = Path(__file__).with_name("lesson_scroll.js").read_text(encoding="utf-8")


@dataclass
class LessonView:
    chooser: gr.Radio
    body: gr.Markdown
    words: gr.Markdown
    progress: gr.Markdown
    show_me: gr.Button
    previous: gr.Button
    next: gr.Button
    visited: gr.State
    cache: gr.State  # step id → its rendered markdown, so a step measures once per session
    scroll: gr.Textbox
    url: gr.Textbox


@dataclass
class Controls:
    """The components outside the Lesson tab that a step or a URL sets."""

    tabs: gr.Tabs
    active_tab: gr.State
    image: gr.State
    source: gr.Markdown
    t: gr.Slider
    seed: gr.Number
    block: gr.State
    rf_y: gr.Number
    rf_x: gr.Number
    rf_block: gr.Dropdown
    override_t: gr.Checkbox
    told_t: gr.Slider
    skips: gr.CheckboxGroup
    attention: gr.Checkbox
    bottleneck: gr.Checkbox | None
    ddim_steps: gr.Number | None
    tab_ids: tuple[str, ...]

    def outputs(self) -> list:
        names = ("tabs", "active_tab", "image", "source", "t", "seed", "block", "rf_y", "rf_x", "rf_block",
                 "override_t", "told_t", "skips", "attention", "bottleneck", "ddim_steps")
        return [getattr(self, name) for name in names if getattr(self, name) is not None]


def find_controls(demo: gr.Blocks, tabs: gr.Tabs, active_tab: gr.State, panel: Inputs,
                  selected_block: gr.State) -> Controls:
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    found = {}
    for attribute, elem_id, required in CONTROL_IDS:
        if elem_id not in by_id and required:
            raise RuntimeError(f"The lesson sets the component with elem_id {elem_id!r}, which no tab has any more: "
                               "restore the id or update CONTROL_IDS in explorer/ui/lesson.py")
        found[attribute] = by_id.get(elem_id)
    tab_ids = tuple(block.id for block in demo.blocks.values() if isinstance(block, gr.Tab) and block.id)
    return Controls(tabs, active_tab, panel.image, panel.source, panel.t, panel.seed, selected_block,
                    tab_ids=tab_ids, **found)


def image_of_source(ctx: Context, text: str | None) -> str | None:
    """The held-out image the input panel's caption names, or None (an upload, say)."""
    stems = {path.stem for path in ctx.examples}
    return next((name for name in re.findall(r"`([^`]+)`", text or "") if name in stems), None)


def scroll_payload(target: lesson.Target) -> str:
    """What the page's script does after "Show me" (or a link to a step): the tab to open, the evidence to scroll
    to, the part of it to bring into view sideways, the button to press."""
    return json.dumps({"tab": target.tab, "evidence": target.evidence, "focus": target.focus, "press": target.press})


# --- the step's words ---------------------------------------------------------------------------------------------

def step_markdown(step: lesson.Step, measurement: lesson.Measurement, number: int, total: int,
                  extras: tuple[lesson.Measurement, ...] = ()) -> str:
    """The step's claim, its measurement (and any further measurements of the same claim, `extras`) and what to
    look for (the glossary goes below the buttons)."""
    return (f"### Step {number} of {total}: {step.title}\n\n{step.text}\n\n"
            f"{BADGES[measurement.verdict]} {measurement.text}\n\n"
            f"<small>Source: {measurement.source}</small>\n\n"
            + "".join(f"{(TRAINED_BADGES if extra.trained else BADGES)[extra.verdict]} {extra.text}\n\n"
                      f"<small>Source: {extra.source}</small>\n\n" for extra in extras)
            + disagreement(measurement, extras)
            + f"**What you should see** (press *Show me*): {step.see}")


def disagreement(measurement: lesson.Measurement, extras: tuple[lesson.Measurement, ...]) -> str:
    """When the knock-out on this model and the trained alternatives give different verdicts, say which one counts."""
    trained = next((extra for extra in extras if extra.trained and extra.verdict != lesson.NOT_COMPUTED), None)
    if trained is None or measurement.verdict in (trained.verdict, lesson.NOT_COMPUTED):
        return ""
    return (f"**The two measurements disagree** ({VERDICT_WORDS[measurement.verdict]} on this model, "
            f"{VERDICT_WORDS[trained.verdict]} when the alternatives are trained). This step's verdict rests on the "
            "trained comparison: a knock-out shows what this one U-Net relies on, not what a network built without "
            "the part would learn to do.\n\n")


def words_markdown(step: lesson.Step) -> str:
    return "**Words used here**\n\n" + "\n".join(f"- {line}" for line in lesson.glossary_lines(step.words))


def progress_markdown(steps: list[lesson.Step], visited: list[str]) -> str:
    seen = [step.id for step in steps if step.id in visited]
    return f"You have opened {len(seen)} of the {len(steps)} steps in this session."


def build(ctx: Context) -> LessonView:
    """The Lesson tab's components (inside its gr.Tab). Events are connected by `wire`."""
    steps = lesson.steps(ctx)
    first = steps[0]
    gr.Markdown("A path through *Why U-Net?* in short steps. Each step makes one claim of the lesson, gives the "
                "number this model measures for it, and has a **Show me** button that sets the app up to prove "
                "it. Every setting ends up in the page address, so you can share exactly what you see.",
                elem_id="lesson-intro")
    with gr.Row(equal_height=False, elem_id="lesson-row"):
        with gr.Column(scale=1, min_width=260, elem_id="lesson-nav"):
            chooser = gr.Radio([(f"{i}. {step.title}", step.id) for i, step in enumerate(steps, 1)],
                               value=first.id, label="Steps", elem_id="lesson-steps")
        with gr.Column(scale=3, min_width=300, elem_id="lesson-main"):
            body = gr.Markdown(step_markdown(first, first.measure(ctx), 1, len(steps)), elem_id="lesson-step")
            show_me = gr.Button("Show me", variant="primary", elem_id="lesson-show-me")
            with gr.Row():
                previous = gr.Button("← Previous", size="sm", elem_id="lesson-previous", min_width=100,
                                     interactive=False)
                next_button = gr.Button("Next →", size="sm", elem_id="lesson-next", min_width=100)
            progress = gr.Markdown(progress_markdown(steps, [first.id]), elem_id="lesson-progress")
            words = gr.Markdown(words_markdown(first), elem_id="lesson-words")
    visited = gr.State([first.id])
    cache = gr.State({})
    # Hidden carriers for the browser side: where to scroll after "Show me", and the query for the address bar.
    scroll = gr.Textbox(visible="hidden", elem_id="lesson-scroll")
    url = gr.Textbox(visible="hidden", elem_id="lesson-url")
    return LessonView(chooser, body, words, progress, show_me, previous, next_button, visited, cache, scroll, url)


def note_component() -> gr.Markdown:
    """The note that says which parts of a shared link were ignored, or that the address leaves out an upload;
    hidden until there is one."""
    return gr.Markdown(visible=False, elem_id="url-note")


UPLOAD_NOTE = ("**The page address leaves out your upload.** A link can name only a held-out example, so whoever "
               "opens this address (you too, after a reload) gets {first} with the other settings, not your image.")


def upload_note(ctx: Context, source: str | None, note: str | None):
    """The link note after the input panel's image changes: said for an upload, taken down when a held-out
    example replaces it, and left alone otherwise (it may be saying what a link had wrong)."""
    if source and image_of_source(ctx, source) is None:
        first = f"the held-out example `{ctx.examples[0].stem}`" if ctx.examples else "no image"
        return gr.Markdown(UPLOAD_NOTE.format(first=first), visible=True)
    if note and note.startswith(UPLOAD_NOTE[:40]):
        return gr.Markdown("", visible=False)
    return gr.skip()


# --- state: one function sets the app to a UrlState, for "Show me" and for a link alike --------------------------

def target_state(target: lesson.Target) -> urlstate.UrlState:
    knockouts = target.knockouts.tokens() if target.tab == "denoising" else None
    return urlstate.UrlState(tab=target.tab, image=target.image, t=target.t, seed=target.seed, block=target.block,
                             pixel=target.pixel, knockouts=knockouts)


def updates(ctx: Context, controls: Controls, state: urlstate.UrlState) -> dict:
    """{component: new value} for every setting `state` gives; the rest of the app is left as it is."""
    out = {}
    if state.tab is not None and state.tab in controls.tab_ids:
        out[controls.tabs] = gr.Tabs(selected=state.tab)
        out[controls.active_tab] = state.tab
    if state.image is not None:
        stem = lesson.image_stem(ctx, state.image)
        if stem is not None:
            out[controls.image] = lesson.image_array(ctx, stem)
            out[controls.source] = source_text(stem)
    if state.t is not None:
        out[controls.t] = state.t
    if state.seed is not None:
        out[controls.seed] = state.seed
    if state.block is not None:
        spatial = receptive.spatial_blocks(ctx)
        if state.block in spatial:
            out[controls.rf_block] = state.block
        if state.block != receptive.OUTPUT:
            out[controls.block] = state.block
    if state.pixel is not None:
        out[controls.rf_y], out[controls.rf_x] = state.pixel
    if state.knockouts is not None:
        levels = ctx.pair.unet.config.num_levels
        knockouts = Knockouts.parse(",".join(state.knockouts), levels, ctx.diffusion.max_t)
        out[controls.override_t] = knockouts.told_t is not None
        if knockouts.told_t is not None:
            out[controls.told_t] = gr.Slider(value=knockouts.told_t, interactive=True)
        out[controls.skips] = [f"skip{level}" for level in range(1, levels + 1) if level not in knockouts.zero_skips]
        out[controls.attention] = knockouts.attention
        if controls.bottleneck is not None:
            out[controls.bottleneck] = knockouts.bypass_mid
    return out


def current_state(ctx: Context, step: str, tab: str, source: str, t, seed, block: str,
                  rf_y, rf_x, rf_block, override_t, told_t, skips, attention, bottleneck=False) -> urlstate.UrlState:
    """The shareable part of what the app shows now; settings of other tabs are left out to keep links short."""
    levels = ctx.pair.unet.config.num_levels
    state = dict(step=step, tab=tab, image=image_of_source(ctx, source), t=_int(t), seed=_int(seed))
    if tab == "architecture":
        state["block"] = block
    elif tab == "receptive":
        state["block"] = rf_block
        y, x = _int(rf_y), _int(rf_x)
        state["pixel"] = (y, x) if y is not None and x is not None else None
    elif tab == "denoising":
        kept = set(skips or [])
        told = _int(told_t) if override_t else None
        knockouts = Knockouts(told_t=told if told is not None and told >= 0 else None,
                              zero_skips=frozenset(level for level in range(1, levels + 1)
                                                   if f"skip{level}" not in kept),
                              attention=bool(attention), bypass_mid=bool(bottleneck))
        state["knockouts"] = knockouts.tokens()
    return urlstate.UrlState(**state)


def _int(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


# --- events ---------------------------------------------------------------------------------------------------------

def wire(ctx: Context, demo: gr.Blocks, view: LessonView, controls: Controls, note: gr.Markdown) -> None:
    """Connect the lesson's buttons and the URL state (`note` says what a link had wrong); call after every tab
    is built."""
    # A step whose view is not in this app (its tab is missing) is left out rather than pointing at nothing.
    steps = [step for step in lesson.steps(ctx) if step.target.tab in controls.tab_ids]
    by_id = {step.id: step for step in steps}
    ids = [step.id for step in steps]
    view.chooser.choices = [(f"{i}. {step.title}", step.id) for i, step in enumerate(steps, 1)]
    choices = urlstate.Choices(steps=tuple(ids), tabs=controls.tab_ids, images=tuple(p.stem for p in ctx.examples),
                               blocks=tuple(ctx.block_names()) + (receptive.OUTPUT,), image_size=ctx.image_size,
                               num_levels=ctx.pair.unet.config.num_levels, max_t=ctx.diffusion.max_t)

    def open_step(step_id, visited, cache):
        step_id = step_id if step_id in by_id else ids[0]
        visited = list(dict.fromkeys(list(visited or []) + [step_id]))
        cache = dict(cache or {})
        if step_id not in cache:
            step = by_id[step_id]
            measured = kept.measurement(ctx, step_id, 0, step.measure)  # the same for every learner
            extras = tuple(kept.measurement(ctx, step_id, i, extra) for i, extra in enumerate(step.extras, 1))
            cache[step_id] = step_markdown(step, measured, ids.index(step_id) + 1, len(steps), extras)
        index = ids.index(step_id)
        return (cache[step_id], words_markdown(by_id[step_id]), progress_markdown(steps, visited), visited, cache,
                gr.Button(interactive=index > 0), gr.Button(interactive=index < len(ids) - 1))

    def move(step_id, offset):
        index = ids.index(step_id) if step_id in by_id else 0
        return ids[min(max(index + offset, 0), len(ids) - 1)]

    def show_me(step_id):
        step = by_id.get(step_id, steps[0])
        out = updates(ctx, controls, target_state(step.target))
        if step.target.ddim_steps is not None and controls.ddim_steps is not None:
            out[controls.ddim_steps] = step.target.ddim_steps
        out[view.scroll] = scroll_payload(step.target)
        return out

    outputs = controls.outputs()
    lanes.listen(view.chooser.change, open_step, [view.chooser, view.visited, view.cache],
                 [view.body, view.words, view.progress, view.visited, view.cache, view.previous, view.next],
                 api_name=False, show_progress="minimal")
    # Moving along the list computes nothing (the list's change opens the step): answered outside the queue.
    lanes.listen(view.previous.click, lambda step_id: move(step_id, -1), view.chooser, view.chooser, api_name=False,
                 show_progress="hidden", queue=False)
    lanes.listen(view.next.click, lambda step_id: move(step_id, 1), view.chooser, view.chooser, api_name=False,
                 show_progress="hidden", queue=False)
    lanes.listen(view.show_me.click, show_me, view.chooser, outputs + [view.scroll], api_name=False,
                 show_progress="hidden").then(
        None, view.scroll, None, js=SCROLL_JS, api_name=False, show_progress="hidden")

    # The URL: read once on load, written back after every change of what it records.
    def read_url(request: gr.Request):
        query = dict(getattr(request, "query_params", None) or {})
        state = urlstate.parse(query, choices)
        out = updates(ctx, controls, state)
        if state.step is not None:
            out[view.chooser] = state.step
        if state.notes:
            out[note] = gr.Markdown(urlstate.note_markdown(state.notes), visible=True)
        # A link opens at the evidence of the step it names when it shows that step's tab.
        step = by_id.get(state.step)
        if step is not None and state.tab == step.target.tab:
            out[view.scroll] = scroll_payload(step.target)
        else:
            out[view.scroll] = json.dumps({"tab": state.tab if state.tab in controls.tab_ids else None})
        return out  # never empty: it holds the scroll payload

    lanes.listen(demo.load, read_url, None, outputs + [view.chooser, note, view.scroll], api_name=False,
                 show_progress="hidden").then(
        None, view.scroll, None, js=SCROLL_JS, api_name=False, show_progress="hidden")

    tracked = [view.chooser, controls.active_tab, controls.source, controls.t, controls.seed, controls.block,
               controls.rf_y, controls.rf_x, controls.rf_block, controls.override_t, controls.told_t,
               controls.skips, controls.attention] + ([controls.bottleneck] if controls.bottleneck else [])

    def write_url(*values):
        return urlstate.encode(current_state(ctx, *values))

    # The changes of one event are gathered in the page (urlstate.SCHEDULE_JS) into one press of a hidden button:
    # one address write per event, not one per setting it changed. queue=False: writing the address is instant
    # and must not wait behind the views' computations.
    write_button = gr.Button(visible="hidden", elem_id=urlstate.WRITE_BUTTON)
    gr.on([component.change for component in tracked], None, None, None, js=urlstate.SCHEDULE_JS, api_name=False,
          queue=False, show_progress="hidden")
    lanes.listen(write_button.click, write_url, tracked, view.url, api_name=False, show_progress="hidden",
                 trigger_mode="always_last", preprocess=False, queue=False).then(
        None, view.url, None, js=urlstate.WRITE_JS, api_name=False, show_progress="hidden")
    lanes.listen(controls.source.change, lambda source, shown: upload_note(ctx, source, shown), [controls.source, note],
                 note, api_name=False, show_progress="hidden", queue=False)
