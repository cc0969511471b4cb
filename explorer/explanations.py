"""What each kind of block does and why the U-Net needs it, in the explorer's own words.

`explain(spec, field, metrics)` fills the text for one block with its live numbers (level,
resolution, channels, receptive field), so a different config reads correctly. Where the text
claims something measurable about a block, it quotes this model's measurement from
`weights/metrics.json` (the knock-out table and the other measured sections); where that
measurement is missing it says nothing rather than a number typed in here.

The other texts here are shared by several tabs: the receptive-field sentence, the note on what
"Denoise from here" can recover at high t, and the caption of the frequency sweep.
"""
from __future__ import annotations

from explorer.analysis.receptive_field import Field
from explorer.analysis.spectrum import HIGH_FREQUENCY_FRACTION
from explorer.analysis.structure import BlockSpec
from explorer.diffusion import Diffusion
from explorer.formatting import times
from explorer.metrics import Metrics

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

# Example timesteps the time embedding's text describes (inputs, not measurements): one almost clean, one almost noise.
EXAMPLE_TIMESTEPS = (10, 900)
# "Little of the image is left" once its power in x_t is below this share of the noise's (signal-to-noise −10 dB).
LITTLE_LEFT_SNR_DB = -10.0

_WHAT = {
    "time": (
        "Turns the timestep t into a vector of {width} numbers: first a fixed pattern of sines and cosines "
        "at many wavelengths, then two small dense layers. Every ResBlock receives this vector and adds a "
        "learned projection of it to its features."),
    "in": (
        "A single 3×3 convolution that lifts the 3 colour channels to {channels} feature channels "
        "at full resolution, so the first ResBlock has something richer than RGB to work with."),
    "res_encoder": (
        "Two 3×3 convolutions, each after GroupNorm (which rescales the features by their own mean and spread) "
        "and SiLU, with the time vector added in between, plus a shortcut that adds the block's input back to "
        "its output. On the way down (level {level}, {resolution}×{resolution}) it extracts features at this "
        "scale; its output is also saved for the skip connection to the decoder."),
    "res_decoder": (
        "The same two-convolution block with a shortcut, on the way up (level {level}, "
        "{resolution}×{resolution}). Its input is the upsampled coarse features stacked with the encoder's "
        "saved features ({in_channels} channels), and it has to merge the two: the coarse path says what is "
        "where, the skip brings this level's own detail of the noisy input."),
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
        "downsampled, so detail that the bottleneck cannot hold survives."),
    "skip_source": (
        "Carries {source}'s output ({channels} channels at {resolution}×{resolution}) straight across to {target}, "
        "which concatenates it with the features coming up the decoder. The down path saves every layer's output "
        "(and each downsampler's), and each ResNet of the up path takes one of them, the last saved first."),
    "out": (
        "GroupNorm, SiLU and a final 3×3 convolution map the decoder's {in_channels} channels to 3: the "
        "predicted noise ε̂ for every pixel and colour."),
    "conv": (
        "A 3×3 convolution{relu}. Every layer of this network works at the full {resolution}×{resolution} "
        "resolution, so each layer widens what an output pixel can see by only one pixel on each side."),
}

_WHY = {
    "time": (
        "The same noisy pixel means different things at different t: {time_mix} Without t the network has to "
        "guess the noise level from the image itself. The naive CNN has no such input: the Denoising tab's "
        "wrong-t slider shows what a wrong guess costs."),
    "in": "It sets the width of the first level; everything after it works on features, not colours.",
    "res_encoder": (
        "The shortcut lets gradients and information pass straight through, so stacking many blocks stays "
        "trainable; the time vector lets the block change what it does with the noise level."),
    "res_decoder": (
        "Concatenating, rather than adding, keeps both sources intact; the block's convolutions learn how "
        "much to trust each one at every position."),
    "res_bottleneck": (
        "Here the whole layout of the picture fits in a few positions, so relating far-apart parts is cheap "
        "({positions} positions instead of {image_positions})."),
    "attn": (
        "Convolutions are local. Attention gives the network a global view in one step, where the map is small "
        "enough for it to be cheap (cost grows with the square of the number of positions)."),
    "down": "Going down the U trades resolution for reach: {field_sentence}",
    "up": (
        "The decoder has to return to full resolution, because the noise must be predicted for every pixel. "
        "Upsampling alone would give a blurry answer: that is why the skip connection arrives right after it."),
    "skip": "It hands the decoder this level's view of the noisy input, which the coarse path below has lost.",
    "skip_source": "It hands the decoder this scale's view of the noisy input, which the coarse path below has lost.",
    "out": "The prediction must have exactly the input's shape: one noise value per pixel and channel.",
    "conv": (
        "This is all the naive CNN has: no downsampling (its field stays {field}), no skip "
        "connections, no attention and no timestep."),
}


