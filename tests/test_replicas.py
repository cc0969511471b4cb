"""Two replicas of the app behind HAProxy (explorer/server/replicas.py), as the recipe in docs/hosting.md runs them.

Clients come from distinct loopback addresses (127.0.0.2 …) and speak Gradio's own protocol (join the queue, read
the event stream, fetch the files it names) over httpx, which can pick its source address (gradio_client cannot).
HAProxy names the replica that answered each response in `X-Replica`. A session's state is checked by what it
shows: after /choose_example, the x₀ that /previews sends must be that example's pixels.
"""
from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from explorer.server import replicas
from tests.server import ROOT, free_port

HELD_OUT = sorted((ROOT / "weights" / "heldout").glob("*.png"))
ADDRESSES = [f"127.0.0.{last}" for last in range(2, 8)]  # six clients; Linux routes all of 127/8 to loopback
PREVIEW_SCALE = 3  # the previews are the 64×64 image enlarged 3× (nearest)
READ_TIMEOUT_S = 60.0  # one call on a busy 2-core machine; a call that never ends fails here, not in CI's timeout

needs_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None and not os.path.exists("/usr/sbin/haproxy") and not os.environ.get("CI"),
    reason="haproxy is not installed (`apt-get install haproxy`); CI installs it and runs this test")


# --- a client of one address ------------------------------------------------------------------------------------

class Session:
    """One Gradio session from one source address; `served` lists the X-Replica of every response it got."""

    def __init__(self, url: str, address: str, api: dict[str, tuple[int, list[bool]]]):
        self.http = httpx.Client(base_url=url, timeout=READ_TIMEOUT_S,
                                 transport=httpx.HTTPTransport(local_address=address))
        self.address = address
        self.api = api
        self.hash = secrets.token_hex(6)
        self.served: list[str | None] = []
        self.chosen: str | None = None  # the example this session last chose
        self.logs: list[str] = []       # the warnings and infos the server sent it

    def _seen(self, response: httpx.Response) -> httpx.Response:
        self.served.append(response.headers.get(replicas.HEADER))
        assert response.status_code == 200, (self.address, response.status_code, response.read()[:500])
        return response

    def call(self, api_name: str, *args) -> list:
        """The outputs of `api_name` called with `args` in this session (gr.State inputs filled by the server)."""
        fn_index, is_state = self.api[api_name]
        given = iter(args)
        data = [None if state else next(given) for state in is_state]
        join = self._seen(self.http.post("gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": self.hash, "event_data": None, "trigger_id": None}))
        event_id = join.json()["event_id"]
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.hash}) as stream:
            self._seen(stream)
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[len("data:"):])
                if message.get("msg") == "log":
                    self.logs.append(str(message.get("log")))
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    assert message.get("success"), (self.address, api_name, message.get("output"))
                    return message["output"]["data"]
        raise AssertionError(f"{self.address}: the event stream closed before {api_name} answered")

    def image(self, file: dict) -> np.ndarray:
        """The picture a file output names, fetched through the proxy as a browser would. (H, W, 3) uint8"""
        assert file["url"].startswith(str(self.http.base_url)), file["url"]  # Gradio names the proxy, not itself
        response = self._seen(self.http.get(file["url"]))
        return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))

    def shown_example(self) -> str:
        """The held-out example the session's state holds, told by the x₀ that /previews sends."""
        x0 = self.image(self.call("/previews", 250, 0)[0])[::PREVIEW_SCALE, ::PREVIEW_SCALE]  # (64, 64, 3)
        return closest_example(x0)

    def close(self) -> None:
        self.http.close()


def closest_example(pixels: np.ndarray) -> str:
    distances = {path.stem: np.abs(np.asarray(Image.open(path).convert("RGB"), np.int16) - pixels).mean()
                 for path in HELD_OUT}
    return min(distances, key=distances.get)


def api_of(url: str) -> dict[str, tuple[int, list[bool]]]:
    """api_name → (fn_index, which inputs are gr.State), from the app's /config."""
    config = httpx.get(url + "config", timeout=READ_TIMEOUT_S).json()
    types = {component["id"]: component.get("type") for component in config["components"]}
    return {"/" + dependency["api_name"]: (dependency["id"], [types[i] == "state" for i in dependency["inputs"]])
            for dependency in config["dependencies"] if dependency.get("api_name")}


def walk(session: Session, names: list[str]) -> None:
    """Stateful calls: the session still shows what it chose before, then shows each example it chooses."""
    for name in names:
        if session.chosen is not None:
            assert session.shown_example() == session.chosen, (session.address, "lost its state")
        session.call("/choose_example", name)
        session.chosen = name
        assert session.shown_example() == name, (session.address, name)


def distinct_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


