"""The two compute lanes every event runs in, set through Gradio's public API as each listener is registered.

    lanes.listen(button.click, fn, inputs, outputs, api_name=...)     # instead of button.click(fn, inputs, ...)
    lanes.listen(gr.on, fn, inputs, outputs, triggers=[...], ...)    # gr.on's triggers by keyword

Single-step requests (a block click, one denoising step, a receptive field …) share the quick lane: at most `quick`
at once, all endpoints and users together. Long jobs (`long_job`: seconds of compute) share the long lane, so a
click never waits behind one: Gradio starts up to LONG_ACTIVE of them, and they compute their slices (a call, or one
step of a generator) `long` at a time, taken in turn client by client (`FairLane`), in threads of lower priority
(LONG_NICE), where `zerogpu.gpu_job` puts them (a GPU function on ZeroGPU, CUDA if present, else the CPU). Every
function is also wrapped by `limits.quiet` (a refusal is one log line and a message; a dropped session is told).

The numbers come from the command line (`app.py`): the app is built inside `building(quick, long, proxy_hops)`, and
each `listen` reads the lanes of the build it runs in; outside one (tests that build the app) it gets `Lanes()`,
one per process. Nothing here imports gradio at import time: `app.py` imports it before Gradio's temp folder is set.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
import os
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from explorer.server import internals, limits, zerogpu

QUICK_LANE = "quick"              # single-step views: a block click, one denoising step, a receptive field …
LONG_LANE = "long"                # long jobs (see `long_job`): they never hold up the quick lane
LONG_JOBS = 1                     # slices of long jobs computed at once, all users together (`FairLane`)
LONG_ACTIVE = 8                   # long jobs started at once; they take their slices in turn, client by client
# Long jobs waiting to start, all clients together: more are refused with a message. One client is held to
# LONG_PER_CLIENT by its own cap; this bounds many clients together. A class of 32 (each with a strip, a Part-by-part
# refresh and a reverse process, at its own pace) had 13 jobs refused at 16 places (issue 21, docs/benchmarks.md).
LONG_PLACES = 64
LONG_PER_CLIENT = 3               # long jobs one client (address) may have waiting or running
QUICK_PLACES = 64                 # single-step requests waiting, all clients together: long jobs never take these
LONG_NICE = 10                    # long jobs run in threads of this lower priority: a click gets the cores first


def long_job(kind: str):
    """Mark an event function as a long job of `kind` (seconds of compute: a reverse process, a strip of t
    values, four backward passes). Long jobs run in a lane of their own, so a click never waits behind one;
    the lane is shared fairly between clients (`FairLane`, `refusal`).

    A tab's refresh (explorer/ui/refresh.py) is also marked `long_job_refresh`: the page asks for it again
    whenever its inputs change, and Gradio's page can send the next one before it has recorded that the last
    is under way (two triggers a few milliseconds apart), so a session may have two at once."""
    def mark(fn):
        fn.long_job = kind
        return fn
    return mark


def client_of(peer: str | None, headers, proxy_hops: int = 0) -> str:
    """The client a request comes from, for sharing the long lane: its TCP peer address or, behind `proxy_hops`
    trusted proxies (a Space: 1), the address the outermost of them wrote into X-Forwarded-For. Entries further
    left are the client's own word and never trusted; without `proxy_hops` the header is ignored."""
    if proxy_hops > 0:
        # A proxy may add its own header line instead of extending the client's: read every line, in order.
        lines = (headers.getlist("x-forwarded-for") if hasattr(headers, "getlist")
                 else [headers.get("x-forwarded-for") or ""])
        forwarded = [part.strip() for line in lines for part in line.split(",") if part.strip()]
        if len(forwarded) >= proxy_hops:
            return forwarded[-proxy_hops][:64]
    return peer or "unknown"


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


class LowPriorityThreads:
    """Threads that lower their own scheduling priority (Linux: nice is per thread, and threads they start,
    such as the reverse process's two model threads, inherit it). `wrap(fn)` runs fn, or each step of a
    generator fn, in them, one slice at a time on the fair lane; Gradio's worker thread waits meanwhile. A worker
    thread is never reniced itself: without privileges a thread's priority cannot be raised back."""

    def __init__(self, count: int, nice: int = LONG_NICE, client=None):
        self.nice = nice
        self.lane = FairLane(count)
        self.client = client or (lambda request: client_of(None, {}))  # gr.Request -> its client (address)
        self.pool = ThreadPoolExecutor(max_workers=max(1, count), thread_name_prefix="long-job",
                                       initializer=self._lower_priority)

    def _lower_priority(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority as the rest
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)

    def slice(self, kind: str, since: float, fn, *args):
        """fn(*args) in a low-priority thread on the client's next turn; nothing when its client is gone."""
        request = internals.current_request()
        session = getattr(request, "session_hash", None)
        with self.lane.turn(self.client(request) if request is not None else "local"):
            if limits.LISTENERS.gone(session, since):  # a strip nobody reads is not computed (limits.quiet logs it)
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


@dataclass(frozen=True)
class Job:
    """A long job in Gradio's queue, as the admission rules see it."""
    session: str | None
    kind: str
    client: str


