"""The Denoising tab: naive CNN vs U-Net at the current t, knock-outs, curves and the reverse process."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer.explanations import reverse_process_note
from explorer.metrics import Metrics
from explorer.server import internals, lanes, limits
from explorer.ui import scrub, validate
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh, tab_refresh
from explorer.ui.wiring import Pack, Wire, wire
from explorer.views import denoising, kept, numbers, opened
from explorer.views.context import DEFAULT_T, Context

TAB = "denoising"
REVERSE_FRAMES = 10  # frames streamed per run, whatever the step count
HELD_OUT_ONLY = ""  # `curve_key` while the curves show the held-out lines only (no image's points)
DEFAULT_STEPS = 50  # DDIM steps the reverse process starts with
log = logging.getLogger("unet_explorer")
GIF_NAME = "reverse-process.gif"


@dataclass(frozen=True)
class Switches:
    """The knock-out controls as the page sends them (raw values: `knockouts` checks them). The field names are the
    /denoise endpoint's parameter names (docs/python-api.md)."""

    override: object = False  # tell the U-Net another t than the image's
    told: object = None
    skips_on: object = None  # the names of the skips left on
    attention_on: object = True
    bypass_mid: object = False


@dataclass
class Denoising:
    view: gr.HTML
    strip_image: gr.Image
    strip_meta: gr.HTML
    strip_request: gr.Button
    view_numbers: gr.JSON
    override_t: gr.Checkbox
    told_t: gr.Slider
    skips: gr.CheckboxGroup
    attention: gr.Checkbox
    bottleneck: gr.Checkbox
    curves: gr.Plot
    image_curve_button: gr.Button
    curve_key: gr.State  # the strip key of the image and seed whose points the curves show, or HELD_OUT_ONLY
    steps: gr.Number
    from_here: gr.Button
    from_noise: gr.Button
    ddim_note: gr.Markdown
    live: gr.Image
    progress_text: gr.Markdown
    drift: gr.Plot
    strip: gr.HTML
    animation: gr.Image

    @property
    def switches(self) -> Pack:
        return Pack(Switches, [self.override_t, self.told_t, self.skips, self.attention, self.bottleneck])

    @property
    def reverse_outputs(self) -> list:
        return [self.live, self.progress_text, self.strip, self.drift, self.animation]


# --- handlers ---------------------------------------------------------------------------------------------------------

def save_animation(data: bytes, cache: str) -> str:
    """Write a GIF once, straight into Gradio's cache (so Gradio serves it without a copy), named by its bytes."""
    return limits.write_once(data, Path(cache) / hashlib.sha256(data).hexdigest(), GIF_NAME)


def knockouts(ctx: Context, switches: Switches) -> denoising.Knockouts:
    levels = len(ctx.skip_names())
    kept_levels = validate.skip_levels(ctx, switches.skips_on)
    return denoising.Knockouts(
        told_t=(validate.timestep_of(ctx, switches.told, "The timestep told to the U-Net") if switches.override
                else None),
        zero_skips=frozenset(range(1, levels + 1)) - kept_levels,
        attention=bool(switches.attention_on),
        bypass_mid=bool(switches.bypass_mid))


def shown_comparison(ctx: Context, image, t, seed, switches: Switches):
    """The side-by-side view's HTML and the comparison it shows."""
    image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    chosen = knockouts(ctx, switches)
    comparison = kept.compare(ctx, image, t, seed, chosen)  # the same for a class on one Lesson step
    # Not a held-out emoji (an upload): say that both networks learned emoji only, with this image's numbers.
    emoji = denoising.image_digest(image) in kept.heldout_digests(ctx)
    note = "" if emoji else denoising.domain_note_html(ctx, comparison)
    heldout = denoising.heldout_html(Metrics.of(ctx.metrics), chosen, t)
    key = denoising.strip_key(image, seed, chosen)
    return denoising.side_by_side_html(comparison, key, note, heldout), comparison


def side_by_side(ctx: Context, image, t, seed, switches: Switches) -> str:
    return shown_comparison(ctx, image, t, seed, switches)[0]


def side_by_side_with_numbers(ctx: Context, image, t, seed, switches: Switches):
    """The /denoise endpoint: the view as HTML and each denoiser's scores as numbers."""
    shown, comparison = shown_comparison(ctx, image, t, seed, switches)
    return shown, numbers.comparison(comparison, validate.seed(seed))


