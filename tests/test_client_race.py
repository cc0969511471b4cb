"""The load test's CancelledError (issue 22): the test's client gave up on a request the server had queued.

A tiny in-process Gradio app, and gradio_client's stream reader slowed down between a reply and the server's
"close_stream" that follows it (as on a busy machine): the next request of the same session is submitted before
the reader has read the server's "close_stream". gradio_client 2.7.2 then hands that request "no more messages"
(CancelledError); tests/server.SessionClient lets the closing reader finish first.
"""
from __future__ import annotations

import json
import time

import gradio as gr
import gradio_client.client
import pytest
from gradio_client import Client

from tests.server import SessionClient, free_port


class SlowReader:
    """gradio_client.client's `json`, except that the stream reader stalls before it reads the server's
    "close_stream" (outside any lock, as a thread starved of CPU does)."""

    def __getattr__(self, name):
        return getattr(json, name)

    @staticmethod
    def loads(text, *args, **kwargs):
        if "close_stream" in str(text):
            time.sleep(0.5)
        return json.loads(text, *args, **kwargs)


@pytest.fixture(scope="module")
def url():
    with gr.Blocks() as demo:
        box = gr.Number()
        gr.Button().click(lambda x: (x or 0) + 1, box, box, api_name="add")
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def run(client: Client, count: int = 8) -> list[str]:
    problems = []
    for value in range(count):
        try:
            assert client.predict(value, api_name="/add") == value + 1
        except Exception as error:  # noqa: BLE001
            problems.append(type(error).__name__)
    return problems


def test_gradio_client_alone_gives_up_on_a_queued_request(url, monkeypatch):
    """The race exists: this test shows it, so that the next one shows its fix."""
    monkeypatch.setattr(gradio_client.client, "json", SlowReader())
    client = Client(url, verbose=False, analytics_enabled=False, ssl_verify=False)
    try:
        problems = run(client)
    finally:
        client.close()
    assert "CancelledError" in problems, problems


def test_the_session_client_waits_for_the_closing_reader(url, monkeypatch):
    monkeypatch.setattr(gradio_client.client, "json", SlowReader())
    client = SessionClient(url, verbose=False, analytics_enabled=False, ssl_verify=False)
    try:
        assert run(client) == []
    finally:
        client.close()
