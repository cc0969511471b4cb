"""Gradient highways: how much training signal reaches each block's parameters.

One backward pass of the noise-prediction loss ‖ε̂ − ε‖² (DDPM eq. 14, the "simple" loss) gives
the gradient of every parameter; we report its norm per named block, in the order the diagram
draws them, with every skip intact and with every skip cut, for the trained weights and for a
freshly initialised U-Net of the same config.

The shared model is read-only (other requests use it at the same time), so gradients are taken
on a private copy made once per model, whose parameters require grad. `torch.autograd.grad`
returns the gradients without writing `.grad` anywhere, so concurrent calls on that copy are safe.
(`torch.func.functional_call` would not do: it swaps the module's parameters in place while it runs.)
"""
from __future__ import annotations

import copy
import threading
import weakref
from dataclasses import dataclass

import torch
from torch import nn

from explorer.diffusion import Diffusion
from explorer.probe import Probe
from explorer.unet import UNet, UNetConfig

FRESH_SEED = 0  # the fresh-init U-Net is always this one
VARIANTS = ("intact", "skips_cut")

_lock = threading.Lock()
_private: weakref.WeakKeyDictionary[nn.Module, UNet] = weakref.WeakKeyDictionary()
_fresh: dict[str, UNet] = {}


def _grad_copy(model: UNet) -> UNet:
    """A private copy of `model` whose parameters require grad (made once per model)."""
    with _lock:
        private = _private.get(model)
        if private is None:
            private = copy.deepcopy(model).eval()
            private.requires_grad_(True)
            _private[model] = private
        return private


def fresh_unet(config: UNetConfig, seed: int = FRESH_SEED) -> UNet:
    """An untrained U-Net of `config`, initialised from `seed` (made once per config and seed)."""
    key = f"{sorted(config.to_dict().items())}|{seed}"
    with _lock:
        model = _fresh.get(key)
        if model is None:
            generator_state = torch.random.get_rng_state()
            try:
                torch.manual_seed(seed)
                model = UNet(UNetConfig(**config.to_dict())).eval()
            finally:
                torch.random.set_rng_state(generator_state)
            model.requires_grad_(True)
            _fresh[key] = model
        return model


def block_parameters(model: UNet) -> dict[str, list[str]]:
    """Named blocks that own parameters, in diagram order → the names of their parameters.

    `out` also owns the GroupNorm before the output convolution (the output head).
    """
    owner = {id(parameter): name for name, parameter in model.named_parameters()}
    out: dict[str, list[str]] = {}
    for block in model.blocks():
        if block.module is None:
            continue
        modules = [block.module] + ([model.out_norm] if block.name == "out" else [])
        names = [owner[id(parameter)] for module in modules for parameter in module.parameters()]
        if names:
            out[block.name] = names
    covered = {name for names in out.values() for name in names}
    missing = [name for name in owner.values() if name not in covered]
    if missing:  # a block list that forgets parameters would make the chart lie
        raise RuntimeError(f"parameters outside every named block: {', '.join(missing[:5])}")
    return out


@dataclass
class GradientNorms:
    """Per-block parameter-gradient norms for one batch.

    blocks: names in diagram order. norms: variant ("intact", "skips_cut") → one norm per block.
    loss: variant → the batch's mean-squared noise error.
    """

    blocks: list[str]
    norms: dict[str, list[float]]
    loss: dict[str, float]

    def relative(self, variant: str, reference: str = "out") -> list[float]:
        """Each block's norm divided by the norm at `reference` (the output head), same variant."""
        base = self.norms[variant][self.blocks.index(reference)]
        return [value / base if base > 0 else float("nan") for value in self.norms[variant]]


def block_gradient_norms(model: UNet, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                         probe: Probe | None = None) -> tuple[list[str], list[float], float]:
    """One backward pass of mean((ε̂ − ε)²) through `model` (parameters must require grad).

    x_t, eps: (B, 3, H, W); t: (B,). Returns (block names, gradient norm per block, loss).
    """
    groups = block_parameters(model)
    parameters = dict(model.named_parameters())
    with torch.enable_grad():
        eps_hat = model(x_t, t, probe=probe)
        loss = (eps_hat - eps).pow(2).mean()
        wanted = [name for names in groups.values() for name in names]
        grads = torch.autograd.grad(loss, [parameters[name] for name in wanted], allow_unused=True)
    by_name = dict(zip(wanted, grads))
    norms = []
    for names in groups.values():
        squares = [by_name[name].pow(2).sum() for name in names if by_name[name] is not None]
        norms.append(float(torch.stack(squares).sum().sqrt()) if squares else 0.0)
    return list(groups), norms, float(loss.detach())


def gradient_norms(model: UNet, diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor,
                   t: int | torch.Tensor, fresh: bool = False) -> GradientNorms:
    """Per-block gradient norms of the noise loss with skips intact and with every skip cut.

    model: the shared (read-only) U-Net; it is never modified. fresh: use the untrained U-Net of the
    same config (seed FRESH_SEED) instead of the trained weights. x0, eps: (B, 3, H, W);
    t: one timestep for the whole batch, or (B,).
    """
    if not isinstance(model, UNet):
        raise ValueError("gradient highways are measured on the U-Net (the naive CNN has no skips)")
    if x0.dim() != 4 or x0.shape != eps.shape:
        raise ValueError(f"x0 and eps must both be (B, 3, H, W), got {tuple(x0.shape)} and {tuple(eps.shape)}")
    subject = fresh_unet(model.config) if fresh else _grad_copy(model)
    t_batch = torch.as_tensor(t, dtype=torch.long)
    t_batch = t_batch.expand(len(x0)).clone() if t_batch.dim() == 0 else t_batch  # (B,)
    x_t = diffusion.q_sample(x0, t_batch, eps)
    all_levels = frozenset(range(1, model.config.num_levels + 1))
    norms, losses, blocks = {}, {}, []
    for variant, probe in (("intact", Probe()), ("skips_cut", Probe(zero_skips=all_levels))):
        blocks, norms[variant], losses[variant] = block_gradient_norms(subject, x_t, t_batch, eps, probe)
    return GradientNorms(blocks, norms, losses)
