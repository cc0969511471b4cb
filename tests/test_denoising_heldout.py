"""The Denoising lab's held-out numbers beside the view (issue 32 item 3): what the view breaks, at every t the
evaluation measured, and every knock-out at the measured t nearest to the view's; and the knocked-out column's
multiple of the intact U-Net's error. Read against weights/metrics.json through `Metrics`, as the Lesson quotes
them."""
from __future__ import annotations

import re

from explorer import formatting
from explorer.knockouts import Knockouts, wrong_timestep
from explorer.metrics import Metrics
from explorer.views import denoising
from explorer.views.denoising.page import heldout_row


def cells(html: str, label: str) -> list[str]:
    """The text of each cell in the row headed `label` (markup dropped)."""
    row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', html)
    assert row, f"no row {label!r}"
    return [re.sub(r"<[^>]+>", " ", cell).split() for cell in re.findall(r"<td>(.*?)</td>", row.group(1))]


def test_a_cut_skip_shows_its_held_out_cost_at_every_measured_t(ctx):
    metrics = Metrics.of(ctx.metrics)
    cut = Knockouts(zero_skips=frozenset({1}))
    shown = denoising.heldout_html(metrics, cut, 250)
    for t in metrics.knockout_timesteps:
        eps, more, multiple = cells(shown, str(t))
        assert eps[0] == formatting.mse(metrics.knockout(cut, t))
        assert more[0] == formatting.added(metrics.knockout_added(cut, t))
        assert multiple[0] == formatting.times(metrics.knockout_ratio(cut, t))
        low, high = metrics.knockout_ratio_interval(cut, t)
        assert multiple[1:] == [formatting.times(low), "to", formatting.times(high)]
    # every knock-out at this t, the intact U-Net first
    intact = cells(shown, "intact")
    assert intact[0][0] == formatting.mse(metrics.knockout("intact", 250)) and intact[1] == ["—"]
    assert "Every knock-out at t = 250 (this view's t)" in shown


def test_a_t_between_the_measured_ones_says_which_it_shows(ctx):
    metrics = Metrics.of(ctx.metrics)
    shown = denoising.heldout_html(metrics, Knockouts(), 260)
    near = min(metrics.knockout_timesteps, key=lambda step: abs(step - 260))
    assert f"Every knock-out at t = {near} (the measured t nearest to this view's t = 260)" in shown
    assert "at every t the evaluation measured" not in shown  # nothing is cut: no row across t


def test_telling_the_far_end_of_the_schedule_is_the_tables_wrong_t(ctx):
    metrics = Metrics.of(ctx.metrics)
    told = Knockouts(told_t=wrong_timestep(250))
    assert heldout_row(told, 250) == Knockouts(told_wrong=True)
    assert heldout_row(Knockouts(told_t=10), 250) == Knockouts(told_t=10)  # another t: no row in the table
    shown = denoising.heldout_html(metrics, told, 250)
    assert "told the wrong t, at every t the evaluation measured" in shown
    other = denoising.heldout_html(metrics, Knockouts(told_t=10), 250)
    assert "at every t the evaluation measured" not in other and "Every knock-out at t = 250" in other


def test_without_the_table_nothing_is_shown():
    assert denoising.heldout_html(None, Knockouts(), 250) == ""
    assert denoising.heldout_html(Metrics.of({}), Knockouts(zero_skips=frozenset({1})), 250) == ""


def test_the_knocked_out_column_says_its_multiple_of_the_intact_error(ctx):
    image = ctx.image(ctx.examples[0])
    cut = Knockouts(zero_skips=frozenset({1}))
    comparison = denoising.compare(ctx, image, 250, 0, cut)
    texts = denoising.frame_texts(denoising.comparison_tiles(comparison), cut)
    ratio = comparison.predictions["knocked"].eps_mse / comparison.predictions["unet"].eps_mse
    assert texts["knocked-ratio"] == formatting.times(ratio)
    shown = denoising.side_by_side_html(comparison, "key")
    assert f'<span data-f="knocked-ratio">{texts["knocked-ratio"]}</span> the intact one' in shown
    assert "knocked-ratio" not in denoising.frame_texts(
        denoising.comparison_tiles(denoising.compare(ctx, image, 250, 0)), Knockouts())
