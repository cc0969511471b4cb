"""Load test: 8 concurrent API sessions against the real app, in rounds; replies and memory checked.

The app runs once (`python app.py` on 127.0.0.1, tests/server.py). The test then:

1. "alone": with one client and nothing else running, makes every distinct request of a fixed, seeded plan
   once and keeps the reply (decoded: text as is, images as pixel arrays, plots as their JSON data);
2. warms up: the 8 sessions run concurrently through each of their distinct requests once, so that the
   server's thread pools, allocator arenas and caches have grown before memory is read;
3. runs ROUNDS rounds: each of the 8 sessions (the same 8 gradio_client sessions every round) makes the same
   12 requests drawn (seeded) from its plan, every reply compared with the one made alone; after each round
   the server reports its memory in use (SIGUSR1: gc, malloc_trim, then the bytes malloc has handed out).
4. checks that memory in use is flat over the last rounds (`leak`), and prints memory per round.

A second test runs the same check on an app that keeps a 1 MiB tensor per request
(UNET_EXPLORER_PLANTED_LEAK) and requires it to fail, so the check is known to catch a real leak.

Each session holds a different image (session 0 the default first held-out example, the others upload one
of their own) and uses its own timestep, seed, knock-outs, blocks and pixel, so a reply computed with another
session's state, or with knock-outs left behind by a concurrent request, differs from its "alone" reply.

Bounded: 8 × 12 requests a round, 127.0.0.1 only, a timeout per request and a deadline for the whole test.
p50/p95 latency per endpoint (client-side wall time) is printed and attached to the report.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageSequence

from tests.server import ROOT, api_client, running_app

SESSIONS = 8
REQUESTS_PER_SESSION = 12
REVERSE_STEPS = 5               # one short reverse process (denoise_from_here) per session
REQUEST_TIMEOUT_S = 90.0        # any single request, queueing included
TEST_DEADLINE_S = 900.0         # alone + warm-up + the rounds, after the app has started (a busy machine)
ROUNDS = 3                      # load rounds after the warm-up; the server's memory is read after each
FLAT_ROUNDS = 3                 # memory in use must be flat over the last 3 rounds (2 rounds of growth) ...
LEAK_BOUND_MIB = 12.0           # ... within 12 MiB (seen: ±5 MiB between rounds); 64 KB kept per request
                                # would pass it over 2 × 96 requests
OBJECTS_PER_REQUEST = 5         # ... and keep fewer than 5 more Python objects per request (seen: none since
                                # sessions stopped growing with each update, ~9 before; a kept figure is hundreds)
PLANTED_SESSIONS = 2            # the planted-leak run: fewer, cheaper requests, enough to show the check fails:
PLANTED_REQUESTS = 6            # 12 requests a round ...
PLANTED_KIB = 1024              # ... each keeping 1 MiB: 12 MiB a round, 24 MiB over the 2 rounds checked (twice
                                # the bound, as 192 requests of the load run would keep at 128 KB each)
SETTLE_S = 0.5                  # pause before each memory reading, for work after the last reply to end
HELDOUT = ROOT / "weights" / "heldout"


# --- requests and plans -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    api: str
    args: tuple     # hashable: a list argument (the skips) is a tuple here and a list on the wire

    def __str__(self) -> str:
        shown = ", ".join(Path(a).name if isinstance(a, str) and "/" in a else repr(a) for a in self.args)
        return f"{self.api}({shown})"


@dataclass
class Plan:
    session: int
    upload: Request | None      # made first: the session's own image (None: keep the default image)
    pool: list[Request]         # every distinct request of the session, the upload and the reverse included
    sequence: list[Request]     # the REQUESTS_PER_SESSION requests of the load run, in order
    warmup: list[Request]


def enum(api: dict, endpoint: str, parameter: str) -> list:
    for param in api[endpoint]["parameters"]:
        if param["parameter_name"] == parameter:
            spec = param["type"]
            return list(spec.get("enum") or spec.get("items", {}).get("enum") or [])
    raise KeyError(f"{endpoint} has no parameter {parameter}")


def make_plans(api: dict, per_session: int = REQUESTS_PER_SESSION) -> list[Plan]:
    blocks = enum(api, "/select_block", "name")
    spatial = enum(api, "/receptive_field", "name")
    skips = enum(api, "/denoise", "skips_on")
    assert blocks and spatial and skips, "view_api() lists no choices for the block / skip parameters"
    images = sorted(HELDOUT.glob("*.png"))
    plans = []
    for session in range(SESSIONS):
        rng = random.Random(f"unet-explorer-load-{session}")
        t, seed = 1 + (137 * (session + 1)) % 999, 1000 + session
        other_t = rng.randint(1, 999)
        # Knock-outs differ per session: the cut skips follow the session's bits, attention and the told t vary.
        cut = [name for level, name in enumerate(skips) if (session >> level) & 1]
        kept = [name for name in skips if name not in cut]
        first, second = rng.sample(blocks, 2)
        pool = [
            Request("/select_block", (t, seed, first)),
            Request("/select_block", (other_t, seed, second)),
            Request("/denoise", (t, seed, session % 3 == 1, rng.randint(1, 999), tuple(kept), session not in (2, 5),
                                 session == 3)),
            Request("/denoise", (other_t, seed, False, 250, tuple(skips), True, False)),
            Request("/receptive_field", (t, seed, rng.randint(0, 63), rng.randint(0, 63), rng.choice(spatial))),
            Request("/previews", (t, seed)),
            Request("/levels", (other_t, seed)),
        ]
        upload = None
        if session and images:
            upload = Request("/upload_image", (str(images[(1 + 31 * session) % len(images)]),))
            pool.append(upload)
        reverse = Request("/denoise_from_here", (t, seed, REVERSE_STEPS))
        cheap = list(pool)
        # Every distinct request at least once, one reverse process, the rest drawn from the cheap ones.
        middle = cheap + [rng.choice(cheap) for _ in range(per_session - len(cheap) - 1 - bool(upload))]
        middle.append(reverse)
        rng.shuffle(middle)
        sequence = ([upload] if upload else []) + middle
        assert len(sequence) == per_session
        # Warm-up: every distinct request of the session once, concurrently with the other sessions.
        warmup = ([upload] if upload else []) + rng.sample(pool[:7], 7) + [reverse]
        plans.append(Plan(session, upload, pool + [reverse], sequence, warmup))
    return plans


def call(client: Client, request: Request):
    """One request, bounded; a reverse process returns all its streamed outputs, the others their reply."""
    args = request.args
    if request.api == "/upload_image":
        args = (handle_file(args[0]),)
    job = client.submit(*[list(a) if isinstance(a, tuple) else a for a in args], api_name=request.api)
    try:
        result = job.result(timeout=REQUEST_TIMEOUT_S)
    except TimeoutError:
        job.cancel()
        raise
    return job.outputs() if request.api == "/denoise_from_here" else result


# --- replies compared by content ----------------------------------------------------------------------------------

class Pixels:
    """A decoded image file: its mode, size and every frame's pixels (a GIF has several)."""

    def __init__(self, path: str):
        with Image.open(path) as image:
            self.format = image.format
            self.frames = [np.asarray(frame.convert("RGBA")).copy() for frame in ImageSequence.Iterator(image)]

    def __eq__(self, other) -> bool:
        return (isinstance(other, Pixels) and self.format == other.format and len(self.frames) == len(other.frames)
                and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(self.frames, other.frames)))

    def difference(self, other: Pixels) -> str:
        if self.format != other.format or len(self.frames) != len(other.frames):
            return f"{other.format} with {len(other.frames)} frames instead of {self.format} with {len(self.frames)}"
        for index, (a, b) in enumerate(zip(self.frames, other.frames)):
            if a.shape != b.shape:
                return f"frame {index} is {b.shape[1]}×{b.shape[0]} instead of {a.shape[1]}×{a.shape[0]}"
            if not np.array_equal(a, b):
                changed = np.any(a != b, axis=-1)
                delta = np.abs(a.astype(int) - b.astype(int)).max()
                return (f"frame {index}: {int(changed.sum())} of {changed.size} pixels differ "
                        f"(largest channel difference {delta})")
        return "equal"

    def __repr__(self) -> str:
        return f"<{self.format} {self.frames[0].shape[1]}×{self.frames[0].shape[0]}, {len(self.frames)} frame(s)>"


