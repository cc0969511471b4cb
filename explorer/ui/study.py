"""The "Trained alternatives" tab: the study of architectures, its curves and table, and a live side by side."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.server import lanes
from explorer.ui import validate
from explorer.ui.inputs import Inputs
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import study
from explorer.views.context import Context

TAB = "study"
DEFAULT_T = 250
CSS = (Path(__file__).with_name("study.css")).read_text()


def build(ctx: Context, inputs: Inputs) -> Refresh:
    results = ctx.study
    if results is None:
        missing = ("The study of trained alternatives has not been run for these weights: "
                   "docs/training.md says how to train and score it.")
        note = gr.Markdown(missing, elem_id="study-missing")
        return Refresh(TAB, [], [note], lambda image, t, seed: (missing,))
    gr.Markdown("### Trained alternatives\n" + study.protocol_markdown(results), elem_id="study-intro")
    gr.HTML(study.findings_html(results), elem_id="study-findings", label="What the trained alternatives say")
    gr.Plot(plot(study.curves_figure(results)), label="Learning curves", elem_id="study-curves", show_label=False)
    with gr.Row(equal_height=False):
        table_t = gr.Dropdown(results.timesteps, value=DEFAULT_T if DEFAULT_T in results.timesteps else
                              results.timesteps[0], label="Table at t", elem_id="study-table-t", scale=0,
                              min_width=140)
    table = gr.HTML(study.table_html(results, DEFAULT_T), elem_id="study-table", label="Held-out table")
    gr.Markdown("#### Your image, every trained alternative\nThe image, t and seed of the panel above, at the "
                f"study's {results.resolution}×{results.resolution}.")
    live = gr.HTML(elem_id="study-live", label="Side by side on this image")
    live_data = gr.JSON(visible=False, label="Side by side (numbers)", elem_id="study-live-data")

    def show_table(t):
        t = validate.timestep(t, "The table's t")
        if t not in results.timesteps:
            raise gr.Error(f"The study was scored at t = {', '.join(map(str, results.timesteps))}; pick one of them")
        return study.table_html(results, t)

    def show_live(image, t, seed):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        x0, x_t, rows = study.live_rows(ctx.study_models, ctx.diffusion, image, t, seed, results.resolution)
        return study.live_html(x0, x_t, rows, t), study.live_numbers(rows, t, seed)

    lanes.listen(table_t.change, show_table, table_t, table, api_name="study_table", show_progress="hidden",
                 api_description="The study's held-out table at one of its timesteps (HTML)")
    shown = [inputs.image, inputs.t, inputs.seed]
    lanes.listen(gr.Button("Compare on this image", elem_id="study-live-button", visible="hidden").click,
show_live, shown, [live, live_data], api_name="study_live", show_progress="hidden", preprocess=False,
api_description="Every trained variant on the current image at t: predicted noise, x̂₀, its error, and "
  "the scores on this image")
    return Refresh(TAB, [], [live, live_data], show_live)
