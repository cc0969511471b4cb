"""What keeps one anonymous client from exhausting the server: body sizes, disk, the queue, quiet refusals.

`app.py` applies all of it: `temp_root()` before Gradio is imported, `harden(demo, ...)` after the app is
built and `launch_options()` in `launch()`. Each piece is small and says which attack it bounds.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import functools
import gc
import inspect
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from explorer.ui.session_state import pin_replacement_ids

log = logging.getLogger("unet_explorer")

MAX_BODY = 64 * 1024              # every request but an upload: the largest real one is a few hundred bytes
MAX_UPLOAD = 16 * 1024 * 1024     # one image: a 48-megapixel phone photo is 8-15 MB as JPEG
MAX_UPLOAD_BODY = MAX_UPLOAD + 64 * 1024  # one file plus its multipart headers: no batches of files
UPLOAD_PATH = "/gradio_api/upload"
STREAM_PATH = "/gradio_api/queue/data"
CALL_PATH = "/gradio_api/call/"
CACHE_BUDGET = 256 * 1024 * 1024  # bytes the upload and output cache may hold before the oldest files go
CACHE_SWEEP_S = 10.0
MAX_SESSIONS = 200                # sessions whose state (the image, the last outputs) the server keeps
CLIENT_GRACE_S = 5.0              # a job whose session has had no open event stream this long is stopped
QUICK_LANE = "quick"              # single-step views: a block click, one denoising step, a receptive field …
LONG_LANE = "long"                # long jobs (see `long_job`): they never hold up the quick lane
LONG_JOBS = 1                     # long jobs computed at once, all users together
LONG_NICE = 10                    # long jobs run in threads of this lower priority: a click gets the cores first
TEMP_PARENT = "unet-explorer"
PLANTED_LEAK_ENV = "UNET_EXPLORER_PLANTED_LEAK"     # tests only: KiB of tensor kept per request (a leak to catch)
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
        if not session:
            return False
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
        try:
            await self.app(scope, receive, send)
        finally:
            self.listeners.closed(session)


# --- disk ------------------------------------------------------------------------------------------------------

def temp_root(parent: Path | None = None) -> Path:
    """Make this process's own temp folder and point Gradio and `tempfile` at it; call before importing gradio.

    Layout: <TMPDIR>/unet-explorer/<pid>-<random>/{gradio,tmp}. The folder holds a lock for the process's
    life; folders whose lock is free belong to dead processes (killed, say) and are removed here. This
    process's folder is removed at exit (SIGTERM included).
    """
    parent = Path(parent or tempfile.gettempdir()) / TEMP_PARENT
    parent.mkdir(parents=True, exist_ok=True)
    for folder in parent.iterdir():
        sweep_if_dead(folder)
    root = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
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


def bound_cache(folder: Path, budget: int = CACHE_BUDGET, keep: frozenset[Path] = frozenset()) -> int:
    """Delete the oldest files under `folder` (never those in `keep`) until it holds at most `budget` bytes;
    returns the bytes freed."""
    files = cache_files(folder)
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files):
        if total - freed <= budget:
            break
        if path in keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            freed += size
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # gradio keeps one folder per file: drop it when empty
    if freed:
        log.info("cache over %d MB: removed %d MB of the oldest files", budget // 2**20, freed // 2**20)
    return freed


class CacheSweeper:
    """A daemon thread that keeps Gradio's cache under its byte budget, every few seconds and after each upload."""

    def __init__(self, folder: Path, budget: int = CACHE_BUDGET, every: float = CACHE_SWEEP_S):
        self.folder, self.budget, self.every = Path(folder), budget, every
        # What the built app put there (the examples' thumbnails, first previews): every page shows it.
        self.keep = frozenset(path for _, _, path in cache_files(self.folder))
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="cache-sweeper", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.every)
            self.wake.clear()
            try:
                bound_cache(self.folder, self.budget, self.keep)
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
    values, four backward passes). Long jobs run in a lane of their own, so a click never waits behind one,
    and a session holds at most one job of each kind, waiting or running (`one_job_per_kind`)."""
    def mark(fn):
        fn.long_job = kind
        return fn
    return mark


def compute_lanes(demo, quick: int, long: int = LONG_JOBS) -> None:
    """Put every event of `demo` in one of two concurrency groups (Gradio's limits are per event otherwise):
    at most `quick` single-step requests and `long` long jobs run at once, all endpoints and users together.
    Long jobs compute in `long` threads of lower priority (LONG_NICE), so that on a busy machine the cores
    go to the single-step requests first and a long job takes what is left."""
    threads = LowPriorityThreads(long)
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue
        kind = getattr(block_fn.fn, "long_job", None)
        block_fn.concurrency_id = LONG_LANE if kind else QUICK_LANE
        block_fn.concurrency_limit = long if kind else quick
        block_fn.long_job_kind = kind
        if kind:
            block_fn.fn = threads.wrap(block_fn.fn)


class LowPriorityThreads:
    """Threads that lower their own scheduling priority (Linux: nice is per thread, and threads they start,
    such as the reverse process's two model threads, inherit it). `wrap(fn)` runs fn, or each step of a
    generator fn, in them; Gradio's worker thread waits meanwhile. A worker thread is never reniced itself:
    without privileges a thread's priority cannot be raised back."""

    def __init__(self, count: int, nice: int = LONG_NICE):
        self.nice = nice
        self.pool = ThreadPoolExecutor(max_workers=max(1, count), thread_name_prefix="long-job",
                                       initializer=self._lower_priority)

    def _lower_priority(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority as the rest
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)

    def wrap(self, fn):
        run = self.pool.submit
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def steps(*args, **kwargs):
                generator = fn(*args, **kwargs)
                done = object()
                try:
                    while (item := run(next, generator, done).result()) is not done:
                        yield item
                finally:  # the client left (GeneratorExit) or the run ended: close it where it ran
                    run(generator.close).result()
            return steps

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return run(fn, *args, **kwargs).result()
        return call


def one_job_per_kind(demo) -> None:
    """Refuse, when it is asked, a session's second long job of one kind while the first waits or runs (HTTP 400
    with a message): one client cannot fill the long lane with its own jobs. The page never asks twice (its
    long events wait for their previous run). Asked of Gradio's queue itself (its waiting and running events),
    so no count of ours can drift."""
    import asyncio

    queue = demo._queue
    push = queue.push
    lock = asyncio.Lock()  # the check and the enqueueing together, one long job at a time

    def holds(session: str, kind: str) -> bool:
        lane = queue.event_queue_per_concurrency_id.get(LONG_LANE)
        waiting = list(lane.queue) if lane is not None else []
        running = [event for job in queue.active_jobs if job for event in job]
        return any(event.session_hash == session and getattr(event.fn, "long_job_kind", None) == kind
                   for event in waiting + running)

    async def push_one_per_kind(body, request, username):
        fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        kind = getattr(fn, "long_job_kind", None)
        if not kind or not body.session_hash:
            return await push(body=body, request=request, username=username)
        async with lock:
            if holds(body.session_hash, kind):
                log.warning("refused a second %s of one session", kind)
                return False, (f"Your {kind} is still waiting or running: wait for it to finish, then start the "
                               "next one"), "error"
            return await push(body=body, request=request, username=username)

    queue.push = push_one_per_kind


def quiet_errors(demo) -> None:
    """Wrap every event function: a refused request logs one line, not a traceback, and any unexpected
    error reaches the client as a message instead of an empty error."""
    import gradio as gr

    seen: set[tuple[str, str]] = set()
    planted: list = []  # tests only (PLANTED_LEAK_ENV): the leak the load test must catch
    leak_kib = int(os.environ.get(PLANTED_LEAK_ENV) or 0)

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

    def plant() -> None:
        if leak_kib:
            import torch

            planted.append(torch.ones(leak_kib * 256))  # float32: 256 values a KiB, like a kept feature map

    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if fn is None or getattr(fn, "quiet", False) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            continue
        name = block_fn.api_name or getattr(fn, "__name__", "event")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def wrapper(*args, _fn=fn, _name=name, **kwargs):
                plant()
                try:
                    yield from _fn(*args, **kwargs)
                except Exception as error:  # noqa: BLE001 - re-raised as a message for the client
                    raise refuse(_name, error) from None
        else:
            @functools.wraps(fn)
            def wrapper(*args, _fn=fn, _name=name, **kwargs):
                plant()
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
            detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
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

def harden(demo, concurrency: int, long_jobs: int = LONG_JOBS) -> None:
    """Everything that acts on the built app: two compute lanes, quiet errors, atomic output files, sessions
    that do not grow with each update."""
    compute_lanes(demo, concurrency, long_jobs)
    one_job_per_kind(demo)
    quiet_errors(demo)
    atomic_cache_writes()
    pin_replacement_ids()
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
    from starlette.middleware import Middleware

    from gradio.utils import get_upload_folder

    sweeper = CacheSweeper(Path(get_upload_folder()), cache_budget)
    middleware = [Middleware(StreamWatch), Middleware(UploadWake, sweeper=sweeper), Middleware(BodyLimit)]
    return dict(app_kwargs={"middleware": middleware}, max_file_size=MAX_UPLOAD,
                state_session_capacity=max_sessions)
