"""Long jobs on ZeroGPU and CUDA (explorer/server/zerogpu.py, explorer/devices.py), tested on the CPU.

No GPU here: the stand-in `spaces` package (tests/standin) runs GPU tasks in another thread with pickled arguments
and results, and the device is played by CPU copies of the models (`Placement("cpu")`): forward hooks show that a
long job computes on the copies only, never on the shared models that single-step requests use. The comparison
with the CPU is then exact here; the tolerance is what CUDA (float32, TF32 off) is held to.
"""
from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from explorer.devices import OnDevice, Placement, computing_on, placed
from explorer.server import zerogpu
from explorer.views import denoising, levels, proofs

STANDIN = str(Path(__file__).with_name("standin"))
STAND_IN_DEVICE = Placement("cpu")
# CUDA's float32 (TF32 off) differs from the CPU by rounding only: pictures within 2/255, scores within 1e-3
# relative (the tolerance stated in docs/hosting.md; to be checked on a real GPU where one is at hand).
PICTURE_TOLERANCE = 2
SCORE_TOLERANCE = 1e-3


@pytest.fixture
def spaces(monkeypatch):
    """The stand-in `spaces`, imported as the app would import it, on a "ZeroGPU Space"."""
    monkeypatch.setenv(zerogpu.ENV, "true")
    monkeypatch.syspath_prepend(STANDIN)
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    import spaces as standin

    standin.CALLS.clear()
    standin.REQUESTED.clear()
    monkeypatch.setattr(standin, "QUOTA_S", None)
    monkeypatch.setattr(zerogpu, "placement", lambda: STAND_IN_DEVICE)
    yield standin
    sys.modules.pop("spaces", None)


@pytest.fixture
def image(ctx) -> np.ndarray:
    return ctx.image(ctx.examples[0])


@pytest.fixture
def cpu_models_unused(ctx):
    """Fails the test if the shared CPU models compute while it runs (the job should use the placed copies)."""
    calls = []
    models = [ctx.cpu_pair.unet, ctx.cpu_pair.naive]
    for model in models:  # copies made first: a deep copy would carry the hook along
        placed(model, STAND_IN_DEVICE)
    handles = [model.register_forward_hook(lambda *_: calls.append(1)) for model in models]
    yield calls
    for handle in handles:
        handle.remove()


@pytest.mark.parametrize("value,expected", [("true", True), ("1", True), ("True", True), ("t", True),
                                            ("false", False), ("", False), (None, False)])
