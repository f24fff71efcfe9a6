"""Gemini streamGenerateContent?alt=sse: recorded streams decoded as a user sees them, the
server-side encoder, and lossless history from a stream."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth._sse import SSEDecoder
from hearth.errors import ProviderError, RateLimitError, ServerError
from hearth.events import (
    Done,
    ImageEvent,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.messages import (
    ImagePart,
    JsonObject,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest
from hearth.response import accumulate
from hearth.wire.base import WireChunk
from hearth.wire.gemini import chat as gemini

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"


def sse_frames(raw: bytes, sizes: Sequence[int] = ()) -> list[JsonObject]:
    """The JSON data of each SSE event in ``raw``, fed to hearth's SSE decoder in pieces of
    ``sizes`` bytes (then the rest)."""
    decoder = SSEDecoder()
    events = []
    start = 0
    for size in sizes:
        events += decoder.feed(raw[start : start + size])
        start += size
    events += decoder.feed(raw[start:]) + decoder.finish()
    return [json.loads(e.data) for e in events]


def frames(name: str) -> list[JsonObject]:
    return sse_frames((FIXTURES / name).read_bytes())


def decode(chunks: list[JsonObject]) -> list[StreamEvent]:
    decoder = gemini.StreamDecoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.finish()


def test_text_stream() -> None:
    events = decode(frames("stream_text.sse"))
    assert events == [
        TextDelta("The"),
        TextDelta(" quick brown fox jumps"),
        TextDelta(" over the lazy dog. 🦊"),
        Done(
            "end_turn",
            Usage(input_tokens=9, output_tokens=12),
            model="gemini-2.0-flash",
            response_id="pQs3aLHjA4mSz7IPq4-ZmQk",
            stop_detail="STOP",
        ),
    ]
    assert accumulate(events).text == "The quick brown fox jumps over the lazy dog. 🦊"


@given(st.lists(st.integers(1, 64), max_size=40))
def test_decoding_does_not_depend_on_how_the_bytes_are_chunked(sizes: list[int]) -> None:
    raw = (FIXTURES / "stream_thinking_tools.sse").read_bytes()
    assert decode(sse_frames(raw, sizes)) == decode(frames("stream_thinking_tools.sse"))


def test_thinking_and_tool_call_stream() -> None:
    events = decode(frames("stream_thinking_tools.sse"))
    flight = ToolCallPart(
        "call_0",
        "check_flight",
        '{"flight":"AA100"}',
        signature="CmUBVKhc7k0V3Jc1yB0y",
        meta={"gemini_synthetic_id": True},
    )
    weather = ToolCallPart(
        "call_1", "check_weather", '{"airport":"JFK"}', meta={"gemini_synthetic_id": True}
    )
    assert events == [
        ThinkingDelta("**Planning the lookup**\n\nI need the flight status "),
        ThinkingDelta("and the weather."),
        ThinkingDelta("", signature="CiIBVKhc7oDPpCdfmHh0"),
        TextDelta("Checking now.", meta={"gemini_thought": False}),  # its "thought": false stamp
        ToolCallEvent(flight),
        ToolCallEvent(weather),
        Done(
            "tool_use",
            Usage(input_tokens=96, output_tokens=205, thinking_tokens=180),
            model="gemini-2.5-flash",
            response_id="uQs3aJ7wF4OQz7IP",
            stop_detail="STOP",
        ),
    ]
    r = accumulate(events)
    assert r.message.parts == (
        ThinkingPart(
            "**Planning the lookup**\n\nI need the flight status and the weather.",
            "CiIBVKhc7oDPpCdfmHh0",
        ),
        TextPart("Checking now.", meta={"gemini_thought": False}),
        flight,
        weather,
    )


def test_streamed_signatures_survive_history_byte_for_byte() -> None:
    chunks = frames("stream_thinking_tools.sse")
    answer = accumulate(decode(chunks)).message
    results = Message.tool(*(ToolResultPart(c.id, "ok") for c in answer.tool_calls))
    body = gemini.request_to_wire(
        ChatRequest((Message.user("?"), answer, results)), model="m", stream=True
    )
    contents: Any = body["contents"]
    streamed: list[Any] = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]  # type: ignore[index, union-attr, call-overload]
    # the text with its "thought": false stamp, and the function calls with their signatures,
    # come back exactly as streamed
    assert json.dumps(contents[1]["parts"][1:]) == json.dumps(streamed[2:])
    # the thought, streamed in two slices, comes back as one part with its signature
    assert contents[1]["parts"][0] == {
        "text": "**Planning the lookup**\n\nI need the flight status and the weather.",
        "thought": True,
        "thoughtSignature": "CiIBVKhc7oDPpCdfmHh0",
    }
    # call ids were made up: results go back by name, without ids
    assert [p["functionResponse"] for p in contents[2]["parts"]] == [
        {"name": "check_flight", "response": {"result": "ok"}},
        {"name": "check_weather", "response": {"result": "ok"}},
    ]


def test_signature_on_a_final_empty_text_part_lands_on_the_text() -> None:
    events = decode(frames("stream_text_signature.sse"))
    assert events[:3] == [
        TextDelta("Hello"),
        TextDelta(", world."),
        TextDelta("", signature="Cl8BVKhc7rJ5Qx0Xb4cK"),
    ]
    r = accumulate(events)
    assert r.message.parts == (TextPart("Hello, world.", "Cl8BVKhc7rJ5Qx0Xb4cK"),)
    assert r.usage == Usage(input_tokens=5, output_tokens=70, thinking_tokens=66)
    body = gemini.request_to_wire(
        ChatRequest((Message.user("hi"), r.message)), model="m", stream=False
    )
    contents: Any = body["contents"]
    assert json.dumps(contents[1]["parts"]) == json.dumps(
        [{"text": "Hello, world.", "thoughtSignature": "Cl8BVKhc7rJ5Qx0Xb4cK"}]
    )


def test_signature_on_a_leading_text_slice_stays_on_that_slice() -> None:
    chunks: list[JsonObject] = [
        {"candidates": [{"content": {"parts": [{"text": "A", "thoughtSignature": "s1"}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"}]},
    ]
    r = accumulate(decode(chunks))
    assert r.message.parts == (TextPart("A", "s1"), TextPart("B"))
    assert r.text == "AB"


def test_consecutive_signed_thoughts_stay_apart() -> None:
    parts: list[JsonObject] = [
        {"text": "first", "thought": True, "thoughtSignature": "s1"},
        {"text": "second", "thought": True, "thoughtSignature": "s2"},
    ]
    chunks: list[JsonObject] = [
        {"candidates": [{"content": {"parts": [parts[0]]}}]},
        {"candidates": [{"content": {"parts": [parts[1]]}, "finishReason": "STOP"}]},
    ]
    answer = accumulate(decode(chunks)).message
    assert answer.parts == (ThinkingPart("first", "s1"), ThinkingPart("second", "s2"))
    body: Any = gemini.request_to_wire(
        ChatRequest((Message.user("?"), answer)), model="m", stream=False
    )
    assert json.dumps(body["contents"][1]["parts"]) == json.dumps(parts)


def test_stream_that_ends_without_finish_reason_raises() -> None:
    decoder = gemini.StreamDecoder()
    seen: list[StreamEvent] = []
    for chunk in frames("stream_no_finish.sse"):
        seen += decoder.feed(chunk)
    assert seen == [TextDelta("Once upon a time"), TextDelta(", in a land far")]
    with pytest.raises(ProviderError, match="gemini stream ended before its finish reason"):
        decoder.finish()


def test_error_midway_raises_the_mapped_error_after_the_text_so_far() -> None:
    decoder = gemini.StreamDecoder()
    first, error = frames("stream_error_midway.sse")
    assert decoder.feed(first) == [TextDelta("Let me explain")]
    with pytest.raises(ServerError, match="The model is overloaded") as info:
        decoder.feed(error)
    assert info.value.status_code == 503
    assert info.value.provider == "gemini"


def test_rate_limit_error_frame() -> None:
    frame: JsonObject = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    with pytest.raises(RateLimitError):
        gemini.StreamDecoder().feed(frame)


def test_blocked_prompt_stream_is_content_filter() -> None:
    events = decode(frames("stream_prompt_blocked.sse"))
    assert events == [
        Done(
            "content_filter",
            Usage(input_tokens=11),
            model="gemini-2.0-flash",
            response_id="-Qs3aR",
            stop_detail="PROHIBITED_CONTENT",
        )
    ]


def test_finish_twice_and_feed_after_finish_are_errors() -> None:
    decoder = gemini.StreamDecoder()
    decoder.feed({"candidates": [{"finishReason": "MAX_TOKENS"}]})
    assert decoder.finish() == [Done("max_tokens", stop_detail="MAX_TOKENS")]
    with pytest.raises(RuntimeError, match="already"):
        decoder.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        decoder.feed({"candidates": []})


def test_malformed_chunk_names_the_field() -> None:
    with pytest.raises(ProviderError, match=r"usageMetadata\.promptTokenCount"):
        gemini.StreamDecoder().feed({"usageMetadata": {"promptTokenCount": "many"}})


# --- the encoder (server side) ---------------------------------------------------------------


def test_encoder_frames() -> None:
    enc = gemini.StreamEncoder(model="gem", response_id="r9")
    assert enc.start() == []
    call = ToolCallPart("c1", "f", '{"x":1}', signature="fs")
    frames_out = [
        *enc.encode(ThinkingDelta("hm")),
        *enc.encode(ThinkingDelta("", signature="ts")),
        *enc.encode(ThinkingDelta("", signature="anthropic", redacted=True)),
        *enc.encode(TextDelta("Hi")),
        *enc.encode(TextDelta("", signature="xs")),
        *enc.encode(ToolCallEvent(call)),
        *enc.encode(Done("tool_use", Usage(5, 9, thinking_tokens=2))),
    ]
    meta: JsonObject = {"modelVersion": "gem", "responseId": "r9"}

    def part(p: JsonObject) -> WireChunk:
        content: JsonObject = {"parts": [p], "role": "model"}
        return WireChunk(None, {"candidates": [{"content": content, "index": 0}], **meta})

    assert frames_out == [
        part({"text": "hm", "thought": True}),
        part({"text": "", "thought": True, "thoughtSignature": "ts"}),
        part({"text": "Hi"}),
        part({"text": "", "thoughtSignature": "xs"}),
        part(
            {"functionCall": {"name": "f", "args": {"x": 1}, "id": "c1"}, "thoughtSignature": "fs"}
        ),
        WireChunk(
            None,
            {
                "candidates": [{"finishReason": "STOP", "index": 0}],
                "usageMetadata": {
                    "promptTokenCount": 5,
                    "candidatesTokenCount": 7,
                    "totalTokenCount": 14,
                    "thoughtsTokenCount": 2,
                },
                **meta,
            },
        ),
    ]
    with pytest.raises(RuntimeError, match="after Done"):
        enc.encode(TextDelta("late"))


def test_encoder_error_frame_decodes_to_the_same_error() -> None:
    enc = gemini.StreamEncoder(model="gem", response_id="r")
    (frame,) = enc.error(RateLimitError("slow down", status_code=429, retry_after=7))
    assert frame.event is None and frame.data is not None
    with pytest.raises(RateLimitError) as info:
        gemini.StreamDecoder().feed(frame.data)
    assert info.value.retry_after == 7


def test_encoded_stream_decodes_back() -> None:
    events: list[StreamEvent] = [
        ThinkingDelta("a"),
        ThinkingDelta("", signature="s"),
        TextDelta("b"),
        ToolCallEvent(ToolCallPart("id1", "f", '{"k":"v"}', signature="t")),
        Done("tool_use", Usage(1, 2), model="gem", response_id="r", stop_detail="STOP"),
    ]
    enc = gemini.StreamEncoder(model="gem", response_id="r")
    wire = [frame.data for e in events for frame in enc.encode(e) if frame.data is not None]
    assert decode(wire) == events


def test_a_streamed_image_is_an_image_event_and_an_image_part() -> None:
    png = base64.b64encode(b"\x89PNG-pixels").decode()
    chunks: list[JsonObject] = [
        {"candidates": [{"content": {"parts": [{"text": "A cat:"}], "role": "model"}}]},
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": png}}],
                        "role": "model",
                    },
                    "finishReason": "STOP",
                }
            ]
        },
    ]
    events = decode(chunks)
    image = ImagePart(b"\x89PNG-pixels", "image/png")
    assert events[:2] == [TextDelta("A cat:"), ImageEvent(image)]
    assert accumulate(events).message.parts == (TextPart("A cat:"), image)
    encoder = gemini.StreamEncoder(model="gem", response_id="r")
    [frame] = encoder.encode(ImageEvent(image))
    assert frame.data is not None
    assert frame.data["candidates"][0]["content"]["parts"] == [  # type: ignore[index, call-overload]
        {"inlineData": {"mimeType": "image/png", "data": png}}
    ]


def test_streamed_text_stamped_thought_false_keeps_the_stamp_per_part() -> None:
    part = {"text": "stamped", "thought": False}
    chunks: list[JsonObject] = [
        {"candidates": [{"content": {"parts": [{"text": "plain "}], "role": "model"}}]},
        {"candidates": [{"content": {"parts": [part], "role": "model"}}]},
        {"candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP"}]},
    ]
    answer = accumulate(decode(chunks)).message
    assert answer.parts == (
        TextPart("plain "),
        TextPart("stampedstamped", meta={"gemini_thought": False}),
    )
    out: Any = gemini.request_to_wire(
        ChatRequest((Message.user("?"), answer)), model="m", stream=True
    )
    assert out["contents"][1]["parts"] == [
        {"text": "plain "},
        {"text": "stampedstamped", "thought": False},
    ]
