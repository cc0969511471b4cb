"""What a network costs: parameters and multiply-adds (MACs) of one forward pass on one image.

Multiply-adds are counted from the layers that do them, by hooks on one forward pass:
a convolution costs (output elements) × (input channels / groups) × (kernel area), a linear
layer (output elements) × (input features), self-attention its two matrix products
(2 · heads · HW² · head size); normalisations, activations and additions are not counted.
"""
from __future__ import annotations

import torch
from torch import nn

from explorer.analysis import receptive_field
from explorer.singlescale import SingleScaleCNN
from explorer.unet import SelfAttention


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def macs(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Multiply-adds of `model` on one (1, in_channels, resolution, resolution) image at t = 0."""
    total = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * (module.in_channels // module.groups) * kernel
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        elif isinstance(module, SelfAttention):
            _, channels, height, width = inputs[0].shape
            total += 2 * (height * width) ** 2 * channels  # q kᵀ and weights · v, all heads together

    hooks = [module.register_forward_hook(count) for module in model.modules()
             if isinstance(module, (nn.Conv2d, nn.Linear, SelfAttention))]
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, in_channels, resolution, resolution), torch.zeros(1, dtype=torch.long))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return total


def window(model: nn.Module, resolution: int) -> int:
    """Width in pixels of the convolutional window of one output pixel (unclipped: it can exceed the image).

    Self-attention and GroupNorm statistics reach every pixel besides; the table says which variants have them.
    """
    if isinstance(model, SingleScaleCNN):
        return model.config.window
    fields = receptive_field.theoretical(model, resolution)
    last = model.blocks()[-1].name  # "out" for the U-Net, "layer5" for the naive CNN
    return int(fields[last].size)
