"""RemoteBackend over the OpenAI wire format: httpx.MockTransport, then a real loopback server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.loopback import LoopbackServer, Reply, refused_url, sse_frames

import hearth
from hearth._http import RetryPolicy, Timeouts
from hearth.backends.endpoints import ENDPOINTS, resolve
from hearth.backends.remote import HttpOptions, RemoteBackend
from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedFeatureError,
)
from hearth.events import Done, TextDelta, ToolCallEvent
from hearth.messages import ImagePart, Message, TextPart

FIXTURES = Path(__file__).parents[1] / "fixtures" / "openai"
KEY = "sk-test-SECRET-0123456789"


def transcript(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def chunks(data: bytes, size: int = 7) -> list[bytes]:
    """A transcript cut into small pieces, so frames and characters straddle chunks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


def backend(
    base_url: str,
    *,
    retries: int = 2,
    timeout: float | Timeouts | None = None,
    sleeps: list[float] | None = None,
    endpoint: str = "openai",
    api_key: str | None = KEY,
) -> RemoteBackend:
    record = sleeps if sleeps is not None else []
    policy = RetryPolicy(
        max_retries=retries, initial_backoff=0.001, max_backoff=0.002, sleep=record.append
    )
    resolved = resolve(ENDPOINTS[endpoint], api_key=api_key, base_url=base_url, env={})
    return RemoteBackend(
        resolved, "gpt-4o-mini", http=HttpOptions(timeouts=Timeouts.of(timeout), retry=policy)
    )


def request(text: str = "hi") -> hearth.ChatRequest:
    return hearth.ChatRequest((Message.user(text),))


# -- the public API, end to end over a socket -------------------------------------------------


def test_public_api_end_to_end(server: LoopbackServer) -> None:
    server.push(
        Reply.json(json.loads(transcript("chat_text.json"))),
        Reply.stream(chunks(transcript("stream_text.sse"))),
        Reply.json(json.loads(transcript("chat_tool_call.json"))),
        Reply.stream(chunks(transcript("stream_parallel_tool_calls.sse"), 5)),
    )
    with hearth.model("openai:gpt-4o-mini", api_key=KEY, base_url=server.url + "/v1") as m:
        assert m.chat("hello", max_tokens=20).text == "Hello! How can I assist you today?"
        with m.stream("hello") as s:
            assert list(s.text_stream) == ["Hello", " — café"]
            assert s.response.usage.cached_tokens == 4

        async def go() -> tuple[str, list[str]]:
            r = await m.achat("weather?")
            async with m.astream("two cities") as s:
                events = [e async for e in s]
            names = [e.call.id for e in events if isinstance(e, ToolCallEvent)]
            return r.tool_calls[0].name, names

        assert asyncio.run(go()) == ("get_current_weather", ["call_paris", "call_bogota"])
    first, second = server.requests[0], server.requests[1]
    assert first.path == "/v1/chat/completions" and first.method == "POST"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json()["max_completion_tokens"] == 20 and "stream" not in first.json()
    assert second.headers["accept"] == "text/event-stream"
    assert second.json()["stream_options"] == {"include_usage": True}


def test_streamed_parallel_tool_calls_over_a_socket(server: LoopbackServer) -> None:
    server.push(Reply.stream(chunks(transcript("stream_parallel_tool_calls.sse"), 3)))
    events = list(backend(server.url).stream(request()))
    calls = [e.call.name for e in events if isinstance(e, ToolCallEvent)]
    assert calls == ["get_weather", "get_weather"]
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "tool_use"


def test_connection_is_reused_after_done(server: LoopbackServer) -> None:
    server.push(*(Reply.stream(sse_frames(*_text_chunks("x"), done=True)) for _ in range(2)))
    b = backend(server.url)
    for _ in range(2):
        assert [e for e in b.stream(request()) if isinstance(e, TextDelta)] == [TextDelta("x")]
    assert server.requests[0].peer == server.requests[1].peer
    b.close()


def test_retry_on_503_then_success(server: LoopbackServer) -> None:
    server.push(
        Reply.json({"error": {"message": "overloaded"}}, 503),
        Reply.stream(sse_frames(*_text_chunks("ok"), done=True)),
    )
    sleeps: list[float] = []
    events = list(backend(server.url, sleeps=sleeps).stream(request()))
    assert events[0] == TextDelta("ok")
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_429_retry_after_is_honoured_and_over_cap_is_raised() -> None:
    seen: list[httpx.Request] = []
    replies = [
        httpx.Response(429, headers={"retry-after": "3"}, json={"error": {"message": "slow"}}),
        httpx.Response(200, json={"choices": [{"message": {"content": "done"}}]}),
        httpx.Response(429, headers={"retry-after": "3600"}, json={"error": {"message": "quota"}}),
    ]

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return replies.pop(0)

    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    resolved = resolve(ENDPOINTS["openai"], api_key=KEY, env={})
    b = RemoteBackend(resolved, "gpt-4o", http=HttpOptions(retry=policy, client=client))
    assert b.chat(request()).text == "done"
    assert sleeps == [3.0]
    with pytest.raises(RateLimitError) as info:
        b.chat(request())
    assert info.value.retry_after == 3600.0 and info.value.status_code == 429
    assert len(seen) == 3 and sleeps == [3.0]
    assert info.value.provider == "openai"


