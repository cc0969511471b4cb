"""The tabs' handlers called as plain functions, without Gradio's server or a browser (explorer/ui/*.py), and the
wiring that hands them to Gradio (explorer/ui/wiring.py)."""
from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, fields
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from explorer import emoji_names, formatting
from explorer.knockouts import Knockouts
from explorer.lesson import TRAINED_CLAIMS
from explorer.study import findings
from explorer.ui import architecture, denoising, inputs, lesson, proofs, receptive, study, wiring
from explorer.views.context import DEFAULT_SEED, DEFAULT_T
from tests.test_study_view import synthetic

TABS = ("lesson", "architecture", "denoising", "receptive", "proofs", "study")


def event(**data):
    """What a browser event hands a handler: its payload (gr.EventData keeps it in `_data`)."""
    return SimpleNamespace(_data=data)


def skipped(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


@pytest.fixture(scope="module")
def image(ctx):
    return inputs.first_image(ctx)


# --- the wiring ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    left: object
    right: object = None


def test_bind_gives_the_context_and_packs_settings_under_their_field_names():
    def handler(ctx, image, pair: Pair, request: gr.Request):
        return ctx, image, pair, request

    bound = wiring.bind(handler, "ctx", ["image", wiring.Pack(Pair, ["a", "b"])])
    assert list(inspect.signature(bound).parameters) == ["image", "left", "right", "request"]
    assert bound("img", 1, 2, "req") == ("ctx", "img", Pair(1, 2), "req")
    assert bound.__name__ == "handler" and bound.__wrapped__ is handler


def test_bind_keeps_generators_and_marks():
    def stream(ctx, count):
        yield from range(count)

    stream.long_job = "stream"
    bound = wiring.bind(stream, "ctx", ["count"])
    assert inspect.isgeneratorfunction(bound) and list(bound(3)) == [0, 1, 2] and bound.long_job == "stream"
    assert wiring.bind(len, None, ["x"], context=False) is len  # nothing to give or pack: the handler itself


def test_a_pack_names_one_field_per_component():
    with pytest.raises(ValueError, match="2 fields for 3 components"):
        wiring.Pack(Pair, ["a", "b", "c"])
    assert wiring.Pack(Pair, ["a"]).names == ["left"]
    assert wiring.flat(["x", wiring.Pack(Pair, ["a", "b"]), "y"]) == ["x", "a", "b", "y"]


def test_a_table_registers_each_row_in_its_lane():
    from explorer.server import lanes

    def double(ctx, value):
        return ctx * value

    with lanes.building(quick=2, long=1), gr.Blocks() as demo:
        box, out, button = gr.Number(), gr.Number(), gr.Button()
        wiring.register(3, [wiring.wire(button.click, double, [box], out, api_name="double"),
                            wiring.wire(box.change, None, [box], out, js="(x) => x", api_name=False)])
    functions = {fn.api_name: fn for fn in demo.fns.values()}
    assert functions["double"].concurrency_id == lanes.QUICK_LANE and functions["double"].fn(2) == 6
    assert [fn.fn for fn in demo.fns.values() if fn.api_name != "double"] == [None]  # the page-only row


# --- the input panel -------------------------------------------------------------------------------------------------

def test_examples_by_name_and_by_click(ctx):
    names = inputs.example_names(ctx)
    stem = names[1]
    picture, caption = inputs.choose_example(ctx, f" {stem.upper()}.png ")
    assert picture.shape == (ctx.image_size, ctx.image_size, 3) and f"`{stem}`" in caption
    assert inputs.pick_example(ctx, event(index=[1]))[1] == caption
    with pytest.raises(gr.Error, match="no example number"):
        inputs.pick_example(ctx, event(index=10_000))
    with pytest.raises(gr.Error, match="/examples lists"):
        inputs.choose_example(ctx, "no-such-emoji")


def test_previews_say_a_bad_t_in_the_line_and_leave_the_pictures(ctx, image):
    x0, x_t, level = inputs.shown_previews(ctx, image, "abc", 0)
    assert skipped(x0) and skipped(x_t) and level.startswith("**Not shown:**")
    *_, level, numbers = inputs.previews_with_numbers(ctx, image, DEFAULT_T, DEFAULT_SEED)
    assert f"t = {DEFAULT_T}" in level and numbers["t"] == DEFAULT_T


# --- Architecture ----------------------------------------------------------------------------------------------------

def test_a_block_is_shown_with_its_facts_and_a_stale_refresh_leaves_it(ctx, image):
    shown = architecture.select_block(ctx, image, DEFAULT_T, DEFAULT_SEED, "enc1")
    diagram, name, markdown, activation, shared, panel_shows, facts = shown
    assert name == shared == "enc1" and "enc1" in markdown and 'data-block="enc1"' in diagram
    assert architecture.on_click(ctx, image, DEFAULT_T, DEFAULT_SEED, event(block_id="enc1"))[1] == "enc1"
    with pytest.raises(gr.Error, match="No block arrived"):
        architecture.on_click(ctx, image, DEFAULT_T, DEFAULT_SEED, event())
    refreshed = architecture.refresh(ctx, image, DEFAULT_T, DEFAULT_SEED, "enc1", panel_shows)
    assert all(skipped(value) for value in refreshed[:6]) and len(refreshed) == 12


def test_an_evidence_button_opens_part_by_part(ctx):
    tabs, active, scroll, block = architecture.open_evidence(ctx, event(evidence="proof-attention", block="mid.attn"))
    assert active == architecture.PROOFS_TAB and json.loads(scroll)["evidence"] == "proof-attention"
    assert block == "mid.attn"
    assert skipped(architecture.open_evidence(ctx, event(evidence="proof-attention", block="enc1"))[3])
    with pytest.raises(gr.Error, match="names no section"):
        architecture.open_evidence(ctx, event(evidence="nowhere"))


# --- Denoising lab ---------------------------------------------------------------------------------------------------

def test_the_switches_become_one_knockouts_value(ctx):
    levels = ctx.pair.unet.config.num_levels
    all_on = [f"skip{level}" for level in range(1, levels + 1)]
    assert denoising.knockouts(ctx, denoising.Switches(False, 900, all_on, True, False)) == Knockouts()
    chosen = denoising.knockouts(ctx, denoising.Switches(True, 10, all_on[1:], False, True))
    assert chosen == Knockouts(told_t=10, zero_skips=frozenset({1}), attention=False, bypass_mid=True)
    with pytest.raises(gr.Error):
        denoising.knockouts(ctx, denoising.Switches(True, "", all_on, True, False))
    # The field names are the /denoise endpoint's parameter names (docs/python-api.md).
    assert [field.name for field in fields(denoising.Switches)] == ["override", "told", "skips_on", "attention_on",
                                                                   "bypass_mid"]


def test_the_side_by_side_and_its_numbers(ctx, image):
    all_on = [f"skip{level}" for level in range(1, ctx.pair.unet.config.num_levels + 1)]
    switches = denoising.Switches(False, DEFAULT_T, all_on, True, False)
    html, numbers = denoising.side_by_side_with_numbers(ctx, image, DEFAULT_T, DEFAULT_SEED, switches)
    assert 'class="sbs"' in html and numbers["t"] == DEFAULT_T and "knocked" not in numbers["models"]
    assert skipped(denoising.typed_told_t(ctx, image, DEFAULT_T, DEFAULT_SEED,
                                          denoising.Switches(True, "", all_on, True, False)))
    shown, told, note = denoising.refresh(ctx, image, DEFAULT_T, DEFAULT_SEED, switches, 50)
    assert shown == html and told == DEFAULT_T and note == ""
    assert "will run 6, not 50" in denoising.steps_note(ctx, 5, 50) and denoising.steps_note(ctx, "x", 50) == ""


def test_the_curves_are_reset_only_when_they_show_another_images_points(ctx, image):
    """The strip's answer sends the held-out curves again only to take away the points of another image or seed:
    never on a tab's first draw (the figure it was built with is the held-out one), nor for the image shown."""
    all_on = [f"skip{level}" for level in range(1, ctx.pair.unet.config.num_levels + 1)]
    switches = denoising.Switches(False, DEFAULT_T, all_on, True, False)
    points, key = denoising.image_curve(ctx, image, DEFAULT_T, DEFAULT_SEED)
    assert any("this image" in str(trace.get("name")) for trace in json.loads(points.plot)["data"])
    for shown in (denoising.HELD_OUT_ONLY, key):
        *_, curves, curve_key = denoising.scrub_strip(ctx, image, DEFAULT_T, DEFAULT_SEED, switches, shown)
        assert skipped(curves) and skipped(curve_key)
    *_, curves, curve_key = denoising.scrub_strip(ctx, image, DEFAULT_T, DEFAULT_SEED + 1, switches, key)
    assert not any("this image" in str(trace.get("name")) for trace in json.loads(curves.plot)["data"])
    assert curve_key == denoising.HELD_OUT_ONLY


# --- Receptive field -------------------------------------------------------------------------------------------------

def test_the_receptive_field_handlers(ctx, image):
    centre = ctx.image_size // 2
    with pytest.raises(gr.Error, match="no spatial position"):
        receptive.measure(ctx, image, DEFAULT_T, DEFAULT_SEED, centre, centre, "time_mlp")
    with pytest.raises(gr.Error, match="beside the picture"):
        receptive.on_pick(ctx, image, DEFAULT_T, DEFAULT_SEED, "output", event(outside=True))
    shown = receptive.choose_block(ctx, image, DEFAULT_T, DEFAULT_SEED, centre, centre, "output")
    assert len(shown) == 4 and skipped(shown[3])  # the whole output is no block the tabs share


# --- Part by part ----------------------------------------------------------------------------------------------------

def test_the_attention_query_is_checked(ctx, image):
    with pytest.raises(gr.Error, match="Unknown attention block"):
        proofs.attention_view(ctx, image, DEFAULT_T, DEFAULT_SEED, proofs.Query("enc1", 3, 3))
    picker, maps, entropy, numbers = proofs.attention_with_numbers(ctx, image, DEFAULT_T, DEFAULT_SEED,
                                                                   proofs.Query("mid.attn", 3, 60))
    assert "proof-picker-frame" in picker and "bits" in entropy and numbers["block"] == "mid.attn"
    assert [field.name for field in fields(proofs.Query)] == ["name", "y", "x"]  # /proof_attention's parameters


# --- Trained alternatives --------------------------------------------------------------------------------------------

def test_the_study_table_takes_only_its_timesteps(ctx):
    if ctx.study is None:
        assert study.missing(ctx, None, DEFAULT_T, DEFAULT_SEED) == (study.MISSING,)
        return
    assert "<table" in study.show_table(ctx, ctx.study.timesteps[0])
    with pytest.raises(gr.Error, match="scored at t"):
        study.show_table(ctx, 2)


# --- Lesson ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course(ctx):
    return lesson.Course.of(ctx, TABS)


def test_moving_along_the_steps(course):
    ids = course.ids
    assert lesson.previous_step(course, ids[0]) == ids[0] and lesson.next_step(course, ids[0]) == ids[1]
    assert lesson.next_step(course, ids[-1]) == ids[-1] and lesson.next_step(course, "nonsense") == ids[1]


def test_opening_a_step_measures_it_once_per_session(course):
    first = course.ids[0]
    (claim, body, words, progress, visited, cache, previous, following,
     trained) = lesson.open_step(course, first, None, None)
    assert trained.visible is (lesson.trained_target(course, course.steps[0]) is not None)
    assert claim.startswith(f"### Step 1 of {len(course.steps)}") and "**Words used here**" in words
    assert visited == [first] and cache == {first: body} and "1 of the" in progress
    assert "What you should see" in body and "### Step" not in body  # the measurements, under Show me
    again = lesson.open_step(course, first, visited, {first: "kept"})
    assert again[1] == "kept"  # the session's cache answers
    # The claim costs nothing to show (issue 32): the step's words without its measurement.
    assert claim == lesson.step_heading(course.steps[0], 1, len(course.steps)) and again[0] == claim
    # The second button shows for exactly the steps whose verdict rests on a decided trained comparison.
    for step in course.steps:
        shown = lesson.open_step(course, step.id, visited, cache)[-1].visible
        decided = study.trained_claim(course.ctx.study, TRAINED_CLAIMS.get(step.id, ())) is not None
        assert shown is decided, step.id


def test_the_first_step_speaks_of_the_image_the_page_opens_with(course, ctx):
    """Issue 32: step 1 named the strawberry while the page opened on another image."""
    step = course.steps[0]
    assert inputs.first_source(ctx) == inputs.source_text(step.target.image)  # what the input panel opens with
    assert emoji_names.image_label(ctx.examples[0].stem) in lesson.measured_markdown(course, step)


def test_show_me_sets_the_steps_target_in_controls_order(ctx):
    # Without a study: with one, the skips step's Show me opens its trained comparison instead (test below).
    course = lesson.Course.of(dataclasses.replace(ctx, study=None), TABS)
    step = next(step for step in course.steps if step.id == "skips")
    values = lesson.show_me(course, "skips")
    names = [field.name for field in fields(lesson.Settings)]
    assert names == [{"tabs": "tab"}.get(field.name, field.name) for field in fields(lesson.Controls)]
    assert len(values) == len(names) + 1
    shown = dict(zip(names, values))
    assert shown["active_tab"] == "denoising" and shown["t"] == step.target.t and shown["override_t"] is False
    assert "skip1" not in shown["skips"] and skipped(shown["told_t"]) and skipped(shown["rf_y"])
    assert json.loads(values[-1])["evidence"] == step.target.evidence


def test_show_me_sends_only_the_settings_the_page_does_not_show_yet(ctx):
    """Issue 32: a setting sent again with its own value still fired its change, and the whole tab was computed and
    drawn again. What the page already shows is left out; what differs is sent."""
    course = lesson.Course.of(dataclasses.replace(ctx, study=None), TABS)
    step = course.step("skips")
    names = [field.name for field in fields(lesson.Settings)]
    full = dict(zip(names, lesson.show_me(course, "skips")))
    as_shown = lesson.Shown("skips", "lesson", full["source"], step.target.t, step.target.seed, "enc1", 1, 2,
                            "output", full["override_t"], 10, list(full["skips"]), full["attention"],
                            full["bottleneck"])
    values = lesson.show_me(course, "skips", as_shown)
    again = dict(zip(names, values))
    assert again["active_tab"] == "denoising" and json.loads(values[-1])["evidence"] == step.target.evidence
    for name in ("image", "source", "t", "seed", "override_t", "skips", "attention", "bottleneck"):
        assert skipped(again[name]), name
    moved = dataclasses.replace(as_shown, t=step.target.t + 1, skips=["skip1", "skip2", "skip3", "skip4"])
    differing = dict(zip(names, lesson.show_me(course, "skips", moved)))
    assert differing["t"] == step.target.t and differing["skips"] == full["skips"] and skipped(differing["seed"])
    assert not skipped(full["image"]) and not skipped(full["t"])  # without the page's values everything is sent
    steps = lesson.Settings(ddim_steps=20)
    assert lesson.left_as_shown(steps, as_shown, 20).ddim_steps is None
    assert lesson.left_as_shown(steps, as_shown, "50").ddim_steps == 20


def test_a_link_is_read_and_written_back(course, ctx):
    stem = ctx.examples[1].stem
    request = SimpleNamespace(query_params={"step": "time", "tab": "denoising", "image": stem, "t": "900",
                                            "knockouts": "told:10", "colour": "red"})
    values = lesson.read_url(course, request)
    names = [field.name for field in fields(lesson.Settings)]
    shown = dict(zip(names, values))
    assert shown["t"] == 900 and shown["override_t"] is True and isinstance(shown["image"], np.ndarray)
    step, note, scroll = values[len(names):]
    assert step == "time" and "colour" in note.value and note.visible and json.loads(scroll)["tab"] == "denoising"
    written = lesson.write_url(course, lesson.Shown("time", "denoising", inputs.source_text(stem), 900, 0, "enc1",
                                                    1, 2, "output", True, 10, ["skip2", "skip3", "skip4"], True))
    assert written == f"step=time&tab=denoising&image={stem}&t=900&seed=0&knockouts=skip1,told:10"


# --- Show me on a step whose verdict rests on the trained comparison (issue 28 item 6) ------------------------------

def test_show_me_opens_the_trained_comparison_with_its_numbers(ctx):
    results = synthetic({"naive-t": [0.60, 0.61], "unet": [0.50, 0.51], "unet-notime": [0.70, 0.71]})
    course = lesson.Course.of(dataclasses.replace(ctx, study=results), TABS)
    number = course.ids.index("time") + 1
    values = lesson.show_trained(course, "time")
    names = [field.name for field in fields(lesson.Settings)]
    shown = dict(zip(names, values))
    scroll, heading, chart = values[len(names):]
    assert shown["active_tab"] == "study" and json.loads(scroll)["evidence"] == study.COMPARISON
    claim = TRAINED_CLAIMS["time"][0]  # needs-t: the first of the step's claims the study has
    item = findings.finding(results, claim)
    assert heading.visible and f"(step {number})" in heading.value
    for printed in (formatting.fixed(item.without_mean), formatting.fixed(item.with_mean),
                    formatting.times(item.ratio)):
        assert printed in heading.value, printed
    assert chart.visible and chart.value is not None


def test_a_trained_step_not_trained_yet_keeps_its_own_evidence_and_says_so(ctx):
    results = synthetic({"unet": [0.50, 0.51]})
    course = lesson.Course.of(dataclasses.replace(ctx, study=results), TABS)
    step = course.step("noise-scales")  # its claim (skips-by-t) is judged between two t, not by a comparison chart
    values = lesson.show_trained(course, step.id)
    scroll, heading, chart = values[-3:]
    assert json.loads(scroll)["evidence"] == step.target.evidence and values[1] == step.target.tab
    assert heading.visible is False and chart.visible is False  # its own panel prints the trained answer
    del results.data["variants"]["unet-noskip"]  # now the study has nothing to say about it
    scroll, heading, chart = lesson.show_trained(course, step.id)[-3:]
    assert json.loads(scroll)["evidence"] == step.target.evidence
    assert heading.visible and "not trained yet" in heading.value and chart.visible is False
    task = lesson.show_trained(course, "task")  # no trained claim at all: nothing shown as asked for
    assert task[-2].visible is False and task[-1].visible is False
    alone = lesson.Course.of(dataclasses.replace(ctx, study=None), TABS)  # no study: every step as before
    assert json.loads(lesson.show_me(alone, "time")[-1])["tab"] == alone.step("time").target.tab
