"""The Denoising lab: naive CNN vs U-Net at one t, knock-outs, the held-out curves and the reverse process.

Split by what each part does; callers import the names from here:

- compute.py: the models on one x_t (`compare`), the frames for scrubbing through t, this image's curves and the
  reverse process, as dataclasses;
- page.py: HTML and text (the side-by-side view, the knock-out table, the notes);
- figures.py: Plotly figures as plain dicts;
- images.py: pictures as files (the tile sprite and its PNG, the reverse process's frames and GIF).
"""
from explorer.data import image_digest, to_uint8
from explorer.knockouts import Knockouts
from explorer.views.denoising.compute import (
    ERROR_LIMIT,
    ROWS,
    SCRUB_FRAMES,
    TITLES,
    Comparison,
    ReverseFrame,
    Tiles,
    blur_table,
    columns_for,
    compare,
    comparison_tiles,
    domain_scores,
    error_map,
    heldout_digests,
    image_curves,
    noise_pixels,
    reverse_process,
    scrub_frames,
    scrub_grid,
    strip_key,
    tile_names,
)
from explorer.views.denoising.figures import COLOURS, PLOT_TEMPLATE, curves_figure, drift_figure
from explorer.views.denoising.images import (
    DISPLAY_SCALE,
    REVERSE_GAP,
    REVERSE_TILES,
    animation_gif,
    png_bytes,
    reverse_frame_image,
    scrub_strip,
    sprite,
)
from explorer.views.denoising.page import (
    domain_note_html,
    frame_strip,
    frame_texts,
    heldout_html,
    knockouts_table_html,
    reverse_caption_html,
    scrub_meta_html,
    side_by_side_html,
    steps_note,
)

__all__ = [
    "COLOURS", "DISPLAY_SCALE", "ERROR_LIMIT", "PLOT_TEMPLATE", "REVERSE_GAP", "REVERSE_TILES", "ROWS",
    "SCRUB_FRAMES", "TITLES", "Comparison", "Knockouts", "ReverseFrame", "Tiles", "animation_gif", "blur_table",
    "columns_for", "compare", "comparison_tiles", "curves_figure", "domain_note_html", "domain_scores",
    "drift_figure", "error_map", "frame_strip", "frame_texts", "heldout_digests", "heldout_html", "image_curves",
    "image_digest",
    "knockouts_table_html", "noise_pixels", "png_bytes", "reverse_caption_html", "reverse_frame_image",
    "reverse_process", "scrub_frames", "scrub_grid", "scrub_meta_html", "scrub_strip", "side_by_side_html",
    "sprite", "steps_note", "strip_key", "tile_names", "to_uint8",
]
