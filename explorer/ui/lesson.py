"""The Lesson tab: "Why U-Net?" step by step, each step with a "Show me" button that sets up its proof (and, for
a step the study of trained alternatives answers, a second button that opens that comparison).

`build` lays out the tab (it comes first). The steps' words and measurements are plain functions of a `Course`
(the loaded models and the steps this app can show); the settings a step or a link gives the other tabs are a
plain `Settings` value, written to the components of `Controls` (the other tabs' typed layouts, handed over by
the app). `wires` connects the buttons and reads and writes the shareable state in the page URL
(explorer/ui/urlstate.py).
"""
from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import gradio as gr

from explorer import lesson
from explorer.knockouts import Knockouts
from explorer.ui import study, urlstate
from explorer.ui.inputs import source_text
from explorer.ui.pagejs import with_press
from explorer.ui.wiring import Pack, Wire, wire
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
    lesson.NO_VERDICT: "… **Trained alternatives: no verdict yet** (one training seed on a side: the seed spread is "
                       "not known, so this step's verdict rests on the measurement above).",
}
BADGES = {
    lesson.AGREES: "✓ **Measured on this model: it agrees with the lesson.**",
    lesson.PARTLY: "◑ **Measured on this model: it agrees only in part.**",
    lesson.DISAGREES: "✗ **Measured on this model: it disagrees with the lesson.**",
    lesson.NOT_COMPUTED: "… **Measured on this model: not computed yet.**",
}

# After "Show me" or a link: wait until the chosen tab is on screen and refresh it, then bring the evidence
# into view, move the keyboard focus there, and press the step's button if it names one.
# After Show me (the payload names the step) the way back to the step appears: a link and the Escape key.
STAMP_JS = Path(__file__).with_name("lesson_stamp.js").read_text(encoding="utf-8")
SCROLL_JS = with_press(Path(__file__).with_name("lesson_scroll.js").read_text(encoding="utf-8")).replace(
    "BACK_TO;", Path(__file__).with_name("lesson_back.js").read_text(encoding="utf-8")).replace(
    "STALE_STAMP;", STAMP_JS)
# On "Show me", before the server answers: the view tabs are marked out of date until the new evidence is in.
STALE_JS = Path(__file__).with_name("lesson_stale.js").read_text(encoding="utf-8").replace("STALE_STAMP;", STAMP_JS)
# A step chosen in the list shows its claim at once, from a table in the page (`claim_table`); Next and Previous
# choose the neighbouring step in the page.
CLAIM_JS = Path(__file__).with_name("lesson_claim.js").read_text(encoding="utf-8")
MOVE_JS = Path(__file__).with_name("lesson_move.js").read_text(encoding="utf-8")

UPLOAD_NOTE = ("**The page address leaves out your upload.** A link can name only a held-out example, so whoever "
               "opens this address (you too, after a reload) gets {first} with the other settings, not your image.")


@dataclass
class LessonView:
    chooser: gr.Radio
    claim: gr.Markdown  # the step's title and claim (no measurement), with Show me right under it
    body: gr.Markdown  # the step's measurements and what to look for
    words: gr.Markdown
    progress: gr.Markdown
    show_me: gr.Button
    show_trained: gr.Button  # the trained comparison the step's verdict rests on; shown only for such a step
    previous: gr.Button
    next: gr.Button
    visited: gr.State
    cache: gr.State  # step id → its measured markdown (`body`), so a step measures once per session
    scroll: gr.Textbox
    url: gr.Textbox
    claims_js: str = ""  # shows a chosen step's claim at once (`claim_js`)


@dataclass
class Controls:
    """The components outside the Lesson tab that a step or a URL sets, in `Settings`' order."""

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
    bottleneck: gr.Checkbox
    ddim_steps: gr.Number

    def outputs(self) -> list:
        return [getattr(self, field.name) for field in fields(self)]

    def tracked(self) -> list:
        """What the page address records, in `Shown`'s order after the step."""
        return [self.active_tab, self.source, self.t, self.seed, self.block, self.rf_y, self.rf_x, self.rf_block,
                self.override_t, self.told_t, self.skips, self.attention, self.bottleneck]