def typed_told_t(ctx: Context, image, t, seed, switches: Switches):
    """A t typed into the told-t box: a half-typed value ("" or "0") waits quietly."""
    try:
        validate.timestep_of(ctx, switches.told, "The timestep told to the U-Net")
    except gr.Error:
        return gr.skip()
    return side_by_side(ctx, image, t, seed, switches)


def steps_note(ctx: Context, t, num_steps) -> str:
    try:
        t, num_steps = validate.timestep_of(ctx, t), validate.steps(num_steps)
    except gr.Error:
        return ""  # the reverse process's own handler says what is wrong when it is started
    return denoising.steps_note(ctx, t, num_steps)


def refresh(ctx: Context, image, t, seed, switches: Switches, num_steps):
    """The tab's refresh: the view, the told t following t (unless overridden), the steps note."""
    shown = side_by_side(ctx, image, t, seed, switches)
    return shown, (gr.skip() if switches.override else int(t)), steps_note(ctx, t, num_steps)


@lanes.long_job("strip of t values")
def scrub_strip(ctx: Context, image, t, seed, switches: Switches, shown_curves):
    image, seed = validate.image(ctx, image), validate.seed(seed)
    chosen = knockouts(ctx, switches)
    frames = kept.scrub_frames(ctx, image, seed, chosen)
    key = denoising.strip_key(image, seed, chosen)
    # The curves keep an image's points while that image and seed are shown; other inputs reset them to the held-out
    # lines (not sent again when that is all they show: a redrawn figure held the page ~1 s on a tab's first draw).
    if shown_curves in (HELD_OUT_ONLY, curves_key(image, seed)):
        curves, curve_key = gr.skip(), gr.skip()
    else:
        curves, curve_key = plot(denoising.curves_figure(ctx)), HELD_OUT_ONLY
    return denoising.scrub_strip(frames, chosen), denoising.scrub_meta_html(key, frames, chosen), curves, curve_key


@lanes.long_job("curve for this image")
def image_curve(ctx: Context, image, t, seed):
    """The held-out curves with this image's points, and the key of the image and seed they show (`curve_key`)."""
    image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    return plot(denoising.curves_figure(ctx, None, denoising.image_curves(ctx, image, seed))), curves_key(image, seed)


def curves_key(image, seed) -> str:
    """`curve_key` for curves that show this image's points at this seed."""
    return denoising.strip_key(image, seed, denoising.Knockouts())


