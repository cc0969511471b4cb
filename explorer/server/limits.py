"""What keeps one anonymous client from exhausting the server: body sizes, disk, the queue, quiet refusals.

`app.py` applies all of it: `temp_root()` before Gradio is imported, `harden(demo, ...)` after the app is
built and `launch_options()` in `launch()`. Each piece is small and says which attack it bounds.
"""
from __future__ import annotations

import atexit
import contextlib
import contextvars
import ctypes
import fcntl
import functools
import gc
import inspect
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from explorer.server import internals, zerogpu
from explorer.server.session_state import EVICTIONS, note_evictions, pin_replacement_ids
from explorer.server.session_state import MESSAGE as EVICTED_MESSAGE

log = logging.getLogger("unet_explorer")

MAX_BODY = 64 * 1024              # every request but an upload: the largest real one is a few hundred bytes
MAX_UPLOAD = 16 * 1024 * 1024     # one image: a 48-megapixel phone photo is 8-15 MB as JPEG
MAX_UPLOAD_BODY = MAX_UPLOAD + 64 * 1024  # one file plus its multipart headers: no batches of files
UPLOAD_PATH = "/gradio_api/upload"
STREAM_PATH = "/gradio_api/queue/data"
CALL_PATH = "/gradio_api/call/"
CACHE_BUDGET = 256 * 1024 * 1024  # bytes the upload and output cache may hold before the oldest files go
CACHE_FILES = 2000                # files and folders it may hold: 1,000 tiny files cost no bytes but a walk each
CACHE_SWEEP_S = 10.0
FILES_PER_UPLOAD = 1              # files one upload request may carry (Gradio's own limit is 1,000)
MAX_SESSIONS = 200                # sessions whose state (the image, the last outputs) the server keeps
CLIENT_GRACE_S = 5.0              # a job whose session has had no open event stream this long is stopped
QUICK_LANE = "quick"              # single-step views: a block click, one denoising step, a receptive field …
LONG_LANE = "long"                # long jobs (see `long_job`): they never hold up the quick lane
LONG_JOBS = 1                     # slices of long jobs computed at once, all users together (`FairLane`)
LONG_ACTIVE = 8                   # long jobs started at once; they take their slices in turn, client by client
LONG_PLACES = 16                  # long jobs waiting to start, all clients together: more are refused with a message
LONG_PER_CLIENT = 3               # long jobs one client (address) may have waiting or running
QUICK_PLACES = 64                 # single-step requests waiting, all clients together: long jobs never take these
LONG_NICE = 10                    # long jobs run in threads of this lower priority: a click gets the cores first
TEMP_PARENT = "unet-explorer"
MEMORY_REPORT_ENV = "UNET_EXPLORER_MEMORY_REPORT"   # tests only: a file the memory report goes to on SIGUSR1


# --- request bodies --------------------------------------------------------------------------------------------

