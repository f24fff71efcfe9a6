"""Raw text completion on remote backends (``Model.complete`` and friends): OpenAI-compatible
``/completions`` (vLLM, llama-server, hearth serve, OpenAI's completion models) and Ollama's
``/api/generate`` with ``raw: true``, end to end over a loopback socket or httpx.MockTransport;
the endpoints without one refuse before any I/O."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from tests.support.loopback import LoopbackServer, Reply, sse_frames

import hearth
from hearth.config.schema import Config
from hearth.errors import (
    ContextLengthExceededError,
    HearthError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedFeatureError,
)
from hearth.events import TextDelta
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.server import ServerSettings, create_app

FIXTURES = Path(__file__).parents[1] / "fixtures"
COUNT = "1, 2, 3, 4,"
SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


def raw(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def pieces(data: bytes, size: int = 9) -> list[bytes]:
    """A transcript cut into small pieces, so frames and characters straddle chunks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def answer(text: str, finish: str = "stop") -> dict[str, object]:
    return {"id": "cmpl-1", "object": "text_completion", "model": "m",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 3}}  # fmt: skip


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


class Recorder:
    """An httpx MockTransport that records the requests and plays one reply for all."""

    def __init__(self, status: int = 200, body: object = None, **headers: str) -> None:
        self.calls: list[httpx.Request] = []
        self.status, self.body = status, body
        self.headers = {k.replace("_", "-"): v for k, v in headers.items()}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return httpx.Response(self.status, json=self.body, headers=self.headers)

    def model(self, spec: str, **options: object) -> hearth.Model:
        return hearth.model(
            spec,
            api_key="k-SECRET",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
            **options,
        )


