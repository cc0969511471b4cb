"""One page's session on the running app, spoken in Gradio's queue protocol as the page's own script speaks it.

gradio_client calls named endpoints only; a page also fires the events it keeps private (the Lesson's buttons,
the hidden refresh buttons, the strip request). `PageSession` does what a page does, without a browser: it
reads /config once, keeps the value of every component, sends an event's inputs from those values (a gr.State
travels as null: the server keeps it), applies the outputs that come back, and reads all of the session's
replies from one event stream, as the page does (Gradio 6.31, protocol sse_v3).

    config = page_config(url)
    page = PageSession(url, config, address="127.0.0.2")   # the client's own address on loopback
    page.open()                                           # the page's load event
    page.call(page.event("lesson-show-me", "click"))      # -> Reply (outputs applied, seconds taken)
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx


def page_config(url: str, client: httpx.Client | None = None) -> dict:
    """The app's /config, as a page reads it when it opens."""
    with contextlib.nullcontext(client) if client else httpx.Client(timeout=60) as http:
        response = http.get(url + "config")
        response.raise_for_status()
        return response.json()


@dataclass
class Reply:
    """What came back for one event: its outputs (None for an error), the error's text, when the first streamed
    output came (generators) and the seconds from sending the event to its last message."""

    outputs: list | None
    error: str = ""
    first_seconds: float | None = None
    seconds: float = 0.0


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)
    first: float | None = None
    message: dict | None = None


