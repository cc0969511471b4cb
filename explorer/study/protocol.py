"""The one training protocol every run of the study follows.

Every run trains with `explorer.train` (the loop the shipped models use) and these settings, so two
runs differ only in the variant, the seed and the budget (explorer/study/ladder.py). There is no
selection and no early stopping: each run stops at its budget and its last weights are the ones
evaluated, so the held-out images are only ever measured, never used to choose. The validation loss
during training (the learning curve, on the 5 % validation carve-out of the training split) is
recorded, not acted on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from explorer import weights

STUDY_DIR = weights.DEFAULT_DIR / "study"


@dataclass(frozen=True)
class Protocol:
    resolution: int = 32  # the study's tables; the ladder trains the key pair at 64 too
    batch_size: int = 64
    lr: float = 5e-4
    warmup: int = 50
    schedule: str = "wsd"  # warm-up, constant, then a linear decay over the last 15 % of each budget
    threads: int = 1  # one core per run, two runs at once on two cores

    def to_dict(self) -> dict:
        return asdict(self)
