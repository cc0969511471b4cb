"""What each kind of block does and why the U-Net needs it, in the explorer's own words.

`explain(spec)` fills the text for one block with its live numbers (level, resolution,
channels), so a different config reads correctly.
"""
from __future__ import annotations

from explorer.analysis.structure import BlockSpec

TITLES = {
    "time": "Time embedding",
    "in": "Input convolution",
    "res": "ResBlock",
    "attn": "Self-attention",
    "down": "Downsample",
    "up": "Upsample",
    "skip": "Skip connection",
    "out": "Output head",
    "conv": "Plain convolution",
}

_WHAT = {
    "time": (
        "Turns the timestep t into a vector of {width} numbers: first a fixed pattern of sines and cosines "
        "at many wavelengths, then two small dense layers. Every ResBlock receives this vector and adds a "
        "learned projection of it to its features."),
    "in": (
        "A single 3×3 convolution that lifts the 3 colour channels to {channels} feature channels "
        "at full resolution, so the first ResBlock has something richer than RGB to work with."),
    "res_encoder": (
        "Two 3×3 convolutions, each after GroupNorm and SiLU, with the time vector added in between, plus "
        "a shortcut that adds the block's input back to its output. On the way down (level {level}, "
        "{resolution}×{resolution}) it extracts features at this scale; its output is also saved for the "
        "skip connection to the decoder."),
    "res_decoder": (
        "The same two-convolution block with a shortcut, on the way up (level {level}, "
        "{resolution}×{resolution}). Its input is the upsampled coarse features stacked with the encoder's "
        "saved features ({in_channels} channels), and it has to merge the two: the coarse path says what is "
        "where, the skip says exactly where the edges are."),
    "res_bottleneck": (
        "A ResBlock at the bottom of the U, at only {resolution}×{resolution}. Each position here summarises "
        "a large patch of the image, so a 3×3 kernel relates parts of the picture that are far apart."),
    "attn": (
        "Every position compares itself with every other position ({positions} of them at "
        "{resolution}×{resolution}) and mixes in what it finds relevant, then adds the result to its input. "
        "One layer connects opposite corners of the image, which convolutions only do after many layers."),
    "down": (
        "A 3×3 convolution with stride 2: halves the width and height ({in_res} → {out_res}). Each position of "
        "the next level stands for a patch twice as wide, so the same small kernels see twice as far."),
    "up": (
        "Doubles the width and height ({in_res} → {out_res}) by repeating each value in a 2×2 square, then "
        "smooths with a 3×3 convolution. It can only bring back what the coarse map still holds: blocky, "
        "low-frequency structure."),
    "skip": (
        "Carries level {level}'s encoder output ({channels} channels at {resolution}×{resolution}) straight "
        "across to the decoder, where it is concatenated with the upsampled features. Nothing on this path is "
        "downsampled, so fine detail that the bottleneck cannot hold survives."),
    "out": (
        "GroupNorm, SiLU and a final 3×3 convolution map the decoder's {in_channels} channels to 3: the "
        "predicted noise ε̂ for every pixel and colour."),
    "conv": (
        "A 3×3 convolution{relu}. Every layer of this network works at the full {resolution}×{resolution} "
        "resolution, so each layer widens what an output pixel can see by only one pixel on each side."),
}

_WHY = {
    "time": (
        "The same noisy pixel means different things at t = 10 (almost all signal) and t = 900 (almost all "
        "noise). Without t the network has to guess the noise level from the image itself. The naive CNN has "
        "no such input: try the Denoising tab's wrong-t slider to see what a wrong guess costs."),
    "in": "It sets the width of the first level; everything after it works on features, not colours.",
    "res_encoder": (
        "The shortcut lets gradients and information pass straight through, so stacking many blocks stays "
        "trainable; the time vector lets the block change what it does with the noise level."),
    "res_decoder": (
        "Concatenating, rather than adding, keeps both sources intact; the block's convolutions learn how "
        "much to trust each one at every position."),
    "res_bottleneck": (
        "At high noise the image is mostly gone; what remains is coarse layout, and this is where the network "
        "reasons about it cheaply (16 positions instead of 4,096)."),
    "attn": (
        "Convolutions are local. Attention gives the network a global view in one step, where the map is small "
        "enough for it to be cheap (cost grows with the square of the number of positions)."),
    "down": (
        "Going down the U trades resolution for reach: after four halvings each position summarises the whole "
        "64×64 image."),
    "up": (
        "The decoder has to return to full resolution, because the noise must be predicted for every pixel. "
        "Upsampling alone would give a blurry answer: that is why the skip connection arrives right after it."),
    "skip": (
        "Cut it (Denoising tab, knock-outs) and watch the error map: what is lost first is edges and fine "
        "texture at this level's scale."),
    "out": "The prediction must have exactly the input's shape: one noise value per pixel and channel.",
    "conv": (
        "This is all the naive CNN has: no downsampling (its field stays {field}×{field} pixels), no skip "
        "connections, no attention and no timestep."),
}


def explain(spec: BlockSpec, receptive_field: int | None = None) -> tuple[str, str, str]:
    """(title, what it does, why the U-Net needs it) for one block, with its own numbers filled in."""
    kind = spec.kind
    key = kind
    if kind == "res":
        key = f"res_{spec.part}" if spec.part in ("encoder", "decoder", "bottleneck") else "res_encoder"
    shape_out = spec.output_shape
    shape_in = spec.input_shape
    resolution = shape_out[-1] if len(shape_out) == 3 else None
    values = dict(
        width=shape_out[0] if shape_out else 0,
        channels=shape_out[0] if shape_out else 0,
        in_channels=shape_in[0] if shape_in else 0,
        level=spec.level,
        resolution=resolution,
        positions=(resolution or 0) ** 2,
        in_res=f"{shape_in[-1]}×{shape_in[-1]}" if len(shape_in) == 3 else "",
        out_res=f"{resolution}×{resolution}" if resolution else "",
        relu=" followed by ReLU" if spec.name != "layer5" else " with no activation: it outputs ε̂",
        field=receptive_field or 11,
    )
    title = TITLES.get(kind, kind)
    if spec.part == "bottleneck" and kind == "res":
        title = "Bottleneck ResBlock"
    if kind == "conv":
        title = f"Naive CNN layer {spec.name[-1]}"
    return title, _WHAT[key].format(**values), _WHY[key].format(**values)
