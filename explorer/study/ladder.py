"""The study's budgets: one constant-rate run per (variant, resolution, seed), a decay branch at each rung.

Warm-up, stable, decay (wsd): every budget B of the ladder is a whole wsd run of B steps, but the
runs of one (variant, resolution, seed) share their constant-rate part. The trunk trains at constant
rate; at decay_start(B) (85 % of B) its checkpoint is copied, and a branch from that copy decays the
rate linearly to 0 over the last 15 % of B. So a ladder up to B costs about 1.05 B steps, not
B + B/4 + B/16 …, and a later session extends the trunk to the next rung instead of starting over.

    chain "unet-r32-seed0":  trunk 0 ──510──────2040──────────8160 ──► (constant rate)
                                        └ 600      └ 2400         └ 9600  (branches: wsd runs)

Files: the trunk's resumable checkpoint and its copies at each branch point live in the checkpoint
folder (outside the working tree: a fresh checkout keeps them); finished branches are written as
weights (`unet-r32-seed0-s2400.safetensors` + JSON) into the output folder.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from explorer.study.protocol import Protocol
from explorer.study.variants import VARIANTS

LADDER = (600, 2400, 9600, 38400)  # optimiser steps of 64 images; ×4 apart
DECAY_FRACTION = 0.15


def decay_start(steps: int) -> int:
    """Where budget `steps` leaves the trunk: the first step of its decay (600 → 510)."""
    return steps - round(DECAY_FRACTION * steps)


@dataclass(frozen=True)
class Chain:
    """One (variant, resolution, seed): its trunk and its branches up to budget `top`."""

    variant: str
    resolution: int
    seed: int
    top: int
    ladder: tuple[int, ...] = LADDER

    @property
    def name(self) -> str:
        return f"{self.variant}-r{self.resolution}-seed{self.seed}"

    @property
    def rungs(self) -> list[int]:
        return [steps for steps in self.ladder if steps <= self.top]

    def run_name(self, steps: int) -> str:
        """The weights' file name of the branch of `steps` steps: `unet-r32-seed0-s2400`."""
        return f"{self.name}-s{steps}"


def finished(folder: Path, name: str, steps: int) -> bool:
    """Whether run `name` in `folder` has its weights and trained all its `steps`."""
    meta, weights_file = folder / f"{name}.json", folder / f"{name}.safetensors"
    if not (meta.exists() and weights_file.exists()):
        return False
    try:
        return json.loads(meta.read_text())["training"]["steps"] == steps
    except (ValueError, KeyError):
        return False


def run_name(variant: str, resolution: int, seed: int, steps: int) -> str:
    return Chain(variant, resolution, seed, steps).run_name(steps)


# What the ladder trains, in the order it matters. The lesson's key comparison (the five-layer CNN told t
# against the U-Net) goes furthest; every variant gets the first rungs; 64×64 (the shipped models'
# resolution) gets the key pair. (variant, resolution, seeds, top budget.)
PLAN: tuple[tuple[str, int, int, int], ...] = (
    ("naive-t", 32, 2, 38400), ("unet", 32, 2, 38400),
    ("naive", 32, 2, 2400), ("deep-residual", 32, 2, 2400), ("dilated", 32, 2, 2400),
    ("unet-add", 32, 2, 2400), ("unet-notime", 32, 2, 2400),
    ("unet-noskip", 32, 2, 2400), ("unet-noattn", 32, 2, 2400), ("deep-plain", 32, 2, 600),
    ("naive-t", 64, 1, 2400), ("unet", 64, 1, 2400),
)
# Variants whose results the study's tables compare: each commit holds all of them at one common budget.
KEY_PAIR = (("naive-t", 32), ("unet", 32))
KEY_VARIANTS = ("naive", "naive-t", "deep-residual", "dilated", "unet-add", "unet-notime", "unet")


def chains(plan=PLAN, variants: list[str] | None = None, max_top: int | None = None,
           rungs: tuple[int, ...] = LADDER) -> list[Chain]:
    """The planned chains (optionally only `variants`, no rung above `max_top`, another ladder `rungs`)."""
    out = []
    for variant, resolution, seeds, top in plan:
        if variants is not None and variant not in variants:
            continue
        top = min(top, max_top) if max_top else top
        if rungs != LADDER:  # a trial ladder: the plan's tops are counted in rungs of the real one
            top = rungs[min(len(rungs), len([s for s in LADDER if s <= top])) - 1]
        out.extend(Chain(variant, resolution, seed, top, rungs) for seed in range(seeds))
    return out