def run_reverse(ctx: Context, image, t, seed, num_steps, pure_noise: bool, request: gr.Request | None):
    """DDIM down to t = 0 with each model, streamed: (live frame, progress, strip, drift, animation)."""
    seed, num_steps = validate.seed(seed), validate.steps(num_steps)
    if pure_noise:
        image, t = None, ctx.diffusion.max_t
    else:
        image, t = validate.image(ctx, image), validate.timestep_of(ctx, t)
    session = getattr(request, "session_hash", None)
    every = max(1, num_steps // REVERSE_FRAMES)
    frames, started = [], time.monotonic()
    try:
        for frame in kept.reverse_process(ctx, image, t, seed, num_steps, every):  # a class shares one
            if limits.LISTENERS.gone(session, started):
                log.info("reverse process stopped at step %d of %d: nobody reads its results",
                         frame.step, frame.num_steps)
                return
            frames.append(frame)
            done = frame.step == frame.num_steps
            yield (denoising.reverse_frame_image(frame), f"Step {frame.step} of {frame.num_steps} "
                   f"(t = {frame.t})" + (" · done" if done else " …"), gr.skip(),
                   plot(denoising.drift_figure(frame, pure_noise)), gr.skip())
    except GeneratorExit:  # Gradio closes the generator when the client's stream closes
        log.info("reverse process stopped after step %d of %d: its client left",
                 frames[-1].step if frames else 0, num_steps)
        raise
    gif = save_animation(denoising.animation_gif(frames), str(internals.upload_folder()))
    yield gr.skip(), gr.skip(), denoising.frame_strip(frames), gr.skip(), gif


@lanes.long_job("reverse process")
def from_here_fn(ctx: Context, image, t, seed, num_steps, request: gr.Request):
    yield from run_reverse(ctx, image, t, seed, num_steps, False, request)


@lanes.long_job("reverse process")
def from_noise_fn(ctx: Context, seed, num_steps, request: gr.Request):
    yield from run_reverse(ctx, None, ctx.diffusion.max_t, seed, num_steps, True, request)


def told_t_interactive(on) -> dict:
    return gr.update(interactive=bool(on))


# --- layout -----------------------------------------------------------------------------------------------------------

def build(ctx: Context) -> Denoising:
    kept.heldout_digests(ctx)  # computed once, before the first request needs it
    gr.Markdown("Both networks get the same noisy image x_t and predict its noise ε̂; from ε̂ follows their "
                "estimate of the clean image x̂₀. The right-hand column is a classical denoiser (a Gaussian "
                "blur) for scale. Break the U-Net with the switches to see what each part is for: the changes "
                "apply to your request only. Drag t: the pictures follow the slider from frames computed "
                "ahead for this image, and the exact view for the t you let go of replaces them. "
                + opened.which_is_which(ctx))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=560):
            view, strip_image, strip_meta, strip_request = scrub.components(
                '<p class="sbs-status">Computing the side-by-side view…</p>')
            view_numbers = gr.JSON(visible=False, label="Scores (numbers)", elem_id="denoise-numbers")
        with gr.Column(scale=2, min_width=320):
            switches = build_switches(ctx)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            curves = gr.Plot(plot(denoising.curves_figure(ctx)), label="Held-out error against t",
                             elem_id="denoise-curves", show_label=False)
        with gr.Column(scale=1, min_width=220):
            image_curve_button = gr.Button("Add this image's values (9 timesteps)", size="sm",
                                           elem_id="image-curve-button")
            gr.Markdown("Held-out lines: each denoiser's average over the held-out emoji, images neither "
                        "network trained on, measured once for these weights. The dashed line marks t.")
    curve_key = gr.State(HELD_OUT_ONLY)
    reverse = build_reverse(ctx)
    return Denoising(view, strip_image, strip_meta, strip_request, view_numbers, *switches, curves,
                     image_curve_button, curve_key, *reverse)


def build_switches(ctx: Context) -> tuple:
    """The knock-out switches: (override t, told t, skips, attention, bottleneck)."""
    skip_names = ctx.skip_names()
    with gr.Group():
        gr.Markdown(f"**Knock-outs ({ctx.unet_title} only)**")
        override_t = gr.Checkbox(False, label="Tell the U-Net a different timestep", elem_id="override-t")
        told_t = gr.Slider(1, ctx.diffusion.max_t, value=DEFAULT_T, step=1, elem_id="told-t", interactive=False,
                           label="Timestep told to the U-Net (follows t until you tick the box above)")
        skips = gr.CheckboxGroup(skip_names, value=skip_names, label="Skip connections (untick to cut)",
                                 elem_id="skip-switches")
        attention = gr.Checkbox(True, label="Self-attention on", elem_id="attention-switch")
        bottleneck = gr.Checkbox(False, label="Bypass the bottleneck (mid blocks pass their input through)",
                                 elem_id="bottleneck-switch")
    if ctx.metrics and ctx.metrics.knockouts:
        with gr.Accordion("What each part is worth on the held-out set", open=False):
            gr.HTML(denoising.knockouts_table_html(ctx.metrics.knockouts), elem_id="knockout-table")
    return override_t, told_t, skips, attention, bottleneck


