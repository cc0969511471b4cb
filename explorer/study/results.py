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
from explorer.study.ladder import run_name as ladder_run_name
from explorer.study.protocol import STUDY_DIR, Protocol

HELDOUT_DIR = weights.DEFAULT_DIR / "heldout"


def load(name: str, seed: int = 0, directory: Path = STUDY_DIR, steps: int | None = None,
         resolution: int = Protocol.resolution) -> nn.Module:
    """Variant `name` as trained with `seed` for `steps` steps at `resolution`, in eval mode: called as
    net(x_t (B, 3, R, R), t (B,) 0-based). steps None: the study's common budget (study.json's "budget")."""
    if steps is None:
        study = results(Path(directory) / "study.json")
        if study is None:
            raise FileNotFoundError(f"no study.json in {directory}: name the budget (steps=…) or evaluate the study")
        steps = study.budget
    model, _ = weights.load(directory, ladder_run_name(name, resolution, seed, steps))
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

    # --- the ladder of budgets (study.json's "runs") ---------------------------------------------------------
    @property
    def budget(self) -> int:
        """The budget (steps of 64 images) of the `variants` section and its findings: the largest that every
        key variant has reached with all its seeds."""
        return self.data["budget"]

    @property
    def runs(self) -> list[dict]:
        return self.data.get("runs", [])

    def runs_of(self, name: str, resolution: int | None = None, schedule: str = "wsd") -> list[dict]:
        resolution = resolution or self.resolution
        return [run for run in self.runs if run["variant"] == name and run["resolution"] == resolution
                and run.get("schedule", "wsd") == schedule]

    def budgets(self, name: str, resolution: int | None = None) -> list[int]:
        """The steps every trained budget of `name` ran, smallest first."""
        return sorted({run["steps"] for run in self.runs_of(name, resolution)})

    def at(self, name: str, steps: int, measure: str = "objective", resolution: int | None = None,
           schedule: str = "wsd") -> list[float]:
        """`measure` ("objective", or a t as a string or int) of each seed of `name` at `steps`, seed order."""
        runs = sorted((run for run in self.runs_of(name, resolution, schedule) if run["steps"] == steps),
                      key=lambda run: run["seed"])
        return [measure_of(run, measure) for run in runs]

    def compute(self, name: str, steps: int, resolution: int | None = None) -> int:
        """Training multiply-adds of one run of `name` at `steps` (forward and backward: 3 × per image × images)."""
        run = next(run for run in self.runs_of(name, resolution) if run["steps"] == steps)
        return run["training_macs"]

    def no_noise(self, measure: str = "objective", resolution: int | None = None) -> float:
        """The reference that predicts no noise, on the same images and noise."""
        resolution = resolution or self.resolution
        reference = self.data["references"]["no_noise_by_resolution"][str(resolution)]
        return measure_of(reference, measure)


def measure_of(record: dict, measure) -> float:
    """A run's (or a reference's) value of `measure`: "objective" (ε-MSE averaged over t uniform on the whole
    schedule) or a t of the table (ε-MSE at that t)."""
    if measure == "objective":
        return record["objective"]
    return record["eps_mse"][str(measure)]


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime: float) -> StudyResults:
    return StudyResults(json.loads(Path(path).read_text()))


def results(path: Path = STUDY_DIR / "study.json") -> StudyResults | None:
    """The study's numbers, or None when study.json has not been written (`python -m explorer.study evaluate`)."""
    path = Path(path)
    if not path.exists():
        return None
    return _read(str(path), path.stat().st_mtime)
