"""The Denoising tab: naive CNN vs U-Net at the current t, knock-outs, curves and the reverse process."""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import gradio as gr

from explorer.explanations import reverse_process_note
from explorer.server import lanes, limits
from explorer.ui import scrub, validate
from explorer.ui.inputs import Inputs
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import denoising, kept, numbers
from explorer.views.context import Context

REVERSE_FRAMES = 10  # frames streamed per run, whatever the step count
log = logging.getLogger("unet_explorer")
GIF_NAME = "reverse-process.gif"


def save_animation(data: bytes, cache: str) -> str:
    """Write a GIF once, straight into Gradio's cache (so Gradio serves it without a copy), named by its bytes."""
    return limits.write_once(data, Path(cache) / hashlib.sha256(data).hexdigest(), GIF_NAME)


def knockouts(ctx: Context, override_t, told_t, skips_on, attention_on, bypass_mid=False) -> denoising.Knockouts:
    levels = ctx.pair.unet.config.num_levels
    kept = validate.skip_levels(ctx, skips_on)
    return denoising.Knockouts(
        told_t=validate.timestep(told_t, "The timestep told to the U-Net") if override_t else None,
        zero_skips=frozenset(range(1, levels + 1)) - kept,
        attention=bool(attention_on),
        bypass_mid=bool(bypass_mid))


