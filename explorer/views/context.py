"""Everything a view needs that is loaded once per app: the two models, the schedule, the block specs.

A `Context` holds no per-user state: the models, the schedule and the block specs are read-only after
`Context.load`, and its `kept` caches (`Kept`, views/memo.py) are the one part that changes, filled with results
every session may share. Per-user state (the image, t, the seed, knock-outs) is passed to each view as
arguments.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

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
from explorer.weights import DEFAULT_DIR, ModelPair, load_pair

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

    @classmethod
    def load(cls, weights_dir: Path = DEFAULT_DIR) -> Context:
        pair = load_pair(weights_dir)
        heldout = Path(weights_dir) / "heldout"
        examples = list_images(heldout) if heldout.is_dir() else []
        fields = {**theoretical(pair.unet), **theoretical(pair.naive)}
        study_dir = Path(weights_dir) / "study"
        study = results(study_dir / "study.json")
        models = {name: load_variant(name, study.variant(name)["seeds"][0], study_dir)
                  for name in study.variants} if study is not None else {}
        return cls(pair, Diffusion(), describe(pair.unet), describe(pair.naive), examples, pair.metrics(), fields,
                   study, models)

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