class BodyLimit:
    """ASGI middleware: refuse a request body over its limit with 413, before the body is read.

    A declared Content-Length over the limit is refused without reading anything; a chunked body is
    counted as it arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app, limit: int = MAX_BODY, upload_limit: int = MAX_UPLOAD_BODY):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    def message(self, limit: int, upload: bool) -> bytes:
        what = "an upload" if upload else "this request"
        text = (f"The request body is too large: the size limit for {what} is {limit // 1024:,} KB"
                + (f" (one image of at most {MAX_UPLOAD // 2**20} MB)" if upload else ""))
        return json.dumps({"detail": text, "error": text}).encode()

    async def refuse(self, send, limit: int, upload: bool) -> None:
        body = self.message(limit, upload)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"].rstrip("/").endswith(UPLOAD_PATH)
        limit = self.upload_limit if upload else self.limit
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    log.info("refused %s %s: body of %s bytes", scope["method"], scope["path"], value.decode()[:20])
                    return await self.refuse(send, limit, upload)
        received, exceeded, started = 0, False, False

        async def counted_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    log.info("refused %s %s: chunked body over %d bytes", scope["method"], scope["path"], limit)
                    return {"type": "http.disconnect"}  # the app stops reading; the reply below says why
            return message

        async def checked_send(message):
            nonlocal started
            if exceeded:  # whatever the app answers to a cut-off body, the client gets the 413
                if not started:
                    started = True
                    await self.refuse(send, limit, upload)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, checked_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self.refuse(send, limit, upload)


class NoSniff:
    """ASGI middleware: `X-Content-Type-Options: nosniff` on every response, so a browser never runs a served file
    (an upload, a cached output) as something other than the type the server gave it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_header(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                message = {**message, "headers": headers + [(b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, with_header)


ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/]+/)+[^\s'\"]*")


def path_free(text: str) -> str:
    """`text` with absolute paths replaced by "…": nothing a client receives names the server's folders."""
    return ABSOLUTE_PATH.sub("…", text)


def client_of(peer: str | None, headers, proxy_hops: int = 0) -> str:
    """The client a request comes from, for sharing the long lane: its TCP peer address or, behind `proxy_hops`
    trusted proxies (a Space: 1), the address the outermost of them wrote into X-Forwarded-For. Entries further
    left are the client's own word and never trusted; without `proxy_hops` the header is ignored."""
    if proxy_hops > 0:
        forwarded = [part.strip() for part in (headers.get("x-forwarded-for") or "").split(",") if part.strip()]
        if len(forwarded) >= proxy_hops:
            return forwarded[-proxy_hops][:64]
    return peer or "unknown"


# --- who is still listening ------------------------------------------------------------------------------------

class Listeners:
    """Open event streams per session.

    Gradio stops a generator when its client's stream closes, but not one whose client never opened a
    stream; `gone(session, since)` tells the reverse process to stop in both cases.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._closed_at: dict[str, float] = {}
        self._pid = os.getpid()

    def opened(self, session: str) -> None:
        with self._lock:
            self._open[session] = self._open.get(session, 0) + 1
            self._closed_at.pop(session, None)

    def closed(self, session: str) -> None:
        with self._lock:
            count = self._open.get(session, 1) - 1
            if count > 0:
                self._open[session] = count
            else:
                self._open.pop(session, None)
                self._closed_at[session] = time.monotonic()
                if len(self._closed_at) > 10 * MAX_SESSIONS:  # forget the oldest sessions
                    for old in sorted(self._closed_at, key=self._closed_at.get)[:MAX_SESSIONS]:
                        del self._closed_at[old]

    def gone(self, session: str | None, since: float, grace: float = CLIENT_GRACE_S) -> bool:
        """True when `session` has had no open stream for `grace` seconds (counted from `since` at the latest)."""
        if not session or os.getpid() != self._pid:  # a forked ZeroGPU worker never hears of streams: the
            return False                                  # parent stops its job (LowPriorityThreads.slice)
        with self._lock:
            if self._open.get(session):
                return False
            last = max(since, self._closed_at.get(session, since))
        return time.monotonic() - last > grace


LISTENERS = Listeners()  # process-wide server bookkeeping (like Gradio's own queue), never model state


class StreamWatch:
    """ASGI middleware: tell LISTENERS when an event stream opens and closes.

    Two kinds: a session's stream (/gradio_api/queue/data?session_hash=…, the page and gradio_client), and
    one event's (GET /gradio_api/call/<api>/<event id>, the REST API, whose event id is its session).
    """

    def __init__(self, app, listeners: Listeners = LISTENERS):
        self.app, self.listeners = app, listeners

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        path = scope["path"].rstrip("/")
        if path.endswith(STREAM_PATH):
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
            session = (query.get("session_hash") or [""])[0]
        elif CALL_PATH in path:
            parts = path.split(CALL_PATH, 1)[1].split("/")  # <api name>/<event id>
            session = parts[1] if len(parts) == 2 else ""
        else:
            session = ""
        if not session:
            return await self.app(scope, receive, send)
        self.listeners.opened(session)
        started = finished = False

        async def tracked(message):
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = finished or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:  # noqa: BLE001 - one line, not the 82-line traceback uvicorn would log
            # Gradio 6.31's stream tells the client in a message that it does not know the session, then raises
            # (HTTPException, re-raised by Starlette as RuntimeError since the response had started).
            cause = error.__cause__ or error
            log.info("refused GET %s: %s", scope["path"], getattr(cause, "detail", None) or type(cause).__name__)
            if not started:
                body = json.dumps({"detail": "Unknown session: reload the page"}).encode()
                await send({"type": "http.response.start", "status": 404,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body})
            elif not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.listeners.closed(session)


# --- disk ------------------------------------------------------------------------------------------------------

def temp_root(parent: Path | None = None) -> Path:
    """Make this process's own temp folder and point Gradio and `tempfile` at it; call before importing gradio.

    Layout: <TMPDIR>/unet-explorer/<random>/{gradio,tmp} (no process id: the folder's name reaches clients in
    Gradio's upload replies and file URLs). The folder holds a lock for the process's
    life; folders whose lock is free belong to dead processes (killed, say) and are removed here. This
    process's folder is removed at exit (SIGTERM included).
    """
    parent = Path(parent or tempfile.gettempdir()) / TEMP_PARENT
    parent.mkdir(parents=True, exist_ok=True)
    for folder in parent.iterdir():
        sweep_if_dead(folder)
    root = Path(tempfile.mkdtemp(prefix="", dir=parent))
    lock = open(root / ".lock", "w")  # noqa: SIM115 - held open (and locked) until the process ends
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    (root / "gradio").mkdir()
    (root / "tmp").mkdir()
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    # Gradio keeps a record of each event for its monitoring page: 10,000 by default, and it rescans them all
    # on every event. The app has no monitoring page.
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "256")
    os.environ["TMPDIR"] = str(root / "tmp")
    tempfile.tempdir = str(root / "tmp")

    def remove() -> None:
        shutil.rmtree(root, ignore_errors=True)
        lock.close()

    atexit.register(remove)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a Space restarting, `kill`) would skip atexit: turn it into a normal exit.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return root


def sweep_if_dead(folder: Path) -> bool:
    """Remove `folder` when no process holds its lock; True when it was removed."""
    if not folder.is_dir():
        return False
    try:
        with open(folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only succeeds when its owner is gone
            shutil.rmtree(folder, ignore_errors=True)
            return True
    except OSError:
        return False


def cache_files(folder: Path) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every file under `folder`."""
    files = []
    for parent, _, names in os.walk(folder):  # os.walk skips folders removed meanwhile
        for name in names:
            path = Path(parent) / name
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
    return files


def cache_folders(folder: Path) -> list[tuple[float, Path]]:
    """(mtime, path) of every folder under `folder`, deepest first."""
    found = []
    for parent, names, _ in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            with contextlib.suppress(OSError):
                found.append((path.stat().st_mtime, path))
    return sorted(found, key=lambda item: -len(item[1].parts))


def bound_cache(folder: Path, budget: int = CACHE_BUDGET, keep: frozenset[Path] = frozenset(),
                max_entries: int = CACHE_FILES, empty_after: float = 60.0) -> int:
    """Delete the oldest files under `folder` (never those in `keep`) until it holds at most `budget` bytes and
    at most `max_entries` files and folders together; folders left empty for `empty_after` seconds go too (an
    upload makes its folder a moment before it moves its file in). Returns the bytes freed."""
    now = time.time()
    for mtime, path in cache_folders(folder):
        if now - mtime > empty_after:
            with contextlib.suppress(OSError):
                path.rmdir()  # only when empty
    files = cache_files(folder)
    entries = len(files) + len(cache_folders(folder))
    total = sum(size for _, size, _ in files)
    freed = removed = 0
    for _, size, path in sorted(files):
        if total - freed <= budget and entries - removed <= max_entries:
            break
        if path in keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            freed += size
            removed += 1
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # gradio keeps one folder per file: drop it when empty
                removed += 1
    if removed:
        log.info("cache over %d MB or %d entries: removed %d files and folders (%d MB), the oldest",
                 budget // 2**20, max_entries, removed, freed // 2**20)
    return freed


class CacheSweeper:
    """A daemon thread that keeps Gradio's cache under its byte and file budgets, every few seconds and after each
    upload."""

    def __init__(self, folder: Path, budget: int = CACHE_BUDGET, every: float = CACHE_SWEEP_S,
                 max_entries: int = CACHE_FILES):
        self.folder, self.budget, self.every, self.max_entries = Path(folder), budget, every, max_entries
        # What the built app put there (the examples' thumbnails, first previews): every page shows it.
        self.keep = frozenset(path for _, _, path in cache_files(self.folder))
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="cache-sweeper", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.every)
            self.wake.clear()
            try:
                bound_cache(self.folder, self.budget, self.keep, self.max_entries)
            except Exception:  # noqa: BLE001 - the sweeper must outlive a bad file
                log.exception("cache sweep failed")


class UploadWake:
    """ASGI middleware: wake the cache sweeper after every upload."""

    def __init__(self, app, sweeper: CacheSweeper):
        self.app, self.sweeper = app, sweeper

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["path"].rstrip("/").endswith(UPLOAD_PATH):
                self.sweeper.wake.set()


def separate_uploads() -> None:
    """Give every upload a folder of its own, and let one upload request carry one file (once per process).

    Gradio 6.31 files an upload under the hash of its bytes (`GradioUploadFile.sha`, seeded with a constant of
    the process), so 20 sessions uploading the same photo shared one file, and the first session's clean-up
    (`discard_upload`) deleted it under the others (6 of 20 accepted). A random value mixed into each upload's
    hash gives it its own folder. Gradio's parser takes up to 1,000 files per request (10 requests left 10,000
    files and folders behind); the parser is told FILES_PER_UPLOAD instead, and says so with a 400.
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
        parser_init(self, *args, max_files=min(max_files, FILES_PER_UPLOAD), **kwargs)

    init_upload.separate = True
    upload.__init__ = init_upload
    route_utils.GradioMultiPartParser.__init__ = init_parser


def discard_upload(path: str) -> None:
    """Delete an uploaded file (and its folder) once it has been read, if it lies in Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    file = Path(path).resolve()
    if file.is_relative_to(Path(get_upload_folder()).resolve()):
        with contextlib.suppress(OSError):
            file.unlink()
            file.parent.rmdir()


def atomic_cache_writes() -> None:
    """Make Gradio write each output file once, under a temporary name renamed into place.

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


def write_once(data: bytes, folder: Path, name: str) -> str:
    """Write `data` to folder/name unless it is there already; readers never see a partial file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / name).resolve()
    if path.is_file() and path.stat().st_size == len(data):
        return str(path)
    handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise
    return str(path)


# --- the queue and errors --------------------------------------------------------------------------------------

def long_job(kind: str):
    """Mark an event function as a long job of `kind` (seconds of compute: a reverse process, a strip of t
    values, four backward passes). Long jobs run in a lane of their own, so a click never waits behind one;
    the lane is shared fairly between clients (`FairLane`, `admit`)."""
    def mark(fn):
        fn.long_job = kind
        return fn
    return mark


def compute_lanes(demo, quick: int, long: int = LONG_JOBS, active: int = LONG_ACTIVE) -> None:
    """Put every event of `demo` in one of two concurrency groups (Gradio's limits are per event otherwise):
    at most `quick` single-step requests run at once, all endpoints and users together. Long jobs: Gradio
    starts up to `active` of them, and they compute their slices (a call, or one step of a generator) `long`
    at a time, taken in turn client by client (FairLane), in threads of lower priority (LONG_NICE), so that on
    a busy machine the cores go to the single-step requests first and a long job takes what is left. Each long job
    runs where `zerogpu.gpu_job` puts it: in a GPU function on ZeroGPU, on CUDA if present, else on the CPU."""
    threads = LowPriorityThreads(long)
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue
        kind = getattr(block_fn.fn, "long_job", None)
        block_fn.concurrency_id = LONG_LANE if kind else QUICK_LANE
        block_fn.concurrency_limit = max(active, long) if kind else quick
        block_fn.long_job_kind = kind
        if kind:
            block_fn.fn = threads.wrap(zerogpu.gpu_job(block_fn.fn, kind), kind)


class FairLane:
    """Turns on `slots` compute slots, given client by client: the waiting client served least recently goes
    first, then its oldest waiting slice. One client with 40 jobs gets one turn in two when another client waits,
    and a job of 250 steps, cut into slices, never keeps another client waiting for more than one slice."""

    def __init__(self, slots: int = LONG_JOBS, remember: int = 1000):
        self._ready = threading.Condition()
        self._free = max(1, slots)
        self._waiting: OrderedDict[str, deque] = OrderedDict()  # client -> its waiting tickets, oldest first
        self._served: OrderedDict[str, int] = OrderedDict()     # client -> the number of its last turn
        self._turns = itertools.count()
        self.remember = remember

    def _next(self):
        client = min(self._waiting, key=lambda name: self._served.get(name, -1))  # ties: the first to wait
        return self._waiting[client][0]

    @contextlib.contextmanager
    def turn(self, client: str):
        ticket = object()
        with self._ready:
            self._waiting.setdefault(client, deque()).append(ticket)
            while not (self._free > 0 and self._next() is ticket):
                self._ready.wait()
            self._waiting[client].popleft()
            if not self._waiting[client]:
                del self._waiting[client]
            self._free -= 1
            self._served[client] = next(self._turns)
            self._served.move_to_end(client)
            while len(self._served) > self.remember:
                self._served.popitem(last=False)
        try:
            yield
        finally:
            with self._ready:
                self._free += 1
                self._ready.notify_all()


def current_request():
    """The gr.Request of the event running in this thread, or None.

    Gradio 6.31 sets it in `gradio.context.LocalContext` around every call of an event function (and every step
    of a generator); the lane needs it without adding a `request` parameter to each long job.
    """
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


PROXY_HOPS = 0  # set by harden(): trusted proxies in front of the app (a Space: 1)


def request_client(request) -> str:
    """The client (address) of a gr.Request or a Starlette request."""
    peer = getattr(getattr(request, "client", None), "host", None)
    headers = getattr(request, "headers", None) or {}
    return client_of(peer, headers, PROXY_HOPS)


class LowPriorityThreads:
    """Threads that lower their own scheduling priority (Linux: nice is per thread, and threads they start,
    such as the reverse process's two model threads, inherit it). `wrap(fn)` runs fn, or each step of a
    generator fn, in them, one slice at a time on the fair lane; Gradio's worker thread waits meanwhile. A worker
    thread is never reniced itself: without privileges a thread's priority cannot be raised back."""

    def __init__(self, count: int, nice: int = LONG_NICE):
        self.nice = nice
        self.lane = FairLane(count)
        self.pool = ThreadPoolExecutor(max_workers=max(1, count), thread_name_prefix="long-job",
                                       initializer=self._lower_priority)

    def _lower_priority(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority as the rest
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)

    def slice(self, kind: str, since: float, fn, *args):
        """fn(*args) in a low-priority thread on the client's next turn; nothing when its client is gone."""
        request = current_request()
        session = getattr(request, "session_hash", None)
        with self.lane.turn(request_client(request) if request is not None else "local"):
            if LISTENERS.gone(session, since):  # a strip nobody reads is not computed (quiet_errors logs it)
                import gradio as gr

                raise gr.Error(f"The {kind} was dropped: nobody was waiting for it", print_exception=False)
            # Gradio's context (the gr.Request) goes along: ZeroGPU reads the visitor's quota token from it.
            return self.pool.submit(contextvars.copy_context().run, fn, *args).result()

    def wrap(self, fn, kind: str = "long job"):
        run = self.pool.submit
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def steps(*args, **kwargs):
                generator = fn(*args, **kwargs)
                done, since = object(), time.monotonic()
                try:
                    while (item := self.slice(kind, since, next, generator, done)) is not done:
                        yield item
                finally:  # the client left (GeneratorExit) or the run ended: close it where it ran
                    run(generator.close).result()
            return steps

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return self.slice(kind, time.monotonic(), functools.partial(fn, *args, **kwargs))
        return call


def admit(demo) -> None:
    """Decide, when it is asked, whether an event may join the queue; refuse it (HTTP 400 with a message) when:

    - it is a session's second long job of one kind while the first waits or runs (the page never asks twice:
      its long events wait for their previous run);
    - its client (address, see `client_of`) already has LONG_PER_CLIENT long jobs waiting or running: session
      ids are the client's to pick, so a rule per session alone limits nothing;
    - LONG_PLACES long jobs are waiting (long jobs only: clicks keep their own QUICK_PLACES places, where
      Gradio's one `max_size` let 40 sessions × 2 long jobs refuse every click with "Queue is full").

    Asked of Gradio's queue itself (its waiting and running events), so no count of ours can drift.
    """
    import asyncio

    queue = demo._queue
    quick_places = queue.max_size or QUICK_PLACES
    queue.max_size = None  # each lane counts its own places below
    push = queue.push
    lock = asyncio.Lock()  # the checks and the enqueueing together, one event at a time

    def events(lane: str) -> tuple[list, list]:
        waiting = queue.event_queue_per_concurrency_id.get(lane)
        running = [event for job in queue.active_jobs if job for event in job if event.concurrency_id == lane]
        return (list(waiting.queue) if waiting is not None else []), running

    def kinds(jobs: list) -> str:
        names = sorted({getattr(event.fn, "long_job_kind", None) or "long job" for event in jobs})
        return ", ".join(f"a {name}" if not name.startswith(("a ", "an ")) else name for name in names)

    async def admitted(body, request, username):
        fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        kind = getattr(fn, "long_job_kind", None)
        async with lock:
            if not kind:
                waiting, _ = events(QUICK_LANE)
                if len(waiting) >= quick_places:
                    log.warning("refused a click: %d single-step requests waiting", len(waiting))
                    return False, f"The server is busy ({len(waiting)} requests waiting): try again in a moment", \
                        "queue_full"
                return await push(body=body, request=request, username=username)
            waiting, running = events(LONG_LANE)
            jobs = waiting + running
            if body.session_hash and any(event.session_hash == body.session_hash
                                         and getattr(event.fn, "long_job_kind", None) == kind for event in jobs):
                log.warning("refused a second %s of one session", kind)
                return False, (f"Your {kind} is still waiting or running: wait for it to finish, then start the "
                               "next one"), "error"
            client = request_client(request)
            own = [event for event in jobs if request_client(event.request) == client]
            if len(own) >= LONG_PER_CLIENT:
                log.warning("refused a %s: its client has %d long jobs waiting or running", kind, len(own))
                return False, (f"You already have {len(own)} long jobs waiting or running ({kinds(own)}): wait for "
                               f"one of them to finish, then ask for the {kind} again"), "error"
            if len(waiting) >= LONG_PLACES:
                log.warning("refused a %s: %d long jobs waiting", kind, len(waiting))
                return False, (f"The lane for long jobs is full ({len(waiting)} waiting): ask for the {kind} again "
                               "in a minute. Single-step views still answer at once"), "error"
            return await push(body=body, request=request, username=username)

    queue.push = admitted


def quiet_errors(demo) -> None:
    """Wrap every event function: a refused request logs one line, not a traceback, and any unexpected
    error reaches the client as a message instead of an empty error."""
    import gradio as gr

    seen: set[tuple[str, str]] = set()

    def refuse(name: str, error: Exception) -> Exception:
        if isinstance(error, gr.Error):
            error.print_exception = False
            log.warning("refused %s: %s", name, str(error.message)[:200].replace("\n", " "))
            return error
        kind = (name, type(error).__name__)
        if kind in seen:  # a traceback the first time a kind of failure shows up, one line after that
            log.error("failed %s: %s: %s", name, type(error).__name__, str(error)[:200].replace("\n", " "))
        else:
            seen.add(kind)
            log.error("failed %s", name, exc_info=error)
        return gr.Error(f"This request could not be computed ({type(error).__name__}): check its values",
                        print_exception=False)

    def tell_evicted() -> None:
        request = current_request()  # a session that Gradio dropped is told so, once, in one line
        if EVICTIONS.take(getattr(request, "session_hash", None), "warning"):
            gr.Warning(EVICTED_MESSAGE)

    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if (fn is None or getattr(fn, "quiet", False) or inspect.iscoroutinefunction(fn)
                or inspect.isasyncgenfunction(fn)):
            continue
        name = block_fn.api_name or getattr(fn, "__name__", "event")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def wrapper(*args, _fn=fn, _name=name, **kwargs):
                tell_evicted()
                try:
                    yield from _fn(*args, **kwargs)
                except Exception as error:  # noqa: BLE001 - re-raised as a message for the client
                    raise refuse(_name, error) from None
        else:
            @functools.wraps(fn)
            def wrapper(*args, _fn=fn, _name=name, **kwargs):
                tell_evicted()
                try:
                    return _fn(*args, **kwargs)
                except Exception as error:  # noqa: BLE001
                    raise refuse(_name, error) from None
        wrapper.quiet = True
        block_fn.fn = wrapper
    refuse_malformed_requests(demo)


def refuse_malformed_requests(demo) -> None:
    """A request Gradio itself cannot take (too few values, a file that was not uploaded, a payload that is
    not a file) fails before any event function runs, with a traceback in the log and no message for the
    client. Catch it around this app's `process_api`: one log line, and a message."""
    import gradio as gr

    process_api = demo.process_api
    if getattr(process_api, "quiet", False):
        return

    @functools.wraps(process_api)
    async def checked(block_fn, *args, **kwargs):
        try:
            return await process_api(block_fn, *args, **kwargs)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception as error:  # noqa: BLE001 - Gradio's own checks of the payload
            name = getattr(block_fn, "api_name", None) or getattr(block_fn, "name", None) or str(block_fn)
            detail = path_free((str(error).strip().splitlines() or [type(error).__name__])[0][:200])
            log.warning("refused %s: %s: %s", name, type(error).__name__, detail)
            raise gr.Error(f"This request was refused: {detail}", print_exception=False) from None

    checked.quiet = True
    demo.process_api = checked


# --- memory, for the leak test ---------------------------------------------------------------------------------

class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def memory_report(demo=None) -> dict:
    """gc, give freed memory back to the OS (malloc_trim), then: resident memory and the bytes malloc has
    handed out and not had back (in use: what a leak grows, unlike glibc's cached free memory); with `demo`,
    also the entries each session's state holds (Gradio keeps one per component and its last value)."""
    gc.collect()
    report = {}
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        report["malloc_in_use"] = info.uordblks + info.hblkhd
    status = Path(f"/proc/{os.getpid()}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(("VmRSS:", "RssAnon:")):
                key, value = line.split(":", 1)
                report[key] = int(value.split()[0]) * 1024
    report["python_blocks"] = sys.getallocatedblocks()
    report["gc_objects"] = len(gc.get_objects())
    holder = getattr(demo, "state_holder", None)
    if holder is not None:
        report["session_entries"] = {session: len(state.config_values)
                                     for session, state in list(holder.session_data.items())}
    return report


def memory_report_on_signal(demo) -> None:
    """With MEMORY_REPORT_ENV set (tests only), SIGUSR1 writes `memory_report(demo)` as JSON to that file.

    A signal, not an endpoint: only a process on the same machine with the right to signal the server
    (its owner) can ask, never an anonymous HTTP client, and without the variable nothing is installed.
    """
    target = os.environ.get(MEMORY_REPORT_ENV)
    if not target or threading.current_thread() is not threading.main_thread():
        return

    def write(*_):
        report = memory_report(demo)
        staging = f"{target}.partial"
        Path(staging).write_text(json.dumps(report))
        os.replace(staging, target)

    signal.signal(signal.SIGUSR1, write)


# --- all together ----------------------------------------------------------------------------------------------

def harden(demo, concurrency: int, long_jobs: int = LONG_JOBS, proxy_hops: int = 0) -> None:
    """Everything that acts on the built app: two compute lanes shared fairly between clients (`proxy_hops`:
    trusted proxies whose X-Forwarded-For names the client), quiet errors, atomic output files, uploads that
    never collide, sessions that do not grow with each update and say when they were dropped."""
    global PROXY_HOPS
    try:  # the patches below reach into Gradio's internals: only on the versions they were written for
        internals.check()
    except internals.UntestedFramework as error:
        raise SystemExit(str(error)) from None
    PROXY_HOPS = max(0, int(proxy_hops))
    compute_lanes(demo, concurrency, long_jobs)
    admit(demo)
    quiet_errors(demo)
    atomic_cache_writes()
    separate_uploads()
    pin_replacement_ids()
    note_evictions()
    memory_report_on_signal(demo)
    patient_startup_check()


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


def launch_options(cache_budget: int = CACHE_BUDGET, max_sessions: int = MAX_SESSIONS) -> dict:
    """Keyword arguments for `demo.launch`: the middleware, the upload cap and the session bound."""
    from gradio.utils import get_upload_folder
    from starlette.middleware import Middleware

    sweeper = CacheSweeper(Path(get_upload_folder()), cache_budget)
    middleware = [Middleware(NoSniff), Middleware(StreamWatch), Middleware(UploadWake, sweeper=sweeper),
                  Middleware(BodyLimit)]
    return dict(app_kwargs={"middleware": middleware}, max_file_size=MAX_UPLOAD,
                state_session_capacity=max_sessions)