def build_reverse(ctx: Context) -> tuple:
    """The reverse process: (steps, from here, from noise, note, live frame, progress, drift, strip, animation)."""
    gr.Markdown("### The reverse process\nStart from the current x_t (or from pure noise) and run DDIM (a sampler "
                "that can skip timesteps) down to t = 0 with each model. Small errors at each step add up; watch "
                "each model's x̂₀ along the way.\n\n"
                + reverse_process_note(ctx.diffusion), elem_id="reverse-intro")
    with gr.Row():
        steps = gr.Number(DEFAULT_STEPS, precision=0, label=f"DDIM steps (1 to {validate.MAX_STEPS})", minimum=1,
                          maximum=validate.MAX_STEPS, elem_id="ddim-steps")
        from_here = gr.Button("Denoise from here", variant="primary", elem_id="denoise-from-here")
        from_noise = gr.Button("Generate from pure noise", elem_id="generate-from-noise")
    ddim_note = gr.Markdown(elem_id="ddim-note")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=560):
            gr.HTML(denoising.reverse_caption_html(ctx.image_size), elem_id="reverse-caption", apply_default_css=False)
            live = gr.Image(label="Live frames", interactive=False, elem_id="reverse-live", show_label=False,
                            buttons=[], format="png")
            progress_text = gr.Markdown(elem_id="reverse-progress", label="Progress")
        with gr.Column(scale=2):
            drift = gr.Plot(label="Drift", elem_id="reverse-drift", show_label=False)
    gr.Markdown("**Frame strip**: each model's sample along the way")
    strip = gr.HTML(elem_id="reverse-strip", apply_default_css=False, label="Frame strip")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=560):
            gr.Markdown("**Animation** (GIF, same layout as the live frames; the button above it downloads it)")
            animation = gr.Image(label="Animation", interactive=False, elem_id="reverse-gif", type="filepath",
                                 buttons=["download"], show_label=False)
        with gr.Column(scale=2):
            pass
    return steps, from_here, from_noise, ddim_note, live, progress_text, drift, strip, animation


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(layout: Denoising, shared: list, max_t: int) -> list[Wire]:
    """`shared`: the input panel's (image, t, seed); `max_t`: the schedule's last t."""
    switches, quiet = layout.switches, dict(preprocess=False, show_progress="hidden")
    return [
        wire(layout.override_t.change, told_t_interactive, [layout.override_t], layout.told_t, context=False,
             api_name=False, show_progress="hidden", queue=False),
        # User changes only (`input`, `release`): the told-t slider also follows t by the server's hand.
        wire([layout.override_t.input, layout.told_t.release, layout.skips.input, layout.attention.input,
              layout.bottleneck.input], side_by_side_with_numbers, shared + [switches],
             [layout.view, layout.view_numbers], api_name="denoise", trigger_mode="always_last", **quiet,
             api_description="Naive CNN, U-Net (with the knock-outs, if any) and a blur on the same x_t: the view "
                             "as HTML, and each one's ε-MSE and x̂₀ PSNR as numbers"),
        # The slider's number box sends `release` only when it loses focus, so a typed t (Enter pressed or not)
        # would wait for a click elsewhere; its `input` comes with every key.
        wire(layout.told_t.input, typed_told_t, shared + [switches], layout.view, api_name=False,
             trigger_mode="always_last", **quiet),
        # Pressed by the view's script when it has no strip for the view's inputs (see explorer/ui/scrub.py).
        wire(layout.strip_request.click, scrub_strip, shared + [switches, layout.curve_key],
             [layout.strip_image, layout.strip_meta, layout.curves, layout.curve_key], api_name=False,
             trigger_mode="always_last", **quiet),
        wire(layout.steps.change, steps_note, [shared[1], layout.steps], layout.ddim_note, api_name=False, **quiet),
        wire(layout.image_curve_button.click, image_curve, shared, [layout.curves, layout.curve_key],
             api_name="image_curve",
             preprocess=False,
             api_description="The held-out error curves with this image's values at 9 timesteps"),
        # Long jobs: a lane of their own, and one reverse process per session (server/lanes.py).
        wire(layout.from_here.click, from_here_fn, shared + [layout.steps], layout.reverse_outputs,
             api_name="denoise_from_here", preprocess=False,
             api_description="DDIM from x_t down to t = 0 with each model, streamed: live frame, progress, "
                             "frame strip, drift figure, then the animation (GIF)"),
        wire(layout.from_noise.click, from_noise_fn, [shared[2], layout.steps], layout.reverse_outputs,
             api_name="generate_from_noise", preprocess=False,
             api_description=f"DDIM from pure noise (t = {max_t}) down to t = 0 with each "
                             "model, streamed as /denoise_from_here"),
    ]


def strip_after_refresh(ctx: Context, image, t, seed, switches: Switches, num_steps):
    """The strip of t values the page asks for once the view is in (`scrub_strip`), from the refresh's values."""
    return scrub_strip(ctx, image, t, seed, switches, HELD_OUT_ONLY)


def refresher(ctx: Context, layout: Denoising) -> Refresh:
    """Refreshed when t is let go of, not at every step of a drag: the view follows the slider in the page."""
    return tab_refresh(TAB, ctx, refresh, [layout.switches, layout.steps],
                       [layout.view, layout.told_t, layout.ddim_note], follows_drag=False,
                       follow_up=strip_after_refresh)
