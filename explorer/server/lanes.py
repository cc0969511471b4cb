"""The two compute lanes every event runs in, set through Gradio's public API as each listener is registered.

    lanes.listen(button.click, fn, inputs, outputs, api_name=...)     # instead of button.click(fn, inputs, ...)
    lanes.listen(gr.on, fn, inputs, outputs, triggers=[...], ...)    # gr.on's triggers by keyword

Single-step requests (a block click, one denoising step, a receptive field …) share the quick lane: at most `quick`
at once, all endpoints and users together. Long jobs (`long_job`: seconds of compute) share the long lane, so a
click never waits behind one: Gradio starts up to LONG_ACTIVE of them, and they compute their slices (a call, or one
step of a generator) `long` at a time, in the fair order of `fair.FairLane`, in threads of lower priority
(LONG_NICE), where `zerogpu.gpu_job` puts them (a GPU function on ZeroGPU, CUDA if present, else the CPU). Every
function is also wrapped by `limits.quiet` (a refusal is one log line and a message; a dropped session is told).
Who joins a lane and who starts next (places, refusals, fair shares by address and session) is `admission.py`,
applied to Gradio's queue by `Lanes.guard`.

The numbers come from the command line (`app.py`): the app is built inside `building(quick, long, proxy_hops)`, and
each `listen` reads the lanes of the build it runs in; outside one (tests that build the app) it gets `Lanes()`,
one per process. Nothing here imports gradio at import time: `app.py` imports it before Gradio's temp folder is set.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from explorer.server import admission, fair, internals, limits, zerogpu
from explorer.server.admission import LONG_ACTIVE, LONG_LANE, QUICK_LANE, Job, kinds  # noqa: F401 - the lanes' names

LONG_JOBS = 1                     # slices of long jobs computed at once, all users together (`FairLane`)
LONG_NICE = 10                    # long jobs run in threads of this lower priority: a click gets the cores first
SPARE_THREADS = 32                # Gradio's worker threads beyond the started long jobs (each waits in one)


def long_job(kind: str):
    """Mark an event function as a long job of `kind` (seconds of compute: a reverse process, a strip of t
    values, four backward passes). Long jobs run in a lane of their own, so a click never waits behind one;
    the lane is shared fairly between addresses and sessions (`fair.FairLane`, `admission`).

    A tab's refresh (explorer/ui/refresh.py) is also marked `long_job_refresh`: the page asks for it again
    whenever its inputs change, and Gradio's page can send the next one before it has recorded that the last
    is under way (two triggers a few milliseconds apart), so a session may have two at once."""
    def mark(fn):
        fn.long_job = kind
        return fn
    return mark


def client_of(peer: str | None, headers, proxy_hops: int = 0) -> str:
    """The client a request comes from, for the fair shares: its TCP peer address or, behind `proxy_hops` trusted
    proxies (a Space: 1), the address the outermost of them wrote into X-Forwarded-For. Entries further left are
    the client's own word and never trusted; without `proxy_hops` the header is ignored (and uvicorn is told to
    trust it from nobody: `forwarded_allow_ips`). An IPv6 address counts as its /64 (`fair.address_of`)."""
    if proxy_hops > 0:
        # A proxy may add its own header line instead of extending the client's: read every line, in order.
        lines = (headers.getlist("x-forwarded-for") if hasattr(headers, "getlist")
                 else [headers.get("x-forwarded-for") or ""])
        forwarded = [part.strip() for line in lines for part in line.split(",") if part.strip()]
        if len(forwarded) >= proxy_hops:
            return fair.address_of(forwarded[-proxy_hops])
    return fair.address_of(peer or "unknown")


class LowPriorityThreads:
    """Threads that lower their own scheduling priority (Linux: nice is per thread, and threads they start,
    such as the reverse process's two model threads, inherit it). `wrap(fn)` runs fn, or each step of a
    generator fn, in them, one slice at a time on the fair lane; Gradio's worker thread waits meanwhile. A worker
    thread is never reniced itself: without privileges a thread's priority cannot be raised back."""

    def __init__(self, count: int, nice: int = LONG_NICE, client=None, ledger: fair.Ledger | None = None):
        self.nice = nice
        self.lane = fair.FairLane(count, ledger)
        self.client = client or (lambda request: client_of(None, {}))  # gr.Request -> its client (address)
        self.pool = ThreadPoolExecutor(max_workers=max(1, count), thread_name_prefix="long-job",
                                       initializer=self._lower_priority)

    def _lower_priority(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority as the rest
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)

    def slice(self, kind: str, since: float, fn, *args, spent: list | None = None, more=lambda result: False):
        """fn(*args) in a low-priority thread on the client's next turn; nothing when its client is gone. The
        seconds it computed are added to `spent` (a list of one number); `more(result)`: whether the job has a
        next slice (the slot is then kept for it a moment, `fair.FairLane.hold`)."""
        request = internals.current_request()
        session = getattr(request, "session_hash", None)
        address = self.client(request) if request is not None else "local"
        with self.lane.turn(address, session, spent[0] if spent is not None else 0.0):
            if limits.LISTENERS.gone(session, since):  # a strip nobody reads is not computed (limits.quiet logs it)
                import gradio as gr

                raise gr.Error(f"The {kind} was dropped: nobody was waiting for it", print_exception=False)
            began = time.monotonic()
            try:
                # Gradio's context (the gr.Request) goes along: ZeroGPU reads the visitor's quota token from it.
                result = self.pool.submit(contextvars.copy_context().run, fn, *args).result()
            finally:
                if spent is not None:
                    spent[0] += time.monotonic() - began
            if more(result):  # a generator's step: its next slice comes as soon as Gradio has sent this one
                self.lane.hold(address, session, spent[0] if spent is not None else 0.0)  # before the slot is free
            return result

    def wrap(self, fn, kind: str = "long job", served=lambda seconds: None):
        """fn (or each step of a generator fn) computed slice by slice on the fair lane; `served(seconds)` once it
        ends, with the seconds it computed."""
        run = self.pool.submit
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def steps(*args, **kwargs):
                generator = fn(*args, **kwargs)
                done, since, spent = object(), time.monotonic(), [0.0]
                try:
                    while (item := self.slice(kind, since, next, generator, done, spent=spent,
                                              more=lambda result: result is not done)) is not done:
                        yield item
                finally:  # the client left (GeneratorExit) or the run ended: close it where it ran
                    run(generator.close).result()
                    served(spent[0])
            return steps

        @functools.wraps(fn)
        def call(*args, **kwargs):
            spent = [0.0]
            try:
                return self.slice(kind, time.monotonic(), functools.partial(fn, *args, **kwargs), spent=spent)
            finally:
                served(spent[0])
        return call


class Lanes:
    """The lanes of one app: `quick` single-step requests at once ("default": what `demo.queue`'s
    default_concurrency_limit says), `long` slices of long jobs at once, and the trusted proxies in front of the
    app (`proxy_hops`, a Space: 1), whose X-Forwarded-For names the client. Each lane keeps a `fair.Ledger` of the
    compute each address and session has had; `admission` decides who joins and who starts."""

    def __init__(self, quick: int | str = "default", long: int = LONG_JOBS, proxy_hops: int = 0,
                 active: int = LONG_ACTIVE):
        self.quick, self.long, self.active = quick, long, active
        self.proxy_hops = max(0, int(proxy_hops))
        self.ledgers = {QUICK_LANE: fair.Ledger(), LONG_LANE: fair.Ledger()}
        self.threads = LowPriorityThreads(long, client=self.client, ledger=self.ledgers[LONG_LANE])
        slots = {QUICK_LANE: quick if isinstance(quick, int) else 2, LONG_LANE: long}
        self.admission = admission.Admission(self.client, self.ledgers, slots, active=active)

    def client(self, request) -> str:
        """The client (address) of a gr.Request or a Starlette request."""
        peer = getattr(getattr(request, "client", None), "host", None)
        headers = getattr(request, "headers", None) or {}
        return client_of(peer, headers, self.proxy_hops)

    def charged(self, fn):
        """fn, charging the compute it takes (for a generator: each step) to its caller's address and session in
        the quick lane's ledger, and telling the admission what a single-step request costs. (The long lane's
        slices are charged by `fair.FairLane`.)"""
        ledger = self.ledgers[QUICK_LANE]

        def charge(seconds: float) -> None:
            request = internals.current_request()
            if request is not None:
                ledger.charge(self.client(request), getattr(request, "session_hash", None), seconds)
            self.admission.served(QUICK_LANE, seconds)

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def steps(*args, **kwargs):
                generator = fn(*args, **kwargs)
                try:
                    while True:
                        began = time.monotonic()
                        try:
                            item = next(generator)
                        except StopIteration:
                            return
                        finally:
                            charge(time.monotonic() - began)
                        yield item
                finally:
                    generator.close()
            return steps

        @functools.wraps(fn)
        def call(*args, **kwargs):
            began = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                charge(time.monotonic() - began)
        return call

    def wrap(self, fn, name: str):
        """fn as it runs in its lane: a long job on the fair lane in low-priority threads (where `zerogpu` puts
        it); a quick one charged to its caller; every function quiet (`limits.quiet`)."""
        kind = getattr(fn, "long_job", None)
        if fn is None or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            return limits.quiet(fn, name)
        if kind:
            refresh = getattr(fn, "long_job_refresh", False)
            fn = self.threads.wrap(zerogpu.gpu_job(fn, kind), kind,
                                   served=lambda seconds: self.admission.served(LONG_LANE, seconds))
            fn.long_job, fn.long_job_refresh = kind, refresh  # whatever gpu_job returned: the admission reads them
        else:
            fn = self.charged(fn)
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

    def guard(self, demo) -> None:
        """Let `admission` decide who joins the built app's lanes and who starts next (`internals.hook_queue`)."""
        internals.hook_queue(demo, self.admission.admit, self.admission.choose, (QUICK_LANE, LONG_LANE))

    def launch_options(self) -> dict:
        """Keyword arguments for `demo.launch`: worker threads for every started long job and the quick lane."""
        return {"max_threads": self.active + SPARE_THREADS}


def forwarded_allow_ips(proxy_hops: int) -> str:
    """uvicorn's `forwarded_allow_ips` (its FORWARDED_ALLOW_IPS variable): the peers whose X-Forwarded-For and
    X-Forwarded-Proto it believes. Not behind a proxy: nobody (its default, 127.0.0.1, made a tunnel or proxy on the
    same host trusted whether or not the app was told of it). Behind `proxy_hops` proxies: any peer, since the app
    is reached only through them; the client the lanes count is still read by `client_of`, HOPS from the right."""
    return "*" if proxy_hops > 0 else ""


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
