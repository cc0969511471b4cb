"""A diffusers `UNet2DModel` as the explorer drives a denoiser: ε̂ from (x_t, t), named blocks, a per-call probe.

Block names are diffusers' own module names, so a reader finds them in its code: `time_embedding`, `conv_in`,
`down_blocks.1.resnets.0`, `down_blocks.1.attentions.0`, `down_blocks.1.downsamplers.0`, `mid_block.resnets.0`,
`mid_block.attentions.0`, `up_blocks.2.resnets.1`, `up_blocks.2.upsamplers.0`, `conv_out`. The skips are not
modules in diffusers (each down block returns a tuple of its outputs, each up block pops them): here they are
`skip1` … `skipN`, numbered in the order the down path pushes them (skip1 is conv_in's output, at full size),
each with the block whose output it carries (`source`) and the ResNet that concatenates it (`target`).

The `Probe` of a call is read from a ContextVar by forward hooks installed once, when the adapter is made;
`forward` sets it around the one call. No hook is added or removed per request, and the model itself carries no
per-request flag, so concurrent requests (Gradio runs handlers in threads) never see each other's probe.
What the hooks do, for the probe of the current call only:

- record a block's output (`Probe.record`), a skip as its ResNet receives it, the time embedding;
- knock out a skip: the skip's channels of the ResNet's input, `cat([h, skip])` as diffusers builds it, are
  zeroed (`Probe.zero_skips`, by skip number) or replaced by their mean (`Probe.zero_concat`);
- turn every attention block into the identity (`Probe.attention`), let the bottleneck pass its input through
  (`Probe.bypass_mid`); the t the network is told (`Probe.timestep`) is given to the model in place of t;
- keep attention weights (`Probe.record_attention`: softmax(q kᵀ/√d) written out from the block's own input
  and layers, (B, heads, HW, HW)) and each ResNet's time vector and the conv1 features it is added to
  (`Probe.record_time`).

diffusers is not imported here: the adapter takes a model someone already built or loaded
(explorer/diffusers_folder.py opens folders and Hub ids).
"""
from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Mapping

import torch
from torch import nn

from explorer.diffusion import BETA_SCHEDULES, PREDICTION_TYPES, Diffusion
from explorer.probe import Probe
from explorer.unet import BlockInfo