@dataclass
class Settings:
    """What a step or a link sets, as plain values in `Controls`' order; None leaves a setting as it is."""

    tab: str | None = None
    active_tab: str | None = None
    image: object = None  # the image's pixels
    source: str | None = None
    t: int | None = None
    seed: int | None = None
    block: str | None = None
    rf_y: int | None = None
    rf_x: int | None = None
    rf_block: str | None = None
    override_t: bool | None = None
    told_t: int | None = None
    skips: list[str] | None = None
    attention: bool | None = None
    bottleneck: bool | None = None
    ddim_steps: int | None = None

    def values(self) -> tuple:
        """The outputs for `Controls.outputs()`: Gradio's updates, gr.skip() for what is left as it is."""
        shown = {field.name: gr.skip() if getattr(self, field.name) is None else getattr(self, field.name)
                 for field in fields(self)}
        if self.tab is not None:
            shown["tab"] = gr.Tabs(selected=self.tab)
        if self.told_t is not None:
            shown["told_t"] = gr.Slider(value=self.told_t, interactive=True)
        return tuple(shown.values())


@dataclass(frozen=True)
class Shown:
    """The recorded settings the page address is written from (`current_state`), as the page sends them."""

    step: object
    tab: object
    source: object
    t: object
    seed: object
    block: object
    rf_y: object
    rf_x: object
    rf_block: object
    override_t: object
    told_t: object
    skips: object
    attention: object
    bottleneck: object = False


@dataclass(frozen=True)
class Course:
    """The lesson as this app shows it: the steps whose tab it has, and what a link may name."""

    ctx: Context
    steps: tuple[lesson.Step, ...]
    tab_ids: tuple[str, ...]
    choices: urlstate.Choices

    @classmethod
    def of(cls, ctx: Context, tab_ids: tuple[str, ...]) -> Course:
        # A step whose view is not in this app (its tab is missing) is left out rather than pointing at nothing.
        steps = tuple(step for step in lesson.steps(ctx) if step.target.tab in tab_ids)
        choices = urlstate.Choices(steps=tuple(step.id for step in steps), tabs=tab_ids,
                                   images=tuple(p.stem for p in ctx.examples),
                                   blocks=tuple(ctx.block_names()) + (receptive.OUTPUT,), image_size=ctx.image_size,
                                   num_levels=ctx.pair.unet.config.num_levels, max_t=ctx.diffusion.max_t)
        return cls(ctx, steps, tab_ids, choices)

    @property
    def ids(self) -> list[str]:
        return [step.id for step in self.steps]

    def step(self, step_id) -> lesson.Step:
        """The step called `step_id`, or the first."""
        return next((step for step in self.steps if step.id == step_id), self.steps[0])


# --- the step's words ---------------------------------------------------------------------------------------------

def step_heading(step: lesson.Step, number: int, total: int) -> str:
    """The step's title and claim: no measurement, so it costs nothing to show."""
    return f"### Step {number} of {total}: {step.title}\n\n{step.text}{lesson.moves_t(step.target)}\n\n"


def evidence_markdown(measurement: lesson.Measurement, extras: tuple[lesson.Measurement, ...] = ()) -> str:
    """The step's measurement, any further measurements of the same claim, and where they disagree."""
    return (f"{lesson.verdict_line(measurement, extras)}\n\n{BADGES[measurement.verdict]} {measurement.text}\n\n"
            f"<small>Source: {measurement.source}</small>\n\n"
            + "".join(f"{(TRAINED_BADGES if extra.trained else BADGES)[extra.verdict]} {extra.text}\n\n"
                      f"<small>Source: {extra.source}</small>\n\n" for extra in extras)
            + disagreement(measurement, extras))