# ---- numbers from metrics.json -------------------------------------------------------------------


def knockout_ratios(metrics: dict | None, row: str) -> list[tuple[int, float]] | None:
    """[(t, ε-MSE with the knock-out / intact ε-MSE)] per evaluated t, or None when not measured."""
    metrics = Metrics.of(metrics)
    if not metrics or not metrics.has("knockouts") or row not in metrics.knockout_rows():
        return None
    return [(int(t), metrics.knockout_ratio(row, t)) for t in metrics.knockout_timesteps]


def ratio_range(pairs: list[tuple[int, float]]) -> str:
    """"×1.46 (t = 500) to ×4.3 (t = 900)": the smallest and largest factor and where they occur."""
    low = min(pairs, key=lambda pair: pair[1])
    high = max(pairs, key=lambda pair: pair[1])
    return f"{times(low[1])} (t = {low[0]}) to {times(high[1])} (t = {high[0]})"


def _held_out(metrics: dict) -> str:
    """Where the knock-outs were measured: their own image count where they say one, else the main table's."""
    measured = Metrics.of(metrics)
    count = (measured.knockouts or {}).get("images") or measured.images
    return f"on the {count} held-out images" if count else "on the held-out images"


def measured_sentence(spec: BlockSpec, metrics: dict | None) -> str:
    """What this model's measurements say about the block, quoting them; "" when none is recorded."""
    if not metrics:
        return ""
    sentences = []
    if spec.kind == "skip":
        pairs = knockout_ratios(metrics, f"{spec.name} cut")
        if pairs:
            text = (f"Measured {_held_out(metrics)}: cutting {spec.name} multiplies the U-Net's noise error "
                    f"(ε-MSE) by {ratio_range(pairs)}.")
            if min(ratio for _, ratio in pairs) >= 2:
                text += " The prediction is ruined at every t, not only in the fine detail"
                if spec.level == 1 and not spec.group:  # seen in our U-Net's pictures, not asked of other models
                    text += (": without the pixel-level view of x_t the decoder cannot say where the noise is, "
                             "and the predicted noise loses its grain; at low and middle t it turns into a smooth, "
                             "image-like picture (cut it in the Denoising tab and compare)")
                text += "."
            sentences.append(text)
    if spec.kind == "time":
        pairs = knockout_ratios(metrics, "told the wrong t")
        if pairs:
            how = Metrics.of(metrics).knockouts.get("told_the_wrong_t")
            sentences.append(f"Measured {_held_out(metrics)}: telling the U-Net the wrong end of the schedule"
                             f"{f' ({how})' if how else ''} multiplies its noise error by {ratio_range(pairs)}.")
    if spec.kind == "attn":
        pairs = knockout_ratios(metrics, "attention off")
        if pairs:
            sentences.append(f"Measured {_held_out(metrics)}: switching every attention layer off at once "
                             f"multiplies the noise error by {ratio_range(pairs)}.")
    if spec.part == "bottleneck":
        pairs = knockout_ratios(metrics, "bottleneck bypassed")
        if pairs:
            text = (f"Measured {_held_out(metrics)}: bypassing the whole bottleneck multiplies the noise error by "
                    f"{ratio_range(pairs)}")
            skip1 = knockout_ratios(metrics, "skip1 cut")
            if skip1 and max(ratio for _, ratio in pairs) < min(ratio for _, ratio in skip1):
                text += (", less than cutting skip1 costs at any t: this small model leans far more on its "
                         "full-resolution path than on its bottleneck")
            sentences.append(text + ".")
    if spec.kind == "res" and spec.part == "decoder":
        sentences.append(_concat_sentence(spec, metrics))
    if spec.kind == "res":
        sentences.append(_time_shift_sentence(spec, metrics))
    return " ".join(sentence for sentence in sentences if sentence)


