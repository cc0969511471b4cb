"""What keeps one anonymous client from exhausting the server: body sizes, disk, the queue, quiet refusals.

`app.py` applies all of it: `temp_root()` before Gradio is imported, `harden(demo, lanes)` after the app is
built (its listeners in `lanes.py`'s two lanes, each function `quiet`) and `launch_options()` in `launch()`. Each
piece is small and says which attack it bounds; what reaches into Gradio's internals is in `internals.py`.
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
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from explorer.server import internals
from explorer.server.session_state import EVICTIONS, MOVED_MESSAGE
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
MAX_STEPS = 250                   # DDIM steps of one reverse process: enough to watch errors add up; 1000 held the
                                  # long lane for 50 s (ui/validate.py checks it, zerogpu.py asks GPU time for it)
CLIENT_GRACE_S = 5.0              # a job whose session's event stream closed this long ago is stopped
OPEN_GRACE_S = 15.0               # … and one whose session joined this long ago and never opened its stream (a
                                  # page opens it at once; on a loaded 2-core machine 45 streams took over 5 s)
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


EVENT_ROUTES = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")


class UnknownEvents:
    """ASGI middleware: a request for an event the app does not have (an unknown API name, or fn_index) answers 404
    with a message and one log line. Gradio 6.31 answered 500 and logged an 80-line traceback (a KeyError, or
    route_utils.FnIndexInferError, raised before any of the app's code runs)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(EVENT_ROUTES):
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:  # noqa: BLE001 - only the two kinds below; anything else is re-raised
            if started or not (isinstance(error, KeyError) or type(error).__name__ == "FnIndexInferError"):
                raise
            log.warning("refused POST %s: no such event (%s)", scope["path"][:120], type(error).__name__)
            body = json.dumps({"detail": "This app has no such event: read its API page for the events it has",
                               "error": "This app has no such event"}).encode()
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})


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


# --- who is still listening ------------------------------------------------------------------------------------

class Listeners:
    """Open event streams per session, and when each session last joined the queue.

    Gradio stops a generator when its client's stream closes, but not one whose client never opened a
    stream; `gone(session, since)` tells a job (and the queue, for the events still waiting) that nobody reads it.
    """

    def __init__(self, clock=time.monotonic, grace: float = CLIENT_GRACE_S, open_grace: float = OPEN_GRACE_S):
        self.grace, self.open_grace = grace, open_grace  # seconds (module constants); app.py's --open-grace
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._closed_at: dict[str, float] = {}
        self._joined_at: dict[str, float] = {}
        self._pid = os.getpid()
        self.clock = clock

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
                self._closed_at[session] = self.clock()
                self._forget(self._closed_at)

    def joined(self, session: str) -> None:
        """`session` sent an event: the grace for opening its stream counts from now."""
        with self._lock:
            self._joined_at[session] = self.clock()
            self._forget(self._joined_at)

    @staticmethod
    def _forget(times: dict[str, float]) -> None:
        if len(times) > 10 * MAX_SESSIONS:  # forget the oldest sessions
            for old in sorted(times, key=times.get)[:MAX_SESSIONS]:
                del times[old]

    def gone(self, session: str | None, since: float) -> bool:
        """True when nobody reads `session`: no stream open, and either its stream closed `grace` seconds ago (after
        its last join), or it joined `open_grace` seconds ago and opened none since (from `since` when neither is
        known)."""
        if not session or os.getpid() != self._pid:  # a forked ZeroGPU worker never hears of streams: the
            return False                                  # parent stops its job (LowPriorityThreads.slice)
        with self._lock:
            if self._open.get(session):
                return False
            closed, joined = self._closed_at.get(session), self._joined_at.get(session)
        if closed is not None and (joined is None or closed >= joined):
            return self.clock() - closed > self.grace
        return self.clock() - (joined if joined is not None else since) > (self.open_grace if joined is not None
                                                                              else self.grace)


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

MAKING = ".making-"  # prefix of a temp folder whose lock is not taken yet


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
    # Made under a hidden name and locked before it gets its own: a sweeping neighbour never takes a folder
    # whose lock is not held yet for a dead one.
    making = Path(tempfile.mkdtemp(prefix=MAKING, dir=parent))
    lock = open(making / ".lock", "w")  # noqa: SIM115 - held open (and locked) until the process ends
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    root = making.with_name(making.name[len(MAKING):])
    making.rename(root)
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
    if folder.name.startswith(MAKING) and time.time() - folder.stat().st_mtime < 3600:
        return False  # a neighbour making its folder right now (or one that died doing it, swept an hour later)
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


