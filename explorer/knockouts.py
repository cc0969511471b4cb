"""Knock-outs: which parts of the U-Net one request breaks, as one typed value.

A `Knockouts` is written three ways, each by one printer and read back by one parser:

- tokens, for the lesson and the page URL: ``skip1,attention,bottleneck,told:10`` (`str`, `tokens`; `parse`);
- the row names of weights/metrics.json's knock-out table: ``skip1 cut``, ``attention off``, ``bottleneck bypassed``,
  ``told the wrong t``, ``intact`` (`row_name`);
- the words of the Denoising lab's knocked-out column: ``told t=40, skip1 cut, no attention`` (`describe`).

`probe` turns it into the `Probe` fields the network reads.
"""
from __future__ import annotations

from dataclasses import dataclass

from explorer.diffusion import NUM_TIMESTEPS
from explorer.probe import Probe

SKIP = "skip"  # skip1 … skipN: that level's skip connection cut
ATTENTION = "attention"  # every self-attention layer off
BOTTLENECK = "bottleneck"  # the bottleneck bypassed
TOLD = "told:"  # told:10: the U-Net is told t = 10 in place of the true t
GRAMMAR = "a comma-separated list of skip1 … skip{levels}, attention, bottleneck and told:T"


def wrong_timestep(t: int, num_timesteps: int = NUM_TIMESTEPS) -> int:
    """The t a network is told in the "told the wrong t" knock-out: the far end of the schedule from `t`."""
    return num_timesteps - 1 if t < num_timesteps // 2 else 1


def wrong_timestep_rule(num_timesteps: int = NUM_TIMESTEPS) -> str:
    """`wrong_timestep` in words."""
    return f"the network is told t = {num_timesteps - 1} when t < {num_timesteps // 2}, else t = 1"


@dataclass(frozen=True)
class Knockouts:
    """What to break in the U-Net for one request.

    told_t: the t the U-Net is told in place of the true one (None: the true t).
    zero_skips: levels (1-based) whose skip connection is cut (replaced by zeros).
    attention: False turns every self-attention layer into the identity.
    bypass_mid: the bottleneck (mid.res1, mid.attn, mid.res2) passes its input through unchanged.
    told_wrong: the U-Net is told the far end of the schedule from the true t (`wrong_timestep`); the held-out
        evaluation's row, which has no fixed told t. Not a token: a link or a lesson step names a t.
    """

    told_t: int | None = None
    zero_skips: frozenset[int] = frozenset()
    attention: bool = True
    bypass_mid: bool = False
    told_wrong: bool = False

    def __post_init__(self) -> None:
        levels = frozenset(self.zero_skips)
        if any(isinstance(level, bool) or not isinstance(level, int) or level < 1 for level in levels):
            raise ValueError(f"skip levels are 1, 2, …, not {sorted(levels, key=str)}")
        if self.told_t is not None and (isinstance(self.told_t, bool) or not isinstance(self.told_t, int)
                                        or self.told_t < 0):
            raise ValueError(f"the told t must be a whole number ≥ 0, not {self.told_t!r}")
        if self.told_wrong and self.told_t is not None:
            raise ValueError("told_t and told_wrong both say what t the U-Net is told: give one")
        object.__setattr__(self, "zero_skips", levels)

    @property
    def active(self) -> bool:
        """Whether anything is broken."""
        return (self.told_t is not None or self.told_wrong or bool(self.zero_skips) or not self.attention
                or self.bypass_mid)

    def probe(self, t: int | None = None, num_timesteps: int = NUM_TIMESTEPS) -> Probe:
        """The Probe that breaks these parts (`t`, the true timestep, is needed only for `told_wrong`)."""
        timestep = self.told_t
        if self.told_wrong:
            if t is None:
                raise ValueError("the 'told the wrong t' knock-out needs the true t")
            timestep = wrong_timestep(t, num_timesteps)
        return Probe(zero_skips=self.zero_skips, attention=self.attention, timestep=timestep,
                     bypass_mid=self.bypass_mid)

    # --- printers -----------------------------------------------------------------------------------------------

    def tokens(self) -> tuple[str, ...]:
        """The lesson's and the URL's form, in a fixed order: skips, attention, bottleneck, told."""
        if self.told_wrong:
            raise ValueError("the 'told the wrong t' knock-out has no token: name the told t")
        return (tuple(f"{SKIP}{level}" for level in sorted(self.zero_skips))
                + ((ATTENTION,) if not self.attention else ()) + ((BOTTLENECK,) if self.bypass_mid else ())
                + ((f"{TOLD}{self.told_t}",) if self.told_t is not None else ()))

    def __str__(self) -> str:
        return ",".join(self.tokens())

    def _phrases(self, attention_off: str) -> list[str]:
        parts = [f"told t={self.told_t}"] if self.told_t is not None else []
        parts += ["told the wrong t"] if self.told_wrong else []
        parts += [f"skip{level} cut" for level in sorted(self.zero_skips)]
        parts += [attention_off] if not self.attention else []
        parts += ["bottleneck bypassed"] if self.bypass_mid else []
        return parts

    def row_name(self) -> str:
        """The row of weights/metrics.json's knock-out table: "intact", "skip1 cut", "attention off" …"""
        return ", ".join(self._phrases("attention off")) or "intact"

    def describe(self) -> str:
        """In words, for the knocked-out column's heading: "told t=40, skip1 cut, no attention"."""
        return ", ".join(self._phrases("no attention")) or "intact"

    # --- the parser ---------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, num_levels: int, max_t: int = NUM_TIMESTEPS - 1) -> Knockouts:
        """Read tokens (`str`'s form, any case and order, repeats allowed; "" is none). Raises ValueError
        saying what is wrong and what is allowed."""
        told, skips, attention, bypass = None, set(), True, False
        for raw in text.split(","):
            item = raw.strip().lower()
            if not item:
                continue
            if item == ATTENTION:
                attention = False
            elif item == BOTTLENECK:
                bypass = True
            elif item.startswith(SKIP) and item[len(SKIP):].isdigit():
                level = int(item[len(SKIP):])
                if not 1 <= level <= num_levels:
                    raise ValueError(f"{raw.strip()!r}: this U-Net's skips are skip1 … skip{num_levels}")
                skips.add(level)
            elif item.startswith(TOLD) and item[len(TOLD):].isdigit():
                value = int(item[len(TOLD):])
                if not 1 <= value <= max_t:
                    raise ValueError(f"{raw.strip()!r}: the told t is a whole number from 1 to {max_t}")
                if told is not None and told != value:
                    raise ValueError(f"{raw.strip()!r}: the U-Net can be told only one t (told:{told} came first)")
                told = value
            else:
                raise ValueError(f"{raw.strip()!r} is not a knock-out: use "
                                 + GRAMMAR.format(levels=num_levels))
        return cls(told_t=told, zero_skips=frozenset(skips), attention=attention, bypass_mid=bypass)


def single_knockouts(num_levels: int) -> list[Knockouts]:
    """The held-out table's rows: intact, then each part broken alone (every skip, attention, the bottleneck,
    the wrong t)."""
    return ([Knockouts()] + [Knockouts(zero_skips=frozenset({level})) for level in range(1, num_levels + 1)]
            + [Knockouts(attention=False), Knockouts(bypass_mid=True), Knockouts(told_wrong=True)])
