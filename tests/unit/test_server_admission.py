"""Admission control through the ASGI app: a full queue is refused at once with 429 and
Retry-After in each API's own format, deadlines end requests, and the ops routes, keys, logs and
CORS behave."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from hearth._secret import Secret
from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.testing import FakeBackend
from hearth.config.schema import Config
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.request import ChatRequest
from hearth.server import ServerSettings, create_app


class PacedBackend(BackendBase):
    """Emits ``tokens`` one-character deltas, ``delay`` seconds apart; counts what it ran."""

    def __init__(self, tokens: int = 20, delay: float = 0.01) -> None:
        self.tokens, self.delay = tokens, delay
        self.started = self.finished = self.cancelled = 0

    @property
    def name(self) -> str:
        return "fake:paced"

    def capabilities(self) -> Capabilities:
        return Capabilities(context_length=4096, raw_completion=True)

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._run(request.settings.max_tokens or self.tokens)

    async def _run(self, n: int) -> AsyncIterator[StreamEvent]:
        self.started += 1
        finished = False
        try:
            for _ in range(n):
                await asyncio.sleep(self.delay)
                yield TextDelta("x")
            finished = True
            yield Done("end_turn", Usage(2, n))
        finally:
            if finished:
                self.finished += 1
            else:
                self.cancelled += 1


def app_for(backend: BackendBase, **settings: object):  # type: ignore[no-untyped-def]
    return create_app(
        ServerSettings(models=("fake",), **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null")),
        backends={"fake": backend},
    )


CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
REQUESTS = {
    "openai": ("/v1/chat/completions", CHAT),
    "anthropic": ("/v1/messages", {**CHAT, "max_tokens": 20}),
    "gemini": ("/v1beta/models/fake:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
}


async def _busy_then_refused(api: str) -> tuple[httpx.Response, httpx.Response, PacedBackend]:
    backend = PacedBackend(tokens=30, delay=0.01)
    app = app_for(backend, parallel=1, max_queue=0, retry_after=3.0)
    path, body = REQUESTS[api]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        first = asyncio.create_task(client.post(path, json=body))
        while backend.started == 0:
            await asyncio.sleep(0.001)
        refused_at = time.monotonic()
        refused = await client.post(path, json=body)
        assert time.monotonic() - refused_at < 0.2  # at once, not after the first finished
        return await first, refused, backend


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("openai", lambda b: b["error"]["type"] == "rate_limit_error"),
        ("anthropic", lambda b: b["type"] == "error" and b["error"]["type"] == "rate_limit_error"),
        ("gemini", lambda b: b["error"]["status"] == "RESOURCE_EXHAUSTED"),
    ],
)
def test_a_full_queue_is_a_429_with_retry_after_in_the_apis_format(api: str, kind: object) -> None:
    first, refused, backend = asyncio.run(_busy_then_refused(api))
    assert first.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert kind(refused.json())  # type: ignore[operator]
    assert backend.started == 1  # the refused request never reached the backend


def test_waiting_requests_up_to_max_queue_are_served_in_turn() -> None:
    async def run() -> list[int]:
        backend = PacedBackend(tokens=5, delay=0.01)
        transport = httpx.ASGITransport(app=app_for(backend, parallel=1, max_queue=2))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            answers = await asyncio.gather(
                *[client.post("/v1/chat/completions", json=CHAT) for _ in range(4)]
            )
        return sorted(r.status_code for r in answers)

    assert asyncio.run(run()) == [200, 200, 200, 429]


def test_the_deadline_ends_a_slow_request_with_504() -> None:
    backend = PacedBackend(tokens=1000, delay=0.01)
    with TestClient(app_for(backend, timeout=0.2)) as c:
        started = time.monotonic()
        r = c.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 504
    assert "deadline" in r.json()["error"]["message"]
    assert time.monotonic() - started < 2
    assert backend.cancelled == 1


def test_health_ready_and_metrics() -> None:
    fake = FakeBackend([[TextDelta("ab"), Done("end_turn", Usage(4, 7))]])
    with TestClient(app_for(fake)) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/ready").status_code == 200
        c.post("/v1/chat/completions", json=CHAT)
        text = c.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "hearth_queue_depth",
        "hearth_active_requests",
        "hearth_tokens_generated",
        "hearth_time_to_first_token_seconds",
        "hearth_request_duration_seconds",
    ):
        assert name in families, name
    tokens = [s for s in families["hearth_tokens_generated"].samples if s.name.endswith("_total")]
    assert tokens[0].value == 7 and tokens[0].labels == {"model": "fake"}
    ttft = families["hearth_time_to_first_token_seconds"].samples
    assert any(s.name.endswith("_count") and s.value == 1 for s in ttft)


def test_ready_is_503_until_a_model_loads() -> None:
    class Loading(FakeBackend):
        def load(self) -> None:
            raise RuntimeError("no such file")

    with TestClient(app_for(Loading([]))) as c:
        deadline = time.monotonic() + 5
        while c.get("/ready").json()["models"]["fake"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.01)
        r = c.get("/ready")
        chat = c.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 503 and "no such file" in r.json()["errors"]["fake"]
    assert chat.status_code == 503 and "failed to load" in chat.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "read"),
    [
        ("/v1/chat/completions", CHAT, lambda b: (b["error"]["type"], b["error"]["message"])),
        (
            "/v1/messages",
            {"model": "fake", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
            lambda b: (b["error"]["type"], b["error"]["message"]),
        ),
        (
            "/v1beta/models/fake:generateContent",
            {"contents": [{"parts": [{"text": "hi"}]}]},
            lambda b: (b["error"]["status"], b["error"]["message"]),
        ),
    ],
)
def test_a_model_that_failed_to_load_is_a_503_naming_it_and_the_cause_in_each_api(
    path: str, body: dict[str, object], read: Callable[[Any], tuple[str, str]]
) -> None:
    class Broken(FakeBackend):
        def load(self) -> None:
            raise RuntimeError("no such file: model.gguf")

    with TestClient(app_for(Broken([]))) as c:
        deadline = time.monotonic() + 5
        while c.get("/ready").json()["models"]["fake"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.01)
        r = c.post(path, json=body)
    assert r.status_code == 503, r.text
    assert "retry-after" not in r.headers  # it will not recover by itself
    kind, message = read(r.json())
    assert kind in ("server_error", "api_error", "UNAVAILABLE")
    assert "fake" in message and "no such file: model.gguf" in message


def test_one_model_failing_to_load_does_not_stop_the_others_loading() -> None:
    class Broken(FakeBackend):
        def load(self) -> None:
            raise RuntimeError("no such file")

    class Fine(FakeBackend):
        def load(self) -> None:
            pass

    app = create_app(
        ServerSettings(models=("broken", "fine")),
        config=Config(path=Path("/dev/null")),
        backends={"broken": Broken([]), "fine": Fine([])},
    )
    with TestClient(app) as c:
        deadline = time.monotonic() + 5
        while "loading" in c.get("/ready").json()["models"].values():
            assert time.monotonic() < deadline, c.get("/ready").json()
            time.sleep(0.01)
        models = c.get("/ready").json()["models"]
    assert models == {"broken": "failed", "fine": "ready"}


KEY = "s3cret-key-123"


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEY}"},
        {"x-api-key": KEY},
        {"x-goog-api-key": KEY},
    ],
)
def test_the_key_is_accepted_in_each_apis_header(headers: dict[str, str]) -> None:
    fake = FakeBackend([[TextDelta("ok"), Done("end_turn")]])
    with TestClient(app_for(fake, api_key=Secret(KEY))) as c:
        assert c.post("/v1/chat/completions", json=CHAT, headers=headers).status_code == 200


def test_a_missing_or_wrong_key_is_401_in_each_format() -> None:
    with TestClient(app_for(FakeBackend([]), api_key=Secret(KEY))) as c:
        openai = c.post("/v1/chat/completions", json=CHAT)
        wrong = c.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer x"})
        anthropic = c.post("/v1/messages", json=CHAT, headers={"x-api-key": KEY[:-1]})
        gemini = c.post("/v1beta/models/fake:generateContent?key=nope", json={})
        metrics = c.get("/metrics")
        health = c.get("/health")
    assert openai.status_code == wrong.status_code == 401
    assert openai.json()["error"]["type"] == "authentication_error"
    assert (
        anthropic.status_code == 401 and anthropic.json()["error"]["type"] == "authentication_error"
    )
    assert gemini.status_code == 401 and gemini.json()["error"]["status"] == "UNAUTHENTICATED"
    assert metrics.status_code == 401
    assert health.status_code == 200  # liveness needs no key
    assert KEY not in openai.text + anthropic.text + gemini.text


def test_logs_escape_cr_lf_and_never_hold_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hearth.server")
    with TestClient(app_for(FakeBackend([]), api_key=Secret(KEY))) as c:
        c.get("/v1/models/evil%0d%0aINJECTED 200", headers={"authorization": f"Bearer {KEY}"})
        c.post(f"/v1beta/models/fake:generateContent?key={KEY}", json={"contents": []})
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("hearth.server")]
    assert any("evil\\r\\nINJECTED" in line for line in lines)
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert all(KEY not in line for line in lines)


def test_no_cors_unless_enabled() -> None:
    origin = {"origin": "https://example.com"}
    with TestClient(app_for(FakeBackend([]))) as c:
        plain = c.get("/v1/models", headers=origin)
        preflight = c.options(
            "/v1/models", headers={**origin, "access-control-request-method": "GET"}
        )
    assert "access-control-allow-origin" not in plain.headers
    assert "access-control-allow-origin" not in preflight.headers
    with TestClient(app_for(FakeBackend([]), cors_origins=("https://example.com",))) as c:
        allowed = c.get("/v1/models", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://example.com"


def test_parallel_defaults_to_what_the_backend_runs_at_once() -> None:
    from types import SimpleNamespace

    class Slotted(FakeBackend):
        options = SimpleNamespace(slots=4)

    app = create_app(
        ServerSettings(models=("local:a", "local:b", "groq:c")),
        config=Config(path=Path("/dev/null")),
        backends={"local:a": FakeBackend([]), "local:b": Slotted([]), "groq:c": FakeBackend([])},
    )
    served = app.state.hearth.router.served
    assert [s.admission.parallel for s in served] == [1, 4, 8]
    fixed = create_app(
        ServerSettings(models=("local:b",), parallel=2),
        config=Config(path=Path("/dev/null")),
        backends={"local:b": Slotted([])},
    )
    assert fixed.state.hearth.router.served[0].admission.parallel == 2


def test_metrics_count_drafted_and_accepted_tokens() -> None:
    usage = Usage(4, 7, drafted_tokens=5, accepted_tokens=3)
    fake = FakeBackend([[TextDelta("ab"), Done("end_turn", usage)]])
    with TestClient(app_for(fake)) as c:
        answer = c.post("/v1/chat/completions", json=CHAT).json()
        text = c.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    totals = {
        name: [s.value for s in families[name].samples if s.name.endswith("_total")]
        for name in ("hearth_draft_tokens", "hearth_draft_accepted_tokens")
    }
    assert totals == {"hearth_draft_tokens": [5.0], "hearth_draft_accepted_tokens": [3.0]}
    details = answer["usage"]["completion_tokens_details"]
    assert details["accepted_prediction_tokens"] == 3
    assert details["rejected_prediction_tokens"] == 2
