"""A bad t or seed typed in the page is reported once, by the input panel, and the tab's refresh stays quiet.

Gradio may run a tab's refresh twice with the same latest values (a press kept while one ran, then the
press of the change itself): when the refresh raised for a bad seed, the learner saw the error twice
(seen in the browser test of bad values). The browser side is tests/test_browser.py.
"""
from __future__ import annotations

import re
import warnings

import gradio as gr
import pytest

from explorer.ui.inputs import noise_level, noise_level_page, shown_previews
from explorer.ui.refresh import Refresh, quiet_on_bad_inputs


def test_a_refresh_leaves_its_tab_as_it_is_on_a_bad_t_or_seed_and_runs_on_good_ones():
    calls = []

    def fill(image, t, seed, own):
        calls.append((t, seed, own))
        return "view", "caption"

    run = quiet_on_bad_inputs(Refresh("tab", ["own"], ["view", "caption"], fill))
    for t, seed in ((1500, 0), (0, 0), ("abc", 0), (250, -1), (250, 1.5)):
        assert run(None, t, seed, "x") == (gr.skip(), gr.skip()), (t, seed)
    assert calls == []
    assert run(None, 250, 0, "x") == ("view", "caption")
    assert calls == [(250, 0, "x")]


def test_a_refresh_still_raises_for_its_own_inputs():
    def fill(image, t, seed, y):
        raise gr.Error(f"The y coordinate {y} is outside the image")

    with pytest.raises(gr.Error, match="y coordinate 99"):
        quiet_on_bad_inputs(Refresh("tab", ["y"], ["view"], fill))(None, 250, 0, 99)


def test_the_input_panel_says_a_bad_value_in_its_line_and_one_warning(ctx):
    image = ctx.image(ctx.examples[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x0, x_t, line = shown_previews(ctx, image, 1500, 0)
    assert x0 == gr.skip() and x_t == gr.skip()
    assert line.startswith("**Not shown:** The timestep t must be between 1 and 999, not 1500.")
    said = [str(w.message) for w in caught if "between 1 and 999" in str(w.message)]
    assert said == ["The timestep t must be between 1 and 999, not 1500."], [str(w.message) for w in caught]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        *_, line = shown_previews(ctx, image, 250, 0)
    assert line == noise_level_page(ctx, 250) and not [w for w in caught if "must be" in str(w.message)]
    assert re.sub(r"<[^>]+>", "", line) == noise_level(ctx, 250)  # the page's line reads as the API's
