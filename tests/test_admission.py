"""The scheduling rules of issue 29, proved with a fake clock and counted slices (no wall time): fair shares by
address then session (server/fair.py), places, refusals and who starts next (server/admission.py), the client's
address (an IPv6 /64 is one), and the grace that counts from the visitor leaving (limits.Listeners).

The same rules over HTTP, against the running app: tests/test_hostile_http.py; their numbers under load:
`python -m tests.bench_app fair`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from explorer.server import admission, fair, lanes, limits
from explorer.server.admission import LONG_LANE, QUICK_LANE, Job


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def waiting(*items: tuple[str, str]) -> list[fair.Waiting]:
    """Waiting events in arrival order, each (address, session); ids are their arrival numbers."""
    return [fair.Waiting(number, address, session, number) for number, (address, session) in enumerate(items)]


# --- the fair order ---------------------------------------------------------------------------------------------

def test_addresses_take_turns_whatever_order_they_came_in():
    ledger = fair.Ledger(clock=Clock())
    line = waiting(*[("attacker", f"s{n}") for n in range(6)], ("honest", "h"))
    order = fair.fair_order(line, ledger)
    assert order.index(6) == 1  # second, after the attacker's first: not seventh


def test_an_address_that_had_less_goes_first():
    clock = Clock()
    ledger = fair.Ledger(clock=clock)
    ledger.charge("busy", "b", 30.0)
    order = fair.fair_order(waiting(("busy", "b"), ("busy", "b"), ("new", "n")), ledger)
    assert order[0] == 2


def test_sessions_share_their_address_equally():
    """Inside one address (a class behind NAT) the sessions take turns: a learner's one request is not behind
    another learner's ten."""
    ledger = fair.Ledger(clock=Clock())
    line = waiting(*[("school", "greedy")] * 10, ("school", "quiet"))
    assert fair.fair_order(line, ledger).index(10) == 1


def test_what_an_address_had_fades_with_the_half_life():
    clock = Clock()
    ledger = fair.Ledger(half_life=60.0, clock=clock)
    ledger.charge("a", "s", 8.0)
    clock.now += 60.0
    assert ledger.had("a") == pytest.approx(4.0)
    assert ledger.had("a", "s") == pytest.approx(4.0)
    clock.now += 120.0
    assert ledger.had("a") == pytest.approx(1.0)


def test_running_events_count_against_their_address():
    ledger = fair.Ledger(clock=Clock())
    line = waiting(("a", "s1"), ("b", "s2"))
    assert fair.fair_order(line, ledger, cost=1.0, running={"a": 3})[0] == 1


def simulate(lane_jobs: dict[tuple[str, str], list[float]], had: dict | None = None) -> list[tuple[str, str]]:
    """Counted slices on a FairLane's order with a fake clock: each (address, session) has a list of slice costs
    (and has had `had[key]` seconds before); returns who computed each slice, in order. Each pick is the lane's
    `fair_order` of the waiting heads."""
    clock = Clock()
    ledger = fair.Ledger(clock=clock)
    for (address, session), seconds in (had or {}).items():
        ledger.charge(address, session, seconds)
    served = []
    queues = {key: list(costs) for key, costs in lane_jobs.items()}
    arrival = 0
    while any(queues.values()):
        heads = [fair.Waiting(key, key[0], key[1], arrival + index)
                 for index, (key, costs) in enumerate(queues.items()) if costs]
        key = fair.fair_order(heads, ledger, cost=0.0)[0]
        cost = queues[key].pop(0)
        clock.now += cost
        ledger.charge(key[0], key[1], cost)
        served.append(key)
    return served


def test_compute_is_shared_by_time_between_addresses():
    """15 addresses that have kept the lane busy (10 s each lately) with slices of 2 s, and an honest address with
    ten 0.2 s slices: the honest job's ten slices come first (it had nothing, so it goes first until it has had as
    much as they have), then the 15 share equally."""
    jobs = {(f"10.0.0.{n}", "s"): [2.0] * 10 for n in range(15)}
    jobs["198.51.100.1", "h"] = [0.2] * 10
    served = simulate(jobs, had={key: 10.0 for key in jobs if key[0] != "198.51.100.1"})
    honest_last = max(i for i, key in enumerate(served) if key[0] == "198.51.100.1")
    assert honest_last < 10, served[:20]
    # And overall the addresses share equally: each of the 15 got 10 slices, none ahead by more than one round.
    firsts = served[:15 * 3 + 10]
    counts = Counter(key[0] for key in firsts if key[0] != "198.51.100.1")
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_a_class_behind_one_address_shares_it_by_session():
    jobs = {("school", f"learner{n}"): [1.0] * 3 for n in range(32)}
    served = simulate(jobs)
    first_round = served[:32]
    assert len(set(first_round)) == 32  # every learner got a slice before anyone got a second


