"""The per-call probe: what one forward pass records and what it knocks out.

A `Probe` belongs to a single call. It is passed to `forward` as an argument,
so two requests served at the same time on the same shared model can never see
each other's recordings or knock-outs: nothing is registered on, or set on, the
model itself. What a request knocks out is a `explorer.knockouts.Knockouts`; its `probe()` fills the
knock-out fields here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

CONCAT_HALVES = ("skip", "up")  # the two halves of a decoder level's concatenation
REPLACEMENTS = ("zero", "mean")  # what a knocked-out half is replaced by


@dataclass
class Probe:
    """Recording and knock-out settings for one forward pass.

    record: block names whose outputs to keep (``"*"`` keeps every block).
    zero_skips: skips (1-based, the `skip` number of a model's skip blocks: for our U-Net its levels) replaced by
        zeros where the decoder receives them.
    attention: False turns every self-attention layer into the identity.
    timestep: the t told to the network, in place of the true one (None: the true t).
    keep_grad: keep recorded tensors in the autograd graph (for gradients
        with respect to the input); otherwise they are detached.
    bypass_mid: the bottleneck (mid.res1, mid.attn, mid.res2) passes its input through unchanged.
    zero_concat: level → (half, replacement): at that decoder level, the "skip" or the "up" half of
        the concatenation is replaced by zeros ("zero") or by its own per-channel spatial mean
        ("mean"). The replaced tensor is what gets recorded under the half's block name
        (skip{level} or dec{level}.up), because that is what the decoder receives. A diffusers model, with
        several skips per level, keys this by skip number; its "up" half is whatever the ResNet that
        concatenates the skip receives beside it.
    record_attention: attention block names (e.g. "mid.attn") whose softmax weights to keep in
        `attention_weights` as (B, heads, HW queries, HW keys). Only these are computed explicitly.
    record_time: ResBlock names (``"*"``: all) whose time projection to keep: `time_vectors[name]`
        is time_proj(silu(emb)) (B, C), `time_features[name]` the conv1 output it is added to (B, C, H, W).
    """

    record: frozenset[str] | set[str] | str = frozenset()
    zero_skips: frozenset[int] | set[int] = frozenset()
    attention: bool = True
    timestep: int | None = None
    keep_grad: bool = False
    bypass_mid: bool = False
    zero_concat: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    record_attention: frozenset[str] | set[str] = frozenset()
    record_time: frozenset[str] | set[str] | str = frozenset()
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    attention_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    time_vectors: dict[str, torch.Tensor] = field(default_factory=dict)
    time_features: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        concat = {}
        for level, choice in dict(self.zero_concat or {}).items():
            if isinstance(choice, str) or len(tuple(choice)) != 2:
                raise ValueError(f"zero_concat[{level!r}] must be a pair (half, replacement), e.g. ('skip', 'zero'), "
                                 f"not {choice!r}")
            half, replacement = choice
            if half not in CONCAT_HALVES:
                raise ValueError(f"zero_concat[{level!r}]: the half must be 'skip' or 'up', not {half!r}")
            if replacement not in REPLACEMENTS:
                raise ValueError(f"zero_concat[{level!r}]: the replacement must be 'zero' or 'mean', "
                                 f"not {replacement!r}")
            if isinstance(level, bool) or not isinstance(level, int) or level < 1:
                raise ValueError(f"zero_concat levels are decoder levels 1, 2, …, not {level!r}")
            concat[level] = (half, replacement)
        self.zero_concat = concat

    def wants(self, name: str) -> bool:
        return self.record == "*" or name in self.record

    def keep(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """Record `tensor` under `name` if asked for; always returns `tensor` unchanged."""
        if self.wants(name):
            self.outputs[name] = tensor if self.keep_grad else tensor.detach()
        return tensor

    def wants_attention(self, name: str) -> bool:
        return name in self.record_attention

    def keep_attention(self, name: str, weights: torch.Tensor) -> None:
        self.attention_weights[name] = weights if self.keep_grad else weights.detach()

    def wants_time(self, name: str) -> bool:
        return self.record_time == "*" or name in self.record_time

    def keep_time(self, name: str, vector: torch.Tensor, features: torch.Tensor) -> None:
        self.time_vectors[name] = vector if self.keep_grad else vector.detach()
        self.time_features[name] = features if self.keep_grad else features.detach()

    def concat_half(self, level: int, half: str, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` (B, C, H, W), or its replacement if this probe knocks out `half` at `level`."""
        choice = self.zero_concat.get(level)
        if choice is None or choice[0] != half:
            return tensor
        if choice[1] == "zero":
            return torch.zeros_like(tensor)
        return tensor.mean(dim=(2, 3), keepdim=True).expand_as(tensor)  # (B, C, 1, 1) → (B, C, H, W)
