"""The shared input panel: image (example, upload, random held-out), timestep and noise seed."""
from __future__ import annotations

import random
from dataclasses import dataclass

import gradio as gr
import numpy as np

from explorer.data import ImageError
from explorer.render import tensor_image
from explorer.ui import validate
from explorer.views.context import Context

PREVIEW_SCALE = 3


@dataclass
class Inputs:
    image: gr.State
    t: gr.Slider
    seed: gr.Number
    source: gr.Markdown


def noise_level(ctx: Context, t: int) -> str:
    signal = float(ctx.diffusion.sqrt_alphas_cumprod[t])
    noise = float(ctx.diffusion.sqrt_one_minus_alphas_cumprod[t])
    return (f"**t = {t}** · signal √ᾱ = {signal:.3f} · noise √(1−ᾱ) = {noise:.3f} · "
            f"SNR = {ctx.diffusion.snr_db(t):+.1f} dB")


def previews(ctx: Context, image, t, seed):
    image = validate.image(ctx, image)
    t, seed = validate.timestep(t), validate.seed(seed)
    x0, x_t, eps = ctx.x_t(image, t, seed)
    return (tensor_image(x0, PREVIEW_SCALE), tensor_image(x_t, PREVIEW_SCALE), noise_level(ctx, t))


def build(ctx: Context) -> Inputs:
    """The panel's components and its own events; returns what the views read."""
    first = ctx.image(ctx.examples[0]) if ctx.examples else np.full((ctx.image_size,) * 2 + (3,), 255, np.uint8)
    image_state = gr.State(first)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            gallery = gr.Gallery(
                value=[str(path) for path in ctx.examples[:24]], label="Held-out examples (never trained on)",
                columns=6, height=170, allow_preview=False, object_fit="contain", elem_id="examples")
            with gr.Row():
                upload = gr.UploadButton("Upload your own image", file_count="single", type="filepath",
                                         elem_id="upload", size="sm")
                random_button = gr.Button("Random held-out image", size="sm", elem_id="random-image")
            source = gr.Markdown(f"Image: held-out example `{ctx.examples[0].stem}`" if ctx.examples else "",
                                 elem_id="image-source")
        with gr.Column(scale=2, min_width=300):
            t = gr.Slider(1, 999, value=250, step=1, label="Timestep t (1: almost clean, 999: almost pure noise)",
                          elem_id="timestep")
            level = gr.Markdown(noise_level(ctx, 250), elem_id="noise-level")
            seed = gr.Number(value=0, precision=0, label="Noise seed (the same seed draws the same noise)",
                             minimum=0, maximum=2**31 - 1, elem_id="seed")
        with gr.Column(scale=2, min_width=300):
            x0_first, xt_first, _ = previews(ctx, first, 250, 0)
            with gr.Row():
                x0_view = gr.Image(x0_first, label="x₀: clean image", interactive=False, height=200,
                                   elem_id="x0-preview", buttons=[], show_label=False)
                xt_view = gr.Image(xt_first, label="x_t: what the networks see", interactive=False, height=200,
                                   elem_id="xt-preview", buttons=[], show_label=False)
            gr.Markdown("Left: the clean image x₀. Right: x_t, the noisy image both networks see.")

    def pick_example(evt: gr.EventData):
        # gr.EventData, not gr.SelectData: through the API no selection arrives, and SelectData fails on that
        # before this function could say so.
        index = (getattr(evt, "_data", None) or {}).get("index")
        if isinstance(index, (list, tuple)) and index:
            index = index[0]
        if not isinstance(index, int) or isinstance(index, bool):
            raise gr.Error("Pick an example by clicking it in the gallery (no selection arrived)")
        if not 0 <= index < len(ctx.examples):
            raise gr.Error(f"There is no example number {index}")
        path = ctx.examples[index]
        return ctx.image(path), f"Image: held-out example `{path.stem}`"

    def upload_image(path):
        if not path:
            raise gr.Error("No file arrived: try the upload again")
        try:
            return ctx.image(path), "Image: your upload (centre square, resized to 64×64)"
        except ImageError as error:
            raise gr.Error(f"Could not use this upload: {error}") from None

    def random_example():
        if not ctx.examples:
            raise gr.Error("No held-out images are shipped with these weights")
        path = random.choice(ctx.examples)
        return ctx.image(path), f"Image: held-out example `{path.stem}`"

    gallery.select(pick_example, None, [image_state, source], api_name="pick_example")
    upload.upload(upload_image, upload, [image_state, source], api_name="upload_image")
    random_button.click(random_example, None, [image_state, source], api_name="random_image")
    gr.on([image_state.change, t.change, seed.change], lambda *args: previews(ctx, *args), [image_state, t, seed],
          [x0_view, xt_view, level], api_name="previews", show_progress="hidden", trigger_mode="always_last",
          preprocess=False)  # validate.* checks the raw values: Gradio's own checks fail on 'abc' with no message
    return Inputs(image_state, t, seed, source)
