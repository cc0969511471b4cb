"""Everything a view needs that is loaded once per app: the two models, the schedule, the block specs.

The U-Net's place holds our shipped U-Net, or a diffusers `UNet2DModel` opened with `Context.load(model=...)`
(`python app.py --model PATH_OR_HUB_ID`): then the schedule is the model's own, the shipped naive CNN runs
beside it at the model's size, and the views that measure only the shipped pair (the Lesson, Part by part, the
study) are left out of the page (`shipped_only`).

A `Context` holds no per-user state: the models, the schedule and the block specs are read-only after
`Context.load`, and its `kept` caches (`Kept`, views/memo.py) are the one part that changes, filled with results
every session may share. Per-user state (the image, t, the seed, knock-outs) is passed to each view as
arguments.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from explorer import denoiser
from explorer.analysis.denoise import noisy
from explorer.analysis.receptive_field import theoretical
from explorer.analysis.structure import BlockSpec, describe
from explorer.data import list_images, load_image, to_tensor
from explorer.devices import placed, placed_pair
from explorer.diffusion import Diffusion
from explorer.metrics import Metrics
from explorer.study.results import StudyResults, results
from explorer.study.results import load as load_variant
from explorer.views.memo import Kept
from explorer.weights import DEFAULT_DIR, ModelPair, load_pair, sha256_of

if TYPE_CHECKING:
    from explorer.diffusers_folder import OpenedModel

MAX_SEED = 2**31 - 1
DEFAULT_T = 250  # the timestep the app opens on, and the Lesson's steps use unless a step says otherwise
DEFAULT_SEED = 0
DEFAULT_CONCURRENCY = 2  # requests computed at once: one per core of a free CPU Space


def threads_per_request(concurrency: int = DEFAULT_CONCURRENCY) -> int:
    """Torch threads for each of `concurrency` parallel requests: more threads than cores makes them fight."""
    return max(1, (os.cpu_count() or 1) // max(1, concurrency))


@dataclass
class Context:
    cpu_pair: ModelPair  # read through `pair`: a long job on a GPU gets copies there (explorer/devices.py)
    diffusion: Diffusion
    unet_specs: list[BlockSpec]
    naive_specs: list[BlockSpec]
    examples: list[Path]
    metrics: Metrics | None  # weights/metrics.json (explorer/metrics.py)
    fields: dict[str, object] = field(default_factory=dict)  # theoretical receptive fields by block name
    study: StudyResults | None = None  # weights/study/study.json, None when the study was not run
    cpu_study_models: dict[str, torch.nn.Module] = field(default_factory=dict)  # each variant's first training seed
    kept: Kept = field(default_factory=Kept)  # results many sessions share, computed once (explorer/views/kept.py)
    # A diffusers model in the U-Net's place (explorer/diffusers_folder.py), None for the shipped U-Net
    opened: OpenedModel | None = None

    @classmethod
    def load(cls, weights_dir: Path = DEFAULT_DIR, model: str | Path | None = None) -> Context:
        """The shipped pair from `weights_dir`; with `model` (a diffusers folder or a Hub id, opened by
        `explorer.diffusers_folder.open_diffusers`, the one loading path for both) that model in the U-Net's
        place, with its schedule, beside the shipped naive CNN run at the model's size.

        Raises diffusers_unet.UnsupportedModel (a ValueError) for a model the explorer cannot open, and for one
        whose layers the receptive-field walk has no rule for."""
        pair = load_pair(weights_dir)
        heldout = Path(weights_dir) / "heldout"
        examples = list_images(heldout) if heldout.is_dir() else []
        if model is not None:
            return cls._with_diffusers(pair, examples, model)
        fields = {**theoretical(pair.unet), **theoretical(pair.naive)}
        study_dir = Path(weights_dir) / "study"
        study = results(study_dir / "study.json")
        models = {name: load_variant(name, study.variant(name)["seeds"][0], study_dir)
                  for name in study.variants} if study is not None else {}
        return cls(pair, Diffusion(), describe(pair.unet), describe(pair.naive), examples, pair.metrics(), fields,
                   study, models)

    @classmethod
    def _with_diffusers(cls, pair: ModelPair, examples: list[Path], source: str | Path) -> Context:
        from explorer.diffusers_folder import open_diffusers
        from explorer.diffusers_unet import UnsupportedModel

        opened = open_diffusers(source)
        model, size = opened.denoiser, opened.denoiser.image_size
        meta = {"source": str(source), "parameters": sum(p.numel() for p in model.parameters()),
                **opened.training}
        pair = replace(pair, unet=model, unet_meta=meta)
        try:
            fields = {**theoretical(model), **theoretical(pair.naive, image_size=size)}
        except TypeError as error:  # a layer the walk has no rule for (FIR resampling, transposed convolutions)
            raise UnsupportedModel(f"this model's receptive fields ({error})") from None
        # weights/metrics.json measures the shipped pair; for the shipped diffusers model it has a section of its own,
        # read when it measured these very weights
        shipped = pair.metrics()
        metrics = shipped.diffusers_unet(sha256_of(opened.weights_file)) if shipped is not None else None
        return cls(pair, opened.diffusion, describe(model, size), describe(pair.naive, size), examples, metrics,
                   fields, opened=opened)

    @property
    def shipped_only(self) -> bool:
        """Whether the U-Net's place holds the shipped U-Net: the Lesson, Part by part and the study measure it."""
        return self.opened is None

    @property
    def unet_title(self) -> str:
        """What the page calls the model in the U-Net's place: "U-Net", or the diffusers model's class and name."""
        return "U-Net" if self.opened is None else f"UNet2DModel {self.opened.name}"

    def skip_names(self) -> list[str]:
        """The U-Net's skips, skip1 … skipN (ours: one per level; a diffusers model: one per down-path output)."""
        return [block.name for block in denoiser.skips(self.cpu_pair.unet)]

    @property
    def pair(self) -> ModelPair:
        """The two models where this call computes: the shared CPU pair, or in a long job on a GPU its copies."""
        return placed_pair(self.cpu_pair)

    @property
    def study_models(self) -> dict[str, torch.nn.Module]:
        return {name: placed(model) for name, model in self.cpu_study_models.items()}

    @property
    def image_size(self) -> int:
        return self.pair.image_size

    def spec(self, name: str) -> BlockSpec:
        for spec in self.unet_specs + self.naive_specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def block_names(self) -> list[str]:
        return [spec.name for spec in self.unet_specs + self.naive_specs]

    def model_of(self, name: str):
        """The model a block belongs to."""
        return self.pair.naive if any(spec.name == name for spec in self.naive_specs) else self.pair.unet

    def image(self, source) -> np.ndarray:
        """Any image source → (H, W, 3) uint8 at the model's size (raises data.ImageError)."""
        return np.asarray(load_image(source, self.image_size))

    def x_t(self, image: np.ndarray, t: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, x_t, ε) for the current inputs; x0 (1, 3, H, W), the others too."""
        x0 = to_tensor(image)
        x_t, eps = noisy(self.diffusion, x0, t, seed)
        return x0[None], x_t, eps