class StreamRecorder(Recorder):
    """A Recorder that answers a streamed request with its answer as SSE chunks."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not json.loads(request.content).get("stream"):
            return super().__call__(request)
        self.calls.append(request)
        assert isinstance(self.body, dict)
        (choice,) = self.body["choices"]
        text = {**self.body, "choices": [{**choice, "finish_reason": None}]}
        end = {**self.body, "choices": [{**choice, "text": ""}]}
        frames = b"".join(sse_frames(text, end, done=True))
        return httpx.Response(200, content=frames, headers={"content-type": "text/event-stream"})


# -- who continues raw text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "takes_raw"),
    [
        ("vllm:any-model", True),
        ("llama-server:any-model", True),
        ("lmstudio:any-model", True),
        ("hearth:smollm2", True),
        ("ollama:llama3.2", True),
        ("openai:gpt-3.5-turbo-instruct", True),
        ("openai:davinci-002", True),
        ("openai:ft:babbage-002:acme::abc123", True),
        ("openai:gpt-4o-mini", False),
        ("anthropic:claude-opus-4-1", False),
        ("gemini:gemini-2.5-flash", False),
        ("groq:llama-3.3-70b-versatile", False),
    ],
)
def test_capabilities_say_who_continues_raw_text(spec: str, takes_raw: bool) -> None:
    assert Recorder().model(spec).capabilities().raw_completion is takes_raw


@pytest.mark.parametrize(
    "spec", ["anthropic:claude-opus-4-1", "gemini:gemini-2.5-flash", "openai:gpt-4o-mini"]
)
def test_apis_without_raw_completion_refuse_before_any_request(spec: str) -> None:
    recorder = Recorder(200, answer("never"))
    m = recorder.model(spec)
    with pytest.raises(UnsupportedFeatureError, match="does not take a raw text completion"):
        m.complete(COUNT)
    with pytest.raises(UnsupportedFeatureError, match=r"gpt-3\.5-turbo-instruct"):
        m.stream_complete(COUNT)
    with pytest.raises(UnsupportedFeatureError):  # the backend itself, for a hand-built request
        m.backend.chat(ChatRequest(prompt=COUNT))
    assert recorder.calls == []


# -- OpenAI-compatible /completions --------------------------------------------------------------


def test_vllm_completes_and_streams_over_a_socket(server: LoopbackServer) -> None:
    server.push(
        Reply(200, raw("openai/completion_vllm_stop.json")),
        Reply.stream(pieces(raw("openai/completion_stream.sse"))),
    )
    m = hearth.model("vllm:smollm2", base_url=f"{server.url}/v1")
    r = m.complete(COUNT, max_tokens=40, temperature=0, stop=[" 8"], top_k=1)
    assert r.text == " 5, 6, 7," and r.stop_reason == "stop_sequence" and r.stop_sequence == " 8"
    assert r.usage.input_tokens == 8 and r.usage.output_tokens == 6
    with m.stream_complete(COUNT, max_tokens=9) as s:
        text = "".join(s.text_stream)
    assert text == " 5, 6, 7 — café"
    assert s.response.stop_reason == "max_tokens" and s.response.usage.output_tokens == 9
    first, second = server.requests
    assert first.path == second.path == "/v1/completions"
    sent = first.json()
    assert sent == {"model": "smollm2", "prompt": COUNT, "temperature": 0, "top_k": 1,
                    "max_tokens": 40, "stop": [" 8"]}  # fmt: skip
    assert second.json()["stream_options"] == {"include_usage": True}
    assert second.headers["accept"] == "text/event-stream"


def test_llama_server_takes_the_schema_as_json_schema() -> None:
    recorder = Recorder(200, answer('{"n": 5}'))
    r = recorder.model("llama-server:smollm2").complete(COUNT, response_format=SCHEMA)
    assert r.parsed == {"n": 5}
    (call,) = recorder.calls
    assert call.url.path == "/v1/completions"
    assert json.loads(call.content)["json_schema"] == SCHEMA


def test_hearth_and_vllm_take_the_schema_as_response_format() -> None:
    for spec in ("hearth:smollm2", "vllm:smollm2"):
        recorder = Recorder(200, answer('{"n": 7}'))
        assert recorder.model(spec).complete(COUNT, response_format=SCHEMA).parsed == {"n": 7}
        fmt = json.loads(recorder.calls[0].content)["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == SCHEMA


def test_openai_completion_models_use_the_legacy_route() -> None:
    recorder = Recorder(200, json.loads(raw("openai/completion_text.json")))
    m = recorder.model("openai:gpt-3.5-turbo-instruct")
    r = m.complete("Say this is a test", max_tokens=7)
    assert r.text == "\n\nThis is indeed a test" and r.stop_reason == "max_tokens"
    (call,) = recorder.calls
    assert str(call.url) == "https://api.openai.com/v1/completions"
    assert call.headers["authorization"] == "Bearer k-SECRET"
    assert json.loads(call.content)["max_tokens"] == 7
    with pytest.raises(UnsupportedFeatureError, match="no response_format"):
        m.complete("x", response_format=SCHEMA)
    assert len(recorder.calls) == 1  # the refused one sent nothing


def test_a_chat_model_on_the_legacy_route_is_a_clear_error() -> None:
    recorder = Recorder(404, json.loads(raw("openai/error_completions_chat_model.json")))
    with pytest.raises(UnsupportedFeatureError, match=r"chat model.*send messages") as info:
        recorder.model("openai:davinci-002").complete(COUNT)
    assert "k-SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "fixture", "error"),
    [
        (400, "error_context_llama_server.json", ContextLengthExceededError),
        (404, "error_404.json", ModelNotFoundError),
        (429, "error_429.json", RateLimitError),
        (500, "error_500.json", ServerError),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_errors_map_as_for_chat(
    status: int, fixture: str, error: type[HearthError], streamed: bool
) -> None:
    recorder = Recorder(status, json.loads(raw(f"openai/{fixture}")), retry_after="3")
    m = recorder.model("vllm:smollm2")
    with pytest.raises(error) as info:
        if streamed:
            with m.stream_complete(COUNT) as s:
                list(s)
        else:
            m.complete(COUNT)
    if isinstance(info.value, ProviderError):
        assert info.value.provider == "vllm" and info.value.status_code == status
    if isinstance(info.value, RateLimitError):
        assert info.value.retry_after == 3
    assert len(recorder.calls) == 1 and recorder.calls[0].url.path == "/v1/completions"


def test_a_stream_failing_midway_or_cut_raises_after_the_text(server: LoopbackServer) -> None:
    server.push(
        Reply.stream([raw("openai/completion_stream_error_midway.sse")]),
        Reply.stream([raw("openai/completion_stream_cut.sse")]),
    )
    m = hearth.model("vllm:smollm2", base_url=f"{server.url}/v1", max_retries=0)
    for error, match in ((ServerError, "failed midway"), (ProviderError, "finish_reason")):
        got: list[str] = []
        with pytest.raises(error, match=match), m.stream_complete(COUNT) as s:
            got.extend(s.text_stream)
        assert got[0] == " 5"


def test_async_complete_and_cancel_mid_stream(server: LoopbackServer) -> None:
    chunk = {"id": "c", "choices": [{"index": 0, "text": " 5", "finish_reason": None}]}
    server.push(
        Reply.json(answer(" 5, 6")),
        Reply.stream(sse_frames(chunk, chunk), chunk_delay=5),
    )
    m = hearth.model("vllm:smollm2", base_url=f"{server.url}/v1")

    async def go() -> None:
        assert (await m.acomplete(COUNT)).text == " 5, 6"
        stream = m.backend.astream(ChatRequest(prompt=COUNT))
        assert await stream.__anext__() == TextDelta(" 5")
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(asyncio.wait_for(go(), 3))  # the 5 s pause was not waited for
    assert server.requests[1].json()["stream"] is True


class _TrackedStream(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def test_leaving_a_raw_stream_early_closes_the_response() -> None:
    chunk = {"id": "c", "choices": [{"index": 0, "text": " 5", "finish_reason": None}]}
    body = _TrackedStream(sse_frames(chunk, chunk, chunk))
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=body)))
    m = hearth.model("llama-server:smollm2", http_client=client)
    with m.stream_complete(COUNT) as s:
        assert next(iter(s)) == TextDelta(" 5")
        assert not body.closed
    assert body.closed


def test_a_served_remote_model_now_answers_v1_completions() -> None:
    """hearth serve in front of a vLLM model passes the raw prompt on instead of refusing."""
    recorder = StreamRecorder(200, answer(" 5, 6, 7", "length"))
    app = create_app(
        ServerSettings(models=("m",)),
        config=Config(path=Path("/dev/null")),
        backends={"m": recorder.model("vllm:smollm2").backend},
    )
    with TestClient(app) as c:
        r = c.post("/v1/completions", json={"model": "m", "prompt": COUNT, "max_tokens": 3})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"] == " 5, 6, 7"
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert json.loads(recorder.calls[0].content)["prompt"] == COUNT


# -- Ollama /api/generate, raw -------------------------------------------------------------------


def test_ollama_generates_raw_text(server: LoopbackServer) -> None:
    server.push(
        Reply(200, raw("ollama/generate_raw.json")),
        Reply.stream(
            pieces(raw("ollama/generate_raw_length.ndjson")), content_type="application/x-ndjson"
        ),
    )
    m = hearth.model("ollama:llama3.2", base_url=server.url)
    r = m.complete(COUNT, max_tokens=12, temperature=0)
    assert r.text == " 5, 6, 7, 8, 9" and r.stop_reason == "end_turn"
    assert r.usage.input_tokens == 8 and r.usage.output_tokens == 12
    with m.stream_complete(COUNT, max_tokens=9) as s:
        assert "".join(s.text_stream) == " 5, 6, 7 — café"
    assert s.response.stop_reason == "max_tokens"
    first, second = server.requests
    assert first.path == second.path == "/api/generate"
    assert first.json() == {"model": "llama3.2", "prompt": COUNT, "raw": True, "stream": False,
                            "options": {"temperature": 0, "num_predict": 12}}  # fmt: skip
    assert second.json()["stream"] is True and "format" not in second.json()
    assert second.headers["accept"] == "application/x-ndjson"


def test_ollama_takes_the_schema_as_format() -> None:
    recorder = Recorder(200, {"response": '{"n": 3}', "done": True, "done_reason": "stop"})
    r = recorder.model("ollama:llama3.2").complete(COUNT, response_format=SCHEMA)
    assert r.parsed == {"n": 3}
    assert json.loads(recorder.calls[0].content)["format"] == SCHEMA


def test_ollama_errors_on_the_generate_route() -> None:
    recorder = Recorder(404, {"error": "model 'llama9' not found, try pulling it first"})
    with pytest.raises(ModelNotFoundError, match="ollama pull llama9") as info:
        recorder.model("ollama:llama9").complete(COUNT)
    assert info.value.model == "llama9"
    failing = Recorder(500, {"error": "llama runner process has terminated"})
    with (
        pytest.raises(ServerError, match="terminated"),
        failing.model("ollama:llama3.2").stream_complete(COUNT) as s,
    ):
        list(s)
