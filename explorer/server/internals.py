"""The one module that reaches into Gradio's private parts: each patch and reader, why, and the versions it was
written for.

Public APIs cover most of the app (each listener's lane is its `concurrency_id` and `concurrency_limit`, see
`lanes.py`); the places below have none (yet). Each reaches into a private part of Gradio that may change in any
release, so the app checks the installed versions at start-up (`check`, from `limits.harden`) and refuses to run on
a Gradio or Plotly whose minor version it was not tested with, saying what to do, instead of failing later in a way
nobody connects to the upgrade. UNET_EXPLORER_UNTESTED_FRAMEWORK=1 starts it anyway, with a warning (for trying out
a new release). The other modules call the small functions here and import no private Gradio module themselves
(tests/test_internals.py reads their source to hold them to it); the page's script `ui/scrub.js` has one Plotly
read of its own, listed below. Gradio is imported inside each function: `app.py` imports this module before it
points Gradio at its temp folder.
"""
from __future__ import annotations

import functools
import itertools
import os
import secrets
import time
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

TESTED = {"gradio": "6.31", "plotly": "7.1"}  # major.minor of the versions in requirements.txt
OVERRIDE = "UNET_EXPLORER_UNTESTED_FRAMEWORK"


@dataclass(frozen=True)
class Internal:
    package: str
    what: str  # the private name
    where: str  # the module of ours that touches it
    why: str
    upstream: str = ""  # the upstream issue or pull request, where there is one


HERE = "server/internals.py"
INTERNALS = (
    Internal("gradio", "route_utils.GradioUploadFile / GradioMultiPartParser.__init__", HERE,
             "one file per upload request, and a random part in each upload's folder so identical uploads of two "
             "sessions never share (and delete) one file (`separate_uploads`)",
             "gradio-app/gradio#8098 (cache clean-up deletes files other sessions use)"),
    Internal("gradio", "processing_utils.save_pil_to_cache", HERE,
             "output images written atomically, so a reader never sees half a file (`atomic_cache_writes`)"),
    Internal("gradio", "Blocks._queue (push, get_events, queue per concurrency id, active jobs, send_message, "
             "broadcast_estimations), Blocks.fns", HERE,
             "who joins each lane and who starts next, decided by `lanes.py` (fair shares by address, then "
             "session; places; refusals with their words) and applied here (`hook_queue`); Gradio's one "
             "`max_size` counts all lanes together and its pick is first come, first served",
             "gradio-app/gradio#6158 (concurrency_id, the public part the lanes use)"),
    Internal("gradio", "Blocks.process_api", HERE,
             "a payload Gradio itself cannot take is one log line and a message, not a traceback and an empty "
             "error (`guard_payloads`)"),
    Internal("gradio", "context.LocalContext.request", HERE,
             "the client's address, its session and the visitor's ZeroGPU token inside the lane's threads "
             "(`current_request`)"),
    Internal("gradio", "networking.url_ok", HERE,
             "a patient start-up check on a busy 2-core machine (`patient_startup_check`)",
             "gradio-app/gradio#8671 (network check can time out too easily)"),
    Internal("gradio", "state_holder.SessionState.__setitem__, blocks.Block._id", HERE,
             "one stored value per component: Gradio 6.31 filed every update under a fresh id and kept them all "
             "(`pin_replacement_ids`)", "gradio-app/gradio#7517 (memory management for State)"),
    Internal("gradio", "state_holder.StateHolder.update / session_data", HERE,
             "a session dropped for capacity is told so on its next event (`note_evictions`); the memory report "
             "counts each session's entries (`session_entries`)"),
    Internal("gradio", "components.plot.PlotData", HERE,
             "Plotly figure dicts handed to gr.Plot without Plotly's validation, tens of ms per figure (`plot_data`)"),
    Internal("gradio", "events.EventData._data", HERE,
             "the whole payload of a custom browser event, to check it as one dict (`event_payload`)"),
    Internal("gradio", "utils.get_upload_folder", HERE,
             "where uploads and outputs land, for the cache sweeper and the clean-up of a read upload "
             "(`upload_folder`)"),
    Internal("plotly", "gd._fullLayout axis _offset / _length / l2p", "ui/scrub.js",
             "fallback only (`privateAxes` in scrub.js): the t marker of the held-out curves is placed from the "
             "public layout range and the plot area's drag rectangle, and from Plotly's computed axes when those "
             "are missing"),
    Internal("gradio", "the page's markup: the gallery's .thumbnail-item / .grid-container, the tab row's "
             "[role=tablist], the step list's radio inputs", "ui/keys.js",
             "the gallery, the step list and each tab row as one Tab stop moved with the arrow keys (Gradio has no "
             "option for it); the browser tests of the keyboard fail when the markup changes"),
    Internal("gradio", "the name of the front end's Plotly chunk (templates/frontend/assets/PlotlyPlot-*.js)", HERE,
             "the page loads Plotly while the reader is still on the Lesson (`plotly_chunk`, ui/preload.js): "
             "loaded on a tab's first draw, its 4.6 MB held the first chart back about 2 s; without the name, "
             "Plotly loads when a chart is first drawn, as before"),
    Internal("gradio", "the slider's fill, the `--range_progress` style of its range input", "ui/scrub.js",
             "while t is dragged in the page alone (Gradio hears the value when the pointer lets go), the t and "
             "told-t sliders' fills follow their thumbs (`fill` in scrub.js); without it only the fill lags"),
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


# --- readers ---------------------------------------------------------------------------------------------------

def plotly_chunk() -> str | None:
    """The file name of the Gradio front end's Plotly chunk, which it loads beside its own index script when a
    gr.Plot is first drawn, or None when there is not exactly one."""
    import gradio

    found = sorted((Path(gradio.__file__).parent / "templates" / "frontend" / "assets").glob("PlotlyPlot-*.js"))
    return found[0].name if len(found) == 1 else None


def current_request():
    """The gr.Request of the event running in this thread, or None.

    Gradio 6.31 sets it in `gradio.context.LocalContext` around every call of an event function (and every step
    of a generator); the lanes need it without adding a `request` parameter to each long job.
    """
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


def event_payload(evt) -> dict | None:
    """The data a custom browser event carried (`trigger('click', {...})` in the page), or None when it is not a
    dict. EventData answers one key at a time (`evt.block_id`) and fails with a TypeError on a payload that is not
    a dict; the checks in ui/validate.py want the whole of it."""
    data = getattr(evt, "_data", None)
    return data if isinstance(data, dict) else None


def plot_data(figure_json: str):
    """What gr.Plot displays, from a Plotly figure already written as JSON: Gradio's own path would build a
    go.Figure and validate it first (tens of ms per figure)."""
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=figure_json)


