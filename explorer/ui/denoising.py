"""The Denoising tab: naive CNN vs U-Net at the current t, knock-outs, curves and the reverse process."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gradio as gr

from explorer.ui import validate
from explorer.ui.inputs import Inputs
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import denoising
from explorer.views.context import Context

REVERSE_FRAMES = 10  # frames streamed per run, whatever the step count
GIF_FOLDER = Path(tempfile.gettempdir()) / "unet-explorer-animations"
GIF_LIFETIME_S = 1800


def save_animation(data: bytes) -> str:
    """Write a GIF where Gradio can serve it, and delete the ones older than GIF_LIFETIME_S."""
    GIF_FOLDER.mkdir(exist_ok=True)
    for old in GIF_FOLDER.glob("*.gif"):
        try:
            if time.time() - old.stat().st_mtime > GIF_LIFETIME_S:
                old.unlink()
        except OSError:  # another request removed it first
            pass
    with tempfile.NamedTemporaryFile(suffix=".gif", dir=GIF_FOLDER, delete=False) as file:
        file.write(data)
    return file.name


def knockouts(ctx: Context, override_t, told_t, skips_on, attention_on) -> denoising.Knockouts:
    levels = ctx.pair.unet.config.num_levels
    kept = validate.skip_levels(ctx, skips_on)
    return denoising.Knockouts(
        told_t=validate.timestep(told_t, "The timestep told to the U-Net") if override_t else None,
        zero_skips=frozenset(range(1, levels + 1)) - kept,
        attention=bool(attention_on))


def build(ctx: Context, inputs: Inputs) -> Refresh:
    levels = ctx.pair.unet.config.num_levels
    skip_names = [f"skip{level}" for level in range(1, levels + 1)]
    gr.Markdown("Both networks get the same noisy image x_t and predict its noise ε̂; from ε̂ follows their "
                "estimate of the clean image x̂₀. The right-hand column is a classical denoiser (a Gaussian "
                "blur) for scale. Break the U-Net with the switches to see what each part is for: the changes "
                "apply to your request only.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=560):
            figure = gr.Image(label="Side by side", interactive=False, elem_id="denoise-figure", show_label=False, buttons=[],
                              format="png")
        with gr.Column(scale=2, min_width=360):
            with gr.Group():
                gr.Markdown("**Knock-outs (U-Net only)**")
                override_t = gr.Checkbox(False, label="Tell the U-Net a different timestep", elem_id="override-t")
                told_t = gr.Slider(1, 999, value=250, step=1, label="Timestep told to the U-Net",
                                   elem_id="told-t", interactive=False)
                skips = gr.CheckboxGroup(skip_names, value=skip_names, label="Skip connections (untick to cut)",
                                         elem_id="skip-switches")
                attention = gr.Checkbox(True, label="Self-attention on", elem_id="attention-switch")
            metrics = gr.Markdown(elem_id="denoise-metrics")
            if ctx.metrics and "knockouts" in ctx.metrics:
                with gr.Accordion("What each part is worth on the held-out set", open=False):
                    gr.Markdown(denoising.knockouts_markdown(ctx.metrics["knockouts"]), elem_id="knockout-table")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            curves = gr.Plot(label="Held-out error against t", elem_id="denoise-curves", show_label=False)
        with gr.Column(scale=1, min_width=220):
            image_curve_button = gr.Button("Add this image's values (9 timesteps)", size="sm",
                                           elem_id="image-curve-button")
            gr.Markdown("Held-out lines come from `weights/metrics.json`, written by "
                        "`python -m explorer.evaluate` on the held-out emoji.")

    gr.Markdown("### The reverse process\nStart from the current x_t (or from pure noise) and run DDIM down to "
                "t = 0 with each model. Small errors at each step add up; watch each model's x̂₀ along the way.")
    with gr.Row():
        steps = gr.Number(50, precision=0, label="DDIM steps", minimum=1, maximum=1000, elem_id="ddim-steps")
        from_here = gr.Button("Denoise from here", variant="primary", elem_id="denoise-from-here")
        from_noise = gr.Button("Generate from pure noise", elem_id="generate-from-noise")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            live = gr.Image(label="Live frames", interactive=False, elem_id="reverse-live", show_label=False, buttons=[], format="png")
            progress_text = gr.Markdown(elem_id="reverse-progress")
            strip = gr.Image(label="Frame strip", interactive=False, elem_id="reverse-strip", show_label=False, buttons=[],
                             format="png")
        with gr.Column(scale=2):
            drift = gr.Plot(label="Drift", elem_id="reverse-drift", show_label=False)
            animation = gr.Image(label="Animation", interactive=False, elem_id="reverse-gif", type="filepath",
                                 buttons=["download"])

    def side_by_side(image, t, seed, override, told, skips_on, attention_on):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        comparison = denoising.compare(ctx, image, t, seed, knockouts(ctx, override, told, skips_on, attention_on))
        return (denoising.comparison_figure(comparison), denoising.metrics_markdown(comparison),
                plot(denoising.curves_figure(ctx, t)))

    def image_curve(image, t, seed):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        return plot(denoising.curves_figure(ctx, t, denoising.image_curves(ctx, image, seed)))

    def run_reverse(image, t, seed, num_steps, pure_noise: bool):
        seed, num_steps = validate.seed(seed), validate.steps(num_steps)
        if pure_noise:
            image, t = None, 999
        else:
            image, t = validate.image(ctx, image), validate.timestep(t)
        every = max(1, num_steps // REVERSE_FRAMES)
        frames = []
        for frame in denoising.reverse_process(ctx, image, t, seed, num_steps, every=every):
            frames.append(frame)
            done = frame.step == frame.num_steps
            yield (denoising.reverse_frame_image(frame), f"Step {frame.step} of {frame.num_steps} (t = {frame.t})"
                   + (" · done" if done else " …"), gr.skip(), plot(denoising.drift_figure(frame, pure_noise)), gr.skip())
        yield gr.skip(), gr.skip(), denoising.frame_strip(frames), gr.skip(), save_animation(denoising.animation_gif(frames))

    override_t.change(lambda on: gr.update(interactive=bool(on)), override_t, told_t, api_name=False,
                      show_progress="hidden")
    controls = [override_t, told_t, skips, attention]
    shared = [inputs.image, inputs.t, inputs.seed]
    gr.on([control.change for control in controls], side_by_side, shared + controls, [figure, metrics, curves],
          api_name="denoise", preprocess=False, show_progress="hidden", trigger_mode="always_last")
    image_curve_button.click(image_curve, shared, curves, api_name="image_curve", preprocess=False)
    reverse_outputs = [live, progress_text, strip, drift, animation]
    from_here.click(lambda image, t, seed, n: (yield from run_reverse(image, t, seed, n, False)),
                    shared + [steps], reverse_outputs, api_name="denoise_from_here", preprocess=False, concurrency_limit=1,
                    concurrency_id="reverse")
    from_noise.click(lambda seed, n: (yield from run_reverse(None, 999, seed, n, True)),
                     [inputs.seed, steps], reverse_outputs, api_name="generate_from_noise", preprocess=False, concurrency_limit=1,
                     concurrency_id="reverse")
    return Refresh("denoising", controls, [figure, metrics, curves], side_by_side)
