"""The Denoising lab's pictures as files: the tile sprite, its PNG, the reverse process's frames and GIF."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from explorer.knockouts import Knockouts
from explorer.render import tensor_image
from explorer.views.denoising.compute import ReverseFrame, Tiles, tile_names

DISPLAY_SCALE = 2  # tiles are shown 2× (CSS, pixelated) on a wide screen, 1× on a narrow one


def sprite(rows: list[list[np.ndarray]]) -> Image.Image:
    """Tiles (H, W, 3) laid out row by row, no gaps: one PNG the page cuts up with CSS."""
    size = rows[0][0].shape[0]
    width = max(len(row) for row in rows)
    canvas = np.full((len(rows) * size, width * size, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            canvas[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
    return Image.fromarray(canvas)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # noise does not compress: spend no time trying
    return buffer.getvalue()


def scrub_strip(frames: list[Tiles], knockouts: Knockouts) -> Image.Image:
    """All frames' changing tiles, one row per t, in `tile_names` order."""
    names = tile_names(knockouts)
    return sprite([[frame.images[name] for name in names] for frame in frames])


REVERSE_TILES = (("naive", "sample"), ("naive", "predicted clean"), ("unet", "sample"), ("unet", "predicted clean"))
REVERSE_GAP = 4


def reverse_frame_image(frame: ReverseFrame, scale: int = DISPLAY_SCALE) -> Image.Image:
    """Side by side, no text (the page labels it): each model's current sample and its current x̂_0,
    in REVERSE_TILES order, `scale` times native size."""
    size = frame.samples["unet"].shape[-1]
    canvas = Image.new("RGB", (4 * size + 3 * REVERSE_GAP, size), "white")
    for index, (name, kind) in enumerate(REVERSE_TILES):
        tensor = frame.samples[name] if kind == "sample" else frame.pred_x0[name]
        canvas.paste(tensor_image(tensor.clamp(-1, 1)), (index * (size + REVERSE_GAP), 0))
    return canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST) if scale != 1 else canvas


def animation_gif(frames: list[ReverseFrame]) -> bytes:
    """The reverse process as an animated GIF of the side-by-side frames (last frame held)."""
    # Scale 2 and a fast octree palette: the GIF is made after the last frame, so it must not keep the user waiting.
    images = [reverse_frame_image(frame, scale=2).quantize(colors=128, method=Image.Quantize.FASTOCTREE)
              for frame in frames]
    buffer = io.BytesIO()
    durations = [80] * (len(images) - 1) + [1500]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buffer.getvalue()
