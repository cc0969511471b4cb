"""The study's files, read: trained variants (`load`), its held-out images, and study.json (`results`)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer import weights
from explorer.data import ImageFolder, is_held_out
from explorer.study.protocol import STUDY_DIR, Protocol, run_name

HELDOUT_DIR = weights.DEFAULT_DIR / "heldout"


def load(name: str, seed: int = 0, directory: Path = STUDY_DIR) -> nn.Module:
    """Variant `name` as trained with `seed`, in eval mode: called as net(x_t (B, 3, R, R), t (B,) 0-based)."""
    model, _ = weights.load(directory, run_name(name, seed))
    return model


def heldout_images(n: int | None = None, resolution: int = Protocol.resolution,
                   folder: Path = HELDOUT_DIR) -> torch.Tensor:
    """The first n clean held-out images (sorted by file name) at the study's resolution: (n, 3, R, R) in [-1, 1].

    Clean: only images of the held-out split (near copies of training images are excluded by
    `is_held_out`), resized by the same `load_image` that prepared the training images.
    """
    return _heldout(resolution, str(folder))[:n]


@functools.lru_cache(maxsize=4)
def _heldout(resolution: int, folder: str) -> torch.Tensor:
    data = ImageFolder(Path(folder), "heldout", resolution)
    assert all(is_held_out(path.name) for path in data.paths)
    return data.tensors()


@dataclass(frozen=True)
class StudyResults:
    """study.json with named accessors: `variants`, per-t means over seeds, the verdicts' inputs."""

    data: dict

    @property
    def resolution(self) -> int:
        return self.data["resolution"]

    @property
    def timesteps(self) -> list[int]:
        return self.data["timesteps"]

    @property
    def variants(self) -> list[str]:
        return list(self.data["variants"])

    def variant(self, name: str) -> dict:
        return self.data["variants"][name]

    def per_seed(self, name: str, metric: str, t: int) -> list[float]:
        """metric ("eps_mse" or "psnr") of each seed of `name` at t, a mean over the held-out images."""
        return self.variant(name)[metric][str(t)]

    def mean(self, name: str, metric: str, t: int) -> float:
        values = self.per_seed(name, metric, t)
        return sum(values) / len(values)

    def interval(self, name: str, metric: str, t: int) -> tuple[float, float]:
        """95 % interval over images of the seed-averaged per-image values."""
        low, high = self.variant(name)[f"{metric}_ci95"][str(t)]
        return low, high

    def reference(self, name: str, metric: str, t: int) -> float | None:
        values = self.data["references"].get(name, {}).get(metric, {})
        return values.get(str(t))


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime: float) -> StudyResults:
    return StudyResults(json.loads(Path(path).read_text()))


def results(path: Path = STUDY_DIR / "study.json") -> StudyResults | None:
    """The study's numbers, or None when study.json has not been written (`python -m explorer.study evaluate`)."""
    path = Path(path)
    if not path.exists():
        return None
    return _read(str(path), path.stat().st_mtime)
