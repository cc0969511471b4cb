"""Shared fixtures: a tiny U-Net config, a tiny folder of generated PNG images, the app and a headless Chromium.

The app, the browser and its HTTP cache are started once for the whole run (each start costs seconds on a busy 2-core
machine); every test opens its own page, so each has a session of its own. A test module that needs
other app settings defines its own `app_url`, which overrides the one here."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.data import is_held_out
from explorer.unet import UNetConfig
from explorer.views.context import Context
from tests import browser
from tests.server import running_app

# The apps the tests start compute no Lesson warm-up (app.py --warm-lesson): on a busy 2-core machine its thread,
# at the lowest priority, could hold Python's lock while other processes keep it off the cores, and every test's
# requests would wait. tests/test_warm.py tests the warm-up itself; `python -m tests.bench_app lesson` measures it on.
os.environ.setdefault("UNET_EXPLORER_WARM_LESSON", "0")


@pytest.fixture
def tiny_config() -> UNetConfig:
    """16×16 images, 2 levels of 8 and 16 channels, attention at 8×8: a forward pass takes milliseconds."""
    return UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,), dropout=0.0)


def tiny_names(train: int, heldout: int) -> list[str]:
    """Emoji-like file names, the first `train` that the split puts in training and `heldout` it holds out."""
    picked = {False: [], True: []}
    wanted = {False: train, True: heldout}
    code = 0x1f600
    while len(picked[False]) < train or len(picked[True]) < heldout:
        name = f"{code:x}.png"
        side = is_held_out(name)
        if len(picked[side]) < wanted[side]:
            picked[side].append(name)
        code += 1
    return picked[False] + picked[True]


def write_images(folder: Path) -> Path:
    """12 training and 4 held-out 16×16 PNGs in `folder`: a coloured disc on white, like a very small emoji."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:16, 0:16]
    for name in tiny_names(12, 4):
        cy, cx, radius = rng.uniform(5, 11), rng.uniform(5, 11), rng.uniform(3, 6)
        array = np.full((16, 16, 3), 255, np.uint8)
        array[(yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2] = rng.integers(0, 256, 3)
        Image.fromarray(array).save(folder / name)
    return folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return write_images(tmp_path / "images")


@pytest.fixture(scope="session")
def shared_image_folder(tmp_path_factory) -> Path:
    """The same images, made once, for module-scoped fixtures that must not write into it."""
    return write_images(tmp_path_factory.mktemp("shared") / "images")


@pytest.fixture(scope="session")
def ctx() -> Context:
    """The shipped weights, the held-out examples and their metrics, loaded once."""
    return Context.load()


@pytest.fixture(scope="session")
def app_url():
    """The app as shipped (`python app.py` on 127.0.0.1, a free port), one for the whole run."""
    with running_app() as url:
        yield url


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's), one for the whole run."""
    with browser.sync_playwright() as playwright:
        instance = browser.launch(playwright)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def pages(chromium):
    """Where the desktop browser tests open their pages: one context, so its HTTP cache, for the whole run
    (each page is still a session of its own). Tests that need a phone's touch open their own context."""
    context = browser.shared_context(chromium)
    yield context
    context.close()
