"""Who may join a lane, and who starts next: places, refusals and their words, fair shares. No Gradio here.

`lanes.Lanes.guard` hands `Admission.admit` and `Admission.choose` to `internals.hook_queue`, which applies them to
Gradio's queue. The rules, for each lane (quick: single-step requests; long: see `lanes.long_job`):

- **Order**: the waiting events start in the fair order of `fair.fair_order` (the address that has had least compute
  lately first, then inside it the session that has had least), and each visitor is told its position in it.
- **Places**: PLACES events may wait in a lane, all addresses together. One address holds at most ADDRESS_SHARE of
  them, and the last RESERVE places go only to addresses holding fewer than FEW, so a few addresses (an IPv6 /64
  counts as one) cannot fill a lane, and a class behind one NAT address (64 learners × 2 long jobs) fits in its
  share. A refusal names what this address and this page have waiting, or says the Space is busy and for how long.
- **Started long jobs**: at most LONG_ACTIVE at once (each waits in `fair.FairLane` for its slices); one address
  starts at most ADDRESS_SHARE of them, and the last ACTIVE_RESERVE go only to addresses with fewer than
  FEW_STARTED started, so a newcomer's jobs start at once however many jobs others hold.
- **One of each kind per session** in the long lane, waiting or running (a tab's refresh may be asked twice).
- **Abandoned work**: a waiting event whose session has had no open event stream for `limits.CLIENT_GRACE_S`
  since its stream closed, or `limits.OPEN_GRACE_S` since it joined without opening one, is dropped with a
  message; Gradio itself drops a session's waiting events the moment its page's stream closes.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from explorer.server import fair
from explorer.server.limits import LISTENERS, log
from explorer.server.session_state import MOVES

QUICK_LANE = "quick"              # single-step views: a block click, one denoising step, a receptive field …
LONG_LANE = "long"                # long jobs (see `lanes.long_job`): they never hold up the quick lane
PLACES = 256                      # events waiting in one lane, all addresses together
ADDRESS_SHARE = 0.5               # of a lane's places (and of the long lane's started jobs) one address may hold
RESERVE = 64                      # a lane's last places: only for addresses holding fewer than FEW
FEW = 4
LONG_ACTIVE = 64                  # long jobs started at once; they take their slices in turn (fair.FairLane)
ACTIVE_RESERVE = 16               # the last started places: only for addresses with fewer than FEW_STARTED started
FEW_STARTED = 2                   # (a page asks its strip and its reverse process at once: both start)
FIRST_COST = {QUICK_LANE: 0.1, LONG_LANE: 2.0}  # seconds of compute per event, until measured


@dataclass(frozen=True)
class Job:
    """An event in a lane, as the admission rules see it."""
    session: str | None
    kind: str
    address: str


def kinds(jobs: list[Job]) -> str:
    names = sorted({job.kind for job in jobs})
    return ", ".join(f"a {name}" if not name.startswith(("a ", "an ")) else name for name in names)


def duration(seconds: float) -> str:
    """'about 40 s', 'about 3 min'."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


