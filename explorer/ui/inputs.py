"""The shared input panel: image (example, upload, random held-out), timestep and noise seed."""
from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from explorer.data import ImageError
from explorer.emoji_names import emoji_name
from explorer.formatting import db_change, fixed
from explorer.render import tensor_image
from explorer.server import limits, session_state
from explorer.ui import validate
from explorer.ui.wiring import Wire, wire
from explorer.views import domain, numbers
from explorer.views.context import DEFAULT_SEED, DEFAULT_T, MAX_SEED, Context

PREVIEW_SCALE = 3
BY_NAME = "choose one by name with /choose_example; /examples lists the names"
UPLOADED = "Image: your upload (centre square, resized to {size}×{size})"


def source_text(stem: str) -> str:
    """The input panel's caption for a held-out example: its emoji name, then its file's code (the code is what
    a link and the Lesson name it by)."""
    name = emoji_name(stem)
    return f"Image: held-out example, the {name} `{stem}`" if name != stem else f"Image: held-out example `{stem}`"


def first_image(ctx: Context) -> np.ndarray:
    """The image a session starts with: the first held-out example (white when none is shipped)."""
    return ctx.image(ctx.examples[0]) if ctx.examples else np.full((ctx.image_size,) * 2 + (3,), 255, np.uint8)


def first_source(ctx: Context) -> str:
    return source_text(ctx.examples[0].stem) if ctx.examples else ""


@dataclass
class Inputs:
    """The panel's components. `image`, `t` and `seed` are what every view reads (`shared`)."""

    image: gr.State
    t: gr.Slider
    seed: gr.Number
    source: gr.Markdown
    gallery: gr.Gallery
    upload: gr.UploadButton
    random_button: gr.Button
    domain_text: gr.Markdown
    level: gr.Markdown
    level_numbers: gr.JSON
    x0_view: gr.Image
    xt_view: gr.Image
    example_name: gr.Textbox
    example_names: gr.JSON
    examples_button: gr.Button
    choose_button: gr.Button
    previews_button: gr.Button

    @property
    def shared(self) -> list:
        return [self.image, self.t, self.seed]

    @property
    def previews(self) -> list:
        return [self.x0_view, self.xt_view, self.level]


# --- handlers ---------------------------------------------------------------------------------------------------------

LEVEL = "**t = {t}** · signal √ᾱ = {signal} · noise √(1−ᾱ) = {noise} · SNR = {snr}"


def level_parts(ctx: Context, t: int) -> dict[str, str]:
    """The numbers of the noise-level line at t, as printed."""
    return {"t": str(t), "signal": fixed(float(ctx.diffusion.sqrt_alphas_cumprod[t]), 3),
            "noise": fixed(float(ctx.diffusion.sqrt_one_minus_alphas_cumprod[t]), 3),
            "snr": db_change(ctx.diffusion.snr_db(t))}


def noise_level(ctx: Context, t: int) -> str:
    return LEVEL.format(**level_parts(ctx, t))


def noise_level_page(ctx: Context, t: int) -> str:
    """`noise_level` for the page: each number in a span that the page fills from `levels_html` while t is dragged
    (explorer/ui/scrub.js), when the server hears of t only once the slider is let go."""
    return LEVEL.format(**{key: f'<span class="level-{key}">{value}</span>'  # Markdown keeps a class, not data-*
                           for key, value in level_parts(ctx, t).items()})


def levels_html(ctx: Context) -> str:
    """Every t's numbers of the noise-level line (index: t), for the page."""
    parts = [level_parts(ctx, t) for t in range(ctx.diffusion.max_t + 1)]
    table = {key: [part[key] for part in parts] for key in ("signal", "noise", "snr")}
    return f'<div data-levels="{html.escape(json.dumps(table, ensure_ascii=False))}"></div>'