class Lanes:
    """The lanes of one app: `quick` single-step requests at once ("default": what `demo.queue`'s
    default_concurrency_limit says), `long` slices of long jobs at once, and the trusted proxies in front of the
    app (`proxy_hops`, a Space: 1), whose X-Forwarded-For names the client that shares the long lane."""

    def __init__(self, quick: int | str = "default", long: int = LONG_JOBS, proxy_hops: int = 0,
                 active: int = LONG_ACTIVE):
        self.quick, self.long, self.active = quick, long, active
        self.proxy_hops = max(0, int(proxy_hops))
        self.threads = LowPriorityThreads(long, client=self.client)

    def client(self, request) -> str:
        """The client (address) of a gr.Request or a Starlette request."""
        peer = getattr(getattr(request, "client", None), "host", None)
        headers = getattr(request, "headers", None) or {}
        return client_of(peer, headers, self.proxy_hops)

    def wrap(self, fn, name: str):
        """fn as it runs in its lane: a long job on the fair lane in low-priority threads (where `zerogpu` puts
        it); every function quiet (`limits.quiet`)."""
        kind = getattr(fn, "long_job", None)
        if kind:
            refresh = getattr(fn, "long_job_refresh", False)
            fn = self.threads.wrap(zerogpu.gpu_job(fn, kind), kind)
            fn.long_job, fn.long_job_refresh = kind, refresh  # whatever gpu_job returned: the admission reads them
        return limits.quiet(fn, name)  # by its module-level name: tests/leaky_app.py plants its leak there

    def listen(self, register, fn, inputs=None, outputs=None, **options):
        """`register(fn, inputs, outputs, **options)` (a component's .click, .change …, gr.on, demo.load) with fn
        wrapped for its lane and the lane's `concurrency_id` and `concurrency_limit`. Returns what it returns."""
        kind = getattr(fn, "long_job", None)
        api_name = options.get("api_name")
        name = api_name if isinstance(api_name, str) else getattr(fn, "__name__", "event")
        lane = ({"concurrency_id": LONG_LANE, "concurrency_limit": max(self.active, self.long)} if kind
                else {"concurrency_id": QUICK_LANE, "concurrency_limit": self.quick})
        return register(fn=self.wrap(fn, name), inputs=inputs, outputs=outputs, **lane, **options)

    def refusal(self, kind: str | None, session: str | None, client: str, quick_waiting: int, quick_places: int,
                long_waiting: list[Job], long_running: list[Job], refresh: bool = False) -> tuple[str, str] | None:
        """Whether an event may join the queue: None, or (message, Gradio's code) when it is refused because

        - it is a single-step request and `quick_places` of them are waiting (long jobs never take these places);
        - it is a session's second long job of one kind while the first waits or runs (the page never asks twice:
          its long events wait for their previous run), unless it is a tab's refresh (see `long_job`);
        - its client (address, see `client_of`) already has LONG_PER_CLIENT long jobs waiting or running: session
          ids are the client's to pick, so a rule per session alone limits nothing;
        - LONG_PLACES long jobs are waiting (where Gradio's one `max_size` let 40 sessions × 2 long jobs refuse
          every click with "Queue is full").
        """
        if not kind:
            if quick_waiting >= quick_places:
                limits.log.warning("refused a click: %d single-step requests waiting", quick_waiting)
                return f"The server is busy ({quick_waiting} requests waiting): try again in a moment", "queue_full"
            return None
        jobs = long_waiting + long_running
        if session and not refresh and any(job.session == session and job.kind == kind for job in jobs):
            limits.log.warning("refused a second %s of one session", kind)
            return (f"Your {kind} is still waiting or running: wait for it to finish, then start the next one",
                    "error")
        own = [job for job in jobs if job.client == client]
        if len(own) >= LONG_PER_CLIENT:
            limits.log.warning("refused a %s: its client has %d long jobs waiting or running", kind, len(own))
            return (f"You already have {len(own)} long jobs waiting or running ({kinds(own)}): wait for one of "
                    f"them to finish, then ask for the {kind} again"), "error"
        if len(long_waiting) >= LONG_PLACES:
            limits.log.warning("refused a %s: %d long jobs waiting", kind, len(long_waiting))
            return (f"The lane for long jobs is full ({len(long_waiting)} waiting): ask for the {kind} again in a "
                    "minute. Single-step views still answer at once"), "error"
        return None


def kinds(jobs: list[Job]) -> str:
    names = sorted({job.kind for job in jobs})
    return ", ".join(f"a {name}" if not name.startswith(("a ", "an ")) else name for name in names)


BUILDING: contextvars.ContextVar[Lanes] = contextvars.ContextVar("lanes")


@contextlib.contextmanager
def building(quick: int | str = "default", long: int = LONG_JOBS, proxy_hops: int = 0):
    """The lanes for the listeners registered inside (an app being built). Yields them, for `limits.harden`."""
    token = BUILDING.set(Lanes(quick, long, proxy_hops))
    try:
        yield BUILDING.get()
    finally:
        BUILDING.reset(token)


@functools.cache
def default() -> Lanes:
    """The lanes of an app built outside `building` (tests, the benchmark): one per process."""
    return Lanes()


def current() -> Lanes:
    """The lanes of the app being built."""
    return BUILDING.get(None) or default()


def listen(register, fn, inputs=None, outputs=None, **options):
    """Register fn in its lane of the app being built (`Lanes.listen`)."""
    return current().listen(register, fn, inputs, outputs, **options)


def on(triggers, fn, inputs=None, outputs=None, **options):
    """`gr.on(triggers, fn, …)` in fn's lane of the app being built."""
    import gradio as gr

    return listen(gr.on, fn, inputs, outputs, triggers=triggers, **options)