def step_evidence(step: lesson.Step, measurement: lesson.Measurement,
                  extras: tuple[lesson.Measurement, ...] = ()) -> str:
    """The step's measurement (and any further measurements of the same claim, `extras`) and what to look for:
    what the tab shows under Show me."""
    return evidence_markdown(measurement, extras) + f"**What you should see** (press *Show me*): {step.see}"


def step_markdown(step: lesson.Step, measurement: lesson.Measurement, number: int, total: int,
                  extras: tuple[lesson.Measurement, ...] = ()) -> str:
    """The step's claim, its measurement (and any further measurements of the same claim, `extras`) and what to
    look for (the glossary goes below the buttons)."""
    return step_heading(step, number, total) + step_evidence(step, measurement, extras)


def disagreement(measurement: lesson.Measurement, extras: tuple[lesson.Measurement, ...]) -> str:
    """When the knock-out on this model and the trained alternatives give different verdicts, say which one counts."""
    trained = lesson.trained_of(extras)
    if trained is None or measurement.verdict in (trained.verdict, lesson.NOT_COMPUTED):
        return ""
    return (f"**The two measurements disagree** ({VERDICT_WORDS[measurement.verdict]} on this model, "
            f"{VERDICT_WORDS[trained.verdict]} when the alternatives are trained). This step's verdict rests on the "
            "trained comparison: a knock-out shows what this one U-Net relies on, not what a network built without "
            "the part would learn to do (the button *Trained comparison* opens its chart).\n\n")


def words_markdown(step: lesson.Step) -> str:
    return "**Words used here**\n\n" + "\n".join(f"- {line}" for line in lesson.glossary_lines(step.words))


def progress_markdown(steps, visited: list[str]) -> str:
    seen = [step.id for step in steps if step.id in visited]
    return f"You have opened {len(seen)} of the {len(steps)} steps in this session."


def measurements(course: Course, step: lesson.Step) -> tuple[lesson.Measurement, tuple[lesson.Measurement, ...]]:
    """The step's measurement and its further ones (kept: the same for every learner)."""
    ctx = course.ctx
    measured = kept.measurement(ctx, step.id, 0, step.measure)
    return measured, tuple(kept.measurement(ctx, step.id, i, extra) for i, extra in enumerate(step.extras, 1))


def measured_markdown(course: Course, step: lesson.Step) -> str:
    """The step's measurements as the tab shows them under its claim."""
    return step_evidence(step, *measurements(course, step))


def claim_markdown(course: Course, step: lesson.Step) -> str:
    return step_heading(step, course.ids.index(step.id) + 1, len(course.steps))


def claim_table(course: Course) -> dict[str, dict[str, str]]:
    """Each step's number, heading (plain text) and claim (one paragraph of HTML, `*…*` in italics), as
    `claim_markdown` writes them: what the page shows the moment a step is chosen (lesson_claim.js); and the first
    words of what to look for (`see`: its end, without markdown marks), by which the page knows its measurements
    arrived."""
    total = len(course.steps)
    return {step.id: {"number": number, "heading": f"Step {number} of {total}: {step.title}",
                      "html": re.sub(r"\*(.+?)\*", r"<em>\1</em>",
                                     html.escape(step.text + lesson.moves_t(step.target), quote=False)),
                      "see": re.sub(r"[*`]", "", step.see)[-SEE_CHARACTERS:]}
            for number, step in enumerate(course.steps, 1)}


SEE_CHARACTERS = 32


def claim_js(course: Course) -> str:
    return CLAIM_JS.replace("CLAIMS[step]", f"({json.dumps(claim_table(course), ensure_ascii=False)})[step]")


# --- links --------------------------------------------------------------------------------------------------------

def image_of_source(ctx: Context, text: str | None) -> str | None:
    """The held-out image the input panel's caption names, or None (an upload, say)."""
    stems = {path.stem for path in ctx.examples}
    return next((name for name in re.findall(r"`([^`]+)`", text or "") if name in stems), None)