def previews(ctx: Context, image, t, seed):
    image = validate.image(ctx, image)
    t, seed = validate.timestep_of(ctx, t), validate.seed(seed)
    x0, x_t, eps = ctx.x_t(image, t, seed)
    scale = PREVIEW_SCALE * max(1, 64 // ctx.image_size)  # a 32×32 model's pictures as big as our 64×64 ones
    return (tensor_image(x0, scale), tensor_image(x_t, scale), noise_level(ctx, t))


def previews_with_numbers(ctx: Context, image, t, seed):
    """The /previews endpoint: x₀, x_t, the noise level as text and as numbers."""
    return (*previews(ctx, image, t, seed), numbers.noise_level(ctx, validate.timestep_of(ctx, t)))


def xt_alt(t: int) -> str:
    """x_t's alt text; the page reads the picture's t from its start, "x_t at t = N:" (ui/scrub.js `exactXt`)."""
    return f"x_t at t = {t}: the clean image with noise added, what both networks see"


def example_by_name(ctx: Context, name) -> Path:
    """The held-out example called `name` (its file's stem, e.g. "1f600"; any case, ".png" or not)."""
    if not ctx.examples:
        raise gr.Error("No held-out images are shipped with these weights")
    if not isinstance(name, str) or not name.strip():
        raise gr.Error("Give the name of a held-out example, e.g. "
                       f"{ctx.examples[0].stem!r}: /examples lists the {len(ctx.examples)} names")
    wanted = name.strip().lower().removesuffix(".png")
    for path in ctx.examples:
        if path.stem.lower() == wanted:
            return path
    raise gr.Error(f"There is no held-out example named {name.strip()[:40]!r}: /examples lists the "
                   f"{len(ctx.examples)} names (e.g. {', '.join(repr(p.stem) for p in ctx.examples[:3])})")


def shown_previews(ctx: Context, image, t, seed):
    """previews for the page: a bad t or seed is said in the noise-level line and in one warning.

    This is the one place the page reports it: the event runs once per change of the image, t or the seed.
    The shown tab's refresh leaves its views as they were (refresh.wire), since Gradio may run a refresh
    twice with the same latest values (a press kept while one ran, then the press of the change itself),
    which gave the same error twice. The line must stop showing the old t, and the pictures stay as they were.
    """
    try:
        x0, x_t, level = previews(ctx, image, t, seed)
    except gr.Error as error:
        gr.Warning(f"{error.message}.")
        return gr.skip(), gr.skip(), f"**Not shown:** {error.message}. The pictures still show the last valid values."
    t = validate.timestep_of(ctx, t)
    return (gr.update(value=x0, alt_text="x₀, the clean image"), gr.update(value=x_t, alt_text=xt_alt(t)),
            noise_level_page(ctx, t))


def pick_example(ctx: Context, evt: gr.EventData):
    # gr.EventData, not gr.SelectData: through the API no selection arrives, and SelectData fails on that
    # before this function could say so.
    index = validate.event_data(evt, "index", "Pick an example by clicking it in the gallery "
                                              f"(through the API: {BY_NAME})")
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    if not isinstance(index, int) or isinstance(index, bool):
        raise gr.Error(f"Pick an example by clicking it in the gallery (no selection arrived; through the API: "
                       f"{BY_NAME})")
    if not 0 <= index < len(ctx.examples):
        raise gr.Error(f"There is no example number {index}")
    path = ctx.examples[index]
    return ctx.image(path), source_text(path.stem)


def upload_image(ctx: Context, file):
    # preprocess=False: Gradio's UploadButton preprocessing leaves an empty temp file per upload.
    path = validate.uploaded_file(file)
    try:
        return ctx.image(path), UPLOADED.format(size=ctx.image_size)
    except ImageError as error:
        raise gr.Error(f"Could not use this upload: {error}") from None
    finally:
        limits.discard_upload(path)  # the session keeps the model-size pixels, not the file


def random_example(ctx: Context):
    if not ctx.examples:
        raise gr.Error("No held-out images are shipped with these weights")
    path = random.choice(ctx.examples)
    return ctx.image(path), source_text(path.stem)


def choose_example(ctx: Context, name):
    path = example_by_name(ctx, name)
    return ctx.image(path), source_text(path.stem)


def example_names(ctx: Context) -> list[str]:
    return [path.stem for path in ctx.examples]


def domain_update(ctx: Context, image, t, seed, source, request: gr.Request):
    """The note for an image that is not an emoji, and the caption when Gradio dropped the session's image."""
    label = gr.skip()
    if session_state.EVICTIONS.take(getattr(request, "session_hash", None), "label"):
        source = label = f"{first_source(ctx)} (your earlier image was dropped while the page was idle)"
    try:
        image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    except gr.Error:
        return gr.skip(), label  # the previews' line already says what is wrong
    return domain.upload_note(ctx, image, t, seed, source), label


def panel_update(ctx: Context, image, t, seed, source, request: gr.Request):
    """The previews and the domain note together: one queued request per change of the image, t or seed."""
    return shown_previews(ctx, image, t, seed) + domain_update(ctx, image, t, seed, source, request)


# --- layout -----------------------------------------------------------------------------------------------------------

# Skip links for keyboard users: past the 24 example thumbnails straight to the tabs or to the diagram.
SKIP_LINKS = """<nav class="skip-links" aria-label="Skip links">
<a href="#views" data-skip="#views [role=tab][aria-selected=true]">Skip to the tabs</a>
<a href="#diagram" data-skip="#diagram g[data-block]" data-tab="tab-architecture-button">Skip to the diagram</a>
</nav>"""
SKIP_JS = Path(__file__).with_name("skip_links.js").read_text(encoding="utf-8")

# The previews for a t let go of in the Denoising lab wait for the lab's exact view (explorer/ui/scrub.js).
AFTER_EXACT = Path(__file__).with_name("after_exact.js").read_text(encoding="utf-8")


def build(ctx: Context) -> Inputs:
    """The panel's components (its events: `wires`)."""
    first = first_image(ctx)
    image_state = gr.State(first)
    session_state.EVICTIONS.watch(image_state, first)  # a dropped session's image is said to be lost
    gr.HTML(SKIP_LINKS, js_on_load=SKIP_JS, elem_id="skip-links")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            gr.Markdown("**Held-out examples** (never trained on): click one", elem_id="examples-title")
            gallery = gr.Gallery(
                value=[str(path) for path in ctx.examples[:24]], label="Held-out examples (never trained on)",
                show_label=False, buttons=[], columns=6, height=170, allow_preview=False, object_fit="contain",
                elem_id="examples")
            with gr.Row():
                upload = gr.UploadButton("Upload your own image", file_count="single", type="filepath",
                                         elem_id="upload", size="sm")
                random_button = gr.Button("Random held-out image", size="sm", elem_id="random-image")
            source = gr.Markdown(first_source(ctx), elem_id="image-source", label="Image source")
            domain_text = gr.Markdown(elem_id="domain-note")  # uploads only: both networks know emoji only
        with gr.Column(scale=2, min_width=300):
            t = gr.Slider(1, ctx.diffusion.max_t, value=DEFAULT_T, step=1,
                          label=f"Timestep t (1: almost clean, {ctx.diffusion.max_t}: almost pure noise)",
                          elem_id="timestep")
            level = gr.Markdown(noise_level_page(ctx, DEFAULT_T), elem_id="noise-level", label="Noise level")
            gr.HTML(levels_html(ctx), visible="hidden", elem_id="noise-levels")
            level_numbers = gr.JSON(visible=False, label="Noise level (numbers)", elem_id="noise-level-numbers")
            seed = gr.Number(value=DEFAULT_SEED, precision=0, label="Noise seed (the same seed draws the same noise)",
                             minimum=0, maximum=MAX_SEED, elem_id="seed")
        with gr.Column(scale=2, min_width=300):
            x0_view, xt_view = preview_images(ctx, first)
            gr.Markdown("Left: the clean image x₀. Right: x_t, the noisy image both networks see.")
    # Choosing an example by name: API only (the page has the gallery), so hidden components hold the name and list,
    # and the API's own views are buttons the page never shows.
    example_name = gr.Textbox(visible=False, label="Example name", elem_id="example-name")
    example_names_box = gr.JSON(visible=False, label="Held-out example names", elem_id="example-names")
    examples_button, choose_button, previews_button = (gr.Button(visible=False) for _ in range(3))
    return Inputs(image_state, t, seed, source, gallery, upload, random_button, domain_text, level, level_numbers,
                  x0_view, xt_view, example_name, example_names_box, examples_button, choose_button, previews_button)


def preview_images(ctx: Context, first: np.ndarray) -> tuple[gr.Image, gr.Image]:
    x0_first, xt_first, _ = previews(ctx, first, DEFAULT_T, DEFAULT_SEED)
    with gr.Row():
        # PNG: lossless (WebP, Gradio's default, blurs the noise) and half the encoding time.
        x0_view = gr.Image(x0_first, label="x₀: clean image", interactive=False, height=200, format="png",
                           elem_id="x0-preview", buttons=[], show_label=False, min_width=120,
                           alt_text="x₀, the clean image")
        xt_view = gr.Image(xt_first, label="x_t: what the networks see", interactive=False, height=200,
                           format="png", elem_id="xt-preview", buttons=[], show_label=False, min_width=120,
                           alt_text=xt_alt(DEFAULT_T))
    return x0_view, xt_view


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(panel: Inputs) -> list[Wire]:
    chosen = [panel.image, panel.source]
    return [
        wire(panel.gallery.select, pick_example, None, chosen, api_name="pick_example",
             api_description="A click on the gallery (page only: through the API use /choose_example)"),
        wire(panel.upload.upload, upload_image, [panel.upload], chosen, api_name="upload_image", preprocess=False,
             api_description="Use your own image (centre square, resized to 64×64) in this session"),
        wire(panel.random_button.click, random_example, None, chosen, api_name="random_image",
             api_description="Use a random held-out example in this session"),
        wire(panel.examples_button.click, example_names, None, panel.example_names, api_name="examples",
             show_progress="hidden", api_description="The names of the held-out examples, for /choose_example"),
        wire(panel.choose_button.click, choose_example, [panel.example_name], chosen, api_name="choose_example",
             show_progress="hidden", preprocess=False,
             api_description="Use the held-out example with this name (see /examples) in "
                             "this session: the later calls of the same client see it"),
        # The same view through the API, where a bad argument must be an error.
        wire(panel.previews_button.click, previews_with_numbers, panel.shared, panel.previews + [panel.level_numbers],
             api_name="previews", show_progress="hidden", preprocess=False,
             api_description="x₀ and x_t (PNG files) for the session's image, the noise level "
                             "as text and as numbers (signal, noise, SNR in dB)"),
        # validate.* checks the raw values: Gradio's own checks fail on 'abc' with no message.
        wire([panel.image.change, panel.t.change, panel.seed.change], panel_update, panel.shared + [panel.source],
             panel.previews + [panel.domain_text, panel.source],
             api_name=False, show_progress="hidden", trigger_mode="always_last", preprocess=False, js=AFTER_EXACT),
    ]
