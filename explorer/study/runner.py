"""Train every (variant, seed) of the study, `jobs` runs at a time, each with `explorer.train`.

A finished run (its JSON beside its weights says it trained the protocol's steps) is skipped, an
interrupted one resumes from its checkpoint, so the same command continues a study after a stop.
Runs go seed by seed (every variant's seed 0 first), so a study cut short still has each variant.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from explorer import train
from explorer.study.protocol import Protocol, run_name
from explorer.study.variants import VARIANTS


class BudgetError(ValueError):
    """Runs that did not follow the same protocol: they cannot be compared."""


def planned_runs(names: list[str], max_seeds: int | None = None) -> list[tuple[str, int]]:
    """(variant, seed) pairs, every variant's first seed before any second seed (at most max_seeds each)."""
    seeds = {name: min(VARIANTS[name].seeds, max_seeds or VARIANTS[name].seeds) for name in names}
    return [(name, seed) for seed in range(max(seeds.values())) for name in names if seed < seeds[name]]


def finished(out: Path, variant: str, seed: int, protocol: Protocol) -> bool:
    meta = out / f"{run_name(variant, seed)}.json"
    if not meta.exists():
        return False
    training = json.loads(meta.read_text()).get("training", {})
    return training.get("steps") == protocol.steps and not training.get("stopped_early")


def check_budget(metadata: dict[str, dict], protocol: Protocol) -> None:
    """Refuse runs whose training differs from the protocol (steps, images, batch, learning rate …).

    metadata: run name → its weights JSON. Raises BudgetError naming the first run that differs.
    """
    expected = protocol.budget()
    for name, meta in metadata.items():
        training = meta.get("training", {})
        differing = {key: training.get(key) for key, value in expected.items() if training.get(key) != value}
        if training.get("image_size") != protocol.resolution:
            differing["image_size"] = training.get("image_size")
        if differing:
            wanted = {key: protocol.resolution if key == "image_size" else expected[key] for key in differing}
            raise BudgetError(f"{name} was not trained with the study's budget: {differing} instead of {wanted}; "
                              "retrain it with `python -m explorer.study train`")


def train_all(names: list[str], protocol: Protocol, out: Path, checkpoints: Path, data: Path, jobs: int,
              max_seeds: int | None = None) -> None:
    """Train the runs of `names` that are not finished, `jobs` subprocesses at a time (jobs=1: in this process)."""
    runs = planned_runs(names, max_seeds)
    todo = [(name, seed) for name, seed in runs if not finished(out, name, seed, protocol)]
    print(f"{len(todo)} runs to train ({len(runs) - len(todo)} already finished)", flush=True)
    if jobs == 1:
        for variant, seed in todo:
            args = protocol.train_args(variant, seed, out, checkpoints, data)
            resume = ["--resume"] if (checkpoints / f"{run_name(variant, seed)}.pt").exists() else []
            train.main(args + resume)
        return
    environment = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS=str(protocol.threads))
    running: list[tuple[subprocess.Popen, str, float]] = []
    failed = []
    while todo or running:
        while todo and len(running) < jobs:
            variant, seed = todo.pop(0)
            args = protocol.train_args(variant, seed, out, checkpoints, data)
            if (checkpoints / f"{run_name(variant, seed)}.pt").exists():
                args.append("--resume")
            log = open(checkpoints / f"{run_name(variant, seed)}.log", "a")
            process = subprocess.Popen([sys.executable, "-m", "explorer.train", *args], stdout=log,
                                       stderr=subprocess.STDOUT, env=environment)
            running.append((process, run_name(variant, seed), time.time()))
            print(f"started {run_name(variant, seed)}", flush=True)
        time.sleep(1.0)
        for entry in list(running):
            process, name, started = entry
            if process.poll() is not None:
                running.remove(entry)
                print(f"{'finished' if process.returncode == 0 else 'FAILED'} {name} in {time.time() - started:.0f} s",
                      flush=True)
                if process.returncode:
                    failed.append(name)
    if failed:
        raise SystemExit(f"{len(failed)} runs failed: {', '.join(failed)} (their logs are in {checkpoints})")
