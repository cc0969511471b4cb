"""Fair shares of compute: by address first, then by session inside an address. No Gradio here.

Both lanes (quick and long, see `lanes.py`) keep a `Ledger` of the compute each address and each session has had,
in seconds, fading with a half-life (`HALF_LIFE_S`, 5 minutes): whoever has had least lately goes next. So an
address alone on the Space gets all of it, two busy addresses get half each, and a visitor who arrives while others
keep the lane busy is served at once, for about as long as the busiest have had lately, before taking turns with
them. Inside an address the sessions (the learners of a class behind one NAT address) share that address's part
the same way.

- `fair_order` puts a lane's waiting events in the order they will start (the positions Gradio shows each visitor);
- `FairLane` gives the long lane's compute slices (a call, or one step of a generator) in the same order.

Everything takes a clock (`time.monotonic` unless a test passes its own) and is charged what it measured, so the
rules are tested with counted slices and a fake clock, not with wall time.
"""
from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

HOLD_S = 0.25        # how long a slot is kept for the next slice of the job that should have it (see FairLane.hold)
HELD = object()      # the place of that next slice in the fair order while it is on its way
HALF_LIFE_S = 300.0  # compute had this long ago counts half: shares are fair over the last few minutes, so a
                     # visitor arriving while 15 addresses have held the long lane for two minutes gets its few
                     # seconds at once (with 60 s they had had as little as the visitor needed, and it waited 45 s)


