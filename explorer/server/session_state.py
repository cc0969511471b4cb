"""What a session's state holds beyond Gradio's own bookkeeping: which sessions were dropped for capacity.

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