class Admission:
    """The rules above for one app. `client(request)`: the address a request counts as (`lanes.Lanes.client`);
    `ledgers`: each lane's `fair.Ledger`, charged by the lanes as events compute; `slots`: events of each lane
    computing at once (for the waits the refusals announce)."""

    def __init__(self, client, ledgers: dict[str, fair.Ledger], slots: dict[str, int], listeners=LISTENERS,
                 places: int = PLACES, active: int = LONG_ACTIVE):
        self.client, self.ledgers, self.slots, self.listeners = client, ledgers, slots, listeners
        self.places, self.active = places, active
        self._cost = dict(FIRST_COST)
        self._lock = threading.Lock()

    # --- what an event costs, measured ------------------------------------------------------------------------

    def served(self, lane: str, seconds: float) -> None:
        """An event of `lane` computed for `seconds`: the estimate of an event's cost follows (moving average)."""
        with self._lock:
            self._cost[lane] = 0.9 * self._cost[lane] + 0.1 * max(0.0, seconds)

    def cost(self, lane: str) -> float:
        return self._cost[lane]

    # --- joining ----------------------------------------------------------------------------------------------

    def admit(self, fn, session: str | None, request, view) -> tuple[str, str] | None:
        """Whether an event of `fn` may join its lane (see internals.hook_queue): None, or (message, status)."""
        if fn is None:
            log.warning("refused an unknown event")
            return "This app has no such event: reload the page (or read the API page for the events it has)", \
                "refused"
        kind = getattr(fn, "long_job", None)
        lane = LONG_LANE if kind else QUICK_LANE
        address = self.client(request)
        waiting = [self.job(event) for event in view.waiting(lane)]
        running = [self.job(event) for event in view.running(lane)] if kind else []
        refused = self.refusal(kind, session, address, waiting, running,
                               bool(getattr(fn, "long_job_refresh", False)))
        if refused is None and session:
            self.listeners.joined(session)
            MOVES.arrived(session)  # a session whose replica died is told so, once
        return refused

    def job(self, event) -> Job:
        return Job(event.session, getattr(event.fn, "long_job", None) or "single-step request",
                   self.client(event.request))

    def refusal(self, kind: str | None, session: str | None, address: str, waiting: list[Job],
                running: list[Job], refresh: bool = False) -> tuple[str, str] | None:
        """The rules for joining (module docstring): None, or (message, "busy" | "refused")."""
        lane = LONG_LANE if kind else QUICK_LANE
        if kind and session and not refresh and any(job.session == session and job.kind == kind
                                                    for job in waiting + running):
            log.warning("refused a second %s of one session", kind)
            return (f"Your {kind} is still waiting or running: wait for it to finish, then start the next one",
                    "refused")
        what = kind or "single-step request"
        held = [job for job in waiting + running if job.address == address]  # running: long jobs only
        from_page = sum(job.session == session for job in held) if session else 0
        page = f" ({from_page} of them from this page)" if from_page else ""
        share = int(self.places * ADDRESS_SHARE)
        if len(held) >= share:
            log.warning("refused a %s: its address holds %d of %d places", what, len(held), self.places)
            plural = "long jobs waiting or running" if kind else "single-step requests waiting"
            listed = f": {kinds(held)}" if kind else ""
            return (f"Your address already has {len(held)} {plural}{listed}{page}, its share of this Space "
                    f"(everyone behind one address, a school's network say, shares it): wait for some of them to "
                    f"finish, then ask for the {what} again"), "refused"
        if len(waiting) >= self.places or (len(waiting) >= self.places - RESERVE and len(held) >= FEW):
            wait = len(waiting) * self.cost(lane) / max(1, self.slots.get(lane, 1))
            log.warning("refused a %s: %d waiting in the %s lane", what, len(waiting), lane)
            mine = sum(job.address == address for job in waiting)
            return (f"The Space is busy: {len(waiting)} {'long jobs' if kind else 'single-step requests'} are "
                    f"waiting ({mine} from your address), {duration(wait)} of work: ask for the {what} again "
                    f"then" + (". Single-step views still answer at once" if kind else "")), "busy"
        return None

    # --- starting ---------------------------------------------------------------------------------------------

    def choose(self, lane: str, waiting: list, running: list, free: int):
        """(order, start, drop) for a lane's waiting events (see internals.hook_queue)."""
        drop, live = {}, []
        for event in waiting:
            if self.listeners.gone(event.session, event.joined):
                what = getattr(event.fn, "long_job", None) or "request"
                drop[event.id] = f"Your {what} was dropped: nobody was waiting for it"
                log.info("dropped a waiting %s: its session left", what)
            else:
                live.append(event)
        address = {event.id: self.client(event.request) for event in live + running}
        started = Counter(address[event.id] for event in running)
        order = fair.fair_order([fair.Waiting(event.id, address[event.id], event.session, event.arrived)
                                 for event in live], self.ledgers[lane], self.cost(lane), started)
        start = None
        if free > 0 and order:
            if lane != LONG_LANE:
                start = order[0]
            else:
                cap = max(1, int(self.active * ADDRESS_SHARE))
                start = next((event_id for event_id in order
                              if started[address[event_id]] < FEW_STARTED
                              or (started[address[event_id]] < cap and free > ACTIVE_RESERVE)), None)
        return order, start, drop