def build(ctx: Context, inputs: Inputs) -> Refresh:
    levels = ctx.pair.unet.config.num_levels
    skip_names = [f"skip{level}" for level in range(1, levels + 1)]
    gr.Markdown("Both networks get the same noisy image x_t and predict its noise ε̂; from ε̂ follows their "
                "estimate of the clean image x̂₀. The right-hand column is a classical denoiser (a Gaussian "
                "blur) for scale. Break the U-Net with the switches to see what each part is for: the changes "
                "apply to your request only. Drag t: the pictures follow the slider from frames computed "
                "ahead for this image, and the exact view for the t you let go of replaces them.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=560):
            view, strip_image, strip_meta, strip_request = scrub.components(
                '<p class="sbs-status">Computing the side-by-side view…</p>')
            view_numbers = gr.JSON(visible=False, label="Scores (numbers)", elem_id="denoise-numbers")
        with gr.Column(scale=2, min_width=320):
            with gr.Group():
                gr.Markdown("**Knock-outs (U-Net only)**")
                override_t = gr.Checkbox(False, label="Tell the U-Net a different timestep", elem_id="override-t")
                told_t = gr.Slider(1, ctx.diffusion.max_t, value=inputs.t.value, step=1, elem_id="told-t",
                                   interactive=False,
                                   label="Timestep told to the U-Net (follows t until you tick the box above)")
                skips = gr.CheckboxGroup(skip_names, value=skip_names, label="Skip connections (untick to cut)",
                                         elem_id="skip-switches")
                attention = gr.Checkbox(True, label="Self-attention on", elem_id="attention-switch")
                bottleneck = gr.Checkbox(False, label="Bypass the bottleneck (mid blocks pass their input through)",
                                         elem_id="bottleneck-switch")
            if ctx.metrics and ctx.metrics.knockouts:
                with gr.Accordion("What each part is worth on the held-out set", open=False):
                    gr.HTML(denoising.knockouts_table_html(ctx.metrics.knockouts), elem_id="knockout-table")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            curves = gr.Plot(plot(denoising.curves_figure(ctx)), label="Held-out error against t",
                             elem_id="denoise-curves", show_label=False)
        with gr.Column(scale=1, min_width=220):
            image_curve_button = gr.Button("Add this image's values (9 timesteps)", size="sm",
                                           elem_id="image-curve-button")
            gr.Markdown("Held-out lines: each denoiser's average over the held-out emoji, images neither "
                        "network trained on, measured once for these weights. The dashed line marks t.")
    curve_key = gr.State(None)  # the image and seed whose held-out curves are shown (this image's points reset)

    gr.Markdown("### The reverse process\nStart from the current x_t (or from pure noise) and run DDIM (a sampler "
                "that can skip timesteps) down to t = 0 with each model. Small errors at each step add up; watch "
                "each model's x̂₀ along the way.\n\n"
                + reverse_process_note(ctx.diffusion), elem_id="reverse-intro")
    with gr.Row():
        steps = gr.Number(50, precision=0, label=f"DDIM steps (1 to {validate.MAX_STEPS})", minimum=1,
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

    heldout = denoising.heldout_digests(ctx)  # to tell a held-out emoji from any other image (an upload)

    def shown_comparison(image, t, seed, override, told, skips_on, attention_on, bypass_mid):
        """The side-by-side view's HTML and the comparison it shows."""
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        chosen = knockouts(ctx, override, told, skips_on, attention_on, bypass_mid)
        comparison = kept.compare(ctx, image, t, seed, chosen)  # the same for a class on one Lesson step
        # Not a held-out emoji (an upload): say that both networks learned emoji only, with this image's numbers.
        note = "" if denoising.image_digest(image) in heldout else denoising.domain_note_html(ctx, comparison)
        return denoising.side_by_side_html(comparison, denoising.strip_key(image, seed, chosen), note), comparison

    def side_by_side(*args):
        return shown_comparison(*args)[0]

    def side_by_side_with_numbers(image, t, seed, override, told, skips_on, attention_on, bypass_mid):
        shown, comparison = shown_comparison(image, t, seed, override, told, skips_on, attention_on, bypass_mid)
        return shown, numbers.comparison(comparison, validate.seed(seed))

    def typed_told_t(image, t, seed, override, told, skips_on, attention_on, bypass_mid):
        try:
            validate.timestep(told, "The timestep told to the U-Net")
        except gr.Error:
            return gr.skip()
        return side_by_side(image, t, seed, override, told, skips_on, attention_on, bypass_mid)

    def refresh(image, t, seed, override, told, skips_on, attention_on, bypass_mid, num_steps):
        shown = side_by_side(image, t, seed, override, told, skips_on, attention_on, bypass_mid)
        return shown, (gr.skip() if override else int(t)), steps_note(t, num_steps)

    @lanes.long_job("strip of t values")
    def scrub_strip(image, t, seed, override, told, skips_on, attention_on, bypass_mid, shown_curves):
        image, seed = validate.image(ctx, image), validate.seed(seed)
        chosen = knockouts(ctx, override, told, skips_on, attention_on, bypass_mid)
        frames = kept.scrub_frames(ctx, image, seed, chosen)
        key = denoising.strip_key(image, seed, chosen)
        curves_key = denoising.strip_key(image, seed, denoising.Knockouts())
        fresh_curves = plot(denoising.curves_figure(ctx)) if shown_curves != curves_key else gr.skip()
        return (denoising.scrub_strip(frames, chosen), denoising.scrub_meta_html(key, frames, chosen), fresh_curves,
                curves_key)

    def steps_note(t, num_steps) -> str:
        try:
            t, num_steps = validate.timestep(t), validate.steps(num_steps)
        except gr.Error:
            return ""  # the reverse process's own handler says what is wrong when it is started
        return denoising.steps_note(ctx, t, num_steps)

    @lanes.long_job("curve for this image")
    def image_curve(image, t, seed):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        return plot(denoising.curves_figure(ctx, None, denoising.image_curves(ctx, image, seed)))

    def run_reverse(image, t, seed, num_steps, pure_noise: bool, request: gr.Request | None):
        seed, num_steps = validate.seed(seed), validate.steps(num_steps)
        if pure_noise:
            image, t = None, ctx.diffusion.max_t
        else:
            image, t = validate.image(ctx, image), validate.timestep(t)
        session = getattr(request, "session_hash", None)
        every = max(1, num_steps // REVERSE_FRAMES)
        frames, started = [], time.monotonic()
        try:
            for frame in denoising.reverse_process(ctx, image, t, seed, num_steps, every=every):
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
        gif = save_animation(denoising.animation_gif(frames), animation.GRADIO_CACHE)
        yield gr.skip(), gr.skip(), denoising.frame_strip(frames), gr.skip(), gif

    @lanes.long_job("reverse process")
    def from_here_fn(image, t, seed, num_steps, request: gr.Request):
        yield from run_reverse(image, t, seed, num_steps, False, request)

    @lanes.long_job("reverse process")
    def from_noise_fn(seed, num_steps, request: gr.Request):
        yield from run_reverse(None, ctx.diffusion.max_t, seed, num_steps, True, request)

    lanes.listen(override_t.change, lambda on: gr.update(interactive=bool(on)), override_t, told_t, api_name=False,
                 show_progress="hidden", queue=False)
    controls = [override_t, told_t, skips, attention, bottleneck]
    shared = [inputs.image, inputs.t, inputs.seed]
    # User changes only (`input`, `release`): the told-t slider also follows t by the server's hand.
    lanes.on([override_t.input, told_t.release, skips.input, attention.input, bottleneck.input],
             side_by_side_with_numbers, shared + controls, [view, view_numbers],
             api_name="denoise", preprocess=False, show_progress="hidden", trigger_mode="always_last",
             api_description="Naive CNN, U-Net (with the knock-outs, if any) and a blur on the same x_t: the view as "
                             "HTML, and each one's ε-MSE and x̂₀ PSNR as numbers")
    # The slider's number box sends `release` only when it loses focus, so a typed t (Enter pressed or not) would
    # wait for a click elsewhere; its `input` comes with every key. A half-typed value ("" or "0") waits quietly.
    lanes.listen(told_t.input, typed_told_t, shared + controls, view, api_name=False, preprocess=False,
                 show_progress="hidden",
                 trigger_mode="always_last")
    # Pressed by the view's script when it has no strip for the view's inputs (see explorer/ui/scrub.py).
    lanes.listen(strip_request.click, scrub_strip, shared + controls + [curve_key],
                 [strip_image, strip_meta, curves, curve_key],
                 api_name=False, preprocess=False, show_progress="hidden", trigger_mode="always_last")
    lanes.listen(steps.change, steps_note, [inputs.t, steps], ddim_note, api_name=False, preprocess=False,
                 show_progress="hidden")
    lanes.listen(image_curve_button.click, image_curve, shared, curves, api_name="image_curve", preprocess=False,
                 api_description="The held-out error curves with this image's values at 9 timesteps")
    reverse_outputs = [live, progress_text, strip, drift, animation]
    # Long jobs: a lane of their own, and one reverse process per session (server/lanes.py).
    lanes.listen(from_here.click, from_here_fn, shared + [steps], reverse_outputs, api_name="denoise_from_here",
                 preprocess=False,
                 api_description="DDIM from x_t down to t = 0 with each model, streamed: live frame, progress, "
                                 "frame strip, drift figure, then the animation (GIF)")
    lanes.listen(from_noise.click, from_noise_fn, [inputs.seed, steps], reverse_outputs, api_name="generate_from_noise",
                 preprocess=False,
                 api_description=f"DDIM from pure noise (t = {ctx.diffusion.max_t}) down to t = 0 with each "
                                 "model, streamed as /denoise_from_here")
    return Refresh("denoising", controls + [steps], [view, told_t, ddim_note], refresh, follows_drag=False)
