"""The requests the page sends for a block click, counted in real Chromium.

A class on one Space shares two compute slots among every learner's queued requests, so each queued request a
click sets off waits behind the others' (issue 21). These tests count what the page sends, so that a follower
nobody needs cannot come back unnoticed: a block click queues the click alone (the Architecture tab shows its own
choice; the Receptive-field list follows it in the page) and writes the address once. No timing is asserted.
"""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests import browser
from tests.test_browser import TIMEOUT_MS, VIEWPORT, block, open_architecture, open_tab, wait_for_image, wait_for_panel

QUIET_S = 2.0  # after the page shows the result: time for any follower still on its way to be sent
# The out-of-date mark of a tab comes down once its views have stayed still for a moment, at the latest after 60 s
# (lesson_scroll.js): on a busy machine a tab's charts can keep moving longer than TIMEOUT_MS.
MARKED_MS = 90_000


@pytest.fixture
def page(pages, app_url):
    closable, page, errors = browser.open_page(pages, app_url, VIEWPORT, TIMEOUT_MS, ready="#views [role=tab]")
    yield page
    closable.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


class Sent:
    """The requests for backend events a page sends, by what fires them ("diagram.click", "lesson-url-write.click"
    …) and how (queued: joins the queue; direct: /run/predict)."""

    def __init__(self, page, app_url: str):
        with urllib.request.urlopen(app_url + "config") as response:
            config = json.load(response)
        names = {c["id"]: c.get("props", {}).get("elem_id") or f"{c['type']}#{c['id']}" for c in config["components"]}
        self.triggers = [",".join(f"{names.get(target, target)}.{event}" for target, event in dependency["targets"])
                         for dependency in config["dependencies"]]
        self.requests: list[tuple[str, str]] = []
        page.on("request", self._seen)

    def _seen(self, request) -> None:
        if request.method != "POST" or not ("queue/join" in request.url or "run/predict" in request.url):
            return
        body = json.loads(request.post_data or "{}")
        how = "queued" if "queue/join" in request.url else "direct"
        self.requests.append((how, self.triggers[body["fn_index"]]))

    def take(self) -> list[tuple[str, str]]:
        taken, self.requests = self.requests, []
        return taken


def settle(page, done: str, arg=None, timeout: int = TIMEOUT_MS) -> None:
    """Wait until the page shows the result (`done`, a JavaScript predicate), then QUIET_S for stragglers."""
    page.wait_for_function(done, arg=arg, timeout=timeout)
    time.sleep(QUIET_S)


def test_a_block_click_queues_the_click_alone_and_writes_the_address_once(page, app_url):
    sent = Sent(page, app_url)
    open_tab(page, "receptive")  # its list is in the page from now on
    wait_for_image(page, "#rf-overlays")
    open_architecture(page)
    settle(page, "() => new URLSearchParams(location.search).get('tab') === 'architecture'")
    sent.take()
    block(page, "enc1").click()
    wait_for_panel(page, "enc1")
    settle(page, """() => document.querySelector('#rf-block input').value === 'enc1'
                          && new URLSearchParams(location.search).get('block') === 'enc1'""")
    requests = sent.take()
    queued = [what for how, what in requests if how == "queued"]
    assert queued == ["diagram.click"], requests
    assert [what for _, what in requests].count("lesson-url-write.click") == 1, requests



def show_step(page, step_id: str) -> None:
    """Choose `step_id` in the Lesson's list and press Show me; wait until its tab is shown and no longer marked out
    of date."""
    page.click("#tab-lesson-button")
    page.click(f'#lesson-steps input[value="{step_id}"]')
    page.wait_for_function("(id) => document.querySelector('#lesson-steps input:checked')?.value === id",
                           arg=step_id, timeout=TIMEOUT_MS)
    time.sleep(QUIET_S)  # the step's own events (its measurements, the address) are done


def two_part_by_part_steps(ctx) -> tuple[str, str, str, str]:
    """Two Lesson steps whose Show me opens the Part-by-part tab on one image, t and seed: (id, evidence) of each."""
    from explorer.ui import app
    from explorer.ui import lesson as lesson_tab

    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    targets = [step.target for step in course.steps]
    proofs = [(step.id, target) for step, target in zip(course.steps, targets) if target.tab == "proofs"]
    first_id, first = proofs[0]
    second_id, second = next((step_id, target) for step_id, target in proofs[1:]
                             if (target.image, target.t, target.seed) == (first.image, first.t, first.seed))
    return first_id, first.evidence, second_id, second.evidence


def test_show_me_on_a_step_whose_view_is_on_screen_computes_nothing_again(page, app_url, ctx):
    """Issue 32: two Part-by-part steps on one image, t and seed. The second Show me sends no setting the page
    shows already, so nothing marks the tab out of date: no refresh and no previews are queued (the tab's select,
    which only records the shown tab, is), the mark comes down, and the step's evidence is brought into view."""
    first, first_evidence, second, second_evidence = two_part_by_part_steps(ctx)
    sent = Sent(page, app_url)
    ready = """(evidence) => { const tab = document.getElementById('tab-proofs');
                              const part = document.getElementById(evidence);
                              if (!tab || tab.getClientRects().length === 0 || tab.hasAttribute('data-stale')
                                  || !part) return false;
                              const r = part.getBoundingClientRect();  // in the window
                              return r.height > 0 && r.top < innerHeight && r.bottom > 0; }"""
    show_step(page, first)
    page.click("#lesson-show-me")
    settle(page, ready, first_evidence, MARKED_MS)
    # The tab was drawn for the first of the two. Its refresh may leave a moment after the tab shows: a tab drawn
    # for the first time holds the page's main thread for a second or two (its charts), and the press waits.
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while ("queued", "refresh-proofs.click") not in sent.requests and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # Playwright hands over the page's requests while it waits
    assert ("queued", "refresh-proofs.click") in sent.take()
    page.wait_for_function("() => !document.getElementById('tab-proofs').hasAttribute('data-stale')")
    time.sleep(QUIET_S)
    show_step(page, second)
    sent.take()
    page.click("#lesson-show-me")
    settle(page, ready, second_evidence, MARKED_MS)
    queued = [what for how, what in sent.take() if how == "queued"]
    assert sorted(queued) == ["lesson-show-me.click", "tab-proofs.select"], queued