class UploadShares:
    """The uploads each address has on disk and has not had read yet: one address keeps at most `files` of them
    (and `budget` bytes); past that its own oldest go, never another address's. 1,100 tiny uploads from one address
    in 13 s evicted other visitors' pending uploads and previews, since the sweeper takes the oldest files of all."""

    def __init__(self, files: int = CACHE_FILES // 8, budget: int = CACHE_BUDGET // 8, discard=None):
        self.files, self.budget = files, budget
        self.discard = discard or (lambda path: discard_upload(str(path)))
        self._lock = threading.Lock()
        self._held: dict[str, list[tuple[Path, int]]] = {}

    def added(self, address: str, paths: list[str]) -> int:
        """Record `address`'s new uploads; delete its oldest past its share. Returns how many were deleted."""
        removed = []
        with self._lock:
            held = [(path, size) for path, size in self._held.get(address, []) if path.exists()]
            for name in paths:
                path = Path(name)
                with contextlib.suppress(OSError):
                    held.append((path, path.stat().st_size))
            while held and (len(held) > self.files or sum(size for _, size in held) > self.budget):
                removed.append(held.pop(0)[0])
            if held:
                self._held[address] = held
            else:
                self._held.pop(address, None)
            if len(self._held) > 10 * MAX_SESSIONS:  # addresses whose uploads were all read or swept
                for other in [key for key, value in self._held.items() if not any(p.exists() for p, _ in value)]:
                    del self._held[other]
        for path in removed:
            self.discard(path)
        if removed:
            log.info("an address over its share of the upload cache: removed its %d oldest uploads", len(removed))
        return len(removed)


UPLOADS = UploadShares()


class UploadWake:
    """ASGI middleware: after every upload, hold its address to its share of the cache (`UploadShares`, the address
    told by `client(request)`) and wake the cache sweeper."""

    def __init__(self, app, sweeper: CacheSweeper, client=None, shares: UploadShares = UPLOADS):
        self.app, self.sweeper, self.client, self.shares = app, sweeper, client, shares

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].rstrip("/").endswith(UPLOAD_PATH):
            return await self.app(scope, receive, send)
        status, body = 0, []

        async def kept(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200 and sum(map(len, body)) < 65536:
                body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, kept)
        finally:
            if status == 200 and self.client is not None:
                from starlette.requests import Request

                with contextlib.suppress(ValueError, TypeError):
                    paths = json.loads(b"".join(body))
                    if isinstance(paths, list):
                        self.shares.added(self.client(Request(scope)), [str(p) for p in paths])
            self.sweeper.wake.set()


def discard_upload(path: str) -> None:
    """Delete an uploaded file (and its folder) once it has been read, if it lies in Gradio's upload folder."""
    file = Path(path).resolve()
    if file.is_relative_to(internals.upload_folder().resolve()):
        with contextlib.suppress(OSError):
            file.unlink()
            file.parent.rmdir()


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


# --- quiet errors ----------------------------------------------------------------------------------------------

def quiet(fn, name: str):
    """fn (an event function; `name`: its endpoint, for the log), wrapped so that a refused request logs one line,
    not a traceback, any unexpected error reaches the client as a message instead of an empty error, and a session
    that Gradio dropped (`--max-sessions`) is told so, once. `lanes.listen` wraps every function with it."""
    if fn is None or getattr(fn, "quiet", False) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return fn
    import gradio as gr

    seen: set[str] = set()

    def refuse(error: Exception) -> Exception:
        if isinstance(error, gr.Error):
            error.print_exception = False
            log.warning("refused %s: %s", name, str(error.message)[:200].replace("\n", " "))
            return error
        if isinstance(error, OverflowError) or (isinstance(error, ValueError) and re.search(
                r"\b(nan|inf|infinity)\b", str(error), re.IGNORECASE)):
            log.warning("refused %s: a number out of range (%s)", name, str(error)[:120].replace("\n", " "))
            return gr.Error("A number in this request is out of range (above 1.8e308, infinite or not a number): "
                            "use values within what the page offers", print_exception=False)
        kind = type(error).__name__
        if kind in seen:  # a traceback the first time a kind of failure shows up, one line after that
            log.error("failed %s: %s: %s", name, kind, str(error)[:200].replace("\n", " "))
        else:
            seen.add(kind)
            log.error("failed %s", name, exc_info=error)
        return gr.Error(f"This request could not be computed ({kind}): check its values", print_exception=False)

    def tell_evicted() -> None:
        request = internals.current_request()
        session = getattr(request, "session_hash", None)
        if EVICTIONS.take(session, "warning"):
            gr.Warning(EVICTED_MESSAGE)
        elif EVICTIONS.take(session, "moved"):
            gr.Warning(MOVED_MESSAGE)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tell_evicted()
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - re-raised as a message for the client
                raise refuse(error) from None
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tell_evicted()
            try:
                return fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise refuse(error) from None
    wrapper.quiet = True
    return wrapper


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
    if demo is not None:
        report["session_entries"] = internals.session_entries(demo)
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

def harden(demo, lanes) -> None:
    """Everything that acts on the built app, whose listeners run in `lanes` (lanes.Lanes, from
    `lanes.building`): each lane's places and the fair share of the long one, quiet payload errors, atomic
    output files, uploads that never collide, sessions that do not grow with each update and say when they
    were dropped, a patient start-up check. Exits with a message on a Gradio it was not tested with."""
    try:  # the patches reach into Gradio's internals: only on the versions they were written for
        internals.check()
    except internals.UntestedFramework as error:
        raise SystemExit(str(error)) from None
    lanes.guard(demo)
    internals.guard_payloads(demo, path_free)
    internals.atomic_cache_writes(write_once)
    internals.separate_uploads(FILES_PER_UPLOAD)
    internals.pin_replacement_ids()
    internals.note_evictions(EVICTIONS)
    memory_report_on_signal(demo)
    internals.patient_startup_check()


def launch_options(cache_budget: int = CACHE_BUDGET, max_sessions: int = MAX_SESSIONS, client=None) -> dict:
    """Keyword arguments for `demo.launch`: the middleware, the upload cap and the session bound. `client(request)`:
    the address a request counts as (`lanes.Lanes.client`), for each address's share of the upload cache."""
    from starlette.middleware import Middleware

    sweeper = CacheSweeper(internals.upload_folder(), cache_budget)
    middleware = [Middleware(NoSniff), Middleware(UnknownEvents), Middleware(StreamWatch),
                  Middleware(UploadWake, sweeper=sweeper, client=client), Middleware(BodyLimit)]
    return dict(app_kwargs={"middleware": middleware}, max_file_size=MAX_UPLOAD,
                state_session_capacity=max_sessions)
