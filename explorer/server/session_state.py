"""What a session's state holds beyond Gradio's own bookkeeping: which sessions were dropped for capacity, and which
arrived from a replica that died (`Moves`).

Two Gradio 6.31 faults of the session store are mended in `internals.py`: every update of an output was filed
under a fresh id and kept, so a session grew with each request (`internals.pin_replacement_ids`), and a session
dropped past `--max-sessions` was dropped without a word (`internals.note_evictions`, which tells `EVICTIONS`).
"""
from __future__ import annotations

from explorer.server import internals

# --- sessions dropped by --max-sessions -------------------------------------------------------------------------

class Evictions:
    """Sessions whose state Gradio dropped (`--max-sessions`) while they held an image of their own.

    Gradio keeps the `state_session_capacity` most recent sessions and silently drops the oldest: the next
    request of a dropped session starts again from the defaults, so an uploaded picture became the default
    emoji while the page still said "your upload". `watch(state, default)` names the state to look at;
    `take(session, what)` is True once per dropped session and `what` ("warning", "label"), so the page can
    say it in one line and fix its label.
    """

    def __init__(self, remember: int = 10_000):
        import threading
        from collections import OrderedDict

        self._lock = threading.Lock()
        self._dropped: OrderedDict[str, set[str]] = OrderedDict()  # session -> what is still to say
        self._watched: dict[int, object] = {}                        # state id -> its default value
        self.remember = remember

    def watch(self, state, default) -> None:
        self._watched[internals.block_id(state)] = default

    def dropped(self, session: str, held: dict) -> None:
        """Called as Gradio drops `session`, with the values its states `held` (state id -> value): remember it
        when a watched state held a value of its own."""
        import numpy as np

        own = any(key in held and held[key] is not None
                  and not (np.shape(held[key]) == np.shape(default) and np.array_equal(held[key], default))
                  for key, default in self._watched.items())
        if own:
            with self._lock:
                self._dropped[session] = {"warning", "label"}
                while len(self._dropped) > self.remember:
                    self._dropped.popitem(last=False)

    def moved(self, session: str) -> None:
        """`session` arrived from another replica (see `Moves`): its state here is the defaults."""
        with self._lock:
            self._dropped[session] = {"moved", "label"}
            while len(self._dropped) > self.remember:
                self._dropped.popitem(last=False)

    def take(self, session: str | None, what: str) -> bool:
        with self._lock:
            left = self._dropped.get(session or "")
            if not left or what not in left:
                return False
            left.discard(what)
            if not left:
                del self._dropped[session]
            return True


EVICTIONS = Evictions()
MESSAGE = ("This page was idle while newer visitors came, and the server keeps only the most recent sessions: "
           "your image was dropped and the views show the first held-out example again. Upload or pick it again")
MOVED_MESSAGE = ("The copy of the app that served this page stopped, and the page moved to another copy: it lost "
                 "your image (the views show the first held-out example again) and any reverse process or strip "
                 "that was running. Upload or pick the image again, and ask again for what was running")

REPLICA_ENV = "UNET_EXPLORER_REPLICA"         # this replica's name (set by replicas.py)
SESSIONS_ENV = "UNET_EXPLORER_SESSIONS_DIR"   # a folder the replicas of one machine share: which replica had a session


class Moves:
    """Sessions that arrive from a replica that died. Each replica writes, in a folder all replicas share, a file per
    session it serves naming itself; a session that first reaches this replica with a file naming another one was
    moved here by the proxy (its replica died), and is told once (`EVICTIONS.moved`). Off replicas (no folder):
    nothing."""

    def __init__(self, environ=None, evictions: Evictions = EVICTIONS, keep_s: float = 3 * 3600):
        import os
        import threading
        from collections import OrderedDict
        from pathlib import Path

        environ = os.environ if environ is None else environ
        self.name = environ.get(REPLICA_ENV, "")
        self.folder = Path(environ[SESSIONS_ENV]) if environ.get(SESSIONS_ENV) and self.name else None
        self.evictions, self.keep_s = evictions, keep_s
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def arrived(self, session: str | None) -> bool:
        """Called as `session` sends an event here: True (once) when it was served by another replica before."""
        import re
        import time

        if self.folder is None or not session or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session):
            return False
        with self._lock:
            if session in self._seen:
                return False
            self._seen[session] = None
            if len(self._seen) > 100_000:
                self._seen.popitem(last=False)
            if len(self._seen) % 1000 == 0:  # forget sessions idle longer than the proxy's stickiness
                for old in self.folder.glob("*"):
                    if time.time() - old.stat().st_mtime > self.keep_s:
                        old.unlink(missing_ok=True)
        record = self.folder / session
        try:
            before = record.read_text().strip()
        except OSError:
            before = ""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            record.write_text(self.name)
        except OSError:
            return False
        if before and before != self.name:
            self.evictions.moved(session)
            return True
        return False


MOVES = Moves()