class PageSession:
    """A page's session: its id, its components' values and its one event stream (see the module's doc)."""

    def __init__(self, url: str, config: dict, address: str | None = None, timeout: float = 600.0):
        self.url = url
        self.session = uuid.uuid4().hex[:11]
        self.timeout = timeout
        transport = httpx.HTTPTransport(local_address=address) if address else None
        self.http = httpx.Client(timeout=timeout, transport=transport)
        self.components = {c["id"]: c for c in config["components"]}
        self.values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        self.dependencies = config["dependencies"]  # fn_index = position (ids run 0, 1 …)
        self.by_elem_id = {c["props"]["elem_id"]: c["id"] for c in config["components"]
                           if c.get("props", {}).get("elem_id")}
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._reading = False

    def close(self) -> None:
        self.http.close()

    # --- finding events -------------------------------------------------------------------------------------------

    def event(self, elem_id: str | int, event: str) -> int:
        """The index of the backend event fired by `event` ("click", "change", "load" …) of the component with
        `elem_id` (or of component id `elem_id` when it is an int; 0 is the page itself)."""
        found = self.events(elem_id if isinstance(elem_id, int) else self.by_elem_id[elem_id], event)
        if not found:
            raise KeyError(f"no backend event for {event} of {elem_id!r}")
        return found[0]

    def events(self, component: int, event: str) -> list[int]:
        """Every backend event that `event` of component id `component` fires."""
        return [index for index, dependency in enumerate(self.dependencies)
                if dependency.get("backend_fn") and [component, event] in [list(t) for t in dependency["targets"]]]

    def value(self, elem_id: str):
        return self.values[self.by_elem_id[elem_id]]

    def set(self, elem_id: str, value) -> None:
        """A value the learner typed or chose in the page (no event is sent)."""
        self.values[self.by_elem_id[elem_id]] = value

    # --- sending events -------------------------------------------------------------------------------------------

    def inputs(self, index: int) -> list:
        return [None if self.components[i]["type"] == "state" else self.values.get(i)
                for i in self.dependencies[index]["inputs"]]

    def submit(self, index: int, event_data: dict | None = None) -> _Pending | Reply:
        """Send event `index` with the page's current values; returns a handle for `wait`, or a Reply with the
        error when the server refused to queue it."""
        dependency = self.dependencies[index]
        body = {"data": self.inputs(index), "event_data": event_data, "fn_index": index,
                "trigger_id": dependency["targets"][0][0] if dependency["targets"] else None,
                "session_hash": self.session}
        pending = _Pending()
        if dependency.get("queue") is False:  # answered at once, outside the queue (the page's /run/predict)
            response = self.http.post(self.url + "gradio_api/run/predict", json=body)
            pending.message = ({"msg": "process_completed", "success": True, "output": response.json()}
                               if response.status_code == 200 else
                               {"msg": "process_completed", "success": False, "output": {"error": response.text}})
            pending.done.set()
            return pending
        response = self.http.post(self.url + "gradio_api/queue/join", json=body)
        if response.status_code != 200:
            return Reply(None, f"refused ({response.status_code}): {response.text[:300]}",
                         seconds=time.perf_counter() - pending.started)
        event_id = response.json()["event_id"]
        with self._lock:
            self._pending[event_id] = pending
            start = not self._reading
            self._reading = True
        if start:
            threading.Thread(target=self._read, daemon=True).start()
        return pending

    def wait(self, index: int, pending: _Pending | Reply) -> Reply:
        """The reply to a submitted event, with its outputs applied to the page's values."""
        if isinstance(pending, Reply):
            return pending
        if not pending.done.wait(self.timeout):
            return Reply(None, f"no reply within {self.timeout:.0f} s", seconds=self.timeout)
        message = pending.message or {}
        seconds = time.perf_counter() - pending.started
        first = None if pending.first is None else pending.first - pending.started
        output = message.get("output") or {}
        if not message.get("success", False):
            return Reply(None, str(output.get("error") or message.get("msg") or message)[:300], first, seconds)
        data = output.get("data") or []
        if not self.dependencies[index].get("types", {}).get("generator"):
            self._apply(self.dependencies[index]["outputs"], data)
        return Reply(data, "", first, seconds)

    def call(self, index: int, event_data: dict | None = None) -> Reply:
        return self.wait(index, self.submit(index, event_data))

    def changed_by(self, index: int, reply: Reply, before: dict) -> list[int]:
        """The components event `index` changed (`before`: the values before it): those whose `change` events
        the page fires next. A gr.State counts as changed unless its output was skipped."""
        changed = []
        for component, value in zip(self.dependencies[index]["outputs"], reply.outputs or []):
            skipped = isinstance(value, dict) and value.get("__type__") == "update" and "value" not in value
            if self.components[component]["type"] == "state":
                if not skipped:
                    changed.append(component)
            elif self.values.get(component) != before.get(component):
                changed.append(component)
        return changed

    def _apply(self, outputs: list[int], data: list) -> None:
        for component, value in zip(outputs, data):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.values[component] = value["value"]
            elif self.components[component]["type"] != "state":
                self.values[component] = value

    # --- the event stream -----------------------------------------------------------------------------------------

    def _read(self) -> None:
        """Read the session's stream until the server closes it; open it again while events are still pending
        (the server closes it when nothing is pending, and an event may have joined as it closed)."""
        while True:
            try:
                with self.http.stream("GET", self.url + "gradio_api/queue/data",
                                      params={"session_hash": self.session}) as stream:
                    for line in stream.iter_lines():
                        if line.startswith("data:"):
                            self._dispatch(json.loads(line[5:]))
            except (httpx.HTTPError, json.JSONDecodeError) as error:
                with self._lock:
                    for pending in self._pending.values():
                        pending.message = {"msg": "stream failed", "success": False,
                                           "output": {"error": f"the event stream failed: {error}"}}
                        pending.done.set()
                    self._pending.clear()
            with self._lock:
                if not self._pending:
                    self._reading = False
                    return

    def _dispatch(self, message: dict) -> None:
        kind = message.get("msg")
        with self._lock:
            pending = self._pending.get(message.get("event_id"))
            if pending is None:
                return
            if kind == "process_generating" and pending.first is None:
                pending.first = time.perf_counter()
            if kind in ("process_completed", "unexpected_error"):
                pending.message = message
                del self._pending[message["event_id"]]
                pending.done.set()