def normalize(value):
    """A reply as comparable content: files decoded to pixels, plots to their JSON data, temp names dropped."""
    if isinstance(value, (list, tuple)):
        return tuple(normalize(item) for item in value)
    if isinstance(value, dict):
        if value.get("type") == "plotly" and isinstance(value.get("plot"), str):
            return ("plot", json.loads(value["plot"]))
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(("/", "\\")) and os.path.isfile(value):
        return Pixels(value)
    return value


def difference(expected, actual, where: str = "reply") -> str | None:
    """None when equal, else where and how the two replies first differ."""
    if isinstance(expected, Pixels) or isinstance(actual, Pixels):
        if isinstance(expected, Pixels) and isinstance(actual, Pixels):
            return None if expected == actual else f"{where}: {expected.difference(actual)}"
        return f"{where}: {actual!r:.120} instead of {expected!r:.120}"
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        if len(expected) != len(actual):
            return f"{where}: {len(actual)} items instead of {len(expected)}"
        for index, (a, b) in enumerate(zip(expected, actual)):
            problem = difference(a, b, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return f"{where}: keys {sorted(actual)} instead of {sorted(expected)}"
        for key in expected:
            problem = difference(expected[key], actual[key], f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        return difference(tuple(expected), tuple(actual), where)
    if type(expected) is not type(actual) or expected != actual:
        return f"{where}: {actual!r:.200} instead of {expected!r:.200}"
    return None


# --- sessions -----------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    done: int = 0


def new_client(url: str, folder: Path, user: int | None = None) -> Client:
    """A session; `user` n: as the n-th of several people (its own address, forwarded by the proxy the app is
    told of): the long lane is shared per address, and 8 sessions from loopback would be one client."""
    folder.mkdir(parents=True, exist_ok=True)
    headers = {"x-forwarded-for": f"192.0.2.{user + 1}"} if user is not None else None
    return api_client(url, download_files=str(folder), httpx_kwargs={"timeout": REQUEST_TIMEOUT_S}, headers=headers)


def run_session(url: str, plan: Plan, requests: list[Request], references: dict | None, deadline: float,
                folder: Path, outcome: Outcome, phase: str, client: Client | None = None) -> None:
    """One gradio_client session making `requests` in order; every reply compared with its alone reply
    (references None: not compared). `client`: an open session to reuse (kept open), else a new one."""
    own = client is None
    try:
        client = client or new_client(url, folder, plan.session)
    except Exception as error:  # noqa: BLE001 - reported, not raised: the thread has no one to raise to
        outcome.errors.append(f"{phase} session {plan.session}: could not connect: {type(error).__name__}: {error}")
        return
    try:
        for index, request in enumerate(requests):
            if time.monotonic() > deadline:
                outcome.errors.append(f"{phase} session {plan.session}: test deadline reached after {index} requests")
                return
            label = f"{phase} session {plan.session} request {index} {request}"
            start = time.perf_counter()
            try:
                reply = call(client, request)
            except TimeoutError:
                outcome.errors.append(f"{label}: no reply within {REQUEST_TIMEOUT_S:.0f} s")
                return
            except Exception as error:  # noqa: BLE001
                outcome.errors.append(f"{label}: {type(error).__name__}: {str(error)[:300]}")
                continue
            outcome.latencies[request.api].append(time.perf_counter() - start)
            outcome.done += 1
            problem = references is not None and difference(references[plan.session, request], normalize(reply))
            if problem:
                outcome.mismatches.append(f"{label}: differs from the same request made alone: {problem}")
    finally:
        if own:
            client.close()


def run_concurrently(url: str, plans: list[Plan], pick, references: dict | None, deadline: float, folder: Path,
                     phase: str, clients: dict[int, Client] | None = None) -> list[Outcome]:
    outcomes = [Outcome() for _ in plans]
    threads = [threading.Thread(target=run_session, name=f"load-{phase}-{plan.session}", daemon=True,
                                args=(url, plan, pick(plan), references, deadline, folder / f"{phase}-{plan.session}",
                                      outcome, phase, (clients or {}).get(plan.session)))
               for plan, outcome in zip(plans, outcomes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A session stops at the deadline, and a request at its timeout: give the last one time to end.
        thread.join(timeout=max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S + 10)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"{phase}: sessions {stuck} did not finish within the deadline"
    return outcomes


# --- the server's memory ------------------------------------------------------------------------------------------

def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _descends_from_us(pid: int) -> bool:
    mine = os.getpid()
    for _ in range(16):
        if pid == mine:
            return True
        if pid <= 1:
            return False
        pid = int(_status(pid)["PPid"].strip())
    return False


def server_pid(url: str) -> int:
    """The `python app.py` process that tests/server.py started for `url` (found by its port in its environment)."""
    port = urlparse(url).port
    wanted = f"GRADIO_SERVER_PORT={port}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"app.py" not in (entry / "cmdline").read_bytes():
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0") and _descends_from_us(int(entry.name)):
                return int(entry.name)
        except (OSError, KeyError, ValueError):
            continue
    pytest.fail(f"could not find the app process serving {url}", pytrace=False)


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    return int(_status(pid)[field_name].split()[0]) / 1024


def memory_report(pid: int, report: Path, timeout: float = 30.0) -> dict:
    """Ask the server for its memory (SIGUSR1, enabled by UNET_EXPLORER_MEMORY_REPORT in its environment):
    it collects garbage, trims malloc's free memory and writes what is in use to `report`."""
    report.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not report.exists():
        assert time.monotonic() < deadline, "the app wrote no memory report: is its SIGUSR1 hook installed?"
        time.sleep(0.1)
    return json.loads(report.read_text())


@dataclass
class Round:
    name: str
    memory: dict

    @property
    def in_use_mib(self) -> float:
        return self.memory["malloc_in_use"] / 2**20


def memory_table(rounds: list[Round]) -> str:
    rows = [f"{'round':<10} {'in use MiB':>11} {'RSS MiB':>9} {'objects':>9}"]
    for r in rounds:
        rows.append(f"{r.name:<10} {r.in_use_mib:>11.1f} {r.memory['VmRSS'] / 2**20:>9.1f} {r.memory['gc_objects']:>9}")
    return "\n".join(rows)


def leak(rounds: list[Round], requests_per_round: int) -> str | None:
    """Why memory in use is not flat over the last FLAT_ROUNDS rounds, or None when it is.

    Memory in use (bytes malloc has handed out and not had back, after gc and malloc_trim) does not count
    glibc's cached free memory, which made resident memory drift 2-5 % a round on a busy machine. After the
    warm-up, the same workload each round allocates and frees the same: what stays is a leak.
    """
    last = rounds[-FLAT_ROUNDS:]
    growth = last[-1].in_use_mib - last[0].in_use_mib
    objects = last[-1].memory["gc_objects"] - last[0].memory["gc_objects"]
    if growth > LEAK_BOUND_MIB:
        return (f"memory in use grew by {growth:.1f} MiB over the last {FLAT_ROUNDS} rounds "
                f"(more than {LEAK_BOUND_MIB} MiB): something is kept per request")
    bound = OBJECTS_PER_REQUEST * requests_per_round * (FLAT_ROUNDS - 1)
    if objects > bound:
        return f"{objects} more Python objects after the last {FLAT_ROUNDS} rounds (more than {bound})"
    return None


# --- reporting ----------------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_table(load: dict[str, list[float]], alone: dict[str, list[float]]) -> tuple[str, dict]:
    rows = [f"{'endpoint':<20} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'alone p50 ms':>13}"]
    summary = {}
    for api in sorted(load):
        values = load[api]
        p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
        solo = percentile(alone[api], 50) * 1000 if alone.get(api) else float("nan")
        summary[api] = {"n": len(values), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        rows.append(f"{api:<20} {len(values):>4} {p50:>8.0f} {p95:>8.0f} {max(values) * 1000:>8.0f} {solo:>13.0f}")
    return "\n".join(rows), summary


# --- the test -----------------------------------------------------------------------------------------------------

@dataclass
class App:
    url: str
    temp: Path      # the app's own TMPDIR (its temp root and gradio's cache are inside)
    report: Path    # where the app writes its memory report on SIGUSR1


def start_app(tmp_path_factory, planted_leak: bool):
    temp = tmp_path_factory.mktemp("app-temp")
    report = temp.parent / f"{temp.name}-memory.json"
    env = {
        # A private temp folder: the app makes its own temp root and Gradio cache inside it.
        "TMPDIR": str(temp),
        # Tests only: SIGUSR1 writes the memory report here (no HTTP endpoint: an anonymous client cannot ask).
        "UNET_EXPLORER_MEMORY_REPORT": str(report),
        # No allocator settings here: app.py itself caps glibc's malloc arenas, so this measures the app as
        # it ships.
    }
    if planted_leak:  # tests/leaky_app.py: the app, keeping a tensor of this many KiB per request
        env["UNET_EXPLORER_PLANTED_LEAK"] = str(PLANTED_KIB)
        return running_app("--behind-proxy", env=env, script="tests/leaky_app.py"), temp, report
    return running_app("--behind-proxy", env=env), temp, report


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    context, temp, report = start_app(tmp_path_factory, planted_leak=False)
    with context as url:
        yield App(url, temp, report)


def run_rounds(app: App, plans: list[Plan], clients: dict, references: dict | None, deadline: float, folder: Path,
               rounds: int, pick) -> tuple[list[Round], list[Outcome]]:
    """The same workload `rounds` times on the same sessions; the server's memory in use after each."""
    pid = server_pid(app.url)
    measured, outcomes = [], []
    for number in range(1, rounds + 1):
        outcomes += run_concurrently(app.url, plans, pick, references, deadline, folder, f"round-{number}", clients)
        time.sleep(SETTLE_S)
        measured.append(Round(f"round {number}", memory_report(pid, app.report)))
    return measured, outcomes


def test_concurrent_sessions_match_solo_replies_and_do_not_leak(app, tmp_path, capsys, record_property):
    app_url = app.url
    assert urlparse(app_url).hostname == "127.0.0.1", f"the load test only runs against 127.0.0.1, not {app_url}"
    started = time.monotonic()
    deadline = started + TEST_DEADLINE_S
    pid = server_pid(app_url)

    api = new_client(app_url, tmp_path / "api").view_api(return_format="dict", print_info=False)["named_endpoints"]
    plans = make_plans(api)
    assert sum(len(plan.sequence) for plan in plans) == SESSIONS * REQUESTS_PER_SESSION

    # 1. Every distinct request alone, one at a time, on one client; session 0's first (the default image).
    references, alone = {}, defaultdict(list)
    solo = new_client(app_url, tmp_path / "alone")
    try:
        for plan in plans:
            ordered = ([plan.upload] if plan.upload else []) + [r for r in plan.pool if r != plan.upload]
            for request in ordered:
                assert time.monotonic() < deadline, "test deadline reached while making the requests alone"
                start = time.perf_counter()
                try:
                    reply = call(solo, request)
                except Exception as error:  # noqa: BLE001
                    pytest.fail(f"session {plan.session} {request} failed even alone: {type(error).__name__}: "
                                f"{str(error)[:300]}", pytrace=False)
                alone[request.api].append(time.perf_counter() - start)
                references[plan.session, request] = normalize(reply)
    finally:
        solo.close()
    alone_done = time.monotonic()

    # 2. Warm-up on the sessions the rounds reuse (a new session per round would add its state each round).
    clients = {plan.session: new_client(app_url, tmp_path / f"session-{plan.session}", plan.session)
               for plan in plans}
    try:
        warmup = run_concurrently(app_url, plans, lambda plan: plan.warmup, references, deadline, tmp_path, "warm-up",
                                  clients)
        time.sleep(SETTLE_S)
        rounds = [Round("warm-up", memory_report(pid, app.report))]

        # 3. The load rounds: the same sequences each round, every reply compared with its alone reply.
        load_start = time.monotonic()
        measured, outcomes = run_rounds(app, plans, clients, references, deadline, tmp_path, ROUNDS,
                                        lambda plan: plan.sequence)
        rounds += measured
        load_s = time.monotonic() - load_start
    finally:
        for client in clients.values():
            client.close()
    rss_peak = rss_mib(pid, "VmHWM")

    latencies = defaultdict(list)
    for outcome in outcomes:
        for endpoint, values in outcome.latencies.items():
            latencies[endpoint].extend(values)
    table, summary = latency_table(latencies, alone)
    leftovers = [p for p in app.temp.rglob("*") if p.is_file() and "gradio" not in p.relative_to(app.temp).parts
                 and p.name != ".lock"]
    done = sum(outcome.done for outcome in outcomes)
    report = (f"\nLoad test: {SESSIONS} sessions × {REQUESTS_PER_SESSION} requests × {ROUNDS} rounds, {done} answered "
              f"in {load_s:.1f} s ({done / max(load_s, 1e-9):.1f} requests/s); alone phase "
              f"{alone_done - started:.1f} s, total {time.monotonic() - started:.1f} s\n{table}\n"
              f"server memory after each round (in use: malloc's, after gc and malloc_trim):\n"
              f"{memory_table(rounds)}\npeak RSS {rss_peak:.1f} MiB\n"
              f"files the app left in its temp folder outside gradio's cache: {len(leftovers)}\n")
    with capsys.disabled():
        print(report)
    record_property("latency_ms", json.dumps(summary))
    record_property("memory_in_use_mib", json.dumps([round(r.in_use_mib, 1) for r in rounds]))

    errors = [e for o in warmup + outcomes for e in o.errors]
    mismatches = [m for o in warmup + outcomes for m in o.mismatches]
    assert not errors, f"{len(errors)} requests failed under load:\n" + "\n".join(errors[:20])
    assert not mismatches, (f"{len(mismatches)} replies under load differ from the same request made alone "
                            f"(cross-talk between sessions or requests):\n" + "\n".join(mismatches[:20]))
    assert done == SESSIONS * REQUESTS_PER_SESSION * ROUNDS
    problem = leak(rounds, SESSIONS * REQUESTS_PER_SESSION)
    assert problem is None, f"{problem}\n{memory_table(rounds)}"


def test_the_leak_check_catches_a_planted_leak(tmp_path_factory, tmp_path, capsys):
    """The same check on an app that keeps a 1 MiB tensor per request (UNET_EXPLORER_PLANTED_LEAK) must fail."""
    context, temp, report = start_app(tmp_path_factory, planted_leak=True)
    with context as url:
        planted = App(url, temp, report)
        api = new_client(url, tmp_path / "api").view_api(return_format="dict", print_info=False)["named_endpoints"]
        plans = [plan for plan in make_plans(api) if plan.session < PLANTED_SESSIONS]
        cheap = {plan.session: [r for r in plan.pool if r.api in ("/previews", "/select_block")] for plan in plans}
        pick = lambda plan: [cheap[plan.session][i % len(cheap[plan.session])] for i in range(PLANTED_REQUESTS)]  # noqa: E731
        clients = {plan.session: new_client(url, tmp_path / f"session-{plan.session}", plan.session)
                   for plan in plans}
        deadline = time.monotonic() + TEST_DEADLINE_S
        try:
            warmup = run_concurrently(url, plans, pick, None, deadline, tmp_path, "warm-up", clients)
            rounds, outcomes = run_rounds(planted, plans, clients, None, deadline, tmp_path, FLAT_ROUNDS, pick)
        finally:
            for client in clients.values():
                client.close()
    with capsys.disabled():
        print(f"\nPlanted leak ({PLANTED_KIB} KiB per request, {PLANTED_SESSIONS * PLANTED_REQUESTS} requests a "
              "round):\n"
              f"{memory_table(rounds)}")
    errors = [e for o in warmup + outcomes for e in o.errors]
    assert not errors, errors[:5]
    assert leak(rounds, PLANTED_SESSIONS * PLANTED_REQUESTS) is not None, (
        "the leak check did not notice a tensor kept per request")


def test_a_session_keeps_one_entry_per_component_however_often_it_asks(app, tmp_path):
    """Gradio 6.31 filed an output's next value under a new id after each update to it (`gr.skip()`), beside
    the old entry: every reverse process added four entries to its session, its strip of frames (~300 KB) among
    them, for as long as the session lived. explorer/server/session_state.py keeps one entry per component."""
    pid = server_pid(app.url)
    client = new_client(app.url, tmp_path / "one-session")
    reverse = Request("/denoise_from_here", (250, 0, 2))
    try:
        call(client, reverse)
        first = memory_report(pid, app.report)["session_entries"][client.session_hash]
        for _ in range(4):
            call(client, reverse)
        after = memory_report(pid, app.report)["session_entries"][client.session_hash]
    finally:
        client.close()
    assert after == first, f"the session grew from {first} to {after} entries over 4 more reverse processes"
