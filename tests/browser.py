"""Find and launch a headless Chromium for the Playwright tests.

Debian's /usr/bin/chromium first (`apt-get install chromium`), else Playwright's own build
(`python -m playwright install chromium`). Without either the browser tests fail, never skip:
a missing browser must not look like a passing suite.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp/shots")  # screenshots the browser tests keep for a look (failures, the page after load)
HOW_TO_INSTALL = ("No Chromium for the browser tests. Install one: `apt-get update && apt-get install -y chromium` "
                  "(Debian/Ubuntu, gives /usr/bin/chromium) or `python -m playwright install chromium` "
                  "(Playwright's own build).")


def executable(playwright) -> str:
    """The path of a Chromium to launch; fails the test with what to install when there is none."""
    for path in SYSTEM_CHROMIUMS:
        if os.access(path, os.X_OK):
            return path
    try:
        bundled = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - Playwright raises its own error types when no browser is installed
        bundled = ""
    if bundled and Path(bundled).is_file():
        return bundled
    pytest.fail(HOW_TO_INSTALL, pytrace=False)


def launch(playwright):
    """A headless Chromium browser (close it when done)."""
    return playwright.chromium.launch(executable_path=executable(playwright), headless=True, args=LAUNCH_ARGS)


def sync_playwright():
    """playwright.sync_api.sync_playwright, or a failure saying what to install."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        pytest.fail("Playwright is not installed: `python -m pip install -r requirements-test.txt`", pytrace=False)
    return start()


def shared_context(chromium):
    """A browser context for many pages (close it when done). Each page still has a session of its own (Gradio
    makes one per page load); what the pages share is the HTTP cache, so the app's scripts are fetched and
    compiled once instead of once per page (~0.5 s of a 2.5 s load on a 2-core machine)."""
    return chromium.new_context()


def open_page(target, url: str, viewport: dict, timeout_ms: float, ready: str | None = None,
              **context_options):
    """A page (so a session of its own) at `viewport`, loaded from `url`.

    `target`: a browser (the page gets a context of its own, with `context_options`: for a phone's touch
    and mobile layout) or a context from `shared_context` (the page opens in it).
    Returns (closable, page, errors): close `closable` when done (the new context, or the page in a shared
    one); `errors` collects the page's JavaScript errors, for the caller to check. `ready`: a selector to
    wait for (attached) after loading.
    """
    if hasattr(target, "new_context"):
        closable = target.new_context(viewport=viewport, **context_options)
        page = closable.new_page()
    else:
        assert not context_options, f"a shared context cannot take {sorted(context_options)}: pass the browser"
        page = closable = target.new_page()
        page.set_viewport_size(viewport)
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    if ready:
        page.wait_for_selector(ready, state="attached")
    return closable, page, errors
