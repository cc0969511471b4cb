"""The one training protocol every variant of the study follows, and where its files go.

Every run trains with `explorer.train` (the loop the shipped models use) and these flags, so two
runs differ only in the variant and the seed. There is no selection and no early stopping: each run
stops after the same number of images and its last weights are the ones evaluated, so the held-out
images are only ever measured, never used to choose. The held-out ε-MSE during training (the
learning curve) is recorded, not acted on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from explorer import weights

STUDY_DIR = weights.DEFAULT_DIR / "study"
CHECKPOINT_DIR = Path("checkpoints") / "study"


@dataclass(frozen=True)
class Protocol:
    resolution: int = 32
    steps: int = 600
    batch_size: int = 64
    lr: float = 5e-4
    warmup: int = 50
    schedule: str = "cosine"
    eval_every: int = 50  # 12 points on the learning curve
    threads: int = 1  # one core per run, two runs at once on two cores

    @property
    def images_seen(self) -> int:
        return self.steps * self.batch_size

    def to_dict(self) -> dict:
        return asdict(self) | {"images_seen": self.images_seen}

    def budget(self) -> dict:
        """What must be equal between two runs for them to be compared (the training metadata's keys)."""
        return {"steps": self.steps, "images_seen": self.images_seen, "batch_size": self.batch_size,
                "lr": self.lr, "warmup": self.warmup, "schedule": self.schedule}

    def train_args(self, variant: str, seed: int, out: Path, checkpoints: Path, data: Path) -> list[str]:
        """The `explorer.train` command line of one run."""
        return ["--variant", variant, "--name", run_name(variant, seed), "--out", str(out),
                "--checkpoint-dir", str(checkpoints), "--data", str(data), "--image-size", str(self.resolution),
                "--steps", str(self.steps), "--batch-size", str(self.batch_size), "--lr", str(self.lr),
                "--warmup", str(self.warmup), "--schedule", self.schedule, "--ema-decay", "0", "--patience", "0",
                "--eval-every", str(self.eval_every), "--seed", str(seed), "--threads", str(self.threads),
                "--precision", "fp32", "--weights-dtype", "float16", "--checkpoint-minutes", "1"]


def run_name(variant: str, seed: int) -> str:
    """The file name (without suffix) of one trained run: `unet-add-seed1`."""
    return f"{variant}-seed{seed}"