# The check that a branch is a fair stand-in for a whole run: the same budget trained with one cosine decay
# from the start (the schedule of the first study), for two variants, compared with the branches' seed spread.
COSINE_CHECKS: tuple[tuple[str, int, int, int], ...] = (("naive-t", 32, 0, 600), ("unet", 32, 0, 600),
                                                        ("naive-t", 32, 0, 2400), ("unet", 32, 0, 2400))


@dataclass(frozen=True)
class Unit:
    """One piece of work: extend `chain`'s trunk to decay_start(steps), then train the branch of `steps`
    (cosine: instead, one whole run of `steps` with a cosine decay, for the check above)."""

    chain: Chain
    steps: int
    cosine: bool = False

    @property
    def name(self) -> str:
        return self.chain.run_name(self.steps) + ("-cosine" if self.cosine else "")

    def priority(self) -> tuple:
        """Cheaper first, where the lesson's key pair (the CNN told t and the U-Net, at 32×32) counts at a quarter
        of its cost: every run at one rung comes before the next rung, and the key pair one rung ahead; seed 0
        before seed 1; then the plan's order."""
        places = [entry[:2] for entry in PLAN]
        where = (self.chain.variant, self.chain.resolution)
        order = places.index(where) if where in places else len(places)
        cost = self.steps * (self.chain.resolution // 32) ** 2 / (4 if where in KEY_PAIR else 1)
        return (cost, self.cosine, self.chain.seed, order)


class Ladder:
    """Trains the units of `chains` that are not done, `jobs` at a time, resuming whatever was interrupted."""

    def __init__(self, chains_: list[Chain], protocol: Protocol, out: Path, checkpoints: Path, data: Path,
                 jobs: int = 2, python: str = sys.executable):
        self.chains, self.protocol, self.out, self.checkpoints, self.data = chains_, protocol, out, checkpoints, data
        self.jobs, self.python = jobs, python
        self.cosine_checks = COSINE_CHECKS
        self.lock = threading.Lock()
        self.busy: set[Chain] = set()
        self.failed: list[str] = []

    # --- state on disk -------------------------------------------------------------------------------------
    def done(self, unit: Unit) -> bool:
        """Trained to its budget (a run exports its weights at every checkpoint too, so the files alone say little)."""
        return finished(self.out, unit.name, unit.steps)

    def trunk_checkpoint(self, chain: Chain) -> Path:
        return self.checkpoints / f"{chain.name}-trunk.pt"

    def branch_point(self, chain: Chain, steps: int) -> Path:
        return self.checkpoints / f"{chain.name}-trunk@{decay_start(steps)}.pt"

    def units(self) -> list[Unit]:
        units = [Unit(chain, steps) for chain in self.chains for steps in chain.rungs]
        tops = {(c.variant, c.resolution, c.seed): c.top for c in self.chains}
        units += [Unit(Chain(v, r, seed, steps), steps, cosine=True) for v, r, seed, steps in self.cosine_checks
                  if steps <= tops.get((v, r, seed), 0)]
        return units

    def todo(self) -> list[Unit]:
        return sorted((unit for unit in self.units() if not self.done(unit)), key=Unit.priority)

    # --- commands ------------------------------------------------------------------------------------------
    def _common(self, chain: Chain) -> list[str]:
        p = self.protocol
        return ["--variant", chain.variant, "--data", str(self.data), "--image-size", str(chain.resolution),
                "--batch-size", str(p.batch_size), "--lr", str(p.lr), "--warmup", str(p.warmup),
                "--ema-decay", "0", "--patience", "0", "--seed", str(chain.seed), "--threads", str(p.threads),
                "--precision", "fp32", "--weights-dtype", "float16", "--checkpoint-minutes", "2",
                "--checkpoint-dir", str(self.checkpoints)]

    def trunk_args(self, chain: Chain, steps: int) -> list[str]:
        """Extend the trunk (constant rate after warm-up) to decay_start(steps)."""
        resume = ["--resume"] if self.trunk_checkpoint(chain).exists() else []
        return ["-m", "explorer.train", *self._common(chain), "--name", f"{chain.name}-trunk",
                "--out", str(self.checkpoints / "trunks"), "--schedule", "constant",
                "--steps", str(decay_start(steps)), "--eval-every", str(max(1, chain.ladder[0] // 6)), *resume]

    def branch_args(self, chain: Chain, steps: int) -> list[str]:
        """The wsd run of `steps` steps, started from the trunk's copy at its branch point."""
        name = chain.run_name(steps)
        start = ["--resume"] if (self.checkpoints / f"{name}.pt").exists() else \
            ["--init-from", str(self.branch_point(chain, steps))]
        return ["-m", "explorer.train", *self._common(chain), "--name", name, "--out", str(self.out),
                "--schedule", "wsd", "--decay-fraction", str(DECAY_FRACTION), "--steps", str(steps),
                "--eval-every", str(max(1, (steps - decay_start(steps)) // 3)), *start]

    def _run(self, args: list[str], log: Path) -> bool:
        with open(log, "a") as handle:
            handle.write(f"\n$ python {' '.join(args)}\n")
            handle.flush()
            environment = {"TQDM_DISABLE": "1", "OMP_NUM_THREADS": str(self.protocol.threads)}
            process = subprocess.run([self.python, *args], stdout=handle, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **environment))
        return process.returncode == 0

    def cosine_args(self, chain: Chain, steps: int) -> list[str]:
        name = chain.run_name(steps) + "-cosine"
        resume = ["--resume"] if (self.checkpoints / f"{name}.pt").exists() else []
        return ["-m", "explorer.train", *self._common(chain), "--name", name, "--out", str(self.out),
                "--schedule", "cosine", "--steps", str(steps), "--eval-every", str(max(1, steps // 12)), *resume]

    def train_unit(self, unit: Unit) -> bool:
        chain, steps = unit.chain, unit.steps
        log = self.checkpoints / f"{chain.name}.log"
        if unit.cosine:
            return self._run(self.cosine_args(chain, steps), log)
        point = self.branch_point(chain, steps)
        if not point.exists():
            if not self._run(self.trunk_args(chain, steps), log):
                return False
            shutil.copyfile(self.trunk_checkpoint(chain), str(point) + ".tmp")
            Path(str(point) + ".tmp").replace(point)
        return self._run(self.branch_args(chain, steps), log)

    # --- scheduling ----------------------------------------------------------------------------------------
    def _next(self) -> Unit | None:
        with self.lock:
            for unit in self.todo():
                if unit.chain.name in self.failed or any(unit.chain.name == busy.name for busy in self.busy):
                    continue
                self.busy.add(unit.chain)
                return unit
            return None

    def _worker(self) -> None:
        while (unit := self._next()) is not None:
            started = time.time()
            print(f"{time.strftime('%H:%M:%S')} start {unit.name}", flush=True)
            ok = self.train_unit(unit)
            print(f"{time.strftime('%H:%M:%S')} {'done' if ok else 'FAILED'} {unit.name} "
                  f"in {time.time() - started:.0f} s", flush=True)
            with self.lock:
                self.busy.discard(unit.chain)
                if not ok:
                    self.failed.append(unit.chain.name)

    def train(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        print(f"{len(self.todo())} runs to train into {self.out}; checkpoints in {self.checkpoints}", flush=True)
        workers = [threading.Thread(target=self._worker) for _ in range(self.jobs)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if self.failed:
            raise SystemExit(f"failed: {', '.join(self.failed)} (logs in {self.checkpoints})")

    def status(self) -> str:
        """What is done and what is left, one line per chain."""
        lines = []
        for chain in self.chains:
            marks = " ".join(f"{steps}{'✓' if self.done(Unit(chain, steps)) else '·'}" for steps in chain.rungs)
            lines.append(f"{chain.name:28s} {marks}")
        units, left = self.units(), self.todo()
        checks = [unit for unit in units if unit.cosine]
        lines.append("cosine checks: " + " ".join(f"{u.name}{'✓' if self.done(u) else '·'}" for u in checks))
        lines.append(f"{len(units) - len(left)} runs done, {len(left)} left")
        return "\n".join(lines)


__all__ = ["Chain", "KEY_VARIANTS", "LADDER", "Ladder", "PLAN", "Unit", "chains", "decay_start", "run_name",
           "VARIANTS"]
