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


def _parameter_gradients(model: UNet, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                         probe: Probe | None) -> tuple[dict[str, list[str]], dict[str, torch.Tensor | None], float]:
    """One backward pass of mean((ε̂ − ε)²): (block → parameter names, parameter name → gradient, loss)."""
    groups = block_parameters(model)
    parameters = dict(model.named_parameters())
    with torch.enable_grad():
        eps_hat = model(x_t, t, probe=probe)
        loss = (eps_hat - eps).pow(2).mean()
        wanted = [name for names in groups.values() for name in names]
        grads = torch.autograd.grad(loss, [parameters[name] for name in wanted], allow_unused=True)
    return groups, dict(zip(wanted, grads)), float(loss.detach())


def _block_norms(groups: dict[str, list[str]], by_name: dict[str, torch.Tensor | None]) -> list[float]:
    norms = []
    for names in groups.values():
        squares = [by_name[name].pow(2).sum() for name in names if by_name[name] is not None]
        norms.append(float(torch.stack(squares).sum().sqrt()) if squares else 0.0)
    return norms


def block_gradient_norms(model: UNet, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                         probe: Probe | None = None) -> tuple[list[str], list[float], float]:
    """One backward pass of mean((ε̂ − ε)²) through `model` (parameters must require grad).

    x_t, eps: (B, 3, H, W); t: (B,). Returns (block names, gradient norm per block, loss).
    """
    groups, by_name, loss = _parameter_gradients(model, x_t, t, eps, probe)
    return list(groups), _block_norms(groups, by_name), loss


def gradient_subject(model: UNet, fresh_seed: int | None = None) -> UNet:
    """The U-Net whose gradients are taken: a private copy of the trained `model`, or (fresh_seed given) an
    untrained U-Net of the same config initialised from that seed."""
    if not isinstance(model, UNet):
        raise ValueError("gradient highways are measured on the U-Net (the naive CNN has no skips)")
    return _grad_copy(model) if fresh_seed is None else fresh_unet(model.config, fresh_seed)


def gradient_norms(model: UNet, diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor,
                   t: int | torch.Tensor, fresh: bool = False, fresh_seed: int = FRESH_SEED,
                   batch_size: int | None = None) -> GradientNorms:
    """Per-block gradient norms of the noise loss with skips intact and with every skip cut.

    model: the shared (read-only) U-Net; it is never modified. fresh: use the untrained U-Net of the
    same config (initialised from `fresh_seed`) instead of the trained weights. x0, eps: (B, 3, H, W);
    t: one timestep for the whole batch, or (B,). batch_size: backward passes on this many images at a
    time, the gradients of the batches weighted by their size (the gradient of the loss over all B
    images, in less memory); None: all at once.
    """
    if not isinstance(model, UNet):
        raise ValueError("gradient highways are measured on the U-Net (the naive CNN has no skips)")
    if x0.dim() != 4 or x0.shape != eps.shape:
        raise ValueError(f"x0 and eps must both be (B, 3, H, W), got {tuple(x0.shape)} and {tuple(eps.shape)}")
    subject = gradient_subject(model, fresh_seed if fresh else None)
    t_batch = torch.as_tensor(t, dtype=torch.long)
    t_batch = t_batch.expand(len(x0)).clone() if t_batch.dim() == 0 else t_batch  # (B,)
    x_t = diffusion.q_sample(x0, t_batch, eps)
    all_levels = frozenset(range(1, model.config.num_levels + 1))
    step = batch_size or len(x0)
    norms, losses, blocks = {}, {}, []
    for variant, probe in (("intact", Probe()), ("skips_cut", Probe(zero_skips=all_levels))):
        total: dict[str, torch.Tensor | None] = {}
        loss = 0.0
        for start in range(0, len(x0), step):
            end = min(start + step, len(x0))
            weight = (end - start) / len(x0)
            groups, by_name, batch_loss = _parameter_gradients(subject, x_t[start:end], t_batch[start:end],
                                                               eps[start:end], probe)
            loss += weight * batch_loss
            for name, grad in by_name.items():
                if grad is not None:
                    total[name] = weight * grad if total.get(name) is None else total[name] + weight * grad
                else:
                    total.setdefault(name, None)
        blocks, norms[variant], losses[variant] = list(groups), _block_norms(groups, total), loss
    return GradientNorms(blocks, norms, losses)


# --- over seeds: the held-out measure in weights/metrics.json ("gradients") -----------------------------------------

FRESH_SEEDS = (0, 1, 2, 3, 4)  # five freshly initialised U-Nets
NOISE_DRAWS = 5  # draws of (ε, t) for the trained U-Net
FRESH_NOISE_DRAWS = 2  # draws of (ε, t) for each fresh U-Net
NOISE_DRAW_STRIDE = 1000  # draw k noises image i with make_noise(seed + k * stride + i): draw 0 is the evaluation's


def enc1_ratios(blocks: list[str], norms: dict[str, list[float]], block: str = "enc1",
                head: str = "out") -> dict[str, float]:
    """How much larger `block`'s gradient is with the skips than with every skip cut.

    absolute: ‖g(block)‖ intact / ‖g(block)‖ cut. relative: the same with each norm first divided by the
    norm at the output head in the same network, so that a larger loss (which scales every gradient)
    does not count as more signal reaching the block.
    """
    index, head_index = blocks.index(block), blocks.index(head)
    intact, cut = norms["intact"], norms["skips_cut"]
    absolute = intact[index] / cut[index] if cut[index] > 0 else float("nan")
    relative_intact = intact[index] / intact[head_index] if intact[head_index] > 0 else float("nan")
    relative_cut = cut[index] / cut[head_index] if cut[head_index] > 0 else float("nan")
    return {"absolute": absolute, "relative": relative_intact / relative_cut if relative_cut > 0 else float("nan"),
            "relative_intact": relative_intact, "relative_cut": relative_cut}


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation, smallest and largest of one measure over runs."""
    array = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(array.mean()), "sd": float(array.std()) if len(values) > 1 else 0.0,
            "min": float(array.min()), "max": float(array.max()), "runs": len(values)}