def test_an_address_alone_gets_the_whole_lane():
    served = simulate({("only", "s"): [1.0] * 5})
    assert served == [("only", "s")] * 5


# --- addresses ---------------------------------------------------------------------------------------------------

def test_an_ipv6_slash_64_is_one_address():
    assert fair.address_of("2001:db8:1:2:aaaa::1") == fair.address_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert fair.address_of("2001:db8:1:3::1") != fair.address_of("2001:db8:1:2::1")
    assert fair.address_of("::ffff:203.0.113.9") == "203.0.113.9"
    assert fair.address_of("203.0.113.9") == "203.0.113.9"
    assert lanes.client_of("10.0.0.2", {"x-forwarded-for": "2001:db8::5"}, proxy_hops=1) == "2001:db8::/64"


def test_uvicorn_trusts_forwarded_headers_only_behind_a_proxy():
    assert lanes.forwarded_allow_ips(0) == ""
    assert lanes.forwarded_allow_ips(1) == "*"


# --- places and refusals -----------------------------------------------------------------------------------------

def rules(places: int = admission.PLACES) -> admission.Admission:
    ledgers = {QUICK_LANE: fair.Ledger(clock=Clock()), LONG_LANE: fair.Ledger(clock=Clock())}
    return admission.Admission(lambda request: request, ledgers, {QUICK_LANE: 2, LONG_LANE: 1},
                               listeners=limits.Listeners(clock=Clock()), places=places)


def test_a_class_of_32_behind_one_address_is_taken_whole():
    """32 learners, each a reverse process and a strip: 64 long jobs from one address, none refused."""
    admit, held = rules(), []
    for learner in range(32):
        for kind in ("reverse process", "strip of t values"):
            assert admit.refusal(kind, f"learner{learner}", "school", held, []) is None
            held.append(Job(f"learner{learner}", kind, "school"))


def test_one_address_holds_at_most_its_share_of_the_places():
    admit = rules()
    share = int(admission.PLACES * admission.ADDRESS_SHARE)
    held = [Job(f"s{n}", "single-step request", "attacker") for n in range(share)]
    text, status = admit.refusal(None, "s1", "attacker", held, [])
    assert status == "refused"
    assert f"Your address already has {share} single-step requests waiting (1 of them from this page)" in text
    assert admit.refusal(None, "h", "honest", held, []) is None  # another address still gets in


def test_the_last_places_are_kept_for_addresses_holding_few():
    """Three addresses at their share fill the lane up to its reserve: a fourth address holding nothing still
    gets in, one already holding FEW is told the Space is busy and for how long."""
    admit = rules()
    full = admission.PLACES - admission.RESERVE
    held = [Job(f"s{n}", "single-step request", f"a{n % 3}") for n in range(full)]
    assert admit.refusal(None, "new", "newcomer", held, []) is None
    crowd = held + [Job("x", "single-step request", "b")] * admission.FEW
    text, status = admit.refusal(None, "x", "b", crowd, [])
    assert status == "busy" and text.startswith("The Space is busy: ") and "about" in text, text


def test_a_full_lane_says_how_long():
    admit = rules(places=8)
    held = [Job(f"s{n}", "reverse process", f"a{n}") for n in range(8)]
    text, status = admit.refusal("strip of t values", "h", "h", held, [])
    assert status == "busy" and "8 long jobs are waiting (0 from your address), about 16 s of work" in text, text


def test_a_session_has_one_long_job_of_each_kind():
    admit = rules()
    running = [Job("s1", "reverse process", "a")]
    text, _ = admit.refusal("reverse process", "s1", "a", [], running)
    assert text.startswith("Your reverse process is still waiting or running")
    assert admit.refusal("strip of t values", "s1", "a", [], running) is None


def test_an_unknown_event_is_refused_in_words():
    text, status = rules().admit(None, "s", "a", view=None)
    assert status == "refused" and "no such event" in text


# --- who starts next --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:  # as internals.QueuedEvent
    id: str
    session: str
    request: str   # the address (rules() reads the request as its address)
    arrived: int
    joined: float = 1000.0
    fn: object = None


def events(addresses: list[str], prefix: str = "e") -> list[Event]:
    return [Event(f"{prefix}{n}", f"{prefix}s{n}", address, n) for n, address in enumerate(addresses)]


