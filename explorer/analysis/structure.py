"""The structure of a model as the diagram draws it: named blocks, their shapes and parameters.

Shapes come from one dry forward pass on a private copy of the model, so the shared
model never carries a hook.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from explorer.probe import Probe


@dataclass(frozen=True)
class BlockSpec:
    """What the diagram and the info panel say about one named block."""

    name: str
    kind: str
    level: int | None
    part: str
    input_shape: tuple[int, ...]  # without the batch dimension
    output_shape: tuple[int, ...]
    parameters: int
    # a skip: the block whose output it carries and the block that receives it (explorer/unet.py's BlockInfo)
    source: str = ""
    target: str = ""
    group: str = ""  # the container a block belongs to, in models that have them (diffusers: "down_blocks.1")


def image_size_of(model: nn.Module) -> int:
    """The side the model was built for (the naive CNN, fully convolutional, was trained at 64)."""
    size = getattr(model, "image_size", None)
    return size if isinstance(size, int) else 64


def describe(model: nn.Module, image_size: int | None = None) -> list[BlockSpec]:
    """Every named block of `model` (any denoiser: explorer/denoiser.py), its input/output shape and parameters."""
    image_size = image_size or image_size_of(model)
    private = copy.deepcopy(model).eval()
    blocks = private.blocks()
    inputs: dict[str, tuple[int, ...]] = {}
    handles = []
    for block in blocks:
        if block.module is not None:
            def remember(module, args, name=block.name):
                inputs[name] = tuple(args[0].shape[1:])
            handles.append(block.module.register_forward_pre_hook(remember))
    probe = Probe(record="*")
    channels = private.in_channels
    with torch.no_grad():
        private(torch.zeros(1, channels, image_size, image_size), torch.zeros(1, dtype=torch.long), probe=probe)
    for handle in handles:
        handle.remove()
    specs = []
    for block in blocks:
        output = tuple(probe.outputs[block.name].shape[1:])
        parameters = sum(p.numel() for p in block.module.parameters()) if block.module is not None else 0
        specs.append(BlockSpec(block.name, block.kind, block.level, block.part,
                               inputs.get(block.name, output), output, parameters, block.source, block.target,
                               block.group))
    return specs
