"""The OpenAI Chat Completions translator, on documented transcripts and round trips."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth._sse import SSEDecoder
from hearth.errors import (
    APITimeoutError,
    AuthenticationError,
    ContextLengthExceededError,
    HearthError,
    InvalidRequestError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import (
    ImagePart,
    JsonObject,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec
from hearth.response import Response, accumulate
from hearth.settings import GenerationSettings
from hearth.wire.openai import chat as wire

FIXTURES = Path(__file__).parents[1] / "fixtures" / "openai"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def fixture(name: str) -> JsonObject:
    value = json.loads((FIXTURES / name).read_text())
    assert isinstance(value, dict)
    return value


def decode_stream(name: str) -> list[StreamEvent]:
    sse = SSEDecoder()
    frames = sse.feed((FIXTURES / name).read_bytes()) + sse.finish()
    decoder = wire.StreamDecoder()
    events: list[StreamEvent] = []
    for frame in frames:
        if frame.data == "[DONE]":
            break
        events += decoder.feed(json.loads(frame.data), frame.event)
    return events + decoder.finish()


# -- responses --------------------------------------------------------------------------------


def test_text_response() -> None:
    r = wire.response_from_wire(fixture("chat_text.json"))
    assert r.text == "Hello! How can I assist you today?"
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(19, 10, 0, 0)
    assert (r.model, r.response_id) == (
        "gpt-4.1-2025-04-14",
        "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    )


def test_tool_call_response_keeps_arguments_byte_for_byte() -> None:
    body = fixture("chat_tool_call.json")
    r = wire.response_from_wire(body)
    assert r.stop_reason == "tool_use"
    (call,) = r.tool_calls
    raw = body["choices"][0]["message"]["tool_calls"][0]  # type: ignore[index]
    assert call == ToolCallPart("call_abc123", "get_current_weather", raw["function"]["arguments"])  # type: ignore[index]
    # decode → history → re-encode is byte for byte
    again = wire.request_to_wire(
        ChatRequest((Message.user("hi"), r.message)), model="m", stream=False
    )
    assert json.dumps(again["messages"][1]["tool_calls"]) == json.dumps(  # type: ignore[index]
        body["choices"][0]["message"]["tool_calls"]  # type: ignore[index]
    )


def test_parallel_tool_calls_with_cached_and_reasoning_tokens() -> None:
    r = wire.response_from_wire(fixture("chat_parallel_tool_calls.json"))
    assert [c.id for c in r.tool_calls] == [
        "call_FthC9qRpsL5kBpwwyw6c7j4k",
        "call_RpEDoB8O0FTL9JoKTuCVFOyR",
    ]
    assert json.loads(r.tool_calls[1].arguments) == {"location": "Bogotá, Colombia"}
    assert r.usage == Usage(2006, 300, cached_tokens=1920, thinking_tokens=128)


def test_refusal_is_text_that_survives_a_round_trip() -> None:
    body = fixture("chat_refusal.json")
    r = wire.response_from_wire(body)
    assert r.text == "I'm sorry, I cannot assist with that request."
    back = wire.response_to_wire(r, model="gpt-4o-2024-08-06", response_id="x", created=1)
    assert back["choices"][0]["message"]["refusal"] == r.text  # type: ignore[index]
    assert back["choices"][0]["message"]["content"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "content_filter"),
        ("function_call", "tool_use"),
        ("something_new", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons(finish: str | None, stop: str) -> None:
    body = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}], "surprise": 1}
    assert wire.response_from_wire(body).stop_reason == stop


def test_unknown_fields_and_missing_usage_are_tolerated() -> None:
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok", "audio": {}},
                "finish_reason": "stop",
                "new": [1],
            }
        ],
        "usage": None,
    }
    assert wire.response_from_wire(body).usage == Usage()


def test_response_without_choices_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="no choices"):
        wire.response_from_wire({"id": "x", "choices": []})


# -- streams ----------------------------------------------------------------------------------


def test_stream_text_with_usage_chunk() -> None:
    events = decode_stream("stream_text.sse")
    assert events == [
        TextDelta("Hello"),
        TextDelta(" — café"),
        Done("end_turn", Usage(9, 3, 4, 0), model="gpt-4o-mini", response_id="chatcmpl-123"),
    ]


def test_stream_tool_call_arguments_are_assembled() -> None:
    events = decode_stream("stream_tool_call.sse")
    assert events[0] == ToolCallEvent(
        ToolCallPart("call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather", '{"location":"Paris, France"}')
    )
    assert isinstance(events[1], Done) and events[1].stop_reason == "tool_use"
    assert events[1].usage == Usage(57, 16)


def test_stream_parallel_calls_come_out_in_index_order() -> None:
    events = decode_stream("stream_parallel_tool_calls.sse")
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.id, json.loads(c.arguments)) for c in calls] == [
        ("call_paris", {"location": "Paris"}),
        ("call_bogota", {"location": "Bogotá"}),
    ]
    assert accumulate(events).usage.cached_tokens == 64


def test_stream_reasoning_content_is_thinking() -> None:
    events = decode_stream("stream_reasoning.sse")
    assert events[:2] == [
        ThinkingDelta("9.11 vs 9.8: compare tenths."),
        TextDelta("9.8 is larger."),
    ]
    done = events[-1]
    assert isinstance(done, Done) and done.stop_reason == "max_tokens"
    assert done.usage.thinking_tokens == 30


def test_stream_error_midway_raises_mapped_error() -> None:
    with pytest.raises(ServerError, match=r"failed midway.*server had an error"):
        decode_stream("stream_error_midway.sse")


def test_stream_cut_before_finish_reason_raises() -> None:
    with pytest.raises(ProviderError, match="ended before its finish_reason"):
        decode_stream("stream_cut.sse")


def test_stream_chunks_without_index_and_repeated_names() -> None:
    decoder = wire.StreamDecoder()
    chunk = {
        "choices": [
            {
                "delta": {
                    "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": {"x": 1}}}]
                }
            }
        ]
    }
    decoder.feed(chunk)
    decoder.feed(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ""}}]
                    },
                    "finish_reason": "stop",
                }
            ]
        }
    )
    (done,) = decoder.finish()
    assert isinstance(done, Done) and done.stop_reason == "tool_use"


# -- requests, outbound -----------------------------------------------------------------------


def test_request_to_wire_shape() -> None:
    request = ChatRequest(
        (
            Message.system("Be brief."),
            Message.user([TextPart("What is this?"), ImagePart(PNG, "image/png")]),
            Message.assistant(
                [
                    ThinkingPart("hmm"),
                    TextPart("Checking."),
                    ToolCallPart("call_1", "look", '{"q": 1}'),
                ]
            ),
            Message.tool(ToolResultPart("call_1", "a cat")),
        ),
        GenerationSettings(temperature=0.2, max_tokens=50, stop=("END",), seed=3, top_k=5),
        tools=(ToolSpec("look", "Look it up"),),
        tool_choice="look",
    )
    body = wire.request_to_wire(request, model="gpt-4o", stream=True)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"q": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "look"}}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "look",
                "description": "Look it up",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert body["max_completion_tokens"] == 50 and "top_k" not in body
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["stop"], body["seed"]) == (0.2, ["END"], 3)


def test_request_options_for_older_servers() -> None:
    request = ChatRequest(
        (Message.user("x"),), GenerationSettings(max_tokens=9, top_k=4, min_p=0.1)
    )
    body = wire.request_to_wire(
        request, model="m", stream=False, max_tokens_field="max_tokens", sampler_extensions=True
    )
    assert (body["max_tokens"], body["top_k"], body["min_p"]) == (9, 4, 0.1)
    assert "stream" not in body and "tool_choice" not in body


def test_tool_results_in_a_user_message_come_first() -> None:
    msg = Message.user([ToolResultPart("c1", "42"), TextPart("and now?")])
    body = wire.request_to_wire(ChatRequest((msg,)), model="m", stream=False)
    assert [m["role"] for m in body["messages"]] == ["tool", "user"]  # type: ignore[index,union-attr]


# -- requests, inbound ------------------------------------------------------------------------


def test_request_from_wire_merges_tool_messages_and_reads_everything() -> None:
    body: JsonObject = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rules."}]},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "2"}]},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "required",
        "max_tokens": 7,
        "reasoning_effort": "minimal",
        "user": "ignored",
    }
    got = wire.request_from_wire(body)
    assert got.model == "gpt-4o" and got.stream is True
    msgs = got.request.messages
    assert [m.role for m in msgs] == ["system", "user", "assistant", "tool"]
    assert [r.content for r in msgs[3].tool_results] == ["1", "2"]
    assert got.request.settings.max_tokens == 7 and got.request.settings.thinking is False
    assert got.request.tool_choice == "required"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "messages": []}, r"^messages: required"),
        ({"model": "m"}, r"^messages: required"),
        ({"messages": [{"role": "user", "content": "x"}]}, r"^model: required"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "boss"}]},
            r"^messages\[1\]\.role: unknown role 'boss'",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": 5}]},
            r"^messages\[0\]\.content: expected a string or an array",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
            r"^temperature: expected a number, got a string",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": True},
            r"^max_tokens: expected an integer",
        ),
        ({"model": "m", "messages": ["hi"]}, r"^messages\[0\]: expected an object"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            r"^messages\[0\]\.tool_call_id: required",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "a"}]}]},
            r"^messages\[0\]\.tool_calls\[0\]\.function: required",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": 3},
            r"^tool_choice: expected",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            r"^messages\[0\]\.content\[0\]\.type: unknown content part type 'video'",
        ),
    ],
)
def test_inbound_validation_names_the_field(body: JsonObject, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        wire.request_from_wire(body)


def test_inbound_n_is_a_setting() -> None:
    body: JsonObject = {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3}
    assert wire.request_from_wire(body).request.settings.n == 3
    with pytest.raises(InvalidRequestError, match=r"^n must be between 1 and 32"):
        wire.request_from_wire({**body, "n": 0})


def test_inbound_images() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    body: JsonObject = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}],
            }
        ],
    }
    (image,) = wire.request_from_wire(body).request.messages[0].images
    assert image.data == PNG and image.media_type == "image/png"
    again = wire.request_to_wire(wire.request_from_wire(body).request, model="m", stream=False)
    assert again["messages"] == body["messages"]
    remote: JsonObject = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}],
            }
        ],
    }
    with pytest.raises(UnsupportedFeatureError, match="does not fetch image URLs"):
        wire.request_from_wire(remote)


# -- round trips ------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
_id = st.from_regex(r"call_[A-Za-z0-9]{1,12}", fullmatch=True)
_args = st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps)
_call = st.builds(ToolCallPart, _id, st.sampled_from(["f", "g"]), _args)
_tools = (ToolSpec("f", "does f"), ToolSpec("g"))


@st.composite
def _messages(draw: st.DrawFn) -> tuple[Message, ...]:
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message.system(draw(_text)))
    for _ in range(draw(st.integers(1, 4))):
        image = [ImagePart(PNG, "image/png")] if draw(st.booleans()) else []
        out.append(Message.user([TextPart(draw(_text)), *image]))
        calls = draw(st.lists(_call, max_size=3, unique_by=lambda c: c.id))
        text = [TextPart(draw(_text))] if draw(st.booleans()) or not calls else []
        out.append(Message.assistant([*text, *calls]))
        if calls:
            out.append(Message.tool(*(ToolResultPart(c.id, draw(_text)) for c in calls)))
    return tuple(out)


_settings = st.builds(
    GenerationSettings,
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0, 1),
    seed=st.none() | st.integers(0, 2**31),
    max_tokens=st.none() | st.integers(1, 4096),
    stop=st.lists(_text, max_size=3).map(tuple),
    presence_penalty=st.none() | st.floats(-2, 2),
)


@given(_messages(), _settings, st.booleans(), st.sampled_from(["auto", "required", "none", "g"]))
def test_request_round_trip(
    messages: tuple[Message, ...], settings: GenerationSettings, tools: bool, choice: str
) -> None:
    request = ChatRequest(messages, settings, _tools if tools else (), choice if tools else "auto")
    body = json.loads(json.dumps(wire.request_to_wire(request, model="m", stream=False)))
    assert wire.request_from_wire(body).request == request


@st.composite
def _responses(draw: st.DrawFn) -> Response:
    parts: list[ThinkingPart | TextPart | ToolCallPart] = []
    if draw(st.booleans()):
        parts.append(ThinkingPart(draw(_text)))
    if draw(st.booleans()):
        parts.append(TextPart(draw(_text)))
    calls = draw(st.lists(_call, max_size=3, unique_by=lambda c: c.id))
    parts += calls
    stop = (
        "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "content_filter"]))
    )
    usage = draw(st.builds(Usage, *(st.integers(0, 10_000) for _ in range(4))))
    return Response(Message("assistant", tuple(parts)), stop, usage, model="m", response_id="r1")  # type: ignore[arg-type]


@given(_responses())
def test_response_round_trip(response: Response) -> None:
    body = json.loads(json.dumps(wire.response_to_wire(response, model="m", response_id="r1")))
    assert wire.response_from_wire(body) == response


@given(_responses())
def test_stream_round_trip(response: Response) -> None:
    events: list[StreamEvent] = []
    if response.thinking:
        events.append(ThinkingDelta(response.thinking))
    if response.text:
        events.append(TextDelta(response.text))
    events += [ToolCallEvent(c) for c in response.tool_calls]
    events.append(Done(response.stop_reason, response.usage, model="m", response_id="r1"))
    encoder = wire.StreamEncoder(model="m", response_id="r1", created=1)
    chunks = [c for e in events for c in encoder.encode(e)]
    assert chunks[-1].data is None  # [DONE]
    decoder = wire.StreamDecoder()
    decoded = [
        e for c in chunks[:-1] if c.data for e in decoder.feed(json.loads(json.dumps(c.data)))
    ]
    assert decoded + decoder.finish() == events


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (401, "error_401.json", AuthenticationError),
        (403, "error_401.json", AuthenticationError),
        (404, "error_404.json", ModelNotFoundError),
        (429, "error_429.json", RateLimitError),
        (500, "error_500.json", ServerError),
        (503, "error_500.json", ServerError),
        (400, "error_context_length.json", ContextLengthExceededError),
        (408, "error_500.json", APITimeoutError),
    ],
)
def test_error_mapping(status: int, name: str, kind: type[HearthError]) -> None:
    err = wire.error_from_wire(status, fixture(name), {"retry-after": "20"})
    assert type(err) is kind
    assert str(status) in str(err) and "openai" in str(err)


def test_error_details() -> None:
    ctx = wire.error_from_wire(400, fixture("error_context_length.json"), {})
    assert isinstance(ctx, ContextLengthExceededError)
    assert (ctx.prompt_tokens, ctx.context_length) == (130532, 128000)
    llama = wire.error_from_wire(400, fixture("error_context_llama_server.json"), {})
    assert isinstance(llama, ContextLengthExceededError)
    assert (llama.prompt_tokens, llama.context_length) == (5120, 4096)
    missing = wire.error_from_wire(404, fixture("error_404.json"), {})
    assert isinstance(missing, ModelNotFoundError) and missing.model == "gpt-5-turbo-max"
    limited = wire.error_from_wire(429, fixture("error_429.json"), {"Retry-After": "20"})
    assert isinstance(limited, RateLimitError) and limited.retry_after == 20.0
    other = wire.error_from_wire(400, {"error": {"message": "bad", "param": "tools"}}, {})
    assert type(other) is InvalidRequestError and "parameter tools" in str(other)
    text = wire.error_from_wire(502, "<html>Bad gateway</html>", {})
    assert isinstance(text, ServerError) and "Bad gateway" in str(text)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ContextLengthExceededError(10, 5), 400, "context_length_exceeded"),
        (ModelNotFoundError("no", model="x"), 404, "model_not_found"),
        (InvalidRequestError("bad"), 400, None),
        (AuthenticationError("no", status_code=403), 403, "invalid_api_key"),
        (RateLimitError("slow"), 429, "rate_limit_exceeded"),
        (OverloadedError("full"), 503, "overloaded"),
        (ServerError("x", status_code=503), 503, None),
        (HearthError("?"), 500, None),
    ],
)
def test_error_to_wire(exc: HearthError, status: int, code: str | None) -> None:
    got_status, body = wire.error_to_wire(exc)
    assert got_status == status
    assert body["error"]["code"] == code and body["error"]["message"] == str(exc)  # type: ignore[index]
    back = wire.error_from_wire(got_status, body, {})
    assert isinstance(back, HearthError)
