"""Keep each session's copy of the app's components from growing with every update.

Gradio keeps, per session, the components as that session sees them (`SessionState.blocks_config`) and
each one's last value (`SessionState.config_values`). An update to an output (`gr.skip()`, `gr.update(...)`)
builds a new instance of the component for the session, and Gradio 6.31 gives it a fresh block id; the next
plain value for that output is then filed under the fresh id, beside the old entry. So every "update, then
value" on one output added an entry holding a whole copy of that value, for as long as the session lived:
each reverse process added four (its strip of frames alone is ~300 KB), and one client could grow its
session without bound by asking again and again. `pin_replacement_ids()` files the new instance under the
id of the component it replaces, so a session holds one entry per component, whatever it asks.
"""
from __future__ import annotations


def pin_replacement_ids() -> None:
    """Make a component stored in a session under a block id carry that id (once per process)."""
    from gradio.blocks import Block
    from gradio.state_holder import SessionState

    if getattr(SessionState.__setitem__, "pins_ids", False):
        return
    store = SessionState.__setitem__

    def setitem(self, key: int, value) -> None:
        if isinstance(value, Block) and value._id != key and key in self.blocks_config.blocks:
            value._id = key  # the session's instance of component `key`, not a component of its own
        store(self, key, value)

    setitem.pins_ids = True
    SessionState.__setitem__ = setitem


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
        self._watched[state._id] = default

    def dropped(self, session: str, session_state) -> None:
        """Called as Gradio drops `session`: remember it when a watched state held a value of its own."""
        import numpy as np

        held = getattr(session_state, "state_data", {})
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


def note_evictions(evictions: Evictions = EVICTIONS) -> None:
    """Make Gradio's session store tell `evictions` which session it drops (once per process).

    Gradio 6.31's `StateHolder.update` pops the oldest session past its capacity and says nothing; this is
    the same method with the dropped session handed to `evictions.dropped` first.
    """
    from gradio.state_holder import StateHolder

    if getattr(StateHolder.update, "notes_evictions", False):
        return

    def update(self, session_id: str) -> None:
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            if len(self.session_data) > self.capacity:
                evicted, state = self.session_data.popitem(last=False)
                self.time_last_used.pop(evicted, None)
                evictions.dropped(evicted, state)

    update.notes_evictions = True
    StateHolder.update = update
