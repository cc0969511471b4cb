"""Part by part: the lesson's claims about each part of the U-Net, measured.

Five views, each live for the current image, t and seed, with the held-out numbers from
weights/metrics.json beside them where `python -m explorer.evaluate` has written them:
gradient highways, the two halves of each concatenation, the bottleneck and the skips across t,
attention maps, and time conditioning. The held-out sentences, verdicts and tables are
explorer/model_card.py's, a floor below: the evaluation writes them into the model card without
importing the views.

Split by what each part does; callers import the names from here (public names only):

- compute.py: the live measurements, as dataclasses and numbers;
- text.py: the markdown sentences for the live numbers (and, from explorer/model_card.py, the held-out ones);
- figures.py: Plotly figures as plain dicts;
- page.py: pictures (attention maps, time differences) as inline PNGs in HTML.
"""

from explorer.model_card import (
    CONCAT_NOTE,
    NOT_COMPUTED,
    VARIANT_TITLES,
    NoiseScales,
    bottleneck_verdict,
    concat_table,
    concat_verdict,
    enc1_ratio,
    enc1_sentence,
    gradients_heldout_sentences,
    gradients_table,
    model_card_markdown,
    noise_scales,
    shift_sentence,
    time_table,
)
from explorer.views.proofs.compute import (
    BOTTLENECK_ROWS,
    GRADIENT_BATCH,
    AttentionView,
    GradientView,
    TimeView,
    attention,
    attention_blocks,
    bookkeeping,
    bottleneck_live,
    concat_live,
    gradients,
    image_shift_table,
    measured_parts,
    multipliers,
    other_timestep,
    query_cell,
    time_view,
)
from explorer.views.proofs.figures import (
    AXIS,
    COLOURS,
    LEVEL_COLOURS,
    PLOT_LAYOUT,
    bottleneck_figure,
    concat_heldout_figure,
    gradient_figure,
    gradients_heldout_figure,
    gradients_live_figure,
    time_heatmap,
)
from explorer.views.proofs.page import (
    MAP_SCALE,
    PICK_SCALE,
    attention_html,
    attention_overlay,
    attention_picker,
    difference_image,
    figures_html,
    png_html,
    time_html,
)
from explorer.views.proofs.text import (
    attention_markdown,
    bottleneck_markdown,
    concat_markdown,
    gradients_markdown,
    time_markdown,
)

__all__ = [
    "AXIS",
    "AttentionView",
    "BOTTLENECK_ROWS",
    "COLOURS",
    "CONCAT_NOTE",
    "GRADIENT_BATCH",
    "GradientView",
    "LEVEL_COLOURS",
    "MAP_SCALE",
    "NOT_COMPUTED",
    "NoiseScales",
    "PICK_SCALE",
    "PLOT_LAYOUT",
    "TimeView",
    "VARIANT_TITLES",
    "attention",
    "attention_blocks",
    "attention_html",
    "attention_markdown",
    "attention_overlay",
    "attention_picker",
    "bookkeeping",
    "bottleneck_figure",
    "bottleneck_live",
    "bottleneck_markdown",
    "bottleneck_verdict",
    "concat_heldout_figure",
    "concat_live",
    "concat_markdown",
    "concat_table",
    "concat_verdict",
    "difference_image",
    "enc1_ratio",
    "enc1_sentence",
    "figures_html",
    "gradient_figure",
    "gradients",
    "gradients_heldout_figure",
    "gradients_heldout_sentences",
    "gradients_live_figure",
    "gradients_markdown",
    "gradients_table",
    "image_shift_table",
    "measured_parts",
    "model_card_markdown",
    "multipliers",
    "noise_scales",
    "other_timestep",
    "png_html",
    "query_cell",
    "shift_sentence",
    "time_heatmap",
    "time_html",
    "time_markdown",
    "time_table",
    "time_view",
]