def block_id(component) -> int:
    """The id Gradio gives a component in the app (the key of its value in each session's state)."""
    return component._id


def upload_folder() -> Path:
    """The folder Gradio writes uploads and outputs under (GRADIO_TEMP_DIR, see `limits.temp_root`)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def session_entries(demo) -> dict[str, int]:
    """The entries each session's state holds (Gradio keeps one per component and its last value)."""
    holder = getattr(demo, "state_holder", None)
    if holder is None:
        return {}
    return {session: len(state.config_values) for session, state in list(holder.session_data.items())}


# --- the built app ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueuedEvent:
    """An event in Gradio's queue, as plain values: its id, its lane (`concurrency_id`), the session, the event
    function the app registered (with the marks `lanes.long_job` set on it), the HTTP request that sent it."""
    id: str
    lane: str
    session: str | None
    fn: object
    request: object
    arrived: int      # the order of joining
    joined: float     # when it joined (time.monotonic)


_ARRIVALS = itertools.count()  # the order events joined, kept on each event


def _record(event) -> QueuedEvent:
    if not hasattr(event, "arrived"):
        event.arrived = next(_ARRIVALS)
    return QueuedEvent(getattr(event, "_id", str(id(event))), event.concurrency_id, event.session_hash,
                       getattr(event.fn, "fn", None), event.request, event.arrived,
                       getattr(event, "enqueue_time", 0.0))


def _error_message(text: str):
    from gradio.server_messages import ProcessCompletedMessage

    return ProcessCompletedMessage(output={"error": text, "visible": True, "duration": None, "title": "Dropped"},
                                   success=False, title="Dropped")