def test_no_retry_once_the_stream_started(server: LoopbackServer) -> None:
    frames = sse_frames(*_text_chunks("Once", " upon", " a", " time"), done=True)
    server.push(Reply.stream(frames, cut_after=2))
    got: list[str] = []
    with pytest.raises((APIConnectionError, ProviderError)):
        for event in backend(server.url).stream(request()):
            if isinstance(event, TextDelta):
                got.append(event.text)
    assert got == ["Once", " upon"]
    assert len(server.requests) == 1


def test_connection_refused() -> None:
    with pytest.raises(APIConnectionError, match="could not reach"):
        backend(refused_url(), retries=1).chat(request())


def test_read_timeout(server: LoopbackServer) -> None:
    server.push(Reply(200, b"{}", delay=0.5))
    with pytest.raises(APITimeoutError, match="read timeout"):
        backend(server.url, retries=0, timeout=Timeouts(read=0.1)).chat(request())


def test_read_timeout_midstream_is_not_retried(server: LoopbackServer) -> None:
    server.push(Reply.stream(sse_frames(*_text_chunks("a", "b")), chunk_delay=0.4))
    stream = backend(server.url, timeout=Timeouts(read=0.1)).stream(request())
    assert next(stream) == TextDelta("a")
    with pytest.raises(APITimeoutError):
        next(stream)
    assert len(server.requests) == 1


def test_stream_error_body_is_read_before_any_event(server: LoopbackServer) -> None:
    server.push(Reply(400, transcript("error_context_length.json")))
    stream = backend(server.url).stream(request())
    with pytest.raises(ContextLengthExceededError) as info:
        next(stream)
    assert info.value.context_length == 128000


def test_error_midway_in_a_stream(server: LoopbackServer) -> None:
    server.push(Reply.stream([transcript("stream_error_midway.sse")]))
    events = backend(server.url).stream(request())
    assert next(events) == TextDelta("Once upon")
    with pytest.raises(ServerError, match="failed midway"):
        next(events)


def test_model_not_found_names_the_model(server: LoopbackServer) -> None:
    server.push(Reply(404, b'{"error": {"message": "nope", "code": "model_not_found"}}'))
    with pytest.raises(ModelNotFoundError) as info:
        backend(server.url).chat(request())
    assert info.value.model == "gpt-4o-mini"


def test_compatible_endpoint_errors_carry_its_name(server: LoopbackServer) -> None:
    server.push(Reply(401, transcript("error_401.json")))
    with pytest.raises(AuthenticationError, match=r"^groq answered 401") as info:
        backend(server.url, endpoint="groq").chat(request())
    assert info.value.provider == "groq"


def test_redirects_are_refused(server: LoopbackServer) -> None:
    server.push(Reply(307, b"", (("location", "http://elsewhere.test/v1"),)))
    with pytest.raises(ProviderError, match="does not follow"):
        backend(server.url).chat(request())
    assert len(server.requests) == 1


# -- keys -------------------------------------------------------------------------------------


