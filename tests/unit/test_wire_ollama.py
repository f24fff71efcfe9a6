"""Ollama /api/chat translator: recorded transcripts decoded into what a user sees."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from hearth._sse import NDJSONDecoder
from hearth.errors import (
    AuthenticationError,
    ContextLengthExceededError,
    HearthError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.logprobs import TokenLogprob
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
from hearth.wire.ollama.chat import (
    META_INDEX,
    META_MATCHED_CALL_ID,
    META_SYNTHETIC_ID,
    StreamDecoder,
    request_to_wire,
    response_from_wire,
)
from hearth.wire.ollama.errors import error_from_wire, error_to_wire
from hearth.wire.ollama.inbound import request_from_wire
from hearth.wire.ollama.request_fields import sniff_image_type
from hearth.wire.ollama.stream import StreamEncoder, response_to_wire

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ollama"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)


def lines(name: str) -> list[JsonObject]:
    decoder = NDJSONDecoder()
    return decoder.feed((FIXTURES / name).read_bytes()) + decoder.finish()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def decode(name: str) -> list[StreamEvent]:
    decoder = StreamDecoder()
    events = [e for line in lines(name) for e in decoder.feed(line)]
    return events + decoder.finish()


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- streams -----------------------------------------------------------------------------------


def test_text_stream() -> None:
    events = decode("chat_text.ndjson")
    assert events == [
        TextDelta("The"),
        TextDelta(" sky"),
        TextDelta(" is blue because of Rayleigh scattering."),
        Done("end_turn", Usage(26, 9), model="llama3.2"),
    ]
    assert accumulate(events).text == "The sky is blue because of Rayleigh scattering."


def test_thinking_stream() -> None:
    response = accumulate(decode("chat_thinking.ndjson"))
    assert response.message.parts == (
        ThinkingPart("Count the rs: st-r-awbe-r-r-y."),
        TextPart("There are three."),
    )
    assert response.stop_reason == "end_turn"
    assert response.usage == Usage(18, 41)


def test_tool_call_stream_keeps_ollama_id() -> None:
    events = decode("chat_tool_call.ndjson")
    assert events[0] == ThinkingDelta("The user wants the weather in Tokyo.")
    call = ToolCallPart("call_k3n9x2ab", "get_weather", '{"city":"Tokyo","unit":"celsius"}')
    assert events[1] == ToolCallEvent(call)
    assert events[2] == Done("tool_use", Usage(169, 15), model="qwen3")
    assert call.parsed_arguments() == {"city": "Tokyo", "unit": "celsius"}


def test_parallel_tool_calls_in_order_with_synthetic_ids_where_ollama_sent_none() -> None:
    response = accumulate(decode("chat_parallel_tool_calls.ndjson"))
    calls = response.tool_calls
    assert [(c.id, c.name, c.parsed_arguments()["city"]) for c in calls] == [
        ("call_a1b2c3d4", "get_temperature", "New York"),
        ("call_e5f6g7h8", "get_conditions", "New York"),
        ("call_2", "get_temperature", "London"),
        ("call_3", "get_conditions", "London"),
    ]
    assert calls[0].meta is None and calls[1].meta is None
    assert calls[2].meta == {META_SYNTHETIC_ID: True, META_INDEX: None}
    assert response.stop_reason == "tool_use"
    assert response.usage == Usage(231, 64)


def test_length_stream_maps_to_max_tokens() -> None:
    events = decode("chat_length.ndjson")
    assert events[-1] == Done("max_tokens", Usage(31, 4), model="llama3.2")
    assert accumulate(events).text == "Once upon a time"


def test_midstream_error_raises_after_the_text_so_far() -> None:
    decoder = StreamDecoder()
    seen: list[StreamEvent] = []
    with pytest.raises(ServerError, match="an error was encountered while running the model"):
        for line in lines("chat_error_midstream.ndjson"):
            seen.extend(decoder.feed(line))
    assert seen == [TextDelta(" Yes"), TextDelta("."), TextDelta(" I")]


def test_midstream_error_with_status_is_mapped_by_status() -> None:
    line: JsonObject = {"error": "the input length exceeds the context length", "status": 400}
    with pytest.raises(ContextLengthExceededError):
        StreamDecoder().feed(line)


def test_truncated_stream_raises_on_finish() -> None:
    decoder = StreamDecoder()
    for line in lines("chat_truncated.ndjson"):
        decoder.feed(line)
    with pytest.raises(ProviderError, match="stream ended before done") as info:
        decoder.finish()
    assert info.value.provider == "ollama"


def test_done_line_may_carry_text_and_lines_after_done_are_ignored() -> None:
    decoder = StreamDecoder()
    final: JsonObject = {"model": "m", "message": {"content": "!"}, "done": True}
    assert decoder.feed(final) == [TextDelta("!"), Done("end_turn", model="m")]
    assert decoder.feed({"message": {"content": "late"}, "done": False}) == []
    assert decoder.finish() == []


def test_stream_tolerates_unknown_fields_and_reasons_and_junk_tool_calls() -> None:
    decoder = StreamDecoder()
    chunk: JsonObject = {
        "message": {"role": "assistant", "content": "hi", "tool_calls": ["junk", {"x": 1}]},
        "done": False,
        "logprobs": [{"token": "hi", "logprob": -0.1}],
    }
    assert decoder.feed(chunk) == [TextDelta("hi", logprobs=(TokenLogprob("hi", -0.1, b"hi"),))]
    final: JsonObject = {"done": True, "done_reason": "unload", "eval_count": "many"}
    assert decoder.feed(final) == [Done("end_turn", Usage(0, 0))]


# --- non-streamed responses ----------------------------------------------------------------------


def test_text_response() -> None:
    response = response_from_wire(load("response_text.json"))
    assert response == Response(
        Message.assistant("Hello! How are you today?"), "end_turn", Usage(26, 298), model="llama3.2"
    )


def test_tool_call_response_without_ids() -> None:
    response = response_from_wire(load("response_tool_calls.json"))
    assert response.stop_reason == "tool_use"
    assert [(c.id, c.arguments) for c in response.tool_calls] == [
        ("call_0", '{"format":"celsius","location":"Paris, FR"}'),
        ("call_1", '{"format":"celsius","location":"Lyon, FR"}'),
    ]
    assert response.text == ""


def test_thinking_response() -> None:
    response = response_from_wire(load("response_thinking.json"))
    assert response.thinking == "s-t-r-a-w-b-e-r-r-y: positions 3, 8 and 9."
    assert response.text == "There are three r's in strawberry."
    assert response.usage == Usage(18, 57)


def test_error_body_in_a_response_raises() -> None:
    with pytest.raises(ServerError, match="boom"):
        response_from_wire({"error": "boom"})


def test_response_to_wire_has_ollamas_final_shape() -> None:
    call = ToolCallPart("call_1", "f", '{"a":1}')
    response = Response(Message.assistant([TextPart("ok"), call]), "tool_use", Usage(3, 4))
    body = response_to_wire(
        response, model="m", response_id="r1", created_at="2025-01-01T00:00:00Z"
    )
    assert body == {
        "model": "m",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {
            "role": "assistant",
            "content": "ok",
            "tool_calls": [
                {"id": "call_1", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}
            ],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 4,
    }
    now = response_to_wire(response, model="m", response_id="r1")["created_at"]
    assert isinstance(now, str) and now.endswith("Z")


# --- lossless: decode → history → re-encode ------------------------------------------------------


def _history_tool_calls(response: Response) -> object:
    request = ChatRequest((Message.user("q"), response.message))
    wire = request_to_wire(request, model="m", stream=False)
    messages = wire["messages"]
    assert isinstance(messages, list) and isinstance(messages[1], dict)
    return messages[1]["tool_calls"]


def test_tool_calls_survive_decode_history_reencode_byte_for_byte() -> None:
    messages: list[Any] = [line["message"] for line in lines("chat_parallel_tool_calls.ndjson")]
    raw = [c for m in messages for c in m.get("tool_calls", [])]
    response = accumulate(decode("chat_parallel_tool_calls.ndjson"))
    assert compact(_history_tool_calls(response)) == compact(raw)

    body = load("response_tool_calls.json")
    again = _history_tool_calls(response_from_wire(body))
    assert compact(again) == compact(body["message"]["tool_calls"])


def test_inbound_request_reencodes_byte_for_byte() -> None:
    body: JsonObject = {
        "model": "qwen3",
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"index": 0, "name": "w", "arguments": {"c": "Oslo"}}},
                    {"id": "call_x", "function": {"index": 1, "name": "w", "arguments": {}}},
                ],
            },
            {"role": "tool", "content": "3C", "tool_name": "w"},
            {"role": "tool", "content": "5C", "tool_name": "w"},
        ],
        "stream": True,
    }
    wire = request_from_wire(body)
    assert compact(request_to_wire(wire.request, model="qwen3", stream=True)) == compact(body)
    results = wire.request.messages[2].tool_results
    assert [r.call_id for r in results] == ["call_0", "call_x"]
    assert results[1].meta == {META_MATCHED_CALL_ID: True}


# --- requests ----------------------------------------------------------------------------------


def test_request_from_wire_documented_history_with_tools() -> None:
    wire = request_from_wire(load("request_history_tools.json"))
    assert wire.model == "qwen3"
    assert wire.stream is True  # absent: Ollama streams
    req = wire.request
    system, user, assistant, tool = req.messages
    assert system == Message.system("You are a terse weather bot.")
    assert user.text.startswith("What is the weather")
    assert user.images == (ImagePart(PNG, "image/png"),)
    assert assistant.thinking == "Two cities: Toronto from the photo, and London."
    assert [(c.id, c.parsed_arguments()) for c in assistant.tool_calls] == [
        ("call_0", {"city": "Toronto"}),
        ("call_1", {"city": "London"}),
    ]
    assert tool.role == "tool"
    assert [(r.call_id, r.name, r.content) for r in tool.tool_results] == [
        ("call_0", "get_weather", "11 degrees celsius"),
        ("call_1", "get_weather", "15 degrees celsius, rain"),
    ]
    assert req.tools[0].name == "get_weather"
    assert req.tools[0].parameters["required"] == ["city"]
    assert req.settings == GenerationSettings(
        temperature=0.0, top_k=40, seed=101, stop=("\n\n",), thinking=True
    )


def test_request_to_wire_full() -> None:
    call = ToolCallPart("call_9", "lookup", '{"q": "x"}')
    request = ChatRequest(
        (
            Message.system("be brief"),
            Message.user([TextPart("see "), TextPart("this"), ImagePart(PNG, "image/png")]),
            Message.assistant([ThinkingPart("hmm", signature="sig"), call]),
            Message.tool(ToolResultPart("call_9", "found", is_error=True)),
        ),
        settings=GenerationSettings(
            temperature=0.2, max_tokens=64, stop=("END",), thinking=False, thinking_budget=9
        ),
        tools=(ToolSpec("lookup", "Look up", {"type": "object", "properties": {}}),),
    )
    body = request_to_wire(request, model="qwen3", stream=False)
    assert body == {
        "model": "qwen3",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "see this", "images": [base64.b64encode(PNG).decode()]},
            {
                "role": "assistant",
                "content": "",
                "thinking": "hmm",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "function": {"index": 0, "name": "lookup", "arguments": {"q": "x"}},
                    }
                ],
            },
            {"role": "tool", "content": "found", "tool_name": "lookup", "tool_call_id": "call_9"},
        ],
        "stream": False,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look up",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "think": False,
        "options": {"temperature": 0.2, "num_predict": 64, "stop": ["END"]},
    }


def test_tool_choice_none_leaves_tools_out_and_results_in_user_message_go_first() -> None:
    request = ChatRequest(
        (
            Message.assistant(ToolCallPart("a", "f")),
            Message.user([ToolResultPart("a", "r", name="f"), TextPart("and now?")]),
        ),
        tools=(ToolSpec("f"),),
        tool_choice="none",
    )
    body = request_to_wire(request, model="m", stream=True)
    assert "tools" not in body
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "a", "function": {"index": 0, "name": "f", "arguments": {}}}],
        },
        {"role": "tool", "content": "r", "tool_name": "f", "tool_call_id": "a"},
        {"role": "user", "content": "and now?"},
    ]


def test_result_for_a_made_up_id_omits_tool_call_id() -> None:
    call = ToolCallPart("call_0", "f", meta={META_SYNTHETIC_ID: True})
    request = ChatRequest((Message.assistant(call), Message.tool(ToolResultPart("call_0", "ok"))))
    messages = request_to_wire(request, model="m", stream=True)["messages"]
    assert messages == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"index": 0, "name": "f", "arguments": {}}}],
        },
        {"role": "tool", "content": "ok", "tool_name": "f"},
    ]


def test_inbound_options_edge_cases() -> None:
    def settings(options: JsonObject, **extra: Any) -> GenerationSettings:
        body: JsonObject = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        body["options"] = options
        body.update(extra)
        return request_from_wire(body).request.settings

    assert settings({"num_predict": -1}).max_tokens is None
    assert settings({"num_predict": -2}).max_tokens is None
    assert settings({"num_predict": 128}).max_tokens == 128
    assert settings({}, think="high").thinking is True
    assert settings({}, think=False).thinking is False
    assert settings({}, format={"type": "object"}, keep_alive=0).thinking is None


def test_inbound_model_from_url_and_stream_false() -> None:
    body: JsonObject = {"messages": [{"role": "USER", "content": "x"}], "stream": False}
    wire = request_from_wire(body, model="llama3.2")
    assert (wire.model, wire.stream, wire.request.messages) == (
        "llama3.2",
        False,
        (Message.user("x"),),
    )


def test_jpeg_gif_webp_are_sniffed() -> None:
    samples = {
        b"\xff\xd8\xff\xe0rest": "image/jpeg",
        b"GIF89a\x01\x00": "image/gif",
        b"RIFF\x10\x00\x00\x00WEBPVP8 ": "image/webp",
    }
    for data, media_type in samples.items():
        body: JsonObject = {
            "model": "m",
            "messages": [
                {"role": "user", "content": "", "images": [base64.b64encode(data).decode()]}
            ],
        }
        assert request_from_wire(body).request.messages[0].parts == (ImagePart(data, media_type),)


BAD_BODIES: list[tuple[JsonObject, str]] = [
    ({"messages": [{"role": "user", "content": "x"}]}, "model: required"),
    ({"model": "m", "messages": []}, "messages: at least one"),
    ({"model": "m"}, "messages: at least one"),  # the ServeCodec form; the server loads
    ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x", "images": ["%%%"]}]},
        "messages[0].images[0]: not valid base64",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "", "images": ["data:image/png;base64,AAAA"]}],
        },
        "not a data: URL",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "images": [base64.b64encode(b"plain text").decode()]}],
        },
        "messages[0].images[0]: not a PNG, JPEG, GIF or WebP",
    ),
    (
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
                },
            ],
        },
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "content": "r", "tool_name": "f"},
            ],
        },
        "messages[1].tool_name: no unanswered call",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x", "thinking": "t"}]},
        "messages[0].thinking: only assistant",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "think": "huge"},
        "think: must be",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "format": 3},
        "format: must be",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream:"),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "options": {"temperature": "hot"},
        },
        "options.temperature: Input should be a valid number",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "options": {"top_p": 1.5}},
        "options.top_p: top_p must be in",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "options": {"num_predict": 10**9},
        },
        "options.num_predict: max_tokens must be between",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "options": {"stop": [""]}},
        "options.stop:",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}, {"function": {"name": "f"}}],
        },
        "tools[1].function.name: duplicate",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "retrieval", "function": {"name": "f"}}],
        },
        "tools[0].type",
    ),
    ([1, 2], "body:"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_inbound_bodies_name_the_field(body: JsonObject, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        request_from_wire(body)
    assert message in str(info.value)


def test_images_on_a_non_user_message_are_unsupported() -> None:
    body: JsonObject = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "x", "images": [base64.b64encode(PNG).decode()]}
        ],
    }
    with pytest.raises(UnsupportedFeatureError, match=r"messages\[0\]\.images"):
        request_from_wire(body)


# --- errors -------------------------------------------------------------------------------------


def _error(name: str) -> HearthError:
    case = load("errors.json")[name]
    return error_from_wire(case["status"], case["body"], case.get("headers", {}))


def test_model_not_found_tells_to_pull() -> None:
    err = _error("model_not_found")
    assert isinstance(err, ModelNotFoundError)
    assert err.model == "llama9"
    assert "ollama pull llama9" in str(err) and "HTTP 404" in str(err)
    quoted = _error("model_not_found_quoted")
    assert isinstance(quoted, ModelNotFoundError) and quoted.model == "qwen3:latest"
    route = _error("no_such_route")
    assert isinstance(route, ModelNotFoundError) and route.model == ""
    assert "base URL" in str(route)


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        ("bad_request", InvalidRequestError, None),
        ("no_thinking", UnsupportedFeatureError, None),
        ("context_length", ContextLengthExceededError, None),
        ("prompt_too_long", ContextLengthExceededError, None),
        ("unauthorized", AuthenticationError, 401),
        ("rate_limited", RateLimitError, 429),
        ("server_error", ServerError, 500),
        ("bad_gateway", ServerError, 502),
    ],
)
def test_error_mapping(name: str, kind: type[HearthError], status: int | None) -> None:
    err = _error(name)
    assert type(err) is kind
    assert "ollama" in str(err)
    if status is not None:
        assert isinstance(err, ProviderError)
        assert (err.status_code, err.provider) == (status, "ollama")


def test_rate_limit_carries_retry_after_and_context_error_parses_counts() -> None:
    err = _error("rate_limited")
    assert isinstance(err, RateLimitError) and err.retry_after == 7.0
    dated = error_from_wire(
        429, {"error": "slow"}, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    assert isinstance(dated, RateLimitError) and dated.retry_after == 0.0
    ctx = error_from_wire(
        400, {"error": "request (9000 tokens) exceeds the available context size (8192 tokens)"}, {}
    )
    assert isinstance(ctx, ContextLengthExceededError)
    assert (ctx.prompt_tokens, ctx.context_length) == (9000, 8192)
    other = error_from_wire(418, "I'm a teapot", {})
    assert type(other) is ProviderError and "I'm a teapot" in str(other)


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (ModelNotFoundError("no such model", model="llama9"), 404, ModelNotFoundError),
        (ContextLengthExceededError(5000, 4096), 400, ContextLengthExceededError),
        (InvalidRequestError("messages[0].role: bad"), 400, InvalidRequestError),
        (UnsupportedFeatureError("no images"), 400, InvalidRequestError),
        (AuthenticationError("who are you", status_code=403), 403, AuthenticationError),
        (RateLimitError("slow down"), 429, RateLimitError),
        (ServerError("boom", status_code=503), 503, ServerError),
        (ProviderError("upstream"), 502, ServerError),
    ],
)
def test_error_to_wire_and_back(exc: HearthError, status: int, kind: type[HearthError]) -> None:
    got_status, body = error_to_wire(exc)
    assert got_status == status
    assert isinstance(body["error"], str) and body["error"]
    back = error_from_wire(got_status, body, {})
    assert isinstance(back, kind)
    if isinstance(exc, ModelNotFoundError):
        assert isinstance(back, ModelNotFoundError) and back.model == "llama9"
        assert body["error"].startswith("model 'llama9' not found, try pulling it first")
    if isinstance(exc, ContextLengthExceededError):
        assert isinstance(back, ContextLengthExceededError)
        assert (back.prompt_tokens, back.context_length) == (5000, 4096)


# --- encoder -----------------------------------------------------------------------------------


def test_stream_encoder_lines_look_like_ollamas() -> None:
    ticks = iter([1_000, 1_500, 1_600, 1_700, 1_800, 1_900, 2_400])  # ns, one per encode
    encoder = StreamEncoder(
        model="m", response_id="r", created_at="2025-01-01T00:00:00Z", clock=lambda: next(ticks)
    )
    assert encoder.start() == []
    events: list[StreamEvent] = [
        ThinkingDelta("hm"),
        ThinkingDelta("", signature="sig"),
        TextDelta("", signature="text-sig"),
        TextDelta("Hi"),
        ToolCallEvent(ToolCallPart("call_7", "f", '{"x":1}')),
        Done("tool_use", Usage(5, 6)),
    ]
    chunks = [c for e in events for c in encoder.encode(e)]
    assert all(c.event is None for c in chunks)
    data = [c.data for c in chunks]
    stamp = {"model": "m", "created_at": "2025-01-01T00:00:00Z"}
    assert data == [
        {**stamp, "message": {"role": "assistant", "content": "", "thinking": "hm"}, "done": False},
        {**stamp, "message": {"role": "assistant", "content": "Hi"}, "done": False},
        {
            **stamp,
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call_7", "function": {"index": 0, "name": "f", "arguments": {"x": 1}}}
                ],
            },
            "done": False,
        },
        {
            **stamp,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": 6,
            "total_duration": 1_400,  # from the encoder's creation to Done
            "load_duration": 0,
            "prompt_eval_duration": 500,  # until the first event
            "eval_duration": 900,  # from the first event to Done
        },
    ]


def test_stream_encoder_error_line_decodes_to_the_same_error() -> None:
    encoder = StreamEncoder(model="m", response_id="r")
    [chunk] = encoder.error(ContextLengthExceededError(10, 8))
    assert chunk.data is not None and chunk.data["status"] == 400
    with pytest.raises(ContextLengthExceededError):
        StreamDecoder().feed(chunk.data)


def test_sniff_image_type_rejects_unknown_bytes() -> None:
    assert sniff_image_type(PNG) == "image/png"
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00AVI ") is None
    assert sniff_image_type(b"") is None