def hook_queue(demo, admit, choose, lanes: tuple[str, ...]) -> None:
    """Let the app decide who joins Gradio's queue and who starts next, in the `lanes` (concurrency ids) it names.

    - `admit(fn, session, request, view)` when an event asks to join: None to let it in, else (message, status)
      where status ("busy": the Space is full; "refused": this client holds its share) is for the app's own use.
      `fn` is the event function (None for an unknown event), `view.waiting(lane)` / `view.running(lane)` the
      queue's `QueuedEvent`s. A refusal is sent to the page as HTTP 400, whose detail the page shows (for a 503 it
      shows its own "This application is currently busy"), and to gradio_client (header x-gradio-user: api) as a
      validation message (HTTP 422), the one kind whose words gradio_client shows (it turns a 400 into "400 Bad
      Request", a 503 into "Queue is full!").
    - `choose(lane, waiting, running, free)` whenever Gradio could start an event of the lane (`free` slots) and
      after each join (free 0): returns (order, start, drop) — the waiting ids in the order they will start
      (Gradio tells each visitor its position from this order), the id to start now or None, and {id: message}
      for waiting events to drop (their client is told the message).
    Gradio's own `max_size` is turned off: it counted every lane together.

    Reached into: `Queue.push` (the join), `Queue.get_events` (the pick, under Gradio's delete lock),
    `event_queue_per_concurrency_id`, `active_jobs`, `send_message`, `broadcast_estimations`.
    """
    import asyncio

    queue = demo._queue
    queue.max_size = None
    push, pick_any = queue.push, queue.get_events
    lock = asyncio.Lock()  # the checks and the enqueueing together, one event at a time

    # Gradio tells a client its event is complete a moment before it takes the event off its active jobs; a page
    # whose listener sends the next run as soon as the last completes (trigger_mode="always_last") would be
    # refused in that moment. An event counts as running until its completion has been sent.
    send = queue.send_message

    def marking(event, message):
        if str(getattr(message, "msg", "")).endswith("process_completed"):
            event.completed = True
        return send(event, message)

    queue.send_message = marking

    class View:
        def waiting(self, lane: str) -> list[QueuedEvent]:
            waiting = queue.event_queue_per_concurrency_id.get(lane)
            return [_record(event) for event in (waiting.queue if waiting is not None else [])]

        def running(self, lane: str) -> list[QueuedEvent]:
            return [_record(event) for job in queue.active_jobs if job for event in job
                    if event.concurrency_id == lane and not getattr(event, "completed", False)]

    view = View()

    def arrange(lane: str, free: int):
        """Order the lane's waiting list as `choose` says, drop what it drops; the event to start, or None."""
        line = queue.event_queue_per_concurrency_id.get(lane)
        if line is None or not line.queue:
            return None
        by_id = {_record(event).id: event for event in line.queue}
        try:
            order, start, drop = choose(lane, [_record(event) for event in line.queue], view.running(lane), free)
        except Exception:  # noqa: BLE001 - a failing rule must not stop Gradio's queue: first come, first served
            import logging

            logging.getLogger("unet_explorer").exception("the %s lane's order failed", lane)
            order, start, drop = list(by_id), (next(iter(by_id)) if free > 0 else None), {}
        for event_id, text in drop.items():
            event = by_id.pop(event_id, None)
            if event is not None:
                queue.event_ids_to_events.pop(event_id, None)
                if event.session_hash in queue.pending_messages_per_session:  # its stream may be gone already
                    send(event, _error_message(text))
        line.queue[:] = [by_id[event_id] for event_id in order if event_id in by_id] + \
            [event for event_id, event in by_id.items() if event_id not in order]
        if start is None or start not in by_id:
            return None
        event = by_id[start]
        line.queue.remove(event)
        return event

    def get_events():
        for lane in lanes:
            line = queue.event_queue_per_concurrency_id.get(lane)
            if line is None or not line.queue:
                continue
            free = (line.concurrency_limit - line.current_concurrency) if line.concurrency_limit is not None else 1
            if free <= 0:
                continue
            event = arrange(lane, free)
            if event is not None:
                return [event], False, lane
        # the other concurrency ids (none in this app), as Gradio picks them
        ours = {lane: queue.event_queue_per_concurrency_id.pop(lane) for lane in lanes
                if lane in queue.event_queue_per_concurrency_id}
        try:
            return pick_any()
        finally:
            queue.event_queue_per_concurrency_id.update(ours)

    async def admitted(body, request, username):
        fn_index = getattr(body, "fn_index", None)
        block_fn = demo.fns.get(fn_index) if isinstance(fn_index, int) else None
        async with lock:
            refused = admit(getattr(block_fn, "fn", None) if block_fn is not None else None,
                            body.session_hash, request, view)
            if refused is not None:
                text, status = refused
                headers = getattr(request, "headers", None) or {}
                if headers.get("x-gradio-user") == "api":
                    return False, [{"__type__": "validate", "is_valid": False, "message": text,
                                    "parameter_name": "this request"}], "validator_error"
                return False, text, "error"  # HTTP 400: the page shows its words (a 503, its own "busy" line)
            joined = await push(body=body, request=request, username=username)
            lane = getattr(block_fn, "concurrency_id", None)
            if joined[0] and lane in lanes:
                async with queue.delete_lock:
                    arrange(lane, 0)
                queue.broadcast_estimations(lane)
            return joined

    queue.push = admitted
    queue.get_events = get_events


def api_names(demo) -> set[str]:
    """The API names of the app's events (`Blocks.fns`)."""
    return {block_fn.api_name for block_fn in demo.fns.values() if isinstance(block_fn.api_name, str)}


