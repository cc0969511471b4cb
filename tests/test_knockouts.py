"""The one knock-out type: its parser, its three printers and the probe it makes."""
import json
from pathlib import Path

import pytest

from explorer.knockouts import Knockouts, single_knockouts, wrong_timestep

METRICS = Path(__file__).resolve().parents[1] / "weights" / "metrics.json"


def test_tokens_round_trip_in_a_fixed_order():
    knockouts = Knockouts.parse(" told:10, SKIP3,attention,skip01,bottleneck,skip1", num_levels=4)
    assert knockouts == Knockouts(told_t=10, zero_skips=frozenset({1, 3}), attention=False, bypass_mid=True)
    assert str(knockouts) == "skip1,skip3,attention,bottleneck,told:10"
    assert Knockouts.parse(str(knockouts), 4) == knockouts
    assert Knockouts.parse("", 4) == Knockouts() and not Knockouts().active and str(Knockouts()) == ""


@pytest.mark.parametrize("text,says", [("skip5", "skip1 … skip4"), ("told:0", "from 1 to 999"), ("told:x", "not a"),
                                       ("everything", "not a knock-out"), ("told:3,told:4", "only one t")])
def test_a_bad_token_says_what_is_allowed(text, says):
    with pytest.raises(ValueError, match=says):
        Knockouts.parse(text, num_levels=4, max_t=999)


def test_row_names_are_the_evaluation_tables():
    names = [knockout.row_name() for knockout in single_knockouts(4)]
    assert names == ["intact", "skip1 cut", "skip2 cut", "skip3 cut", "skip4 cut", "attention off",
                     "bottleneck bypassed", "told the wrong t"]
    if METRICS.exists():
        rows = json.loads(METRICS.read_text())["knockouts"]["eps_mse"]
        assert set(rows) <= set(names)


def test_the_probe_breaks_what_the_value_names():
    probe = Knockouts(told_t=7, zero_skips=frozenset({2}), attention=False, bypass_mid=True).probe()
    assert (probe.timestep, probe.zero_skips, probe.attention, probe.bypass_mid) == (7, frozenset({2}), False, True)
    assert Knockouts(told_wrong=True).probe(10, 1000).timestep == wrong_timestep(10, 1000) == 999
    assert Knockouts(told_wrong=True).probe(900, 1000).timestep == 1
    with pytest.raises(ValueError):
        Knockouts(told_wrong=True).probe()
    with pytest.raises(ValueError):
        Knockouts(told_t=3, told_wrong=True)
    assert Knockouts(attention=False).describe() == "no attention"
