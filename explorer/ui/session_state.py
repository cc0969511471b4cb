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