def guard_payloads(demo, detail) -> None:
    """A request Gradio itself cannot take (too few values, a file that was not uploaded, a payload that is
    not a file) fails before any event function runs, with a traceback in the log and no message for the
    client. Catch it around this app's `process_api`: one log line, and a message (`detail(text)`: the first
    line of Gradio's error, made safe to show)."""
    import logging

    import gradio as gr

    process_api = demo.process_api
    if getattr(process_api, "quiet", False):
        return
    log = logging.getLogger("unet_explorer")

    @functools.wraps(process_api)
    async def checked(block_fn, *args, **kwargs):
        try:
            return await process_api(block_fn, *args, **kwargs)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception as error:  # noqa: BLE001 - Gradio's own checks of the payload
            name = getattr(block_fn, "api_name", None) or getattr(block_fn, "name", None) or str(block_fn)
            text = detail((str(error).strip().splitlines() or [type(error).__name__])[0][:200])
            log.warning("refused %s: %s: %s", name, type(error).__name__, text)
            raise gr.Error(f"This request was refused: {text}", print_exception=False) from None

    checked.quiet = True
    demo.process_api = checked


# --- process-wide patches (each once per process) --------------------------------------------------------------

def atomic_cache_writes(write_once) -> None:
    """Make Gradio write each output file once, under a temporary name renamed into place (`write_once(data,
    folder, name)`).

    Gradio 6.31 names an output file by the hash of its bytes and rewrites it in place (truncate, then
    write) each time the same bytes come again, so a client downloading it meanwhile got an empty or cut
    file. Identical bytes need no rewrite: an existing file is kept; a new one appears complete or not at all.
    """
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        return write_once(data, Path(cache_dir) / processing_utils.hash_bytes(data), f"{name}.{format}")

    save_pil_to_cache.atomic = True
    processing_utils.save_pil_to_cache = save_pil_to_cache


def separate_uploads(files_per_upload: int) -> None:
    """Give every upload a folder of its own, and let one upload request carry `files_per_upload` files.

    Gradio 6.31 files an upload under the hash of its bytes (`GradioUploadFile.sha`, seeded with a constant of
    the process), so 20 sessions uploading the same photo shared one file, and the first session's clean-up
    (`limits.discard_upload`) deleted it under the others (6 of 20 accepted). A random value mixed into each
    upload's hash gives it its own folder. Gradio's parser takes up to 1,000 files per request (10 requests left
    10,000 files and folders behind); the parser is told `files_per_upload` instead, and says so with a 400.
    """
    from gradio import route_utils

    upload = route_utils.GradioUploadFile
    if getattr(upload.__init__, "separate", False):
        return
    upload_init, parser_init = upload.__init__, route_utils.GradioMultiPartParser.__init__

    def init_upload(self, *args, **kwargs):
        upload_init(self, *args, **kwargs)
        self.sha.update(secrets.token_bytes(16))

    def init_parser(self, *args, max_files=1000, **kwargs):
        parser_init(self, *args, max_files=min(max_files, files_per_upload), **kwargs)

    init_upload.separate = True
    upload.__init__ = init_upload
    route_utils.GradioMultiPartParser.__init__ = init_parser


def pin_replacement_ids() -> None:
    """Keep each session's copy of the app's components from growing with every update.

    Gradio keeps, per session, the components as that session sees them (`SessionState.blocks_config`) and
    each one's last value (`SessionState.config_values`). An update to an output (`gr.skip()`, `gr.update(...)`)
    builds a new instance of the component for the session, and Gradio 6.31 gives it a fresh block id; the next
    plain value for that output is then filed under the fresh id, beside the old entry. So every "update, then
    value" on one output added an entry holding a whole copy of that value, for as long as the session lived:
    each reverse process added four (its strip of frames alone is ~300 KB), and one client could grow its
    session without bound by asking again and again. The new instance is filed under the id of the component it
    replaces, so a session holds one entry per component, whatever it asks.
    """
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


def note_evictions(evictions) -> None:
    """Make Gradio's session store tell `evictions` (session_state.Evictions) which session it drops.

    Gradio 6.31's `StateHolder.update` pops the oldest session past its capacity (`--max-sessions`) and says
    nothing; this is the same method with the dropped session handed to `evictions.dropped` first.
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
                evictions.dropped(evicted, getattr(state, "state_data", {}))

    update.notes_evictions = True
    StateHolder.update = update


def patient_startup_check(timeout: float = 60.0) -> None:
    """Let Gradio's check that its own page answers wait up to `timeout` seconds.

    `launch()` asks for the page once it listens and gives up after one 3-second timeout, raising "When
    localhost is not accessible, a shareable link must be created": on a busy 2-core machine the first page
    can take longer, and the app died at start (a flaky CI). The server was fine; it only needed time.
    """
    import httpx
    from gradio import networking

    if getattr(networking.url_ok, "patient", False):
        return

    def url_ok(url: str) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.head(url, timeout=10, verify=False).status_code in (200, 401, 301, 302, 303, 307, 308):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    url_ok.patient = True
    networking.url_ok = url_ok
