"""The time-conditioned U-Net noise predictor ε_θ(x_t, t).

Structure (default config, 64×64 input, base 32, multipliers 1, 2, 2, 4):

    in_conv                      3 → 32 @ 64
    enc1 → enc1.down             32 @ 64 → 32 @ 32           skip1 = level 1's output
    enc2 → enc2.down             64 @ 32 → 64 @ 16           skip2
    enc3 → enc3.down             64 @ 16 → 64 @ 8            skip3
    enc4 (+ enc4.attn) → down    128 @ 8 → 128 @ 4           skip4
    mid.res1 → mid.attn → mid.res2                      128 @ 4
    dec4.up → concat skip4 → dec4 (+ dec4.attn)         128 @ 8
    dec3.up → concat skip3 → dec3                        64 @ 16
    dec2.up → concat skip2 → dec2                        64 @ 32
    dec1.up → concat skip1 → dec1                        32 @ 64
    out                                                   3 @ 64

Every block has a stable name (`UNet.blocks()`); the diagram, the probe, the
explanations and the tests all use these names.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from explorer.probe import Probe

SKIP_MODES = ("concat", "add", "none")


@dataclass
class UNetConfig:
    image_size: int = 64
    in_channels: int = 3
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2, 4)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = (8,)
    num_heads: int = 4
    dropout: float = 0.1
    num_groups: int = 8
    # The variants the study of architectures trains (explorer/study); the shipped U-Net uses the defaults.
    skip: str = "concat"  # concat | add | none: how a decoder level receives its encoder level's output
    time_conditioning: bool = True  # False: no time embedding, the network is never told t
    mid_attention: bool = True  # False: the bottleneck has no self-attention

    def __post_init__(self) -> None:
        if self.skip not in SKIP_MODES:
            raise ValueError(f"skip must be one of {', '.join(SKIP_MODES)}, not {self.skip!r}")
        self.channel_mults = tuple(int(m) for m in self.channel_mults)
        self.attention_resolutions = tuple(int(r) for r in self.attention_resolutions)
        factor = 2 ** len(self.channel_mults)
        if self.image_size % factor:
            raise ValueError(
                f"image size {self.image_size} is not divisible by {factor} "
                f"(2 to the power of the {len(self.channel_mults)} levels)")
        for mult in self.channel_mults:
            if (self.base_channels * mult) % self.num_groups:
                raise ValueError(
                    f"{self.base_channels * mult} channels cannot be split into "
                    f"{self.num_groups} GroupNorm groups; change base_channels or num_groups")
        if self.num_res_blocks < 1:
            raise ValueError("num_res_blocks must be at least 1")

    @property
    def num_levels(self) -> int:
        return len(self.channel_mults)

    @property
    def time_emb_dim(self) -> int:
        """Width of the time embedding; 0 when the network is not told t."""
        return 4 * self.base_channels if self.time_conditioning else 0

    def level_channels(self, level: int) -> int:
        """Channels of encoder/decoder level `level` (1-based)."""
        return self.base_channels * self.channel_mults[level - 1]

    def level_resolution(self, level: int) -> int:
        """Spatial size at which level `level` (1-based) works."""
        return self.image_size // 2 ** (level - 1)

    @property
    def mid_resolution(self) -> int:
        return self.image_size // 2 ** self.num_levels

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Transformer / DDPM style).

    t: (B,) integer or float timesteps. Returns (B, dim).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (B, dim)


class TimeEmbedding(nn.Module):
    """t → sinusoid → Linear → SiLU → Linear: one vector per image, fed to every ResBlock."""

    def __init__(self, base_channels: int, time_emb_dim: int):
        super().__init__()
        self.base_channels = base_channels
        self.mlp = nn.Sequential(
            nn.Linear(base_channels, time_emb_dim), nn.SiLU(), nn.Linear(time_emb_dim, time_emb_dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.base_channels))  # (B, time_emb_dim)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv3, + time projection, GroupNorm → SiLU → dropout → conv3, + residual."""

    def __init__(self, in_channels: int, out_channels: int, time_emb_dim: int, dropout: float, num_groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_proj = nn.Linear(time_emb_dim, out_channels) if time_emb_dim else None
        self.norm2 = nn.GroupNorm(num_groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.residual = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor | None, name: str = "",
                probe: Probe | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        if self.time_proj is not None:
            shift = self.time_proj(F.silu(time_emb))  # (B, C_out): how t moves this block's features
            if probe is not None and probe.wants_time(name):
                probe.keep_time(name, shift, h)
            h = h + shift[:, :, None, None]  # (B, C_out, 1, 1) broadcast over H, W
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.residual(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over all H·W positions, with a residual connection."""

    def __init__(self, channels: int, num_heads: int, num_groups: int):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"{channels} channels cannot be split into {num_heads} attention heads")
        self.num_heads = num_heads
        self.norm = nn.GroupNorm(num_groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, enabled: bool = True, name: str = "",
                probe: Probe | None = None) -> torch.Tensor:
        """x (B, C, H, W). A probe that asks for `name`'s attention gets its weights (B, nh, HW, HW)."""
        if not enabled:
            return x
        batch, channels, height, width = x.shape
        qkv = self.qkv(self.norm(x))  # (B, 3C, H, W)
        qkv = qkv.reshape(batch, 3, self.num_heads, channels // self.num_heads, height * width)  # (B, 3, nh, hs, HW)
        q, k, v = qkv.permute(1, 0, 2, 4, 3).unbind(0)  # each (B, nh, HW, hs)
        if probe is not None and probe.wants_attention(name):
            # The weights written out, only when asked: softmax(q kᵀ / √hs) (Vaswani et al. 2017, eq. 1)
            weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (B, nh, HW, HW)
            probe.keep_attention(name, weights)
            h = weights @ v  # (B, nh, HW, hs)
        else:
            h = F.scaled_dot_product_attention(q, k, v)  # (B, nh, HW, hs)
        h = h.transpose(2, 3).reshape(batch, channels, height, width)  # (B, C, H, W)
        return x + self.proj(h)


class Downsample(nn.Module):
    """Strided 3×3 convolution: halves H and W, keeps the channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (B, C, H/2, W/2)


class Upsample(nn.Module):
    """Nearest-neighbour ×2 then a 3×3 convolution (no checkerboard artefacts of transposed convs)."""

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))  # (B, C, 2H, 2W)


class Level(nn.Module):
    """The ResBlocks of one level, then self-attention if the level's resolution asks for it."""

    def __init__(self, channels_in: int, channels: int, config: UNetConfig, attention: bool):
        super().__init__()
        self.res = nn.ModuleList(
            ResBlock(channels_in if i == 0 else channels, channels, config.time_emb_dim, config.dropout,
                     config.num_groups)
            for i in range(config.num_res_blocks))
        self.attn = SelfAttention(channels, config.num_heads, config.num_groups) if attention else None

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor, name: str, probe: Probe) -> torch.Tensor:
        # The last ResBlock of a level carries the level's own name; earlier ones are name.res1, name.res2, ...
        for i, block in enumerate(self.res, start=1):
            block_name = name if i == len(self.res) else f"{name}.res{i}"
            x = probe.keep(block_name, block(x, time_emb, block_name, probe))
        if self.attn is not None:
            x = probe.keep(f"{name}.attn", self.attn(x, probe.attention, f"{name}.attn", probe))
        return x


@dataclass(frozen=True)
class BlockInfo:
    """One named block of a model: the unit the diagram draws and the probe records."""

    name: str
    kind: str  # time | in | res | attn | down | up | skip | mid | out | conv
    level: int | None = None  # 1-based U-Net level, None outside the levels
    part: str = ""  # "encoder", "bottleneck", "decoder", "" for time/in/out
    module: nn.Module | None = field(default=None, compare=False, repr=False)
    # A skip block (kind "skip") says what it carries: `skip` is its number as the probe and the knock-outs count
    # skips (Probe.zero_skips, the token skipN), `source` the block whose output it carries, `target` the block
    # that receives it concatenated with the decoder's own features.
    skip: int | None = None
    source: str = ""
    target: str = ""
    group: str = ""  # the container a block belongs to, in models that have them (diffusers: "down_blocks.1")


class UNet(nn.Module):
    """Noise predictor ε_θ(x_t, t) with a 4-level encoder/decoder and concatenated skips.

    forward(x, t, probe=None): x (B, C, H, W) in [-1, 1] scale, t (B,) integer timesteps.
    Returns ε̂ with the shape of x.
    """

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        levels = config.num_levels
        self.time_mlp = TimeEmbedding(config.base_channels, config.time_emb_dim) if config.time_conditioning else None
        self.in_conv = nn.Conv2d(config.in_channels, config.base_channels, 3, padding=1)

        self.encoder = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        channels = config.base_channels
        for level in range(1, levels + 1):
            out_channels = config.level_channels(level)
            attention = config.level_resolution(level) in config.attention_resolutions
            self.encoder.append(Level(channels, out_channels, config, attention))
            self.downsamples.append(Downsample(out_channels))
            channels = out_channels

        self.mid_res1 = ResBlock(channels, channels, config.time_emb_dim, config.dropout, config.num_groups)
        # The bottleneck always attends: at the lowest resolution global context is cheapest.
        self.mid_attn = SelfAttention(channels, config.num_heads, config.num_groups) if config.mid_attention else None
        self.mid_res2 = ResBlock(channels, channels, config.time_emb_dim, config.dropout, config.num_groups)

        self.upsamples = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in range(levels, 0, -1):
            skip_channels = config.level_channels(level)
            attention = config.level_resolution(level) in config.attention_resolutions
            if config.skip == "concat":  # the decoder sees the upsampled features and the skip side by side
                self.upsamples.append(Upsample(channels))
                self.decoder.append(Level(channels + skip_channels, skip_channels, config, attention))
            else:  # "add" sums them, so the upsampling conv maps to the skip's width; "none" has no skip
                self.upsamples.append(Upsample(channels, skip_channels))
                self.decoder.append(Level(skip_channels, skip_channels, config, attention))
            channels = skip_channels

        self.out_norm = nn.GroupNorm(config.num_groups, channels)
        self.out_conv = nn.Conv2d(channels, config.in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, probe: Probe | None = None) -> torch.Tensor:
        probe = probe if probe is not None else Probe()
        unknown = [level for level in probe.zero_concat if level > self.config.num_levels]
        if unknown:
            raise ValueError(f"zero_concat names decoder level {unknown[0]}, but this U-Net has levels "
                             f"1 … {self.config.num_levels}")
        if probe.timestep is not None:
            t = torch.full_like(t, probe.timestep)
        time_emb = probe.keep("time_mlp", self.time_mlp(t)) if self.time_mlp is not None else None  # (B, time_emb_dim)

        h = probe.keep("in_conv", self.in_conv(x))  # (B, base, H, W)
        skips = []
        for index, (level, down) in enumerate(zip(self.encoder, self.downsamples), start=1):
            h = level(h, time_emb, f"enc{index}", probe)
            skips.append(h)  # (B, C_level, H_level, W_level), popped by the decoder level of the same size
            h = probe.keep(f"enc{index}.down", down(h))

        if probe.bypass_mid:  # the knock-out "bottleneck bypassed": each mid block passes its input through
            for name in ("mid.res1", "mid.attn", "mid.res2"):
                h = probe.keep(name, h)
        else:
            h = probe.keep("mid.res1", self.mid_res1(h, time_emb, "mid.res1", probe))
            if self.mid_attn is not None:
                h = probe.keep("mid.attn", self.mid_attn(h, probe.attention, "mid.attn", probe))
            h = probe.keep("mid.res2", self.mid_res2(h, time_emb, "mid.res2", probe))

        for index, up, level in zip(range(self.config.num_levels, 0, -1), self.upsamples, self.decoder):
            h = probe.keep(f"dec{index}.up", probe.concat_half(index, "up", up(h)))
            skip = skips.pop()
            if index in probe.zero_skips:
                skip = torch.zeros_like(skip)
            if self.config.skip != "none":
                skip = probe.keep(f"skip{index}", probe.concat_half(index, "skip", skip))
            if self.config.skip == "concat":
                h = torch.cat([h, skip], dim=1)  # (B, C_up + C_skip, H_level, W_level)
            elif self.config.skip == "add":
                h = h + skip  # (B, C_skip, H_level, W_level)
            h = level(h, time_emb, f"dec{index}", probe)

        return probe.keep("out", self.out_conv(F.silu(self.out_norm(h))))  # (B, 3, H, W)

    @property
    def image_size(self) -> int:
        """The side of the square images it was built for."""
        return self.config.image_size

    @property
    def in_channels(self) -> int:
        return self.config.in_channels

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor | None:
        """The vector every ResBlock is told for timesteps t (B,): (B, time_emb_dim), None when not told t."""
        return self.time_mlp(t) if self.time_mlp is not None else None

    def blocks(self) -> list[BlockInfo]:
        """Every named block, in the order the forward pass runs them."""
        config = self.config
        out = [BlockInfo("time_mlp", "time", module=self.time_mlp)] if self.time_mlp is not None else []
        out.append(BlockInfo("in_conv", "in", module=self.in_conv))
        for index, (level, down) in enumerate(zip(self.encoder, self.downsamples), start=1):
            out += _level_blocks(f"enc{index}", index, "encoder", level)
            out.append(BlockInfo(f"enc{index}.down", "down", index, "encoder", down))
        out.append(BlockInfo("mid.res1", "res", None, "bottleneck", self.mid_res1))
        if self.mid_attn is not None:
            out.append(BlockInfo("mid.attn", "attn", None, "bottleneck", self.mid_attn))
        out.append(BlockInfo("mid.res2", "res", None, "bottleneck", self.mid_res2))
        for index, up, level in zip(range(config.num_levels, 0, -1), self.upsamples, self.decoder):
            out.append(BlockInfo(f"dec{index}.up", "up", index, "decoder", up))
            if config.skip != "none":
                target = f"dec{index}.res1" if len(level.res) > 1 else f"dec{index}"
                out.append(BlockInfo(f"skip{index}", "skip", index, "decoder", skip=index, source=f"enc{index}",
                                     target=target))
            out += _level_blocks(f"dec{index}", index, "decoder", level)
        out.append(BlockInfo("out", "out", module=self.out_conv))
        return out


def _level_blocks(name: str, index: int, part: str, level: Level) -> list[BlockInfo]:
    """A level's ResBlocks (the last one carries the level's name), then its attention if any."""
    count = len(level.res)
    out = [BlockInfo(name if i == count else f"{name}.res{i}", "res", index, part, block)
           for i, block in enumerate(level.res, start=1)]
    if level.attn is not None:
        out.append(BlockInfo(f"{name}.attn", "attn", index, part, level.attn))
    return out
