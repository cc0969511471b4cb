"""The per-call probe: what one forward pass records and what it knocks out.

A `Probe` belongs to a single call. It is passed to `forward` as an argument,
so two requests served at the same time on the same shared model can never see
each other's recordings or knock-outs: nothing is registered on, or set on, the
model itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Probe:
    """Recording and knock-out settings for one forward pass.

    record: block names whose outputs to keep (``"*"`` keeps every block).
    zero_skips: levels (1-based) whose skip connection is replaced by zeros.
    attention: False turns every self-attention layer into the identity.
    timestep: the t told to the network, in place of the true one (None: the true t).
    keep_grad: keep recorded tensors in the autograd graph (for gradients
        with respect to the input); otherwise they are detached.
    """

    record: frozenset[str] | set[str] | str = frozenset()
    zero_skips: frozenset[int] | set[int] = frozenset()
    attention: bool = True
    timestep: int | None = None
    keep_grad: bool = False
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)

    def wants(self, name: str) -> bool:
        return self.record == "*" or name in self.record

    def keep(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """Record `tensor` under `name` if asked for; always returns `tensor` unchanged."""
        if self.wants(name):
            self.outputs[name] = tensor if self.keep_grad else tensor.detach()
        return tensor

