"""Anthropic Messages API streams: documented SSE transcripts → hearth events, hearth events →
SSE for the server, and the two composed."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth._sse import SSEDecoder
from hearth.errors import OverloadedError, ProviderError, RateLimitError, ServerError
from hearth.events import (
    STOP_REASONS,
    Done,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.messages import JsonObject, Message, TextPart, ThinkingPart, ToolCallPart
from hearth.request import ChatRequest
from hearth.response import accumulate
from hearth.wire.anthropic import chat as anthropic
from hearth.wire.base import WireChunk

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"


def frames(raw: bytes, cuts: Iterable[int] = ()) -> list[tuple[str | None, JsonObject]]:
    """SSE bytes → (event name, parsed data), through hearth's SSE decoder; ``cuts`` are the
    offsets at which the bytes arrive split."""
    sse = SSEDecoder()
    bounds = [0, *sorted(set(cuts)), len(raw)]
    events = [e for a, b in itertools.pairwise(bounds) for e in sse.feed(raw[a:b])]
    events += sse.finish()
    return [(e.event, json.loads(e.data)) for e in events]


def decode(raw: bytes, cuts: Iterable[int] = ()) -> list[StreamEvent]:
    decoder = anthropic.StreamDecoder()
    out: list[StreamEvent] = []
    for event, data in frames(raw, cuts):
        out += decoder.feed(data, event)
    return out + decoder.finish()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def to_sse(chunks: list[WireChunk]) -> bytes:
    text = "".join(f"event: {c.event}\ndata: {json.dumps(c.data)}\n\n" for c in chunks)
    return text.encode()


# ----------------------------------------------------------------------- documented streams


def test_plain_text_stream() -> None:
    assert decode(fixture("stream_text.sse")) == [
        TextDelta("Hello"),
        TextDelta("!"),
        Done(
            "end_turn",
            Usage(input_tokens=25, output_tokens=15),
            model="claude-opus-4-1-20250805",
            response_id="msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        ),
    ]


def test_tool_use_arguments_assembled_from_many_pieces() -> None:
    events = decode(fixture("stream_tool_use.sse"))
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCallEvent(
            ToolCallPart(
                "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "get_weather",
                '{"location":"San Francisco, CA","unit":"fahrenheit"}',
            )
        )
    ]
    assert isinstance(events[-2], ToolCallEvent) and isinstance(events[-1], Done)
    r = accumulate(events)
    assert r.text == "Okay, let's check the weather for San Francisco, CA:"
    assert r.stop_reason == "tool_use"
    assert r.usage == Usage(472, 89)


def test_streamed_and_non_streamed_tool_calls_agree() -> None:
    (call,) = accumulate(decode(fixture("stream_tool_use.sse"))).tool_calls
    body: JsonObject = {
        "content": [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.parsed_arguments()}
        ]
    }
    assert anthropic.response_from_wire(body).tool_calls == (call,)


def test_parallel_tool_calls_and_cached_usage() -> None:
    r = accumulate(decode(fixture("stream_parallel_tools.sse")))
    assert r.tool_calls == (
        ToolCallPart("toolu_01Paris", "get_weather", '{"location":"Paris"}'),
        ToolCallPart("toolu_01Tokyo", "get_weather", '{"location":"Tōkyō"}'),
        ToolCallPart("toolu_01Clock", "get_time", "{}"),
    )
    assert r.usage == Usage(input_tokens=320 + 1800, output_tokens=120, cached_tokens=1800)


def test_thinking_signature_and_redacted_thinking() -> None:
    events = decode(fixture("stream_thinking.sse"))
    signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."
    data = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP..."
    assert events[:5] == [
        ThinkingDelta("Let me solve this step by step:\n\n1. First break down 27 * 453"),
        ThinkingDelta("\n2. 453 = 400 + 50 + 3"),
        ThinkingDelta("", signature=signature),
        ThinkingDelta("", signature=data, redacted=True),
        TextDelta("27 * 453 = 12,231"),
    ]
    r = accumulate(events)
    assert r.message.parts == (
        ThinkingPart(
            "Let me solve this step by step:\n\n1. First break down 27 * 453"
            "\n2. 453 = 400 + 50 + 3",
            signature,
        ),
        ThinkingPart("", data, redacted=True),
        TextPart("27 * 453 = 12,231"),
    )


def test_streamed_thinking_survives_history_byte_for_byte() -> None:
    raw = fixture("stream_thinking.sse")
    r = accumulate(decode(raw))
    request = ChatRequest((Message.user("27 * 453?"), r.message, Message.user("thanks")))
    sent = anthropic.request_to_wire(request, model="m", stream=True)["messages"]
    assert isinstance(sent, list) and isinstance(sent[1], dict)
    # the blocks Anthropic streamed, assembled as its own SDK assembles them
    blocks: dict[int, JsonObject] = {}
    for _, data in frames(raw):
        if data["type"] == "content_block_start":
            block = data["content_block"]
            assert isinstance(block, dict) and isinstance(data["index"], int)
            blocks[data["index"]] = dict(block)
        elif data["type"] == "content_block_delta":
            delta, block = data["delta"], blocks[data["index"]]  # type: ignore[index]
            assert isinstance(delta, dict)
            field = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "signature_delta": "signature",
            }
            key = field[str(delta["type"])]
            block[key] = str(block.get(key, "")) + str(delta[key])
    assert json.dumps(sent[1]["content"]) == json.dumps([blocks[i] for i in sorted(blocks)])


def test_error_event_midway_raises_the_mapped_error() -> None:
    decoder = anthropic.StreamDecoder()
    seen: list[StreamEvent] = []
    with pytest.raises(ServerError, match="overloaded_error: Overloaded") as info:
        for event, data in frames(fixture("stream_error_midway.sse")):
            seen += decoder.feed(data, event)
    assert seen == [TextDelta("Once upon a")]
    assert info.value.status_code == 529
    assert info.value.provider == "anthropic"


def test_rate_limit_error_event() -> None:
    data: JsonObject = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
    with pytest.raises(RateLimitError):
        anthropic.StreamDecoder().feed(data, "error")


def test_stream_without_message_stop_is_an_error() -> None:
    with pytest.raises(ProviderError, match="stream ended before message_stop"):
        decode(fixture("stream_truncated.sse"))


@settings(max_examples=100)
@given(st.data())
def test_decoding_does_not_depend_on_how_the_bytes_are_chunked(data: st.DataObject) -> None:
    raw = fixture(
        data.draw(
            st.sampled_from(
                ["stream_tool_use.sse", "stream_thinking.sse", "stream_parallel_tools.sse"]
            )
        )
    )
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=30))
    assert decode(raw, cuts) == decode(raw)


def test_unknown_events_deltas_and_blocks_are_ignored() -> None:
    decoder = anthropic.StreamDecoder()
    noise: list[tuple[str | None, JsonObject]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"id": "m1", "model": "c", "usage": {"input_tokens": 3}},
            },
        ),
        ("ping", {"type": "ping"}),
        ("something_new", {"type": "something_new", "x": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "server_tool_use", "id": "s"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "{}"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": "pre"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "citations_delta", "citation": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": ""},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            None,
            {
                "type": "message_delta",
                "delta": {"stop_reason": "weird"},
                "usage": {"output_tokens": 4},
            },
        ),
    ]
    events = [e for event, data in noise for e in decoder.feed(data, event)]
    assert events == [TextDelta("pre")]
    assert decoder.feed({}, "message_stop") == [
        Done("end_turn", Usage(3, 4), model="c", response_id="m1")
    ]
    assert decoder.feed({"type": "message_stop"}) == []  # nothing after the end
    assert decoder.finish() == []


def test_tool_input_cut_short_is_kept_as_sent() -> None:
    decoder = anthropic.StreamDecoder()
    block: JsonObject = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    decoder.feed({"type": "content_block_start", "index": 0, "content_block": block})
    decoder.feed(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": "unfini'},
        }
    )
    (event,) = decoder.feed({"type": "content_block_stop", "index": 0})
    assert event == ToolCallEvent(ToolCallPart("t", "f", '{"a": "unfini'))


def test_tool_input_given_whole_at_block_start() -> None:
    decoder = anthropic.StreamDecoder()
    block: JsonObject = {"type": "tool_use", "id": "t", "name": "f", "input": {"x": 1}}
    decoder.feed({"type": "content_block_start", "index": 0, "content_block": block})
    assert decoder.feed({"type": "content_block_stop", "index": 0}) == [
        ToolCallEvent(ToolCallPart("t", "f", '{"x":1}'))
    ]


# ------------------------------------------------------------------------------- encoder


def test_encoder_golden_sequence() -> None:
    enc = anthropic.StreamEncoder(model="local:qwen", response_id="msg_1", input_tokens=12)
    chunks = enc.start()
    script: list[StreamEvent] = [
        ThinkingDelta("Let me "),
        ThinkingDelta("think."),
        ThinkingDelta("", signature="sig"),
        ThinkingDelta("", signature="opaque", redacted=True),
        TextDelta("Hi"),
        TextDelta(" there"),
        ToolCallEvent(ToolCallPart("toolu_1", "lookup", '{"q":"x"}')),
        Done("tool_use", Usage(12, 30)),
    ]
    for event in script:
        chunks += enc.encode(event)
    got = [(c.event, c.data) for c in chunks]
    assert got == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "local:qwen",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 12,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 0,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Let me "},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "think."},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "redacted_thinking", "data": "opaque"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "text_delta", "text": " there"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "lookup",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": '{"q":"x"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 3}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {
                    "input_tokens": 12,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 30,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_encoder_starts_itself_and_refuses_misuse() -> None:
    enc = anthropic.StreamEncoder(model="m", response_id="r")
    chunks = enc.encode(TextDelta("x"))
    assert [c.event for c in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    assert enc.start() == []
    done = enc.encode(Done("end_turn", Usage(output_tokens=1)))
    assert [c.event for c in done] == ["content_block_stop", "message_delta", "message_stop"]
    assert done[1].data == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
        },
    }
    with pytest.raises(RuntimeError, match="after Done"):
        enc.encode(TextDelta("late"))


def test_a_new_thinking_block_after_a_signature() -> None:
    enc = anthropic.StreamEncoder(model="m", response_id="r")
    chunks = [
        c
        for e in [
            ThinkingDelta("a", signature="s1"),
            ThinkingDelta("b"),
            ThinkingDelta("", signature="s2"),
        ]
        for c in enc.encode(e)
    ]
    assert [c.event for c in chunks].count("content_block_start") == 2
    decoded = accumulate([*decode(to_sse([*chunks, *enc.encode(Done("end_turn"))]))])
    assert decoded.message.parts == (ThinkingPart("a", "s1"), ThinkingPart("b", "s2"))


def test_error_frame_decodes_back_to_the_error() -> None:
    enc = anthropic.StreamEncoder(model="m", response_id="r")
    chunks = [*enc.encode(TextDelta("partial")), *enc.error(OverloadedError("queue full"))]
    assert (chunks[-1].event, chunks[-1].data) == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "queue full"}},
    )
    with pytest.raises(ServerError, match="queue full"):
        decode(to_sse(chunks))


_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=10)
_arguments = st.dictionaries(_ids, st.integers() | _text, max_size=3).map(
    lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False)
)
_deltas = st.one_of(
    st.builds(TextDelta, _text),
    st.builds(ThinkingDelta, _text),
    _ids.map(lambda s: ThinkingDelta("", signature=s)),
    _ids.map(lambda s: ThinkingDelta("", signature=s, redacted=True)),
    st.builds(lambda i, n, a: ToolCallEvent(ToolCallPart(i, n, a)), _ids, _ids, _arguments),
)


@st.composite
def _dones(draw: st.DrawFn) -> Done:
    total = draw(st.integers(0, 10**6))
    usage = Usage(total, draw(st.integers(0, 10**6)), cached_tokens=draw(st.integers(0, total)))
    reason = draw(
        st.sampled_from([r for r in STOP_REASONS if r not in ("cancelled", "tool_error")])
    )
    stop = draw(st.none() | _text)
    return Done(reason, usage, stop_sequence=stop, model="enc-model", response_id="enc-id")


@settings(max_examples=300)
@given(st.lists(_deltas, max_size=12), _dones(), st.integers(0, 100))
def test_encoder_then_decoder_gives_the_events_back(
    events: list[StreamEvent], done: Done, prompt: int
) -> None:
    enc = anthropic.StreamEncoder(model="enc-model", response_id="enc-id", input_tokens=prompt)
    chunks = enc.start()
    for event in [*events, done]:
        chunks += enc.encode(event)
    decoded = decode(to_sse(chunks))
    assert decoded[-1] == done
    assert accumulate(decoded) == accumulate([*events, done])
    assert [e for e in decoded if isinstance(e, ToolCallEvent)] == [
        e for e in events if isinstance(e, ToolCallEvent)
    ]


def test_a_tool_block_left_open_is_still_delivered_and_odd_indexes_are_tolerated() -> None:
    decoder = anthropic.StreamDecoder()
    block: JsonObject = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    decoder.feed({"type": "content_block_start", "index": [0], "content_block": block})
    delta: JsonObject = {"type": "input_json_delta", "partial_json": '{"k": 1}'}
    decoder.feed({"type": "content_block_delta", "index": [0], "delta": delta})
    empty_sig: JsonObject = {"type": "signature_delta", "signature": ""}
    assert decoder.feed({"type": "content_block_delta", "index": 1, "delta": empty_sig}) == []
    assert decoder.feed({"type": "message_stop"}) == [
        ToolCallEvent(ToolCallPart("t", "f", '{"k":1}')),
        Done("end_turn"),
    ]