def test_zerogpu_is_detected_as_the_spaces_package_does(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(zerogpu.ENV, raising=False)
    else:
        monkeypatch.setenv(zerogpu.ENV, value)
    assert zerogpu.on_zerogpu() is expected


def test_off_spaces_a_long_job_is_itself_and_spaces_is_not_imported(monkeypatch):
    monkeypatch.delenv(zerogpu.ENV, raising=False)
    monkeypatch.delitem(sys.modules, "spaces", raising=False)

    def job():
        return 1
    assert zerogpu.gpu_job(job, "strip of t values") is job  # no CUDA here: the CPU, unchanged
    assert "spaces" not in sys.modules


def test_on_zerogpu_without_the_package_the_app_says_what_to_install(monkeypatch):
    monkeypatch.setenv(zerogpu.ENV, "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails
    with pytest.raises(RuntimeError, match="pip install spaces"):
        zerogpu.gpu_job(lambda: 1, "strip of t values")


def test_reverse_process_on_the_device_equals_the_cpu(ctx, image):
    cpu = list(denoising.reverse_process(ctx, image, 400, 3, 8))
    with computing_on(STAND_IN_DEVICE):
        assert isinstance(ctx.pair.unet, OnDevice)
        placed = list(denoising.reverse_process(ctx, image, 400, 3, 8))
    assert not isinstance(ctx.pair.unet, OnDevice)
    assert len(placed) == len(cpu) == 8
    for a, b in zip(cpu, placed):
        for name in ("naive", "unet"):
            assert b.samples[name].device.type == "cpu"
            assert (a.samples[name] - b.samples[name]).abs().max() < PICTURE_TOLERANCE / 255
            assert np.allclose(a.drift[name], b.drift[name], rtol=SCORE_TOLERANCE)


def test_strip_curve_sweep_and_parts_on_the_device_equal_the_cpu(ctx, image, cpu_models_unused):
    knockouts = denoising.Knockouts(zero_skips=frozenset({1}))
    grid = [1, 50, 400, 999]
    cpu_calls = len(cpu_models_unused)
    with computing_on(None):
        cpu = (denoising.scrub_frames(ctx, image, 5, grid, knockouts), denoising.image_curves(ctx, image, 5),
               levels.high_frequency_sweep(ctx, image, 5), proofs.measured_parts(ctx, image, 300, 5))
    assert len(cpu_models_unused) > cpu_calls  # the hook sees CPU forwards (the test can fail)
    cpu_calls, copy_calls = len(cpu_models_unused), []
    copies = [placed(model, STAND_IN_DEVICE).module for model in (ctx.cpu_pair.unet, ctx.cpu_pair.naive)]
    handles = [model.register_forward_hook(lambda *_: copy_calls.append(1)) for model in copies]
    with computing_on(STAND_IN_DEVICE):
        moved = (denoising.scrub_frames(ctx, image, 5, grid, knockouts), denoising.image_curves(ctx, image, 5),
                 levels.high_frequency_sweep(ctx, image, 5), proofs.measured_parts(ctx, image, 300, 5))
    for handle in handles:
        handle.remove()
    assert len(cpu_models_unused) == cpu_calls, "a long job computed on the shared CPU models"
    assert copy_calls
    for a, b in zip(cpu[0], moved[0]):
        for tile in a.images:
            assert np.abs(a.images[tile].astype(int) - b.images[tile].astype(int)).max() <= PICTURE_TOLERANCE
        for model in a.scores:
            assert np.allclose(a.scores[model], b.scores[model], rtol=SCORE_TOLERANCE)
    for model, scores in cpu[1]["models"].items():
        assert np.allclose(scores["eps_mse"], moved[1]["models"][model]["eps_mse"], rtol=SCORE_TOLERANCE)
    for a, b in zip(cpu[2].data, moved[2].data):
        assert np.allclose(np.asarray(a.y, float), np.asarray(b.y, float), rtol=SCORE_TOLERANCE, atol=1e-6)
    gradients_cpu, gradients_placed = cpu[3][0], moved[3][0]
    assert gradients_cpu.__dict__.keys() == gradients_placed.__dict__.keys()
    assert repr(cpu[3][1].keys()) == repr(moved[3][1].keys())
    for level, halves in cpu[3][1].items():
        for half, value in halves.items():
            assert value == pytest.approx(moved[3][1][level][half], rel=SCORE_TOLERANCE)


@pytest.fixture
def app_functions(ctx, spaces):
    from explorer.server import lanes
    from explorer.ui.app import build_app

    with lanes.building(quick=2, long=1):
        demo = build_app(ctx)
    by_name = {}
    for block_fn in demo.fns.values():
        if block_fn.fn is not None:
            by_name.setdefault(block_fn.name, block_fn)
            by_name.setdefault(block_fn.api_name, block_fn)
    return by_name


def test_long_jobs_run_in_gpu_functions_and_a_block_click_does_not(app_functions, spaces, ctx, image, monkeypatch):
    inside = []
    monkeypatch.setattr(zerogpu, "placement", lambda: inside.append(spaces.inside()) or STAND_IN_DEVICE)
    long_jobs = {name for name, block_fn in app_functions.items() if getattr(block_fn.fn, "long_job", None)}
    assert {"generate_from_noise", "denoise_from_here", "scrub_strip", "image_curve", "run_sweep", "show_all"} \
        <= long_jobs

    click = app_functions["select_block"].fn
    click(image, 300, 5, "enc1")
    assert spaces.CALLS == [] and inside == []  # a click: the CPU, no GPU call, no quota

    stream = app_functions["generate_from_noise"].fn(5, 10, None)
    items = list(stream)
    assert len(items) >= 3  # streamed frame by frame from inside the GPU function, then the animation
    assert spaces.CALLS == ["from_noise_fn"] and inside == [True]
    assert spaces.REQUESTED == [("from_noise_fn", zerogpu.reverse_seconds(5, 10, None))]

    strip = app_functions["scrub_strip"].fn(image, 300, 5, False, 300, None, True, False, None)
    assert spaces.CALLS[-1] == "scrub_strip" and inside == [True, True]
    assert len(strip) == 4


def test_a_visitor_out_of_quota_is_told_in_one_line_and_clicks_still_work(app_functions, spaces, image,
                                                                         monkeypatch):
    monkeypatch.setattr(spaces, "QUOTA_S", 1)
    with pytest.raises(gr.Error) as refused:
        app_functions["scrub_strip"].fn(image, 300, 5, False, 300, None, True, False, None)
    message = str(refused.value.message)
    assert "\n" not in message and "used up" in message and "strip of t values" in message
    assert "try again in 13:14:07" in message and "single-step views still work" in message
    with pytest.raises(gr.Error, match="used up"):
        list(app_functions["generate_from_noise"].fn(5, 10, None))
    assert spaces.CALLS == []
    shown = app_functions["select_block"].fn(image, 300, 5, "enc1")  # the CPU path answers
    assert shown is not None and spaces.CALLS == []


def test_other_errors_pass_through_unchanged():
    error = gr.Error("bad seed")
    assert zerogpu.quota_message(error, "strip of t values") is None
    timeout = gr.Error("No GPU was available after 60s", title="ZeroGPU queue timeout")
    assert "No GPU was free for the reverse process" in zerogpu.quota_message(timeout, "reverse process")


def test_the_gpu_time_asked_follows_the_one_step_limit():
    """The duration asked for a reverse process is bounded by the app's one step limit (limits.MAX_STEPS, which the
    page's field and its check read), not by a number of its own."""
    from explorer.server import limits
    from explorer.ui import validate

    assert validate.MAX_STEPS == limits.MAX_STEPS
    most = round(zerogpu.REVERSE_BASE_S + zerogpu.REVERSE_PER_STEP_S * limits.MAX_STEPS)
    assert zerogpu.reverse_seconds(5, 10**9, None) == most
    assert zerogpu.reverse_seconds(5, float("inf"), None) == most