def _concat_sentence(spec: BlockSpec, metrics: dict) -> str:
    concat = Metrics.of(metrics).concat or {}
    level = (concat.get("levels") or {}).get(str(spec.level))
    if not level or "eps_mse" not in level:
        return ""
    mse, channels = level["eps_mse"], level.get("channels", {})
    timesteps = concat["timesteps"]

    def pairs(row: str) -> list[tuple[int, float]]:
        return [(int(t), float(v) / float(b)) for t, v, b in zip(timesteps, mse[row], mse["intact"])]

    if "skip_zero" not in mse or "up_zero" not in mse:
        return ""
    skip, up = channels.get("skip"), channels.get("up")
    count = concat.get("images")
    return (f"Measured{f' on {count} held-out images' if count else ''}: zeroing the "
            f"{f'{skip} ' if skip else ''}channels from the skip multiplies the noise error by "
            f"{ratio_range(pairs('skip_zero'))}; zeroing the {f'{up} ' if up else ''}upsampled channels by "
            f"{ratio_range(pairs('up_zero'))}.")


def _time_shift_sentence(spec: BlockSpec, metrics: dict) -> str:
    timing = Metrics.of(metrics).time_conditioning or {}
    if spec.name not in timing.get("blocks", []):
        return ""
    shifts = timing["shift"][timing["blocks"].index(spec.name)]
    low, high = min(shifts), max(shifts)
    return (f"Measured: the time vector this block adds is {low:.0%} to {high:.0%} of the size of its features "
            f"across t = {min(timing['timesteps'])}–{max(timing['timesteps'])}.")


# ---- receptive fields ------------------------------------------------------------------------------


def units_seeing_everything(field: Field, map_side: int, image_side: int) -> int:
    """How many units of a map_side × map_side map have a box that covers the whole image (rows and columns)."""
    if not field.spatial or field.jump is None:
        return 0
    per_axis = sum(1 for unit in range(map_side)
                   if unit * field.jump + field.start <= 0 and unit * field.jump + field.end >= image_side - 1)
    return per_axis * per_axis


def first_block_seeing_everything(fields: dict[str, Field], specs: list[BlockSpec], image_side: int) -> str | None:
    """The first block, in forward order, at which every unit's convolutional box covers the whole image."""
    for spec in specs:
        field = fields.get(spec.name)
        if field is None or not field.spatial or len(spec.output_shape) != 3:
            continue
        side = spec.output_shape[-1]
        if units_seeing_everything(field, side, image_side) == side * side:
            return spec.name
    return None


def field_sentence(field: Field | None, map_side: int | None, image_side: int | None) -> str:
    """What one unit of the block can see, true for edge units too (a box larger than the image is clipped)."""
    if field is None or not field.spatial or not map_side or not image_side:
        return "each position of the next level depends on a wider window of input pixels."
    size = field.size
    if size < image_side:
        return f"each unit of this block's output depends on a {size}×{size} window of input pixels."
    units, total = units_seeing_everything(field, map_side, image_side), map_side * map_side
    if units == total:
        return (f"every unit of this block's output depends on the whole {image_side}×{image_side} image "
                f"(its {size}×{size} window is larger than the image).")
    return (f"each unit's window is {size}×{size} pixels, but it is centred on the unit and cut off at the image's "
            f"edges, so only {units} of the {total} units {'sees' if units == 1 else 'see'} the whole "
            f"{image_side}×{image_side} image.")


def field_facts(field: Field, map_side: int | None, image_side: int) -> str:
    """The block panel's receptive-field row: the window's size and how many units see the whole image."""
    size = field.size
    if size < image_side or not map_side:
        return f"{min(size, image_side)}×{min(size, image_side)} input pixels per unit (at most)"
    units, total = units_seeing_everything(field, map_side, image_side), map_side * map_side
    if units == total:
        return f"the whole {image_side}×{image_side} image, for every unit ({size}×{size} window)"
    return (f"{size}×{size} window per unit, cut off at the image's edges: {units} of {total} units "
            f"{'sees' if units == 1 else 'see'} the whole {image_side}×{image_side} image")


# ---- explain one block -----------------------------------------------------------------------------


