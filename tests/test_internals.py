"""The framework internals are listed in one place and checked against the tested versions at start-up."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.server import internals

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = re.compile(r"from gradio(\.[a-z_.]+)? import (route_utils|processing_utils|networking)|"
                     r"from gradio\.(state_holder|context|route_utils|processing_utils|networking)|_fullLayout|"
                     r"\._queue\b|components\.plot import PlotData")


def test_the_installed_versions_are_the_tested_ones():
    assert internals.check() == []


def test_an_untested_gradio_is_refused_with_what_to_do():
    with pytest.raises(internals.UntestedFramework, match=r"gradio 7\.0\.0 \(tested: 6\.31\.x.*requirements\.txt"):
        internals.check({"gradio": "7.0.0", "plotly": "7.1.0"}, environ={})
    with pytest.raises(internals.UntestedFramework, match="plotly is missing"):
        internals.check({"gradio": "6.31.2", "plotly": None}, environ={})
    assert internals.check({"gradio": "6.31.2", "plotly": "7.1.9"}, environ={}) == []


def test_the_override_starts_anyway_with_a_warning():
    with pytest.warns(RuntimeWarning, match="tested with other versions"):
        problems = internals.check({"gradio": "6.40.0", "plotly": "7.1.0"}, environ={internals.OVERRIDE: "1"})
    assert len(problems) == 1


def test_every_file_that_touches_an_internal_is_listed():
    listed = {part.strip() for item in internals.INTERNALS for part in item.where.split(",")}
    for name in listed:
        assert (ROOT / "explorer" / name).is_file(), name
    touching = {path.relative_to(ROOT / "explorer").as_posix()
                for path in (ROOT / "explorer").rglob("*") if path.suffix in (".py", ".js")
                and path.name != "internals.py" and PRIVATE.search(path.read_text())}
    assert {"server/limits.py", "server/session_state.py", "ui/scrub.js", "ui/plots.py"} <= touching
    assert touching <= listed, touching - listed


def test_harden_refuses_to_start_on_an_untested_gradio(monkeypatch):
    from explorer.server import limits

    monkeypatch.setattr(internals, "installed", lambda package: "9.9.9")
    monkeypatch.delenv(internals.OVERRIDE, raising=False)
    with pytest.raises(SystemExit, match="framework internals"):
        limits.harden(object(), 2)
