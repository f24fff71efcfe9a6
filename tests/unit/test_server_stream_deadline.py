"""The request deadline (``timeout``) holds while a stream is running: a backend that stops
producing mid-answer ends the stream with the format's error event, and the backend's stream
is closed (the engine would stop generating)."""

from __future__ import annotations

import json

import httpx
from tests.support.live import live_server
from tests.unit.test_server_admission import PacedBackend


def test_a_stream_whose_deadline_passes_mid_answer_ends_with_an_error_event() -> None:
    backend = PacedBackend(tokens=50, delay=0.1)  # 5 s of tokens; the deadline is 1 s
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with (
        live_server(backend, timeout=1.0) as (host, port),
        httpx.stream(
            "POST", f"http://{host}:{port}/v1/chat/completions", json=body, timeout=10
        ) as r,
    ):
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line.startswith("data: {")]
    chunks = [json.loads(line[6:]) for line in lines]
    text = "".join(
        (c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices")
    )
    assert 3 <= len(text) < 50  # some tokens arrived, then the deadline cut the stream
    error = chunks[-1]["error"]
    assert "deadline" in error["message"]
    assert backend.cancelled == 1 and backend.finished == 0


def test_a_stream_within_its_deadline_is_complete() -> None:
    backend = PacedBackend(tokens=30, delay=0.005)
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with (
        live_server(backend, timeout=30.0) as (host, port),
        httpx.stream(
            "POST", f"http://{host}:{port}/v1/chat/completions", json=body, timeout=10
        ) as r,
    ):
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    content = [
        json.loads(line[6:])["choices"][0]["delta"].get("content")
        for line in lines[:-1]
        if json.loads(line[6:]).get("choices")
    ]
    assert "".join(c for c in content if c) == "x" * 30
    assert backend.finished == 1