def _time_mix(diffusion: Diffusion) -> str:
    parts = []
    for t in EXAMPLE_TIMESTEPS:
        signal, noise = float(diffusion.sqrt_alphas_cumprod[t]), float(diffusion.sqrt_one_minus_alphas_cumprod[t])
        parts.append(f"at t = {t}, x_t is {signal:.2f} × the image plus {noise:.2f} × noise")
    return "; ".join(parts) + "."


def explain(spec: BlockSpec, field: Field | int | None = None, metrics: dict | None = None,
            image_size: int | None = None) -> tuple[str, str, str]:
    """(title, what it does, why the U-Net needs it) for one block, with its own numbers filled in.

    field: the block's theoretical receptive field (or just its width, as the naive CNN's text needs);
    metrics: the loaded metrics.json, whose measurements the text quotes (none quoted without it).
    """
    kind = spec.kind
    key = kind
    if kind == "res":
        key = f"res_{spec.part}" if spec.part in ("encoder", "decoder", "bottleneck") else "res_encoder"
    if kind == "skip" and spec.group:  # a diffusers model's skip: several per level, each named by its source
        key = "skip_source"
    shape_out = spec.output_shape
    shape_in = spec.input_shape
    resolution = shape_out[-1] if len(shape_out) == 3 else None
    field_width = field.size if isinstance(field, Field) else field
    values = dict(
        width=shape_out[0] if shape_out else 0,
        channels=shape_out[0] if shape_out else 0,
        in_channels=shape_in[0] if shape_in else 0,
        level=spec.level,
        resolution=resolution,
        positions=(resolution or 0) ** 2,
        image_positions=f"{image_size * image_size:,} at full resolution" if image_size else "one per pixel",
        in_res=f"{shape_in[-1]}×{shape_in[-1]}" if len(shape_in) == 3 else "",
        out_res=f"{resolution}×{resolution}" if resolution else "",
        relu=" followed by ReLU" if spec.name != "layer5" else " with no activation: it outputs ε̂",
        source=spec.source, target=spec.target,
        field=f"{field_width}×{field_width} pixels" if field_width else "small",
        field_sentence=field_sentence(field if isinstance(field, Field) else None, resolution, image_size),
        time_mix=_time_mix(Diffusion()) if kind == "time" else "",
    )
    title = TITLES.get(kind, kind)
    if spec.part == "bottleneck" and kind == "res":
        title = "Bottleneck ResBlock"
    if kind == "conv":
        title = f"Naive CNN layer {spec.name[-1]}"
    why = _WHY[key].format(**values)
    measured = measured_sentence(spec, metrics)
    return title, _WHAT[key].format(**values), f"{why} {measured}" if measured else why


# ---- texts for other tabs --------------------------------------------------------------------------


def little_left_from(diffusion: Diffusion) -> int:
    """The first t at which the image's power in x_t is below a tenth of the noise's."""
    for t in range(diffusion.num_timesteps):
        if diffusion.snr_db(t) <= LITTLE_LEFT_SNR_DB:
            return t
    return diffusion.num_timesteps


def reverse_process_note(diffusion: Diffusion, timesteps=(250, 500, 900)) -> str:
    """Why "Denoise from here" at high t ends on a different emoji, with the schedule's own numbers."""
    start = little_left_from(diffusion)
    shares = ", ".join(f"{float(diffusion.sqrt_alphas_cumprod[t]):.2f} at t = {t}" for t in timesteps)
    return (f"*Why a high t gives a different picture:* the reverse process starts from x_t = √ᾱ_t · image + "
            f"√(1 − ᾱ_t) · noise, and the image's weight √ᾱ_t is {shares}. From about t = {start} on "
            f"the image is less than a tenth of x_t's power: the networks cannot recover it and invent a "
            f"plausible emoji that fits the few blobs of colour left.")


def sweep_caption(image_size: int = 64) -> str:
    """Caption of the Architecture tab's chart of high-frequency share against t."""
    cutoff = HIGH_FREQUENCY_FRACTION * image_size / 2
    return (f"What the chart measures: for this image and seed, the share of each map's power above {cutoff:g} "
            f"cycles per image (fine scales), at each t. The added noise is white: it has the same power at every "
            f"frequency, so the more of x_t is noise, the more fine-scale power the maps near the input carry. "
            f"At high t the maps carry mostly noise, and the rising share for skip1 is that noise passing "
            f"through, not extra detail: it does not contradict \"deep levels carry low frequencies\".")