DOWN_BLOCKS = ("DownBlock2D", "AttnDownBlock2D", "ResnetDownsampleBlock2D", "SkipDownBlock2D", "AttnSkipDownBlock2D")
UP_BLOCKS = ("UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "SkipUpBlock2D", "AttnSkipUpBlock2D")
MID_BLOCKS = ("UNetMidBlock2D", None)
TIME_EMBEDDINGS = ("positional", "fourier")
MIN_SIZE, MAX_SIZE = 32, 256
SUPPORTED = (f"the explorer opens diffusers UNet2DModel models that denoise RGB pixels (3 channels in and out, "
             f"square, {MIN_SIZE}–{MAX_SIZE} px) without class labels: down blocks {', '.join(DOWN_BLOCKS)}; up "
             f"blocks {', '.join(UP_BLOCKS)}; mid block UNetMidBlock2D or none; positional or Fourier time "
             f"embeddings; any layers_per_block; a β schedule ({', '.join(BETA_SCHEDULES)}) predicting "
             f"{', '.join(PREDICTION_TYPES)}. Text-conditioned UNet2DConditionModel (cross-attention), class-"
             "conditioned and latent models (which need a VAE) are not supported")

_PROBE: contextvars.ContextVar[Probe | None] = contextvars.ContextVar("unet_explorer_probe", default=None)


class UnsupportedModel(ValueError):
    """A model or folder the explorer cannot open; the message says what it is and what is supported."""

    def __init__(self, what: str):
        super().__init__(f"{what} is not supported: {SUPPORTED}.")


def check_config(config: Mapping) -> None:
    """Raise UnsupportedModel unless a UNet2DModel config (its config.json, or `model.config`) is one we explore."""
    name = config.get("_class_name", "UNet2DModel")
    if name != "UNet2DModel":
        kind = "a text-conditioned model with cross-attention" if "Condition" in name else "this model"
        raise UnsupportedModel(f"{name} ({kind})")
    if config.get("class_embed_type") is not None or config.get("num_class_embeds") is not None:
        raise UnsupportedModel("a class-conditioned UNet2DModel (class_embed_type / num_class_embeds)")
    channels = (config.get("in_channels", 3), config.get("out_channels", 3))
    if channels != (3, 3):
        what = "a latent model" if channels[0] != 3 else "a model that predicts more than the noise"
        raise UnsupportedModel(f"{what} ({channels[0]} channels in, {channels[1]} out)")
    size = config.get("sample_size")
    sides = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
    if sides[0] != sides[1] or not isinstance(sides[0], int) or not MIN_SIZE <= sides[0] <= MAX_SIZE:
        raise UnsupportedModel(f"sample_size {size!r}")
    time_embedding = config.get("time_embedding_type", "positional")
    if time_embedding not in TIME_EMBEDDINGS:
        raise UnsupportedModel(f"time_embedding_type {time_embedding!r}")
    for block in config.get("down_block_types", ()):
        if block not in DOWN_BLOCKS:
            raise UnsupportedModel(f"the down block {block}")
    for block in config.get("up_block_types", ()):
        if block not in UP_BLOCKS:
            raise UnsupportedModel(f"the up block {block}")
    if config.get("mid_block_type", "UNetMidBlock2D") not in MID_BLOCKS:
        raise UnsupportedModel(f"the mid block {config.get('mid_block_type')}")


# --- the hooks: installed once, each reads the current call's probe ------------------------------------------------

def _after_block(module: nn.Module, args: tuple, output, *, name: str, kind: str, in_mid: bool):
    """A named block's forward hook: knock it out (attention off, bottleneck bypassed) and record it."""
    probe = _PROBE.get()
    if probe is None:
        return None
    replaced = (kind == "attn" and not probe.attention) or (in_mid and probe.bypass_mid)
    if replaced:
        output = args[0]  # the identity: the block passes its input on
    elif kind == "attn" and probe.wants_attention(name):
        probe.keep_attention(name, attention_weights(module, args[0]))
    probe.keep(name, output)
    return output if replaced else None


def _before_concat_resnet(module: nn.Module, args: tuple, *, skip: int, skip_channels: int):
    """The pre-hook of a decoder ResNet: its input is cat([h, skip]) (B, C_h + C_skip, H, W); act on the skip."""
    probe = _PROBE.get()
    if probe is None:
        return None
    joined = args[0]
    up, carried = joined[:, :-skip_channels], joined[:, -skip_channels:]  # (B, C_h, H, W), (B, C_skip, H, W)
    changed = False
    if skip in probe.zero_skips:
        carried, changed = torch.zeros_like(carried), True
    choice = probe.zero_concat.get(skip)
    if choice is not None:
        half, replacement = choice
        part = carried if half == "skip" else up
        part = torch.zeros_like(part) if replacement == "zero" else part.mean(dim=(2, 3), keepdim=True).expand_as(part)
        up, carried = (up, part) if half == "skip" else (part, carried)
        changed = True
    probe.keep(f"skip{skip}", carried)
    if not changed:
        return None
    return (torch.cat([up, carried], dim=1), *args[1:])  # (B, C_h + C_skip, H, W)


def _after_conv1(module: nn.Module, args: tuple, output: torch.Tensor, *, name: str):
    probe = _PROBE.get()
    if probe is not None and probe.wants_time(name):
        probe.time_features[name] = output if probe.keep_grad else output.detach()


def _after_time_projection(module: nn.Module, args: tuple, output: torch.Tensor, *, name: str):
    probe = _PROBE.get()
    if probe is not None and probe.wants_time(name):
        probe.keep_time(name, output, probe.time_features[name])  # (B, C) (scale_shift: (B, 2C)), (B, C, H, W)


def attention_weights(attention: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) of a diffusers self-attention block for its input (B, C, H, W): (B, heads, HW, HW).

    The same layers and scale as its processor (AttnProcessor2_0, which hands them to scaled_dot_product_attention).
    """
    batch, channels, height, width = hidden_states.shape
    tokens = hidden_states.reshape(batch, channels, height * width)  # (B, C, HW)
    if attention.group_norm is not None:
        tokens = attention.group_norm(tokens)
    tokens = tokens.transpose(1, 2)  # (B, HW, C)
    query, key = attention.to_q(tokens), attention.to_k(tokens)  # (B, HW, inner)
    head_dim = key.shape[-1] // attention.heads
    query = query.reshape(batch, -1, attention.heads, head_dim).transpose(1, 2)  # (B, heads, HW, d)
    key = key.reshape(batch, -1, attention.heads, head_dim).transpose(1, 2)  # (B, heads, HW, d)
    # Vaswani et al. 2017, eq. 1
    return torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(head_dim), dim=-1)  # (B, heads, HW, HW)


# --- the adapter ---------------------------------------------------------------------------------------------------

class DiffusersUNet(nn.Module):
    """A diffusers `UNet2DModel` behind the explorer's denoiser interface (explorer/denoiser.py).

    forward(x, t, probe=None): x (B, 3, H, W) in [-1, 1], t (B,) integer timesteps → ε̂ (B, 3, H, W), whatever
    the model predicts (v and x̂_0 are turned into ε with `diffusion`).
    unet: the model (kept as `unet`); diffusion: its schedule (default: DDPM's linear one, ε-prediction).
    Raises UnsupportedModel for a model `check_config` refuses.
    """

    def __init__(self, unet: nn.Module, diffusion: Diffusion | None = None):
        super().__init__()
        check_config(dict(getattr(unet, "config", {}), _class_name=type(unet).__name__))
        self.unet = unet
        self.diffusion = diffusion or Diffusion()
        self.config = dict(unet.config)
        size = self.config["sample_size"]
        self.image_size = int(size[0] if isinstance(size, (list, tuple)) else size)
        self.in_channels = int(self.config["in_channels"])
        self._blocks = self._catalog()
        self._install_hooks()

    # the interface ----------------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, t: torch.Tensor, probe: Probe | None = None) -> torch.Tensor:
        probe = probe if probe is not None else Probe()
        unknown = sorted(skip for skip in set(probe.zero_skips) | set(probe.zero_concat) if skip > self.num_skips)
        if unknown:
            raise ValueError(f"skip{unknown[0]} does not exist: this model's skips are skip1 … skip{self.num_skips}")
        told = torch.full_like(t, probe.timestep) if probe.timestep is not None else t
        token = _PROBE.set(probe)
        try:
            output = self.unet(x, told, return_dict=False)[0]  # (B, 3, H, W): ε, v or x̂_0
        finally:
            _PROBE.reset(token)
        return self.diffusion.eps_from_output(output, x, t, told)

    def blocks(self) -> list[BlockInfo]:
        """Every named block, in the order the forward pass runs them; skips where their ResNet receives them."""
        return list(self._blocks)

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        """The vector every ResNet is told for timesteps t (B,): (B, time_embed_dim)."""
        projected = self.unet.time_proj(t).to(next(self.unet.time_embedding.parameters()).dtype)
        return self.unet.time_embedding(projected)

    @property
    def num_skips(self) -> int:
        return sum(block.kind == "skip" for block in self._blocks)

    @property
    def num_levels(self) -> int:
        return len(self.config["block_out_channels"])

    # building the block list and the hooks ------------------------------------------------------------------------

    def _catalog(self) -> list[BlockInfo]:
        unet, levels = self.unet, self.num_levels
        out = [BlockInfo("time_embedding", "time", module=unet.time_embedding),
               BlockInfo("conv_in", "in", 1, "", unet.conv_in)]
        sources = ["conv_in"]  # what each skip carries, in the order the down path pushes them
        for index, block in enumerate(unet.down_blocks):
            group, level = f"down_blocks.{index}", index + 1
            attentions = list(getattr(block, "attentions", None) or [])
            for layer, resnet in enumerate(block.resnets):
                out.append(BlockInfo(f"{group}.resnets.{layer}", "res", level, "encoder", resnet, group=group))
                sources.append(out[-1].name)
                if layer < len(attentions) and attentions[layer] is not None:
                    out.append(BlockInfo(f"{group}.attentions.{layer}", "attn", level, "encoder", attentions[layer],
                                         group=group))
                    sources[-1] = out[-1].name
            if getattr(block, "resnet_down", None) is not None:  # the skip variants: a ResNet halves the size,
                out.append(BlockInfo(f"{group}.resnet_down", "down", level, "encoder", block.resnet_down, group=group))
                sources.append(group)  # and the block adds its image pyramid (skip_conv) to it: the skip is the sum
            elif block.downsamplers is not None:
                out.append(BlockInfo(f"{group}.downsamplers.0", "down", level, "encoder", block.downsamplers[0],
                                     group=group))
                sources.append(out[-1].name)
        if unet.mid_block is not None:
            mid = unet.mid_block
            out.append(BlockInfo("mid_block.resnets.0", "res", None, "bottleneck", mid.resnets[0], group="mid_block"))
            for layer, (attention, resnet) in enumerate(zip(mid.attentions, mid.resnets[1:])):
                if attention is not None:
                    out.append(BlockInfo(f"mid_block.attentions.{layer}", "attn", None, "bottleneck", attention,
                                         group="mid_block"))
                out.append(BlockInfo(f"mid_block.resnets.{layer + 1}", "res", None, "bottleneck", resnet,
                                     group="mid_block"))
        waiting = list(enumerate(sources, start=1))  # popped from the end by the up blocks, as diffusers does
        for index, block in enumerate(unet.up_blocks):
            group, level = f"up_blocks.{index}", levels - index
            attentions = list(getattr(block, "attentions", None) or [])
            per_layer = len(attentions) == len(block.resnets)
            for layer, resnet in enumerate(block.resnets):
                number, source = waiting.pop()
                name = f"{group}.resnets.{layer}"
                out.append(BlockInfo(f"skip{number}", "skip", level, "decoder", skip=number, source=source,
                                     target=name, group=group))
                out.append(BlockInfo(name, "res", level, "decoder", resnet, group=group))
                if per_layer and attentions[layer] is not None:
                    out.append(BlockInfo(f"{group}.attentions.{layer}", "attn", level, "decoder", attentions[layer],
                                         group=group))
            if not per_layer:  # AttnSkipUpBlock2D: one attention after all its ResNets
                out += [BlockInfo(f"{group}.attentions.{layer}", "attn", level, "decoder", attention, group=group)
                        for layer, attention in enumerate(attentions) if attention is not None]
            if getattr(block, "resnet_up", None) is not None:
                out.append(BlockInfo(f"{group}.resnet_up", "up", level, "decoder", block.resnet_up, group=group))
            elif getattr(block, "upsamplers", None) is not None:
                out.append(BlockInfo(f"{group}.upsamplers.0", "up", level, "decoder", block.upsamplers[0],
                                     group=group))
        out.append(BlockInfo("conv_out", "out", 1, "", unet.conv_out))
        if waiting:
            raise UnsupportedModel(f"a model whose up blocks leave {len(waiting)} skip(s) unused")
        return out

    def _install_hooks(self) -> None:
        channels = self.config["block_out_channels"]
        level_of = {block.name: block.level for block in self._blocks}
        level_of.update({f"down_blocks.{index}": index + 1 for index in range(self.num_levels)})
        for block in self._blocks:
            if block.kind == "skip":
                # the skip's width is its source's level width (conv_in's is the first level's)
                skip_channels = channels[level_of[block.source] - 1]
                resnet = next(other.module for other in self._blocks if other.name == block.target)
                resnet.register_forward_pre_hook(functools.partial(
                    _before_concat_resnet, skip=block.skip, skip_channels=skip_channels))
                continue
            block.module.register_forward_hook(functools.partial(
                _after_block, name=block.name, kind=block.kind, in_mid=block.part == "bottleneck"))
            if type(block.module).__name__ == "ResnetBlock2D" and block.module.time_emb_proj is not None:
                block.module.conv1.register_forward_hook(functools.partial(_after_conv1, name=block.name))
                block.module.time_emb_proj.register_forward_hook(functools.partial(
                    _after_time_projection, name=block.name))
