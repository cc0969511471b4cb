"""Chart titles the toolbar cannot cover (issue 32 item 6): explorer/ui/plots.py wraps each title into lines a phone
can hold, aligns it left and stands Plotly's toolbar upright at the right edge, below the title."""
from __future__ import annotations

import json

from explorer.ui import plots


def shown(figure: dict) -> dict:
    return json.loads(plots.plot(figure).plot)


def test_a_long_title_is_wrapped_left_aligned_and_given_room():
    title = "Share of each map's power per frequency (this image, t = 250), with a long tail"
    figure = {"data": [], "layout": {"title": {"text": title, "font": {"size": 14}}, "margin": {"t": 40}}}
    layout = shown(figure)["layout"]
    lines = layout["title"]["text"].split("<br>")
    assert len(lines) >= 2 and all(len(line) <= plots.TITLE_CHARACTERS for line in lines)
    assert " ".join(lines) == title  # nothing dropped
    assert layout["title"]["xanchor"] == "left" and layout["title"]["x"] == 0
    assert layout["title"]["font"] == {"size": 14}  # the rest of the title is kept
    assert layout["margin"]["t"] >= 24 + plots.TITLE_LINE_PX * len(lines)
    assert layout["modebar"]["orientation"] == "v"


def test_a_figure_without_a_title_and_the_callers_dict_are_left_as_they_are():
    figure = {"data": [{"type": "scatter", "x": [1], "y": [2]}], "layout": {"height": 200}}
    assert shown(figure)["layout"] == {"height": 200}
    titled = {"data": [], "layout": {"title": "A title"}}
    assert shown(titled)["layout"]["title"]["text"] == "A title"
    assert titled["layout"] == {"title": "A title"}