def test_a_newcomers_jobs_start_at_once_however_many_jobs_others_have_started():
    """Addresses holding 3 long jobs each have filled the started places up to the reserve, then an honest page
    asks its strip and its reverse process: both start, though they came last; an address already holding
    FEW_STARTED waits."""
    admit = rules()
    full = admission.LONG_ACTIVE - admission.ACTIVE_RESERVE
    running = events([f"10.0.0.{n // 3}" for n in range(full)], "r")
    line = events([f"10.0.0.{n // 3}" for n in range(30)], "w") + [Event("strip", "h", "198.51.100.1", 99),
                                                                  Event("reverse", "h", "198.51.100.1", 100)]
    for session in [event.session for event in running + line]:
        admit.listeners.opened(session)
    order, start, drop = admit.choose(LONG_LANE, line, running, free=admission.ACTIVE_RESERVE)
    assert start == "strip" and order[0] == "strip" and not drop
    running.append(line.pop(-2))
    assert admit.choose(LONG_LANE, line, running, free=admission.ACTIVE_RESERVE - 1)[1] == "reverse"
    running.append(line.pop(-1))
    assert admit.choose(LONG_LANE, line, running, free=admission.ACTIVE_RESERVE - 2)[1] is None


def test_one_address_starts_at_most_its_share_of_long_jobs():
    admit = rules()
    cap = int(admission.LONG_ACTIVE * admission.ADDRESS_SHARE)
    running = events(["school"] * cap, "r")
    line = events(["school"] * 5, "w")
    for session in [event.session for event in running + line]:
        admit.listeners.opened(session)
    assert admit.choose(LONG_LANE, line, running, free=admission.LONG_ACTIVE - cap)[1] is None
    assert admit.choose(LONG_LANE, line, running[:-1], free=admission.LONG_ACTIVE - cap + 1)[1] == "w0"


def test_a_waiting_event_whose_visitor_left_is_dropped_after_the_grace():
    admit = rules()
    clock = admit.listeners.clock
    line = events(["a", "b"])
    admit.listeners.opened("es0")
    admit.listeners.joined("es1")  # joined, never opened a stream
    clock.now += limits.OPEN_GRACE_S - 0.1
    assert not admit.choose(QUICK_LANE, line, [], free=0)[2]
    clock.now += 0.2
    order, start, drop = admit.choose(QUICK_LANE, line, [], free=1)
    assert list(drop) == ["e1"] and "nobody was waiting for it" in drop["e1"]
    assert order == ["e0"] and start == "e0"


def test_the_grace_counts_from_the_visitor_leaving_not_from_the_job_start():
    clock = Clock()
    listeners = limits.Listeners(clock=clock)
    listeners.joined("s")
    listeners.opened("s")
    clock.now += 100.0            # the job waited, then ran, with its stream open
    listeners.closed("s")         # the visitor leaves
    started = clock.now           # (a job starting now would have counted its grace from here before)
    clock.now += limits.CLIENT_GRACE_S + 0.1
    assert listeners.gone("s", since=started)
    clock.now -= 1.0
    assert not listeners.gone("s", since=started)


# --- the upload cache, shared per address ---------------------------------------------------------------------

def test_an_address_past_its_share_of_the_upload_cache_loses_its_own_oldest(tmp_path):
    shares = limits.UploadShares(files=3, budget=10**6, discard=lambda path: path.unlink())

    def upload(name: str) -> str:
        path = tmp_path / name
        path.write_bytes(b"x")
        return str(path)

    other = upload("other.png")
    shares.added("honest", [other])
    for n in range(10):
        shares.added("flooder", [upload(f"f{n}.png")])
    assert (tmp_path / "other.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("f")) == ["f7.png", "f8.png", "f9.png"]


# --- replicas: a session whose replica died ----------------------------------------------------------------------

def test_a_session_from_a_dead_replica_is_told_once(tmp_path):
    from explorer.server.session_state import REPLICA_ENV, SESSIONS_ENV, Evictions, Moves

    evictions = Evictions()
    first = Moves({REPLICA_ENV: "app1", SESSIONS_ENV: str(tmp_path)}, evictions)
    second = Moves({REPLICA_ENV: "app2", SESSIONS_ENV: str(tmp_path)}, evictions)
    assert first.arrived("abc123") is False          # a new session on app1
    assert second.arrived("abc123") is True          # app1 died: the proxy sent it to app2
    assert second.arrived("abc123") is False         # told once
    assert evictions.take("abc123", "moved") and not evictions.take("abc123", "moved")
    assert evictions.take("abc123", "label")         # the page's label says the image was lost
    assert Moves({}, evictions).arrived("xyz") is False  # not a replica: nothing


def test_inside_a_session_the_job_that_has_computed_least_goes_first():
    """A page asks its strip and a 20-step reverse process at once: inside the session, the job that has computed
    least so far takes the next slice (then the oldest)."""
    ledger = fair.Ledger(clock=Clock())
    line = [fair.Waiting("strip", "a", "s", 0, spent=0.0), fair.Waiting("reverse", "a", "s", 1, spent=0.3)]
    assert fair.fair_order(line, ledger, cost=0.0) == ["strip", "reverse"]
    line = [fair.Waiting("strip", "a", "s", 0, spent=2.0), fair.Waiting("reverse", "a", "s", 1, spent=0.3)]
    assert fair.fair_order(line, ledger, cost=0.0) == ["reverse", "strip"]
