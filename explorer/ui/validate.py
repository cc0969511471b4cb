"""Argument checks for every event handler, as if it were called straight through the API."""
from __future__ import annotations

import math

import gradio as gr
import numpy as np
from PIL import Image

from explorer.diffusion import NUM_TIMESTEPS
from explorer.server import internals
from explorer.server.limits import MAX_STEPS  # the reverse process's bound, set where the server keeps its limits
from explorer.views.context import MAX_SEED, Context


def _number(value, what: str) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise gr.Error(f"{what} is missing: give a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{what} must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise gr.Error(f"{what} must be a finite number")
    return number


def _integer(value, what: str) -> int:
    number = _number(value, what)
    if number != int(number):
        raise gr.Error(f"{what} must be a whole number, not {number:g}")
    return int(number)


def timestep(value, what: str = "The timestep t", max_t: int = NUM_TIMESTEPS - 1) -> int:
    """A timestep from 1 to `max_t` (the app's Diffusion has the default schedule: T - 1)."""
    t = _integer(value, what)
    if not 1 <= t <= max_t:
        raise gr.Error(f"{what} must be between 1 and {max_t}, not {t}")
    return t


def timestep_of(ctx: Context, value, what: str = "The timestep t") -> int:
    """A timestep of the app's schedule, 1 to T - 1 (T: 1000 for ours, the scheduler config's for a diffusers model)."""
    return timestep(value, what, ctx.diffusion.max_t)


def seed(value) -> int:
    number = _integer(value, "The noise seed")
    if not 0 <= number <= MAX_SEED:
        raise gr.Error(f"The noise seed must be between 0 and {MAX_SEED}, not {number}")
    return number


def steps(value) -> int:
    number = _integer(value, "The number of steps")
    if not 1 <= number <= MAX_STEPS:
        raise gr.Error(f"The number of steps must be between 1 and {MAX_STEPS}, not {number}")
    return number


def coordinate(value, side: int, what: str) -> int:
    number = _integer(value, f"The {what} coordinate")
    if not 0 <= number < side:
        raise gr.Error(f"The {what} coordinate {number} is outside the image: use 0 … {side - 1}")
    return number


def block(ctx: Context, value) -> str:
    names = ctx.block_names()
    if not isinstance(value, str) or value not in names:
        shown = str(value)[:40] if value is not None else "nothing"
        raise gr.Error(f"Unknown block {shown!r}: pick one of {', '.join(names)}")
    return value


def image(ctx: Context, value) -> np.ndarray:
    """The per-session image state: an (H, W, 3) uint8 array at the model's size."""
    if value is None:
        raise gr.Error("No image yet: pick an example, upload a picture or press 'Random held-out image'")
    array = np.asarray(value)
    size = ctx.image_size
    if array.shape != (size, size, 3) or array.dtype != np.uint8:
        # Through the API the state can be anything: accept only what the app itself stores.
        if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8 or min(array.shape[:2]) < 1:
            raise gr.Error(f"The image state must be a {size}×{size} RGB picture")
        array = ctx.image(Image.fromarray(array))
    return array


def skip_levels(ctx: Context, value) -> frozenset[int]:
    """The skips left on: a list of names (skip1 …) or skip numbers; one name or number alone works too."""
    levels = len(ctx.skip_names())  # ours: one per level; a diffusers model: one per down-path output
    if value is None or value == "":
        value = []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) > 4 * levels:
        raise gr.Error(f"The skip connections must be a list of names, skip1 … skip{levels}, "
                       f"not {type(value).__name__} {str(value)[:40]!r}")
    out = set()
    for item in value:
        text = item.removeprefix("skip") if isinstance(item, str) else str(item)
        if (isinstance(item, bool) or not isinstance(item, (str, int)) or not text.isdigit()
                or not 1 <= int(text) <= levels):
            raise gr.Error(f"Unknown skip connection {str(item)[:20]!r}: use skip1 … skip{levels}")
        out.add(int(text))
    return frozenset(out)


def event_fields(evt) -> dict:
    """The data a browser event carried, as a dict (empty when it carried none, or no dict)."""
    return internals.event_payload(evt) or {}


def event_dict(evt, what: str) -> dict:
    """The data a browser event carried, as a dict; a clear error (`what` says what to do) for anything else."""
    data = internals.event_payload(evt)
    if data is None:
        raise gr.Error(f"{what}: this event carried no click data (it comes from a click in the page)")
    return data


def event_data(evt, key: str, what: str):
    """`key` of the data a browser event carried; a clear error when the event carried no such data."""
    data = event_dict(evt, what)
    if key not in data:
        raise gr.Error(f"{what}: no {key!r} arrived with this event (it comes from a click in the page)")
    return data[key]


def uploaded_file(value) -> str:
    """The server path of an uploaded file, from the FileData Gradio hands over (or a plain path)."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    path = value.get("path") if isinstance(value, dict) else value
    if not path or not isinstance(path, str):
        raise gr.Error("No file arrived: try the upload again")
    return path
