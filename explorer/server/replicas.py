"""N replicas of the app behind HAProxy, each client kept on one replica: `python -m explorer.server.replicas`.

    python -m explorer.server.replicas --replicas 2 --port 7860                       # run them all; Ctrl-C stops
    python -m explorer.server.replicas --replicas 2 --port 7860 --write haproxy.cfg   # only write the config

Why sticky: a Gradio session lives in one process. Its `gr.State` (the session's image), its queue (the event
stream that answers a request is read from the process that took the request), the files it was sent (x₀ and x_t
previews, uploads: URLs into that process's own cache folder) are nowhere else. So every request of a session
must reach the replica that opened it. The config keeps a client on one replica by its address, as Kubernetes'
`sessionAffinity: ClientIP` does: the first request from an address goes to the next replica in turn, a table
remembers the pair for 3 hours, and later requests follow it. A replica that refuses connections or fails its
health check (`GET /config`) gets no more requests; the addresses it held are sent to a live one (their next
session starts there) and stay there when it comes back, so no live session moves.

Each replica is `python app.py --behind-proxy 1` on 127.0.0.1: HAProxy drops any X-Forwarded-For the client sent
and writes one line with the client's address, which the app's long lane shares by. With `--behind-proxy` here
(HAProxy itself behind a trusted proxy, as in a Docker Space) the client is the address that proxy wrote, for the
stickiness too. HAProxy adds `X-Replica: <name>` to each response: who answered, for an operator and for
tests/test_replicas.py. Needs `haproxy` (Debian: `apt-get install haproxy`).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from explorer.server.session_state import REPLICA_ENV, SESSIONS_ENV

ROOT = Path(__file__).resolve().parent.parent.parent
HEALTH_PATH = "/config"  # answers 200 once the Blocks are built and the server listens: what "ready" means here
HEADER = "X-Replica"
START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Replica:
    """One app process behind the proxy: its server name in the config and the port it listens on."""
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def replicas_from(count: int, first_port: int) -> list[Replica]:
    """`count` replicas named app1, app2 … on ports first_port, first_port + 1 …"""
    if count < 1:
        raise ValueError(f"the number of replicas must be at least 1, not {count}")
    return [Replica(f"app{index + 1}", first_port + index) for index in range(count)]


def haproxy_config(replicas: list[Replica], port: int, host: str = "127.0.0.1", check_every_s: float = 5.0,
                   proxies: int = 0) -> str:
    """The text of an haproxy.cfg (HAProxy 2.6, Debian 12) listening on host:port in front of `replicas`.

    proxies: trusted proxies in front of HAProxy itself (a Docker Space: 1). With none, a client is its TCP
    address; with some, the address the outermost of them wrote into X-Forwarded-For (as the app's --behind-proxy).
    """
    if proxies < 0:
        raise ValueError(f"the number of trusted proxies must be 0 or more, not {proxies}")
    client = (f"    http-request set-src hdr_ip(x-forwarded-for,-{proxies})  # the client, as the outermost trusted "
              f"proxy wrote it\n" if proxies else "")
    check_ms = max(100, round(check_every_s * 1000))
    servers = "\n".join(f"    server {replica.name} 127.0.0.1:{replica.port}" for replica in replicas)
    return f"""\
# U-Net Explorer: {len(replicas)} replicas behind HAProxy, one client address per replica
# (written by `python -m explorer.server.replicas`; see docs/hosting.md, "Past one machine: replicas").
global
    maxconn 4096

defaults
    mode http
    option forwardfor          # X-Forwarded-For: the client, for each replica's `--behind-proxy 1`
    option redispatch          # a refused connection is tried on another replica (and the client moves there)
    retries 2
    timeout connect 5s
    timeout http-request 30s   # the whole request head; a slow client cannot hold a connection open for free
    timeout client 5m          # Gradio's event streams send a heartbeat every 15 s; a request waits in its queue
    timeout server 5m
    timeout tunnel 1h          # an upgraded (websocket) connection
    timeout check 10s          # a replica busy computing answers late: slow is not dead (a dead one refuses at once)

frontend explorer
    bind {host}:{port}
{client}    http-request del-header x-forwarded-for   # the client's word: a replica reads only the line added here
    default_backend replicas

backend replicas
    balance roundrobin                          # a new client address goes to the next live replica
    stick-table type ipv6 size 100k expire 3h   # and stays there (ipv6 also holds IPv4 addresses);
    stick on src                                # Kubernetes' sessionAffinity: ClientIP keeps it 3 h too
    option httpchk GET {HEALTH_PATH}
    http-check expect status 200
    http-response set-header {HEADER} %s       # which replica answered
    default-server check inter {check_ms}ms fall 3 rise 2
{servers}
"""


def replica_env(replica: Replica, environ: dict | None = None) -> dict:
    """The environment of `python app.py` for one replica: its port on 127.0.0.1 and a temp folder of its own
    (replicas started at once would otherwise sweep each other's new folders, see limits.temp_root)."""
    folder = Path(tempfile.gettempdir()) / "unet-explorer-replicas"
    temp = folder / replica.name
    temp.mkdir(parents=True, exist_ok=True)
    # A folder all replicas share: which replica had each session, so one whose replica died is told it moved
    # (session_state.Moves).
    return {**(os.environ if environ is None else environ), "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_SERVER_PORT": str(replica.port), "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1",
            REPLICA_ENV: replica.name, SESSIONS_ENV: str(folder / "sessions")}


def replica_command(app_args: list[str] = ()) -> list[str]:
    """`python app.py --behind-proxy 1 …`: HAProxy is the one trusted proxy in front of each replica."""
    return [sys.executable, str(ROOT / "app.py"), "--behind-proxy", "1", *app_args]


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next((path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                             if os.access(path, os.X_OK)), None)
    if found is None:
        raise FileNotFoundError("haproxy is not installed: run `apt-get install haproxy` (Debian, Ubuntu) or "
                                "`brew install haproxy`")
    return found


def check_config(path: Path) -> None:
    """Raise ValueError with HAProxy's own words when it refuses the config at `path`."""
    result = subprocess.run([haproxy_binary(), "-c", "-f", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(f"haproxy refused {path}:\n{result.stdout}{result.stderr}")


def answers(url: str) -> bool:
    """True when `url` + config answers 200 (the app is ready)."""
    try:
        with urllib.request.urlopen(url + HEALTH_PATH.lstrip("/"), timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to all at once (each replica takes seconds to close), then SIGKILL to any still running after 10 s."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Cluster:
    """The running processes: one per replica (in the order of `replicas`) and HAProxy."""
    replicas: list[Replica]
    apps: list[subprocess.Popen]
    proxy: subprocess.Popen
    url: str


@contextlib.contextmanager
def running(replicas: list[Replica], port: int, host: str = "127.0.0.1", app_args: list[str] = (),
            check_every_s: float = 5.0, proxies: int = 0, logs: Path | None = None,
            timeout: float = START_TIMEOUT_S) -> Iterator[Cluster]:
    """Start every replica at once, wait until each answers, then HAProxy on host:port; stop them all at the end.

    logs: a folder for each process's output (<name>.log, haproxy.log); None: they share this terminal.
    Raises RuntimeError, with the process's output where there is a log, when one exits or is not ready in time.
    """
    binary = haproxy_binary()
    processes: list[subprocess.Popen] = []

    def start(name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        sink = open(logs / f"{name}.log", "wb") if logs else None  # noqa: SIM115 - the child keeps its own copy
        try:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                       stderr=subprocess.STDOUT if sink else None)
        finally:
            if sink:
                sink.close()
        processes.append(process)
        return process

    def tail(name: str) -> str:
        path = logs / f"{name}.log" if logs else None
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else "(see the output above)"

    with tempfile.TemporaryDirectory(prefix="unet-explorer-haproxy-") as folder:
        config = Path(folder) / "haproxy.cfg"
        config.write_text(haproxy_config(replicas, port, host, check_every_s, proxies))
        try:
            apps = [start(replica.name, replica_command(list(app_args)), replica_env(replica)) for replica in replicas]
            deadline = time.monotonic() + timeout
            waiting = list(zip(replicas, apps))
            while waiting:
                for replica, process in list(waiting):
                    if process.poll() is not None:
                        raise RuntimeError(f"replica {replica.name} (port {replica.port}) exited with code "
                                           f"{process.returncode} before it answered:\n{tail(replica.name)}")
                    if answers(replica.url):
                        waiting.remove((replica, process))
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(replica.name for replica, _ in waiting)
                    raise RuntimeError(f"replicas {names} did not answer within {timeout:.0f} s:\n"
                                       f"{tail(waiting[0][0].name)}")
                time.sleep(0.25)
            proxy = start("haproxy", [binary, "-db", "-f", str(config)])  # -db: in the foreground, stopped with us
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
            while not answers(url):
                if proxy.poll() is not None:
                    raise RuntimeError(f"haproxy exited with code {proxy.returncode}:\n{tail('haproxy')}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy did not answer {url} within {timeout:.0f} s:\n{tail('haproxy')}")
                time.sleep(0.1)
            yield Cluster(replicas, apps, proxy, url)
        finally:
            stop(processes[len(replicas):])  # the proxy first: no request reaches a replica that is stopping
            stop(processes[:len(replicas)])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m explorer.server.replicas",
        description="Run N replicas of the app behind HAProxy, each client address kept on one replica (sticky "
                    "sessions: a Gradio session lives in one process). Arguments after `--` go to every "
                    "`python app.py` (e.g. -- --concurrency 2).")
    parser.add_argument("--replicas", type=int, default=2, help="how many app processes (default 2)")
    parser.add_argument("--port", type=int, default=7860, help="the port HAProxy listens on (default 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address HAProxy listens on (default 127.0.0.1; 0.0.0.0 for a LAN)")
    parser.add_argument("--first-port", type=int, default=None,
                        help="the first replica's port on 127.0.0.1; the others follow (default: --port + 1)")
    parser.add_argument("--check-every", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between health checks of each replica (default 5; three failures in a row, "
                             "each a refused connection or 10 s without an answer, mark it down)")
    parser.add_argument("--behind-proxy", type=int, nargs="?", const=1, default=0, metavar="HOPS",
                        help="HAProxy itself is reached through HOPS trusted proxies (a Docker Space: 1): a client is "
                             "the address they write into X-Forwarded-For, not the proxy's (default: not behind a "
                             "proxy; the header is ignored)")
    parser.add_argument("--write", type=Path, default=None, metavar="FILE",
                        help="only write the HAProxy config to FILE and print how to start the replicas")
    parser.add_argument("app_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.app_args[:1] == ["--"]:
        args.app_args = args.app_args[1:]
    if args.replicas < 1:
        parser.error(f"--replicas must be at least 1, not {args.replicas}")
    if args.behind_proxy < 0:
        parser.error(f"--behind-proxy must be 0 or more, not {args.behind_proxy}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    replicas = replicas_from(args.replicas, args.first_port or args.port + 1)
    if args.write:
        args.write.write_text(haproxy_config(replicas, args.port, args.host, args.check_every, args.behind_proxy))
        with contextlib.suppress(FileNotFoundError):  # no haproxy here: the file is still written, just unchecked
            check_config(args.write)
        print(f"wrote {args.write}; start each replica from {ROOT}, then `haproxy -f {args.write}`:")
        for replica in replicas:
            print(f"  GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT={replica.port} python app.py "
                  + " ".join(replica_command(args.app_args)[2:]))
        return
    # `kill`, systemd or `docker stop` send SIGTERM: leave through the `finally` that stops the replicas and HAProxy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        with running(replicas, args.port, args.host, args.app_args, args.check_every, args.behind_proxy) as cluster:
            print(f"{len(replicas)} replicas behind HAProxy at {cluster.url} (Ctrl-C stops them all)", flush=True)
            gone: set[str] = set()
            while cluster.proxy.poll() is None and len(gone) < len(cluster.apps):
                for replica, app in zip(cluster.replicas, cluster.apps):
                    if app.poll() is not None and replica.name not in gone:
                        gone.add(replica.name)  # HAProxy sends its clients to the others; nothing restarts it
                        print(f"replica {replica.name} exited with code {app.returncode}", file=sys.stderr, flush=True)
                time.sleep(1)
            raise SystemExit("haproxy exited" if cluster.proxy.poll() is not None else "every replica exited")
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except (RuntimeError, FileNotFoundError) as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
