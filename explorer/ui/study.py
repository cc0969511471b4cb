"""The "Trained alternatives" tab: the study of architectures, its curves and table, and a live side by side."""
from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

import gradio as gr

from explorer.study import findings
from explorer.ui import validate
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh, tab_refresh
from explorer.ui.wiring import Wire, wire
from explorer.views import study
from explorer.views.context import DEFAULT_T, Context

TAB = "study"
CSS = (Path(__file__).with_name("study.css")).read_text()
COMPARISON = "study-comparison"  # the heading a Lesson step's Show me scrolls to (explorer/ui/lesson.py)
BOLD, STRONG = r"\*\*(.+?)\*\*", r"<strong>\1</strong>"  # markdown's bold, in the step's verdict line
MISSING = ("The study of trained alternatives has not been run for these weights: "
           "docs/training.md says how to train and score it.")


@dataclass
class Study:
    """The tab's components; without a study only `missing` (the note saying so)."""

    missing: gr.Markdown | None = None
    table_t: gr.Dropdown | None = None
    table: gr.HTML | None = None
    live: gr.HTML | None = None
    live_data: gr.JSON | None = None
    live_button: gr.Button | None = None
    comparison: gr.HTML | None = None  # the comparison a Lesson step asked for: its heading, then its chart
    comparison_chart: gr.Plot | None = None

    def comparison_outputs(self) -> list | None:
        """What a Lesson step's Show me fills (`show_comparison`), or None without a study."""
        return None if self.comparison is None else [self.comparison, self.comparison_chart]


# --- handlers ---------------------------------------------------------------------------------------------------------

def show_table(ctx: Context, t) -> str:
    results = ctx.study
    t = validate.timestep(t, "The table's t")
    if t not in results.timesteps:
        raise gr.Error(f"The study was scored at t = {', '.join(map(str, results.timesteps))}; pick one of them")
    return study.table_html(results, t)


def show_live(ctx: Context, image, t, seed) -> tuple:
    """Every trained variant on the image at t: the side by side as HTML, and its scores as numbers."""
    image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
    x0, x_t, rows = study.live_rows(ctx.study_models, ctx.diffusion, image, t, seed, ctx.study.resolution)
    return study.live_html(x0, x_t, rows, t), study.live_numbers(rows, t, seed)


def trained_claim(results, claim_ids) -> str | None:
    """The first of a Lesson step's study claims (`lesson.TRAINED_CLAIMS`) that has a finding with a verdict (two
    seeds or more a side, `findings.decided`); None when none has."""
    if results is None:
        return None
    return next((claim for claim in claim_ids
                 if (item := findings.finding(results, claim)) is not None and findings.decided(item)), None)


def show_comparison(ctx: Context, claim_ids, step_number: int, verdict: str = "") -> tuple:
    """The comparison Lesson step `step_number` rests on: (heading with the step's `verdict` line, as the step prints
    it (markdown), then the comparison's verdict and its numbers, chart); the chart hidden and the heading saying so
    while none of the step's claims is trained yet."""
    claim = trained_claim(ctx.study, tuple(claim_ids or ()))
    head = f'<h3 class="study-asked">The comparison the Lesson asked for (step {step_number})</h3>'
    if verdict:
        head += '<p class="study-step-verdict">' + re.sub(BOLD, STRONG, escape(verdict)) + "</p>"
    if claim is None and ctx.study is not None and any(findings.judged(ctx.study, c) for c in claim_ids or ()):
        return hide_comparison()  # judged at one t, not by a trained comparison's chart: its panel says it
    if claim is None:
        return (gr.HTML(head + '<p class="study-note">This comparison is not trained yet: the study has no result '
                        'for this step\'s claim so far.</p>', visible=True), gr.Plot(visible=False))
    return (gr.HTML(head + study.comparison_html(ctx.study, claim), visible=True),
            gr.Plot(plot(study.comparison_figure(ctx.study, claim)), visible=True))


def hide_comparison() -> tuple:
    """A Lesson step with no trained comparison: nothing is shown as the one it asked for."""
    return gr.HTML(visible=False), gr.Plot(visible=False)


def missing(ctx: Context, image, t, seed) -> tuple:
    return (MISSING,)


# --- layout -----------------------------------------------------------------------------------------------------------

def build(ctx: Context) -> Study:
    results = ctx.study
    if results is None:
        return Study(missing=gr.Markdown(MISSING, elem_id="study-missing"))
    comparison = gr.HTML(visible=False, elem_id=COMPARISON, label="The comparison the Lesson asked for")
    comparison_chart = gr.Plot(visible=False, label="The comparison the Lesson asked for", show_label=False,
                               elem_id="study-comparison-chart")
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
    live_button = gr.Button("Compare on this image", elem_id="study-live-button", visible="hidden")
    return Study(None, table_t, table, live, live_data, live_button, comparison, comparison_chart)


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(layout: Study, shared: list) -> list[Wire]:
    """`shared`: the input panel's (image, t, seed)."""
    if layout.missing is not None:
        return []
    return [
        wire(layout.table_t.change, show_table, [layout.table_t], layout.table, api_name="study_table",
             show_progress="hidden", api_description="The study's held-out table at one of its timesteps (HTML)"),
        wire(layout.live_button.click, show_live, shared, [layout.live, layout.live_data], api_name="study_live",
             show_progress="hidden", preprocess=False,
             api_description="Every trained variant on the current image at t: predicted noise, x̂₀, its error, "
                             "and the scores on this image"),
    ]


def refresher(ctx: Context, layout: Study) -> Refresh:
    if layout.missing is not None:
        return tab_refresh(TAB, ctx, missing, [], [layout.missing])
    return tab_refresh(TAB, ctx, show_live, [], [layout.live, layout.live_data])
