"""Receptive fields: which input pixels one unit of a block can see, in theory and in practice.

Theoretical: receptive-field arithmetic (Dumoulin & Visin 2016, Araujo et al. 2019) walked
over the model's own layers in forward order, skips pushed and popped as in `UNet.forward`.
In one dimension a map has a jump j (input pixels between neighbouring units) and its unit i
covers the input pixels [i·j + start, i·j + end]. The same holds for rows and columns.

Effective (Luo et al. 2016): the gradient of one unit with respect to the input x_t. It is
nonzero only inside the theoretical box, except where the output depends on the whole image,
which `Field.global_via` names: self-attention and GroupNorm statistics. Those reach every
pixel without widening the convolutional box, so they are reported beside it, not folded in.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from torch import nn

from explorer.naive import NaiveCNN
from explorer.probe import Probe
from explorer.unet import Downsample, ResBlock, SelfAttention, TimeEmbedding, UNet, Upsample

SELF_ATTENTION = "self-attention"
GROUPNORM = "GroupNorm statistics"
_GLOBAL_ORDER = (SELF_ATTENTION, GROUPNORM)
DEFAULT_IMAGE_SIZE = 64  # for fully convolutional models that do not store one (the naive CNN)


@dataclass(frozen=True)
class Field:
    """The theoretical receptive field of one named block, in input pixels.

    A unit at map position u covers input pixels u·jump + start ... u·jump + end (inclusive),
    the same along rows and columns. size = end - start + 1, unclipped (it can exceed the image);
    size_clipped = min(size, image side). The interval is exact up to the first upsampling; after
    it, one interval covers the units of both parities, so a single unit may see up to the sum of
    the upsampled jumps less on a side (3 pixels for dec1 of a two-level U-Net).
    global_via names what makes the block's output depend on every input pixel whatever the size,
    following the data (skip1 leaves before any attention, so it is not global through it).
    Non-spatial blocks (time_mlp) have size None.
    """

    name: str
    size: int | float | None
    size_clipped: int | float | None
    jump: int | float | None
    start: int | float | None
    end: int | float | None
    global_via: tuple[str, ...] = ()

    @property
    def spatial(self) -> bool:
        return self.size is not None

    def box(self, unit_y: int, unit_x: int, height: int, width: int) -> tuple[int, int, int, int]:
        """Input pixels (y0, y1, x0, x1), inclusive and clipped to the image, seen by unit (unit_y, unit_x)."""
        if not self.spatial:
            raise ValueError(f"{self.name} has no spatial receptive field")
        jump, start, end = Fraction(self.jump), Fraction(self.start), Fraction(self.end)

        def span(unit: int, side: int) -> tuple[int, int]:
            low, high = unit * jump + start, unit * jump + end
            return max(0, _ceil(low)), min(side - 1, _floor(high))

        y0, y1 = span(unit_y, height)
        x0, x1 = span(unit_x, width)
        return y0, y1, x0, x1


@dataclass(frozen=True)
class _Span:
    """What a unit of the current map sees: [i·jump + start, i·jump + end], exact rationals."""

    jump: Fraction = Fraction(1)
    start: Fraction = Fraction(0)
    end: Fraction = Fraction(0)
    global_via: frozenset[str] = frozenset()

    def conv(self, conv: nn.Conv2d) -> _Span:
        """Unit o reads input units o·s - p + m, m = 0 ... k-1 (dilated: m·d)."""
        kernel, stride, padding, dilation = (_square(conv, attribute)
                                             for attribute in ("kernel_size", "stride", "padding", "dilation"))
        extent = dilation * (kernel - 1)  # distance from first to last tap, in input units
        return _Span(self.jump * stride, self.start - padding * self.jump,
                     self.end + (extent - padding) * self.jump, self.global_via)

    def upsample(self) -> _Span:
        """Nearest ×2: unit o reads unit ⌊o/2⌋, whose position o·j/2 - (o mod 2)·j/2 is at most j/2 lower."""
        half = self.jump / 2
        return _Span(half, self.start - half, self.end, self.global_via)

    def union(self, other: _Span) -> _Span:
        """Residual addition or channel concatenation: a unit sees what either path sees."""
        if self.jump != other.jump:
            raise ValueError(f"cannot merge maps with jumps {self.jump} and {other.jump}")
        return _Span(self.jump, min(self.start, other.start), max(self.end, other.end),
                     self.global_via | other.global_via)

    def made_global(self, *sources: str) -> _Span:
        return _Span(self.jump, self.start, self.end, self.global_via | frozenset(sources))


def theoretical(model: nn.Module, image_size: int | None = None) -> dict[str, Field]:
    """Receptive field of every named block of `model` (a UNet, NaiveCNN or DiffusersUNet), in forward order.

    image_size: the side used for `size_clipped`; None takes the U-Net's config, or 64.
    """
    image_size = _image_size(model, image_size)
    span = _Span()
    skips: list[_Span] = []
    spans: dict[str, _Span] = {}  # each block's output, for the skips that name their source
    fields: dict[str, Field] = {}
    for block in model.blocks():
        if block.kind == "time" or isinstance(block.module, TimeEmbedding):
            fields[block.name] = Field(block.name, None, None, None, None, None)
            continue
        if block.kind == "skip":
            skip = spans[block.source] if block.source in spans else skips.pop()
            fields[block.name] = _to_field(block.name, skip, image_size)
            span = span.union(skip)  # torch.cat([h, skip]): the decoder level reads both
            continue
        if block.kind == "down":
            skips.append(span)  # as UNet.forward: the level's output, before it is downsampled
        span = _through(span, block.module)
        spans[block.name] = span
        fields[block.name] = _to_field(block.name, span, image_size)
    return fields


def depth_profile(model: nn.Module, clipped: bool = False) -> list[tuple[str, int | float]]:
    """(block name, receptive-field size) along the main path in forward order, for a chart.

    Naive: layer1 ... layer5. U-Net: in_conv, encoder, bottleneck, decoder, out; time_mlp
    (not spatial) and the skip blocks (a copy of an encoder level's field) are left out.
    """
    kinds = {block.name: block.kind for block in model.blocks()}
    return [(name, f.size_clipped if clipped else f.size) for name, f in theoretical(model).items()
            if f.spatial and kinds[name] != "skip"]


@dataclass
class Effective:
    """The effective receptive field of one unit (Luo et al. 2016): |∂ unit / ∂ x_t|.

    grad: (H, W) float32, |gradient| summed over the input channels.
    box: the theoretical field of the unit, (y0, y1, x0, x1) inclusive, clipped to the image.
    radius_50, radius_90: the smallest Chebyshev radius r (the square y±r, x±r around the
        clicked pixel) holding 50% / 90% of the gradient mass; None when the gradient is all zero.
    outside_fraction: share of the gradient mass outside `box` (nonzero only through global_via).
    support: number of input pixels with a nonzero gradient; support_box their bounding box.
    """

    block: str
    y: int
    x: int
    unit: tuple[int, int]
    grad: np.ndarray
    box: tuple[int, int, int, int]
    field: Field
    radius_50: int | None
    radius_90: int | None
    outside_fraction: float
    support: int
    support_box: tuple[int, int, int, int] | None


def effective(model: nn.Module, x_t: torch.Tensor, t: int, y: int, x: int, block: str | None = None,
              probe_kwargs: dict | None = None) -> Effective:
    """Gradient of one unit with respect to the input x_t (1, 3, H, W) at timestep t.

    (y, x): a pixel of the image. block None: the model's output ε̂ at (y, x), summed over
    channels. A block name: that block's output, summed over channels, at the unit covering
    (y, x) (unit (y·h // H, x·w // W) of an h×w map). probe_kwargs: extra Probe settings
    (attention, zero_skips, timestep). The model is not modified: only a copy of x_t
    requires grad, and the one forward pass records just the asked-for block.
    """
    if not isinstance(x_t, torch.Tensor) or x_t.dim() != 4 or x_t.shape[0] != 1:
        shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ValueError(f"x_t must be one image of shape (1, C, H, W), got {shape}")
    height, width = x_t.shape[-2:]
    y, x = _pixel(y, "y", height), _pixel(x, "x", width)
    blocks = model.blocks()
    final = blocks[-1].name
    name = final if block is None else block
    names = [b.name for b in blocks]
    if name not in names:
        raise ValueError(f"unknown block {name!r}: expected one of {', '.join(names)}")
    probe_kwargs = dict(probe_kwargs or {})
    if {"record", "keep_grad", "outputs"} & probe_kwargs.keys():
        raise ValueError("probe_kwargs may set attention, zero_skips and timestep; record and keep_grad are set here")
    fields = theoretical(model, image_size=height)
    block_field = fields[name]
    if not block_field.spatial:
        raise ValueError(f"{name} is the time embedding, which has no spatial position: pick a spatial block")

    probe = Probe(record=frozenset() if block is None else {name}, keep_grad=True, **probe_kwargs)
    with torch.enable_grad():
        image = x_t.detach().clone().requires_grad_(True)
        output = model(image, torch.tensor([int(t)], device=x_t.device), probe=probe)
        target = output if block is None else probe.outputs[name]  # (1, C, h, w)
        unit = (y * target.shape[-2] // height, x * target.shape[-1] // width)
        value = target[0, :, unit[0], unit[1]].sum()
        if value.requires_grad:
            (gradient,) = torch.autograd.grad(value, image)
        else:  # e.g. a knocked-out skip: a constant does not depend on the input
            gradient = torch.zeros_like(image)
    grad = gradient[0].abs().sum(0).float().cpu().numpy()  # (H, W)
    box = block_field.box(*unit, height, width)
    return _summarise(name, y, x, unit, grad, box, block_field)


def _summarise(name: str, y: int, x: int, unit: tuple[int, int], grad: np.ndarray,
               box: tuple[int, int, int, int], block_field: Field) -> Effective:
    mass = grad.astype(np.float64)
    total = mass.sum()
    nonzero = np.nonzero(grad)
    support_box = None
    if len(nonzero[0]):
        support_box = (int(nonzero[0].min()), int(nonzero[0].max()), int(nonzero[1].min()), int(nonzero[1].max()))
    y0, y1, x0, x1 = box
    radius_50 = radius_90 = None
    outside_fraction = 0.0
    if total > 0:
        rows, cols = np.arange(grad.shape[0]), np.arange(grad.shape[1])
        chebyshev = np.maximum(np.abs(rows - y)[:, None], np.abs(cols - x)[None, :])  # (H, W)
        cumulative = np.cumsum(np.bincount(chebyshev.ravel(), weights=mass.ravel())) / total
        radius_50 = int(np.searchsorted(cumulative, 0.5 - 1e-12))
        radius_90 = int(np.searchsorted(cumulative, 0.9 - 1e-12))
        outside = mass.copy()
        outside[y0:y1 + 1, x0:x1 + 1] = 0.0
        outside_fraction = float(outside.sum() / total)
    return Effective(name, y, x, unit, grad, box, block_field, radius_50, radius_90,
                     outside_fraction, int(len(nonzero[0])), support_box)


def _through(span: _Span, module: nn.Module) -> _Span:
    """The span after one named block, from the block's module type and its layers."""
    if isinstance(module, nn.Conv2d):
        out = span.conv(module)
    elif isinstance(module, ResBlock):
        inner = span.conv(module.conv1).conv(module.conv2)
        residual = span.conv(module.residual) if isinstance(module.residual, nn.Conv2d) else span
        out = inner.union(residual)
    elif isinstance(module, Downsample):
        out = span.conv(module.conv)
    elif isinstance(module, Upsample):
        out = span.upsample().conv(module.conv)
    elif isinstance(module, SelfAttention):
        out = span.made_global(SELF_ATTENTION)  # pointwise for the convolutional field: q, k, v, proj are 1×1
    elif type(module).__name__ in DIFFUSERS_RULES:
        out = DIFFUSERS_RULES[type(module).__name__](span, module)
    else:
        raise TypeError(f"no receptive-field rule for a {type(module).__name__} block")
    if any(isinstance(layer, nn.GroupNorm) for layer in module.modules()):
        out = out.made_global(GROUPNORM)  # its mean and variance run over every position of the map
    return out


# --- diffusers' blocks (explorer/diffusers_unet.py), told apart by class name: diffusers is not imported here ---------

def _resample(span: _Span, module) -> _Span:
    """A diffusers Downsample2D or Upsample2D (alone, or inside a ResNet that resamples)."""
    name = type(module).__name__
    if name == "Downsample2D":
        layer = module.conv  # a strided convolution, or a 2×2 average pool (use_conv=False)
        if isinstance(layer, nn.Conv2d):
            return span.conv(layer)  # padding 0: diffusers pads the right and bottom only, which moves no start
        if isinstance(layer, nn.AvgPool2d):
            kernel, stride = int(layer.kernel_size), int(layer.stride)
            return _Span(span.jump * stride, span.start, span.end + (kernel - 1) * span.jump, span.global_via)
    if name == "Upsample2D" and not module.use_conv_transpose and module.interpolate:
        out = span.upsample()
        layer = module.conv if module.name == "conv" else module.Conv2d_0
        return out.conv(layer) if isinstance(layer, nn.Conv2d) else out
    if name in ("function", "partial"):  # FIR resampling (the skip blocks' ResNets) is a function, not a module
        name = f"{getattr(getattr(module, 'func', module), '__name__', 'functional')} resampling"
    raise TypeError(f"no receptive-field rule for diffusers' {name}: the explorer draws fields for strided "
                    "convolutions, average pooling and nearest upsampling (not FIR or transposed convolutions)")


def _diffusers_resnet(span: _Span, module) -> _Span:
    """ResnetBlock2D: (resample) → conv1 → conv2, beside the shortcut (a convolution or the identity)."""
    resampler = module.upsample if module.upsample is not None else module.downsample
    if resampler is not None:
        span = _resample(span, resampler)
    inner = span.conv(module.conv1).conv(module.conv2)
    shortcut = module.conv_shortcut
    return inner.union(span.conv(shortcut) if isinstance(shortcut, nn.Conv2d) else span)


DIFFUSERS_RULES = {
    "ResnetBlock2D": _diffusers_resnet,
    "Attention": lambda span, module: span.made_global(SELF_ATTENTION),  # q, k, v, out: per position
    "Downsample2D": _resample,
    "Upsample2D": _resample,
}


def _to_field(name: str, span: _Span, image_size: int) -> Field:
    size = span.end - span.start + 1
    return Field(name, _number(size), _number(min(size, Fraction(image_size))), _number(span.jump),
                 _number(span.start), _number(span.end),
                 tuple(source for source in _GLOBAL_ORDER if source in span.global_via))


def _image_size(model: nn.Module, image_size: int | None) -> int:
    if image_size is not None:
        return int(image_size)
    if isinstance(model, UNet):
        return model.config.image_size
    if isinstance(model, NaiveCNN):
        return DEFAULT_IMAGE_SIZE
    if isinstance(getattr(model, "image_size", None), int):  # any other denoiser (explorer/denoiser.py)
        return model.image_size
    raise TypeError(f"no receptive-field walk for a {type(model).__name__}: expected a UNet or NaiveCNN")


def _square(conv: nn.Conv2d, attribute: str) -> int:
    value = getattr(conv, attribute)
    if isinstance(value, str) or value[0] != value[1]:
        raise ValueError(f"{attribute}={value} of a convolution: the receptive-field walk needs one integer "
                         "for rows and columns")
    return int(value[0])


def _pixel(value, axis: str, side: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{axis} must be a whole pixel index from 0 to {side - 1}, got {value!r}")
    if not 0 <= value < side:
        raise ValueError(f"{axis}={value} is outside the image: pick a pixel from 0 to {side - 1}")
    return int(value)


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)
