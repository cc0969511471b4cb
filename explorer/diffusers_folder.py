"""Opening a diffusers model: a local folder or a Hugging Face Hub id → a `DiffusersUNet` and its schedule.

`open_diffusers(source)` is what `python app.py --model PATH_OR_HUB_ID` calls. It reads

- a pipeline folder (`model_index.json` naming a `UNet2DModel` unet, with `unet/` and `scheduler/`), as
  `DDPMPipeline.save_pretrained` writes it (google/ddpm-cifar10-32, google/ddpm-celebahq-256, weights/diffusers-unet);
- a bare `UNet2DModel` folder (`config.json` + weights), with `scheduler_config.json` beside it or a `scheduler/`
  folder beside or above it; without either, the DDPM default schedule is assumed and said so in `notes`;
- a Hub id (owner/name), downloaded once with huggingface_hub into its usual cache (only the UNet's and the
  scheduler's files), then read as a folder. Offline, an id already in the cache opens from there.

diffusers is imported here only when a model is opened, so importing the explorer does not pay for it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer.diffusers_unet import DiffusersUNet, UnsupportedModel, check_config
from explorer.diffusion import Diffusion

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
# What a download fetches: the pipeline's index, the UNet, the scheduler; never a VAE or a text encoder.
CONFIG_FILES = ["model_index.json", "config.json", "scheduler_config.json", "unet/config.json",
                "scheduler/scheduler_config.json"]
SAFETENSORS = ["diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.safetensors"]
PICKLED = ["diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.bin"]
WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass
class OpenedModel:
    """A diffusers model ready for the views: the denoiser, the schedule it was trained with, where it came from.

    notes: what the views should say about it (a prediction type turned into ε, a schedule assumed).
    training: the folder's training.json (explorer/train_diffusers.py writes it: steps, data, curve), {} without.
    weights_file: the UNet's weights as read (its sha256 names what an evaluation measured).
    """

    denoiser: DiffusersUNet
    diffusion: Diffusion
    source: str
    folder: Path
    scheduler_config: dict | None
    notes: list[str] = field(default_factory=list)
    training: dict = field(default_factory=dict)
    weights_file: Path | None = None

    @property
    def name(self) -> str:
        return self.source.rstrip("/").split("/")[-1]


def download(repo_id: str) -> Path:
    """The local snapshot of a Hub model's UNet and scheduler files (downloaded the first time; then the cache)."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(repo_id, allow_patterns=CONFIG_FILES + SAFETENSORS))
    if not any((folder / name).exists() for name in SAFETENSORS):  # older repositories have only .bin weights
        folder = Path(snapshot_download(repo_id, allow_patterns=CONFIG_FILES + PICKLED))
    return folder


def resolve(source: str | Path) -> Path:
    """A local folder for `source`: the folder itself, or a Hub id's downloaded snapshot."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{source} is a file: give the folder that holds the model (config.json or "
                             "model_index.json)")
        return path
    if HUB_ID.match(str(source)):
        return download(str(source))
    raise ValueError(f"{source} is neither a folder nor a Hugging Face Hub id (owner/name)")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} cannot be read as JSON ({error})") from None


def unet_and_scheduler_folders(folder: Path) -> tuple[Path, Path | None]:
    """Where the UNet's config and weights are, and the scheduler's config (None: none found)."""
    index_file = folder / "model_index.json"
    if index_file.exists():
        index = _read_json(index_file)
        unet_entry = index.get("unet")
        if unet_entry is None:
            latent = " (a latent model: it has a VAE)" if "vqvae" in index or "vae" in index else ""
            raise UnsupportedModel(f"the pipeline {index.get('_class_name', folder.name)} without a unet{latent}")
        if unet_entry[-1] != "UNet2DModel":
            raise UnsupportedModel(f"the pipeline {index.get('_class_name', folder.name)}'s {unet_entry[-1]}")
        if "vqvae" in index or "vae" in index:
            raise UnsupportedModel(f"the latent pipeline {index.get('_class_name', folder.name)} (it needs a VAE)")
        scheduler = folder / "scheduler"
        return folder / "unet", scheduler if (scheduler / "scheduler_config.json").exists() else None
    if not (folder / "config.json").exists():
        raise ValueError(f"{folder} holds neither model_index.json (a pipeline) nor config.json (a UNet2DModel)")
    for candidate in (folder, folder / "scheduler", folder.parent / "scheduler"):
        if (candidate / "scheduler_config.json").exists():
            return folder, candidate
    return folder, None


def open_diffusers(source: str | Path) -> OpenedModel:
    """Open a diffusers UNet2DModel with its schedule, from a local folder or a Hub id (see the module's text).

    Raises UnsupportedModel (a ValueError) for what the explorer cannot explore, ValueError for a folder that
    holds no model. The model is returned in eval mode, float32, gradients off: read-only, safe to share.
    """
    folder = resolve(source)
    unet_folder, scheduler_folder = unet_and_scheduler_folders(folder)
    config = _read_json(unet_folder / "config.json")
    check_config(config)  # before the weights are read: a refusal costs no time
    weights_file = next((unet_folder / name for name in WEIGHTS if (unet_folder / name).exists()), None)
    if weights_file is None:
        raise ValueError(f"{unet_folder} has a config.json but no weights ({' or '.join(WEIGHTS)})")
    notes = []
    if scheduler_folder is None:
        scheduler_config = None
        diffusion = Diffusion()
        notes.append("no scheduler config came with this model: the DDPM schedule is assumed (linear β from 1e-4 "
                     "to 0.02 over 1000 steps, ε-prediction)")
    else:
        scheduler_config = _read_json(scheduler_folder / "scheduler_config.json")
        try:
            diffusion = Diffusion.from_config(scheduler_config)
        except ValueError as error:
            raise UnsupportedModel(f"its schedule ({error})") from None
    if diffusion.prediction_type != "epsilon":
        what = "the velocity v" if diffusion.prediction_type == "v_prediction" else "the clean image x̂₀"
        notes.append(f"this model predicts {what}; the views show the noise ε̂ it implies")
    from diffusers import UNet2DModel

    # low_cpu_mem_usage=False: the other path needs the accelerate package, for no gain at these sizes
    unet = UNet2DModel.from_pretrained(unet_folder, torch_dtype=torch.float32, low_cpu_mem_usage=False)
    denoiser = DiffusersUNet(unet, diffusion).eval().requires_grad_(False)
    # channels_last: oneDNN's convolutions run about 10 % faster this way on CPU (as weights.load does for ours)
    denoiser.to(memory_format=torch.channels_last)
    record = folder / "training.json"
    training = _read_json(record) if record.exists() else {}
    return OpenedModel(denoiser, diffusion, str(source), folder, scheduler_config, notes, training, weights_file)