class Ledger:
    """Seconds of compute per address and per (address, session), fading with `half_life`. Thread-safe."""

    def __init__(self, half_life: float = HALF_LIFE_S, clock=time.monotonic, remember: int = 10_000):
        self.half_life, self.clock, self.remember = half_life, clock, remember
        self._lock = threading.Lock()
        self._had: dict[tuple, tuple[float, float]] = {}  # key -> (seconds, when)

    def _now_value(self, key: tuple, now: float) -> float:
        seconds, when = self._had.get(key, (0.0, now))
        return seconds * math.pow(0.5, max(0.0, now - when) / self.half_life)

    def charge(self, address: str, session: str | None, seconds: float) -> None:
        """Add `seconds` of compute to `address` and to its `session`."""
        now = self.clock()
        with self._lock:
            for key in ((address,), (address, session or "")):
                self._had[key] = (self._now_value(key, now) + max(0.0, seconds), now)
            if len(self._had) > self.remember:  # forget the ones with least left
                for key in sorted(self._had, key=lambda k: self._now_value(k, now))[: len(self._had) // 2]:
                    del self._had[key]

    def had(self, address: str, session: str | None = None) -> float:
        """The compute `address` (or its `session`) has had lately, in faded seconds."""
        key = (address,) if session is None else (address, session or "")
        with self._lock:
            return self._now_value(key, self.clock())


@dataclass(frozen=True)
class Waiting:
    """A waiting event as the fair order sees it: its id, who asked, its place in arrival order, and the seconds
    its job has computed so far (a slice of a job already under way)."""
    id: object
    address: str
    session: str | None
    arrived: int
    spent: float = 0.0


def fair_order(waiting: list[Waiting], ledger: Ledger, cost: float = 1.0,
               running: dict[str, int] | None = None) -> list[object]:
    """The ids of `waiting`, in the order they should start: the address that has had least (its ledger, plus
    `cost` for each of its events running now (`running`: address -> count) and each placed before) goes next;
    inside it the session that has had least; inside the session, the job that has computed least so far (a page's
    20-step reverse process before its strip, when both wait), then the oldest. Equal shares: ties go to the
    address (then session) whose first event arrived first."""
    running = running or {}
    by_address: dict[str, dict[str, deque]] = {}
    for item in sorted(waiting, key=lambda item: (item.spent, item.arrived)):
        by_address.setdefault(item.address, {}).setdefault(item.session or "", deque()).append(item)
    heap = []
    session_had: dict[tuple[str, str], float] = {}
    for address, sessions in by_address.items():
        first = min(item.arrived for queue in sessions.values() for item in queue)
        heap.append((ledger.had(address) + cost * running.get(address, 0), first, address))
        for session in sessions:
            session_had[address, session] = ledger.had(address, session)
    heapq.heapify(heap)
    order = []
    while heap:
        had, _, address = heapq.heappop(heap)
        sessions = by_address[address]
        session = min(sessions, key=lambda name: (session_had[address, name], min(i.arrived for i in sessions[name])))
        order.append(sessions[session].popleft().id)
        session_had[address, session] += cost
        if not sessions[session]:
            del sessions[session]
        if sessions:
            first = min(item.arrived for queue in sessions.values() for item in queue)
            heapq.heappush(heap, (had + cost, first, address))
    return order


class FairLane:
    """`slots` compute slots, given in the fair order: the waiting address that has had least compute lately goes
    first, inside it the session that has had least, then that session's oldest waiting slice. Each slice is
    charged what it took (`clock`). One address with 40 jobs and another with one take turns by time, not by
    count; a job of 250 steps, cut into slices, keeps nobody waiting for more than one slice."""

    def __init__(self, slots: int = 1, ledger: Ledger | None = None, clock=None):
        self.ledger = ledger or Ledger(clock=clock or time.monotonic)
        self.clock = clock or self.ledger.clock
        self._ready = threading.Condition()
        self._free = max(1, slots)
        self._waiting: list[Waiting] = []
        self._arrivals = itertools.count()
        self._held: tuple | None = None  # (address, session, until, spent): the slot kept for a job's next slice

    def waiting(self) -> int:
        with self._ready:
            return len(self._waiting)

    def _next(self) -> object:
        """The id of the waiting ticket to go next, or HELD while the slot is kept for a job's next slice."""
        waiting = list(self._waiting)
        held = self._held if self._held is not None and self.clock() < self._held[2] else None
        if held is not None and not any((w.address, w.session) == held[:2] for w in waiting):
            waiting.append(Waiting(HELD, held[0], held[1], -1, held[3]))
        return fair_order(waiting, self.ledger, cost=0.0)[0]

    def hold(self, address: str, session: str | None, spent: float, seconds: float = HOLD_S) -> None:
        """A job of (`address`, `session`) has more slices to come: keep the slot for its next one for up to
        `seconds`, when the fair order would give it to that job anyway. Without this, the slot went to another
        client each time the job handed its result to Gradio, and a job with the right to go first still waited
        one slice of someone else's between each of its own."""
        with self._ready:
            self._held = (address, session, self.clock() + seconds, spent)
            self._ready.notify_all()

    @contextlib.contextmanager
    def turn(self, address: str, session: str | None = None, spent: float = 0.0):
        """Wait for the fair turn of (`address`, `session`) for a slice of a job that has computed `spent` seconds
        so far, hold a slot meanwhile, charge what it took."""
        ticket = Waiting(object(), address, session, next(self._arrivals), spent)
        with self._ready:
            self._waiting.append(ticket)
            try:
                while not (self._free > 0 and self._next() is ticket.id):
                    held = self._held
                    self._ready.wait(max(0.001, held[2] - self.clock()) if held is not None else None)
            except BaseException:
                self._waiting.remove(ticket)
                self._ready.notify_all()
                raise
            self._waiting.remove(ticket)
            self._held = None
            self._free -= 1
        began = self.clock()
        try:
            yield
        finally:
            self.ledger.charge(address, session, self.clock() - began)
            with self._ready:
                self._free += 1
                self._ready.notify_all()


def address_of(host: str) -> str:
    """The address a client is counted as: an IPv4 address as it is, an IPv6 address as its /64 (one household or
    one machine's network: its addresses are free to rotate inside it), an IPv4-mapped IPv6 address as the IPv4
    one; anything else (a name, "unknown") as it is, at most 64 characters."""
    try:
        ip = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return host[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
