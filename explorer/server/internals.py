"""The framework internals this app touches, why, and the versions it was tested with.

Public APIs cover most of the app; these places do not have one (yet). Each reaches into a private part of
Gradio or Plotly that may change in any release, so the app checks the installed versions at start-up
(`check`) and refuses to run on a Gradio or Plotly whose minor version it was not tested with, saying what to
do, instead of failing later in a way nobody connects to the upgrade. UNET_EXPLORER_UNTESTED_FRAMEWORK=1
starts it anyway, with a warning (for trying out a new release).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from importlib import metadata

TESTED = {"gradio": "6.31", "plotly": "7.1"}  # major.minor of the versions in requirements.txt
OVERRIDE = "UNET_EXPLORER_UNTESTED_FRAMEWORK"


@dataclass(frozen=True)
class Internal:
    package: str
    what: str  # the private name
    where: str  # the module of ours that touches it
    why: str


INTERNALS = (
    Internal("gradio", "route_utils.GradioUploadFile / GradioMultiPartParser.__init__", "server/limits.py",
             "one file per upload request, and a random part in each upload's folder so identical uploads of two "
             "sessions never share (and delete) one file"),
    Internal("gradio", "processing_utils.save_pil_to_cache", "server/limits.py",
             "output images written atomically, so a reader never sees half a file"),
    Internal("gradio", "Blocks.fns[*] (concurrency_id, fn attributes)", "server/limits.py",
             "each listener's lane: long jobs beside single-step requests (set once, after the app is built)"),
    Internal("gradio", "Blocks._queue (push, queue per concurrency id)", "server/limits.py",
             "the fair long lane and its per-client admission, refused at join with a message"),
    Internal("gradio", "context.LocalContext.request", "server/limits.py, server/zerogpu.py",
             "the client's address and the visitor's ZeroGPU token inside the lane's threads"),
    Internal("gradio", "networking.url_ok", "server/limits.py",
             "a patient start-up check on a busy 2-core machine"),
    Internal("gradio", "state_holder.SessionState.__setitem__", "server/session_state.py",
             "one stored value per component: Gradio 6.31 filed every update under a fresh id and kept them all"),
    Internal("gradio", "state_holder.StateHolder.update", "server/session_state.py",
             "a session dropped for capacity is told so on its next event"),
    Internal("gradio", "components.plot.PlotData", "ui/plots.py",
             "Plotly figure dicts handed to gr.Plot without Plotly's validation (tens of ms per figure)"),
    Internal("plotly", "gd._fullLayout, axis l2p / _offset", "ui/scrub.js",
             "the t marker of the held-out curves moved in the page while t is dragged, with no server call"),
)


class UntestedFramework(RuntimeError):
    """The installed Gradio or Plotly is not the version the internals above were written for."""


def installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check(versions: dict[str, str | None] | None = None, environ=os.environ) -> list[str]:
    """Compare the installed versions with TESTED. Returns the mismatches (empty when all match).

    Raises UntestedFramework naming each mismatch and what to do, unless OVERRIDE is set in `environ`,
    in which case it warns and returns them.
    """
    versions = versions if versions is not None else {package: installed(package) for package in TESTED}
    problems = [f"{package} {versions.get(package) or 'is missing'} (tested: {tested}.x; touched: "
                f"{', '.join(item.what for item in INTERNALS if item.package == package)})"
                for package, tested in TESTED.items()
                if versions.get(package) is None or minor(versions[package]) != tested]
    if not problems:
        return []
    message = ("U-Net Explorer reaches into framework internals that change between releases, and was tested with "
               "other versions: " + "; ".join(problems) + ". Install the versions in requirements.txt, or set "
               f"{OVERRIDE}=1 to start anyway.")
    if environ.get(OVERRIDE) == "1":
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return problems
    raise UntestedFramework(message)