def scroll_payload(target: lesson.Target, step: int | None = None) -> str:
    """What the page's script does after "Show me" (or a link to a step): the tab to open, the evidence to scroll
    to, the part of it to bring into view sideways, the button to press, and the step (its number) that the way
    back from the evidence returns to."""
    return json.dumps({"tab": target.tab, "evidence": target.evidence, "focus": target.focus, "press": target.press,
                       "step": step})


def upload_note(ctx: Context, source: str | None, note: str | None):
    """The link note after the input panel's image changes: said for an upload, taken down when a held-out
    example replaces it, and left alone otherwise (it may be saying what a link had wrong)."""
    if source and image_of_source(ctx, source) is None:
        first = f"the held-out example `{ctx.examples[0].stem}`" if ctx.examples else "no image"
        return gr.Markdown(UPLOAD_NOTE.format(first=first), visible=True)
    if note and note.startswith(UPLOAD_NOTE[:40]):
        return gr.Markdown("", visible=False)
    return gr.skip()


def target_state(target: lesson.Target) -> urlstate.UrlState:
    knockouts = target.knockouts.tokens() if target.tab == "denoising" else None
    return urlstate.UrlState(tab=target.tab, image=target.image, t=target.t, seed=target.seed, block=target.block,
                             pixel=target.pixel, knockouts=knockouts)


def settings(course: Course, state: urlstate.UrlState) -> Settings:
    """What `state` sets, for "Show me" and a link alike; the rest of the app is left as it is."""
    ctx, out = course.ctx, Settings()
    if state.tab is not None and state.tab in course.tab_ids:
        out.tab = out.active_tab = state.tab
    if state.image is not None:
        stem = lesson.image_stem(ctx, state.image)
        if stem is not None:
            out.image, out.source = lesson.image_array(ctx, stem), source_text(stem)
    out.t, out.seed = state.t, state.seed
    if state.block is not None:
        if state.block in receptive.spatial_blocks(ctx):
            out.rf_block = state.block
        if state.block != receptive.OUTPUT:
            out.block = state.block
    if state.pixel is not None:
        out.rf_y, out.rf_x = state.pixel
    if state.knockouts is not None:
        levels = ctx.pair.unet.config.num_levels
        knockouts = Knockouts.parse(",".join(state.knockouts), levels, ctx.diffusion.max_t)
        out.override_t, out.told_t = knockouts.told_t is not None, knockouts.told_t
        out.skips = [f"skip{level}" for level in range(1, levels + 1) if level not in knockouts.zero_skips]
        out.attention, out.bottleneck = knockouts.attention, knockouts.bypass_mid
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
        kept_skips = set(skips or [])
        told = _int(told_t) if override_t else None
        knockouts = Knockouts(told_t=told if told is not None and told >= 0 else None,
                              zero_skips=frozenset(level for level in range(1, levels + 1)
                                                   if f"skip{level}" not in kept_skips),
                              attention=bool(attention), bypass_mid=bool(bottleneck))
        state["knockouts"] = knockouts.tokens()
    return urlstate.UrlState(**state)