def test_key_never_leaks_into_errors_or_reprs(server: LoopbackServer) -> None:
    body = ('{"error": {"message": "Incorrect API key provided: ' + KEY + '"}}').encode()
    server.push(Reply(401, body))
    m = hearth.model("openai:gpt-4o-mini", api_key=KEY, base_url=server.url, max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        m.chat("hi")
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in repr(m) and KEY not in repr(m.backend) and KEY not in str(vars(m))
    assert KEY not in str(vars(m.backend))
    with pytest.raises(APIConnectionError) as conn:
        hearth.model("openai:x", api_key=KEY, base_url=refused_url(), max_retries=0).chat("hi")
    assert KEY not in str(conn.value)


def test_env_key_is_not_sent_to_a_foreign_base_url(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    server.push(Reply(401, b'{"error": {"message": "no key"}}'), Reply.json(_text_response("ok")))
    with pytest.raises(AuthenticationError, match="did not send OPENAI_API_KEY"):
        hearth.model("openai:m", base_url=server.url).chat("hi")
    assert "authorization" not in server.requests[0].headers
    hearth.model("openai:m", base_url=server.url, api_key="sk-explicit").chat("hi")
    assert server.requests[1].headers["authorization"] == "Bearer sk-explicit"


def test_env_key_goes_with_env_base_url(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    server.push(Reply.json(_text_response("ok")))
    assert hearth.model("openai:m").chat("hi").text == "ok"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        hearth.model("openai:gpt-4o-mini")


# -- options, capabilities, lifecycle ---------------------------------------------------------


def test_local_rows_use_their_defaults_and_older_field_names(server: LoopbackServer) -> None:
    server.push(Reply.json(_text_response("hi")))
    m = hearth.model("llama-server:qwen3", base_url=server.url + "/v1")
    m.chat("x", max_tokens=5, top_k=3)
    sent = server.requests[0]
    assert "authorization" not in sent.headers
    assert sent.json()["max_tokens"] == 5 and sent.json()["top_k"] == 3
    assert hearth.model("lmstudio:any").backend.base_url == "http://127.0.0.1:1234/v1"  # type: ignore[attr-defined]


def test_images_need_vision(server: LoopbackServer) -> None:
    image = Message.user([TextPart("what?"), ImagePart(b"\x89PNG....", "image/png")])
    m = hearth.model("lmstudio:qwen3-4b", base_url=server.url)
    assert m.capabilities().vision is False
    with pytest.raises(UnsupportedFeatureError, match="vision=True"):
        m.stream([image])
    server.push(Reply.json(_text_response("a cat")))
    seeing = hearth.model("lmstudio:qwen3-4b", base_url=server.url, vision=True)
    assert seeing.chat([image]).text == "a cat"
    assert server.requests[0].json()["messages"][0]["content"][1]["type"] == "image_url"  # type: ignore[index]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"colour": "red"}, InvalidRequestError, "unknown option.*colour"),
        ({"timeout": "10"}, InvalidRequestError, "timeout"),
        ({"timeout": 0}, InvalidRequestError, "timeout"),
        ({"max_retries": -1}, InvalidRequestError, "max_retries"),
        ({"max_retries": "2"}, InvalidRequestError, "max_retries"),
        ({"api_key": 5}, InvalidRequestError, "api_key"),
        ({"base_url": "ftp://x"}, ConfigurationError, "base_url"),
    ],
)
def test_bad_options(options: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        hearth.model("openai:gpt-4o", **({"api_key": "k"} | options))


def test_empty_model_name() -> None:
    with pytest.raises(ConfigurationError, match="openai:MODEL"):
        hearth.model("openai:", api_key="k")


class _TrackedStream(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def test_closing_the_iterator_early_closes_the_response() -> None:
    body = _TrackedStream(sse_frames(*_text_chunks("a", "b", "c"), done=True))
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=body)))
    m = hearth.model("openai:gpt-4o", api_key="k", http_client=client)
    with m.stream("hi") as s:
        assert next(iter(s)) == TextDelta("a")
        assert not body.closed
    assert body.closed


def test_async_cancel_closes_the_response(server: LoopbackServer) -> None:
    server.push(Reply.stream(sse_frames(*_text_chunks("a", "b")), chunk_delay=5))

    async def go() -> None:
        b = backend(server.url)
        stream = b.astream(request())
        assert await stream.__anext__() == TextDelta("a")
        await stream.aclose()  # type: ignore[attr-defined]
        await b.aclose()

    asyncio.run(asyncio.wait_for(go(), 3))


def test_async_twin_maps_errors_and_retries(server: LoopbackServer) -> None:
    server.push(Reply(500, transcript("error_500.json")), Reply(500, transcript("error_500.json")))

    async def go() -> None:
        with pytest.raises(ServerError, match="500"):
            await backend(server.url, retries=1).achat(request())

    asyncio.run(go())
    assert len(server.requests) == 2


def _text_chunks(*texts: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": t}}]} for t in texts
    ]
    out.append({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return out


def _text_response(text: str) -> dict[str, object]:
    return {"id": "c", "choices": [{"message": {"content": text}, "finish_reason": "stop"}]}


def test_async_calls_from_successive_event_loops(server: LoopbackServer) -> None:
    server.push(*(Reply.json(_text_response(f"r{i}")) for i in range(2)))
    b = backend(server.url)
    assert [asyncio.run(b.achat(request())).text for _ in range(2)] == ["r0", "r1"]


def test_import_hearth_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, hearth; "
        "heavy = [m for m in ('httpx', 'tenacity', 'hearth.backends.remote', "
        "'hearth.wire.openai.chat')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
