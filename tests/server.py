"""Start the real app (`python app.py`) in a subprocess for the endpoint and browser tests.

    with running_app() as url:      # "http://127.0.0.1:PORT/"
        ...

The app listens on 127.0.0.1 on a free port; the context manager waits until /config answers 200
and stops the process at the end. If the app dies or never answers, the test fails with its output.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "config", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(log: Path, limit: int = 6000) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-limit:] or "(no output)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def running_app(*args: str, timeout: float = START_TIMEOUT_S, env: dict | None = None, attempts: int = 3,
                script: str = "app.py"):
    """Run `python app.py *args` (or another `script` that starts it) on 127.0.0.1 and a free port; yield its URL
    (ending in '/')."""
    with tempfile.TemporaryDirectory(prefix="unet-explorer-app-") as folder:
        log = Path(folder) / "app.log"
        for attempt in range(1, attempts + 1):
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            process_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
            with open(log, "wb") as output:
                process = subprocess.Popen([sys.executable, script, *args], cwd=ROOT, env=process_env,
                                           stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + timeout
                while not _answers(url):
                    if process.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        pytest.fail(f"`python app.py` did not answer {url}config within {timeout:.0f} s; "
                                    f"its output:\n{_tail(log)}", pytrace=False)
                    time.sleep(0.25)
                if process.poll() is not None:
                    text = _tail(log)
                    # Another process may have taken the port between free_port() and the app's bind: retry.
                    if attempt < attempts and ("address already in use" in text.lower()
                                               or "cannot find empty port" in text.lower()):
                        continue
                    pytest.fail(f"`python app.py` exited with code {process.returncode} before it answered; "
                                f"its output:\n{text}", pytrace=False)
                yield url
                if process.poll() is not None:
                    pytest.fail(f"`python app.py` died during the tests (code {process.returncode}); its output:\n"
                                f"{_tail(log)}", pytrace=False)
                return
            finally:
                _stop(process)


class SessionClient(Client):
    """gradio_client's Client (2.7.2) without a race that failed the load test on a busy machine (issue 22).

    The server closes a session's event stream once the session has nothing pending. A client making requests
    one after another on one session could submit the next one while its stream reader had not yet read that
    close: the new event was filed under the closing reader, which then handed it "no more messages", and the
    call raised CancelledError (seen on /select_block in the leak test). The server had queued the event and
    would have answered it on a new stream. Here a submission first lets a reader with nothing pending finish.
    """

    def send_data(self, data, hash_data, protocol, request_headers):
        with self.pending_lock:
            closing = self.streaming_future if self.stream_open and not self.pending_event_ids else None
        if closing is not None:
            with contextlib.suppress(Exception):  # a reader that fails or hangs is gradio_client's own affair
                closing.result(timeout=30)
        return super().send_data(data, hash_data, protocol, request_headers)


def api_client(url: str, **options) -> Client:
    """gradio_client's Client for an app on 127.0.0.1: quiet, no analytics, and no TLS set-up.

    The app speaks plain HTTP here, yet httpx builds a certificate store (~50 ms of CPU) for every HTTP
    client it opens, and gradio_client opens several per request (the call, its event stream, each
    file): with `ssl_verify=False` it builds none, which halves the CPU the load test's clients take
    from the server they measure.
    """
    return SessionClient(url, **{"verbose": False, "analytics_enabled": False, "ssl_verify": False, **options})
