"""Where the models compute for one call: the CPU (always, unless told otherwise) or a GPU for a long job.

The shared models stay on the CPU, read-only: single-step requests use them as they are. A long job that runs on a
GPU (explorer/server/zerogpu.py) sets a `Placement` for its own call with `computing_on(...)`; `Context.pair` and
`Context.study_models` then hand it `OnDevice` copies, made once per model and placement, that take CPU tensors,
compute on the device and give CPU tensors back. Everything around the networks (noise from seeded CPU
generators, the schedule, rendering) stays on the CPU, so a GPU changes only the networks' arithmetic.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import platform
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class Placement:
    """The device a long job's networks compute on. `Placement("cpu")` gives CPU copies: the tests' stand-in for
    a GPU (no GPU there), which shows that a job computes on the copies and never on the shared models."""

    device: str = "cuda"


PLACEMENT: contextvars.ContextVar[Placement | None] = contextvars.ContextVar("explorer_placement", default=None)


@contextlib.contextmanager
def computing_on(placement: Placement | None):
    """Models reached through a `Context` in this call (this thread's context) compute on `placement`."""
    token = PLACEMENT.set(placement)
    try:
        yield
    finally:
        PLACEMENT.reset(token)


CPU = torch.device("cpu")


def _move(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_move(item, device) for item in value)
    if isinstance(value, dict):
        return {key: _move(item, device) for key, item in value.items()}
    return value


# The Probe's recordings, filled on the device by the copy's forward: brought back with the output.
PROBE_RECORDS = ("outputs", "attention_weights", "time_vectors", "time_features")


class OnDevice:
    """A model copy on another device that reads and returns CPU tensors (autograd crosses the move).

    Attributes (`config`, `blocks()`, `named_parameters()` …) are the copy's; `eval`, `requires_grad_` and
    `copy.deepcopy` keep the wrapper, so code that makes a private gradient copy keeps computing on the device.
    """

    def __init__(self, module: nn.Module, placement: Placement):
        self.module = module
        self.placement = placement

    def __call__(self, *args, **kwargs):
        device = torch.device(self.placement.device)
        probe = kwargs.get("probe")
        output = self.module(*_move(args, device), **{key: value if key == "probe" else _move(value, device)
                                                      for key, value in kwargs.items()})
        if probe is not None:  # recorded on the device, read on the CPU
            for name in PROBE_RECORDS:
                records = getattr(probe, name, None)
                if records:
                    records.update(_move(records, CPU))
        return _move(output, CPU)

    @property
    def __class__(self):  # isinstance(copy, UNet) holds as for the model (analysis checks what it measures)
        return type(self.module)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("module", "placement"):  # half-built during copy.deepcopy
            raise AttributeError(name)
        return getattr(self.module, name)

    def eval(self) -> OnDevice:
        self.module.eval()
        return self

    def requires_grad_(self, flag: bool = True) -> OnDevice:
        self.module.requires_grad_(flag)
        return self


_copies: dict[tuple[int, Placement], tuple[nn.Module, OnDevice]] = {}  # keeps the CPU model alive with its copy
_lock = threading.Lock()


def placed(model: nn.Module, placement: Placement | None = None):
    """`model` itself on the CPU; else its copy on `placement` (default: this call's), made once."""
    placement = placement or PLACEMENT.get()
    if placement is None:
        return model
    key = (id(model), placement)
    with _lock:
        entry = _copies.get(key)
        if entry is None:
            module = copy.deepcopy(model).to(placement.device)
            entry = _copies[key] = (model, OnDevice(module, placement))
        return entry[1]


def placed_pair(pair):
    """A `weights.ModelPair` with both models `placed` (the pair itself on the CPU)."""
    if PLACEMENT.get() is None:
        return pair
    return replace(pair, unet=placed(pair.unet), naive=placed(pair.naive))


def cpu_name() -> str:
    """The CPU's model name, as the benchmark and the study report it (torch and platform say only "cpu")."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