# --- the tests ----------------------------------------------------------------------------------------------------

@needs_haproxy
def test_the_written_config_is_one_haproxy_accepts(tmp_path):
    path = tmp_path / "haproxy.cfg"
    replicas.main(["--replicas", "3", "--port", "7870", "--write", str(path)])
    text = path.read_text()
    assert [line.split()[1:3] for line in text.splitlines() if line.strip().startswith("server ")] == [
        ["app1", "127.0.0.1:7871"], ["app2", "127.0.0.1:7872"], ["app3", "127.0.0.1:7873"]]
    assert "stick on src" in text and f"GET {replicas.HEALTH_PATH}" in text
    assert "http-request del-header x-forwarded-for" in text and "set-src" not in text  # the client's header: dropped
    replicas.check_config(path)  # raises with HAProxy's words when it refuses it
    replicas.main(["--replicas", "2", "--behind-proxy", "--write", str(path)])
    assert "http-request set-src hdr_ip(x-forwarded-for,-1)" in path.read_text()  # the trusted proxy's entry
    replicas.check_config(path)
    path.write_text(text.replace("stick on src", "stick on nonsense"))
    with pytest.raises(ValueError, match="haproxy refused"):
        replicas.check_config(path)


@needs_haproxy
def test_two_replicas_keep_each_client_on_one_and_survive_the_death_of_one(tmp_path):
    assert len(HELD_OUT) >= 4, "weights/heldout holds the examples the sessions choose"
    names = [path.stem for path in HELD_OUT[1:]]  # not the first: it is every session's image before a choice
    proxy_port, *ports = distinct_ports(3)
    pair = [replicas.Replica("app1", ports[0]), replicas.Replica("app2", ports[1])]
    started = time.monotonic()
    sessions: list[Session] = []
    try:
        with replicas.running(pair, proxy_port, check_every_s=0.5, logs=tmp_path) as cluster:
            ready = time.monotonic()
            api = api_of(cluster.url)

            # Six addresses, the first two with two sessions each, their calls interleaved: every session stays
            # on one replica and keeps its own image; both sessions of an address share a replica; both replicas
            # are used.
            sessions = [Session(cluster.url, address, api) for address in ADDRESSES + ADDRESSES[:2]]
            for step in range(2):
                for index, session in enumerate(sessions):
                    walk(session, [names[(index + step * len(sessions)) % len(names)]])
            by_address: dict[str, set] = {}
            for session in sessions:
                assert len(set(session.served)) == 1 and None not in session.served, (session.address,
                                                                                      session.served)
                by_address.setdefault(session.address, set()).add(session.served[0])
            assert all(len(served) == 1 for served in by_address.values()), by_address
            assert {name for served in by_address.values() for name in served} == {"app1", "app2"}, by_address
            sticky = time.monotonic()

            # One replica dies (SIGKILL: a crash). New sessions from its addresses go to the survivor and work;
            # the survivor's sessions keep their state.
            victim = next(iter(by_address[ADDRESSES[0]]))
            survivor = "app2" if victim == "app1" else "app1"
            dead = cluster.apps[[replica.name for replica in pair].index(victim)]
            dead.kill()
            dead.wait(timeout=30)  # until then its port may still accept connections that it never answers
            kept = [session for session in sessions if session.served[0] == survivor]
            moved = [Session(cluster.url, address, api) for address, served in by_address.items() if victim in served]
            sessions.extend(moved)
            for index, session in enumerate(moved):
                walk(session, [names[-1 - index], names[-10 - index]])
                assert set(session.served) == {survivor}, (session.address, session.served)
            for session in kept:
                assert session.shown_example() == session.chosen, session.address
                assert set(session.served) == {survivor}, (session.address, session.served)
            # The dead replica's own sessions go on with the survivor: each is told once that it moved.
            orphans = [session for session in sessions[:len(ADDRESSES) + 2] if session.served[0] == victim]
            for session in orphans:
                session.call("/choose_example", names[0])
                session.call("/choose_example", names[1])
                told = [text for text in session.logs if "moved to another copy" in text]
                assert len(told) == 1, (session.address, session.logs)
            assert cluster.proxy.poll() is None, (tmp_path / "haproxy.log").read_text()
            failover = time.monotonic()
    finally:
        for session in sessions:
            session.close()
    print(f"\nreplicas: start {ready - started:.1f} s, {len(ADDRESSES) + 2} sticky sessions {sticky - ready:.1f} s, "
          f"failover {failover - sticky:.1f} s")


def test_a_config_needs_at_least_one_replica():
    with pytest.raises(ValueError, match="at least 1"):
        replicas.replicas_from(0, 7861)
    assert replicas.haproxy_config(replicas.replicas_from(1, 9001), 9000).count("\n    server ") == 1