def _int(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


# --- handlers -----------------------------------------------------------------------------------------------------

def open_step(course: Course, step_id, visited, cache) -> tuple:
    """(claim, body, words, progress, visited, cache, previous, next, show_trained) for the step chosen in the
    list."""
    step = course.step(step_id)
    visited = list(dict.fromkeys(list(visited or []) + [step.id]))
    cache = dict(cache or {})
    if step.id not in cache:
        cache[step.id] = measured_markdown(course, step)
    index = course.ids.index(step.id)
    return (claim_markdown(course, step), cache[step.id], words_markdown(step),
            progress_markdown(course.steps, visited), visited, cache,
            gr.Button(interactive=index > 0), gr.Button(interactive=index < len(course.steps) - 1),
            gr.Button(visible=trained_target(course, step) is not None))


def moved(course: Course, step_id, offset: int) -> str:
    ids = course.ids
    index = ids.index(step_id) if step_id in ids else 0
    return ids[min(max(index + offset, 0), len(ids) - 1)]


def previous_step(course: Course, step_id) -> str:
    return moved(course, step_id, -1)


def next_step(course: Course, step_id) -> str:
    return moved(course, step_id, 1)


def trained_target(course: Course, step: lesson.Step) -> lesson.Target | None:
    """Where the step's second button takes it: for a step whose verdict rests on the trained comparison (a claim
    of `lesson.TRAINED_CLAIMS` with a decided finding in the study), that comparison's chart; else None (no such
    button). Show me itself always opens the step's own evidence, where every number of its measurement is."""
    claims = lesson.TRAINED_CLAIMS.get(step.id, ())
    if study.TAB in course.tab_ids and study.trained_claim(course.ctx.study, claims) is not None:
        return replace(step.target, tab=study.TAB, evidence=study.COMPARISON, focus="", press="")
    return None


def evidence_targets(course: Course, step: lesson.Step) -> list[lesson.Target]:
    """Every place the step's buttons open: its own evidence, then its trained comparison if it has one."""
    trained = trained_target(course, step)
    return [step.target] + ([trained] if trained is not None else [])


def left_as_shown(out: Settings, shown: Shown | None, ddim_steps=None) -> Settings:
    """`out` without what the page shows already (`shown`, `ddim_steps`: the page's values when Show me was pressed):
    a setting sent again with the value it has still fires its change, which marked the tab out of date and had
    the whole tab computed and drawn again (most Part-by-part steps share one image, t and seed)."""
    if shown is None:
        return out
    kept = replace(out)
    if out.source is not None and out.source == shown.source:
        kept.image = kept.source = None
    for name in ("t", "seed", "rf_y", "rf_x", "told_t"):
        if getattr(out, name) is not None and getattr(out, name) == _int(getattr(shown, name)):
            setattr(kept, name, None)
    for name in ("block", "rf_block"):
        if getattr(out, name) is not None and getattr(out, name) == getattr(shown, name):
            setattr(kept, name, None)
    for name in ("override_t", "attention", "bottleneck"):
        if getattr(out, name) is not None and getattr(out, name) == bool(getattr(shown, name)):
            setattr(kept, name, None)
    if out.skips is not None and isinstance(shown.skips, list | tuple) and set(out.skips) == set(shown.skips):
        kept.skips = None
    if out.ddim_steps is not None and out.ddim_steps == _int(ddim_steps):
        kept.ddim_steps = None
    return kept


def show_me(course: Course, step_id, shown: Shown | None = None, ddim_steps=None, trained: bool = False) -> tuple:
    """The step's target set in the app (`Controls.outputs()`), then what the page scrolls to. With what the page
    shows (`shown`, `ddim_steps`), only the settings that differ are sent (`left_as_shown`). `trained`: the step's
    trained comparison instead (`trained_target`; its own evidence when it has none)."""
    step = course.step(step_id)
    target = (trained and trained_target(course, step)) or step.target
    out = settings(course, target_state(target))
    out.ddim_steps = target.ddim_steps
    out = left_as_shown(out, shown, ddim_steps)
    return out.values() + (scroll_payload(target, course.ids.index(step.id) + 1),)


def show_trained(course: Course, step_id, shown: Shown | None = None, ddim_steps=None) -> tuple:
    """The step's second button: `show_me` to its trained comparison, then the Trained alternatives tab's
    comparison for the step (`study.show_comparison`; hidden for a step whose claim the study does not test)."""
    step = course.step(step_id)
    claims = lesson.TRAINED_CLAIMS.get(step.id)
    number = course.ids.index(step.id) + 1
    shown_comparison = (study.show_comparison(course.ctx, claims, number,
                                              lesson.verdict_line(*measurements(course, step)))
                        if claims else study.hide_comparison())
    return show_me(course, step_id, shown, ddim_steps, trained=True) + shown_comparison


def pressed(course: Course, shown: Shown, ddim_steps) -> tuple:
    """Show me as the page presses it: the step chosen in the list and what the page shows (`show_me`)."""
    return show_me(course, shown.step, shown, ddim_steps)


def pressed_trained(course: Course, shown: Shown, ddim_steps) -> tuple:
    return show_trained(course, shown.step, shown, ddim_steps)


def read_url(course: Course, request: gr.Request) -> tuple:
    """The page's address, read once on load: `Controls.outputs()`, then the step list, the note and the scroll."""
    state = urlstate.parse(dict(getattr(request, "query_params", None) or {}), course.choices)
    step = next((step for step in course.steps if step.id == state.step), None)
    note = gr.Markdown(urlstate.note_markdown(state.notes), visible=True) if state.notes else gr.skip()
    # A link opens at the evidence of the step it names when it shows that step's tab.
    if step is not None and state.tab == step.target.tab:
        scroll = scroll_payload(step.target, course.ids.index(step.id) + 1)
    else:
        scroll = json.dumps({"tab": state.tab if state.tab in course.tab_ids else None})
    return settings(course, state).values() + (state.step if state.step is not None else gr.skip(), note, scroll)


def write_url(course: Course, shown: Shown) -> str:
    return urlstate.encode(current_state(course.ctx, **vars(shown)))


def note_after_image(course: Course, source, shown) -> object:
    return upload_note(course.ctx, source, shown)


# --- layout -------------------------------------------------------------------------------------------------------

def build(course: Course) -> LessonView:
    """The Lesson tab's components (inside its gr.Tab)."""
    steps, first = course.steps, course.steps[0]
    gr.Markdown("A path through *Why U-Net?* in short steps. Each step makes one claim of the lesson, gives the "
                "number this model measures for it, and has a **Show me** button that sets the app up to prove "
                "it; where the study of trained alternatives answers the claim too, **Trained comparison** "
                "opens that chart. Every setting ends up in the page address, so you can share exactly what you see. "
                "From the "
                "evidence, **Esc** or the **Back to step** link at the bottom of the window returns to the step.",
                elem_id="lesson-intro")
    with gr.Row(equal_height=False, elem_id="lesson-row"):
        with gr.Column(scale=1, min_width=260, elem_id="lesson-nav"):
            chooser = gr.Radio([(f"{i}. {step.title}", step.id) for i, step in enumerate(steps, 1)],
                               value=first.id, label="Steps", elem_id="lesson-steps")
        # The claim, then Show me, then the measurements: Show me stays on the first screen (issue 32).
        with gr.Column(scale=3, min_width=300, elem_id="lesson-main"), gr.Column(elem_id="lesson-step"):
            claim = gr.Markdown(claim_markdown(course, first), elem_id="lesson-claim")
            with gr.Row(elem_id="lesson-show-row"):
                show = gr.Button("Show me", variant="primary", elem_id="lesson-show-me", min_width=120)
                show_trained = gr.Button("Trained comparison", elem_id="lesson-show-trained",
                                         min_width=120, visible=trained_target(course, first) is not None)
            with gr.Row():
                previous = gr.Button("← Previous", size="sm", elem_id="lesson-previous", min_width=100,
                                     interactive=False)
                next_button = gr.Button("Next →", size="sm", elem_id="lesson-next", min_width=100)
            body = gr.Markdown(measured_markdown(course, first), elem_id="lesson-measured")
            progress = gr.Markdown(progress_markdown(steps, [first.id]), elem_id="lesson-progress")
            words = gr.Markdown(words_markdown(first), elem_id="lesson-words")
    visited = gr.State([first.id])
    cache = gr.State({})
    # Hidden carriers for the browser side: where to scroll after "Show me", and the query for the address bar.
    scroll = gr.Textbox(visible="hidden", elem_id="lesson-scroll")
    url = gr.Textbox(visible="hidden", elem_id="lesson-url")
    return LessonView(chooser, claim, body, words, progress, show, show_trained, previous, next_button, visited,
                      cache, scroll, url, claim_js(course))


def note_component() -> gr.Markdown:
    """The note that says which parts of a shared link were ignored, or that the address leaves out an upload;
    hidden until there is one."""
    return gr.Markdown(visible=False, elem_id="url-note")


# --- wiring -------------------------------------------------------------------------------------------------------

def write_button() -> gr.Button:
    """The hidden button the page presses once the changes of one event are in (urlstate.SCHEDULE_JS); outside
    the tabs, so the page finds it whichever tab is shown."""
    return gr.Button(visible="hidden", elem_id=urlstate.WRITE_BUTTON)


def wires(view: LessonView, controls: Controls, note: gr.Markdown, write: gr.Button, demo: gr.Blocks,
          comparison: list | None = None) -> list[Wire]:
    """The lesson's buttons and the URL state (`note`: `note_component`, `write`: `write_button`; `comparison`: the
    Trained alternatives tab's heading and chart that Show me fills, `study.Study.comparison_outputs`)."""
    outputs, scroll = controls.outputs(), dict(inputs=view.scroll, outputs=None, js=SCROLL_JS, api_name=False,
                                               show_progress="hidden")
    tracked = [view.chooser] + controls.tracked()
    return [
        wire(view.chooser.change, open_step, [view.chooser, view.visited, view.cache],
             [view.claim, view.body, view.words, view.progress, view.visited, view.cache, view.previous, view.next,
              view.show_trained],
             api_name=False, show_progress="minimal", js=view.claims_js or None),
        # Moving along the list computes nothing (the list's change opens the step): done in the page, and answered
        # outside the queue for a client without it.
        wire(view.previous.click, previous_step, [view.chooser], view.chooser, api_name=False,
             show_progress="hidden", queue=False, js=MOVE_JS.replace("OFFSET", "-1")),
        wire(view.next.click, next_step, [view.chooser], view.chooser, api_name=False, show_progress="hidden",
             queue=False, js=MOVE_JS.replace("OFFSET", "1")),
        wire(view.show_me.click, pressed, [Pack(Shown, tracked), controls.ddim_steps], outputs + [view.scroll],
             api_name=False, show_progress="hidden", then=scroll, js=STALE_JS, preprocess=False),
        *([wire(view.show_trained.click, pressed_trained, [Pack(Shown, tracked), controls.ddim_steps],
                outputs + [view.scroll] + comparison, api_name=False, show_progress="hidden", then=scroll,
                js=STALE_JS, preprocess=False)] if comparison else []),
        # The URL: read once on load, written back after every change of what it records.
        wire(demo.load, read_url, None, outputs + [view.chooser, note, view.scroll], api_name=False,
             show_progress="hidden", then=scroll),
        # The changes of one event are gathered in the page (urlstate.SCHEDULE_JS) into one press of a hidden
        # button: one address write per event, not one per setting it changed. queue=False: writing the address
        # is instant and must not wait behind the views' computations.
        wire([component.change for component in tracked], None, js=urlstate.SCHEDULE_JS, api_name=False,
             queue=False, show_progress="hidden"),
        wire(write.click, write_url, [Pack(Shown, tracked)], view.url, api_name=False,
             show_progress="hidden", trigger_mode="always_last", preprocess=False, queue=False,
             then=dict(inputs=view.url, outputs=None, js=urlstate.WRITE_JS, api_name=False, show_progress="hidden")),
        wire(controls.source.change, note_after_image, [controls.source, note], note, api_name=False,
             show_progress="hidden", queue=False),
    ]
