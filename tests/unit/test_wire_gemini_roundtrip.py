"""Property tests: what Gemini can carry comes back unchanged, in every direction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.events import (
    Done,
    ImageEvent,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec
from hearth.response import Response
from hearth.settings import GenerationSettings
from hearth.wire.gemini import chat as gemini
from hearth.wire.gemini.parts import META_THOUGHT

texts = st.text(max_size=12)
names = st.text(min_size=1, max_size=8)
signatures = st.none() | st.text("ABCDEFabcdef0123456789+/=", min_size=1, max_size=12)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
objects: st.SearchStrategy[JsonObject] = st.dictionaries(texts, json_values, max_size=3)
compact = st.builds(lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False), objects)
thought_stamp = st.sampled_from([None, {"gemini_thought": False}])

text_parts = st.builds(TextPart, texts, signatures, thought_stamp)
thinking_parts = st.builds(ThinkingPart, texts, signatures)
images = st.builds(
    ImagePart, st.binary(max_size=16), st.sampled_from(["image/png", "image/jpeg", "image/webp"])
)
calls = st.builds(ToolCallPart, names, names, compact, signatures, thought_stamp)
results = st.builds(ToolResultPart, names, texts, st.booleans(), names)


def user_parts(parts: Sequence[Part]) -> bool:
    # a user turn holding only tool results comes back as a tool message
    return any(not isinstance(p, ToolResultPart) for p in parts)


conversation_messages = st.one_of(
    st.lists(st.one_of(text_parts, images, results), min_size=1, max_size=4)
    .filter(user_parts)
    .map(lambda ps: Message("user", tuple(ps))),
    st.lists(st.one_of(text_parts, thinking_parts, calls), min_size=1, max_size=4).map(
        lambda ps: Message("assistant", tuple(ps))
    ),
    st.lists(results, min_size=1, max_size=3).map(lambda ps: Message("tool", tuple(ps))),
)
systems = st.lists(text_parts, min_size=1, max_size=2).map(lambda ps: Message("system", tuple(ps)))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


# thinking=False means "no thinking" (budget moot); thinking=None with budget 0 reads back as
# thinking=False: both are the same Gemini request.
thinking_settings = st.one_of(
    st.tuples(st.none(), optional(st.integers(1, 50_000))),
    st.tuples(st.just(True), optional(st.integers(0, 50_000))),
    st.tuples(st.just(False), st.none()),
)
generation_settings = st.builds(
    lambda base, thinking: GenerationSettings(
        **base, thinking=thinking[0], thinking_budget=thinking[1]
    ),
    st.fixed_dictionaries(
        {
            "temperature": optional(st.floats(0, 2)),
            "top_p": optional(st.floats(0, 1)),
            "top_k": optional(st.integers(0, 500)),
            "max_tokens": optional(st.integers(1, 100_000)),
            "stop": st.lists(st.text(min_size=1, max_size=5), max_size=4).map(tuple),
            "seed": optional(st.integers(-(2**31), 2**31 - 1)),
            "presence_penalty": optional(st.floats(-2, 2)),
            "frequency_penalty": optional(st.floats(-2, 2)),
        }
    ),
    thinking_settings,
)
tool_specs = st.lists(
    st.builds(ToolSpec, names, texts, objects), max_size=3, unique_by=lambda t: t.name
)


@st.composite
def requests(draw: st.DrawFn) -> ChatRequest:
    messages = draw(st.lists(conversation_messages, min_size=1, max_size=5))
    if draw(st.booleans()):
        messages.insert(0, draw(systems))
    tools = tuple(draw(tool_specs))
    choices = ["auto", "none", *(["required"] if tools else []), *(t.name for t in tools)]
    return ChatRequest(
        tuple(messages), draw(generation_settings), tools, draw(st.sampled_from(choices))
    )


def merge_systems(request: ChatRequest) -> ChatRequest:
    """Leading system messages come back as one (systemInstruction is one Content)."""
    systems_ = [m for m in request.messages if m.role == "system"]
    if len(systems_) < 2:
        return request
    merged = Message("system", tuple(p for m in systems_ for p in m.parts))
    rest = tuple(m for m in request.messages if m.role != "system")
    return ChatRequest((merged, *rest), request.settings, request.tools, request.tool_choice)


def over_the_wire(body: JsonObject) -> Any:
    return json.loads(json.dumps(body))


@settings(max_examples=200)
@given(requests())
def test_request_round_trip(request: ChatRequest) -> None:
    body = over_the_wire(gemini.request_to_wire(request, model="gemini-x", stream=False))
    wire = gemini.request_from_wire(body, model="models/gemini-x", stream=True)
    assert (wire.model, wire.stream) == ("gemini-x", True)
    assert wire.request == merge_systems(request)


FOR_CALLS: list[StopReason] = ["tool_use", "max_tokens", "content_filter"]
WITHOUT_CALLS: list[StopReason] = ["end_turn", "max_tokens", "content_filter", "tool_error"]
stop_for_calls = st.sampled_from(FOR_CALLS)
stop_without_calls = st.sampled_from(WITHOUT_CALLS)
# Gemini's own reasons (stop_detail) for each stop reason: written back as they came
DETAILS: dict[StopReason, list[str]] = {
    "end_turn": ["STOP", "OTHER", "LANGUAGE"],
    "tool_use": ["STOP", "OTHER"],
    "max_tokens": ["MAX_TOKENS"],
    "content_filter": ["SAFETY", "RECITATION", "SPII", "PROHIBITED_CONTENT"],
    "tool_error": ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"],
}


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(st.integers(0, 10**6))
    output_tokens = draw(st.integers(0, 10**6))
    return Usage(
        input_tokens,
        output_tokens,
        draw(st.integers(0, input_tokens)),
        draw(st.integers(0, output_tokens)),
    )


@st.composite
def responses(draw: st.DrawFn) -> Response:
    parts = draw(st.lists(st.one_of(text_parts, thinking_parts, calls), max_size=5))
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    stop: StopReason = draw(stop_for_calls if has_calls else stop_without_calls)
    return Response(
        Message("assistant", tuple(parts)),
        stop,
        draw(usages()),
        model=draw(names),
        response_id=draw(names),
        stop_detail=draw(st.sampled_from(DETAILS[stop])),
    )


@settings(max_examples=200)
@given(responses())
def test_response_round_trip(response: Response) -> None:
    assert response.model is not None and response.response_id is not None
    body = gemini.response_to_wire(response, model=response.model, response_id=response.response_id)
    assert gemini.response_from_wire(over_the_wire(body)) == response


deltas = st.one_of(
    st.text(min_size=1, max_size=8).map(TextDelta),
    st.text(min_size=1, max_size=8).map(ThinkingDelta),
    st.text(min_size=1, max_size=8).map(lambda s: TextDelta("", signature=s)),
    st.text(min_size=1, max_size=8).map(lambda s: ThinkingDelta("", signature=s)),
    st.text(min_size=1, max_size=8).map(lambda s: TextDelta(s, meta={META_THOUGHT: False})),
    calls.map(ToolCallEvent),
    st.binary(min_size=1, max_size=16).map(lambda b: ImageEvent(ImagePart(b, "image/png"))),
)


@st.composite
def streams(draw: st.DrawFn) -> list[StreamEvent]:
    events: list[StreamEvent] = draw(st.lists(deltas, max_size=8))
    has_calls = any(isinstance(e, ToolCallEvent) for e in events)
    stop: StopReason = draw(stop_for_calls if has_calls else stop_without_calls)
    detail = draw(st.sampled_from(DETAILS[stop]))
    return [
        *events,
        Done(stop, draw(usages()), model="gem", response_id="resp", stop_detail=detail),
    ]


@settings(max_examples=200)
@given(streams())
def test_encoded_stream_decodes_to_the_same_events(events: list[StreamEvent]) -> None:
    encoder = gemini.StreamEncoder(model="gem", response_id="resp")
    decoder = gemini.StreamDecoder()
    decoded: list[StreamEvent] = []
    for event in events:
        for chunk in encoder.encode(event):
            assert chunk.event is None and chunk.data is not None
            decoded += decoder.feed(over_the_wire(chunk.data))
    assert decoded + decoder.finish() == events


# --- lossless from the wire side: whatever Gemini sends in a model turn goes back unchanged ---


def with_stamps(part: JsonObject, thought_false: bool, signature: str | None) -> JsonObject:
    if thought_false:
        part["thought"] = False
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


@st.composite
def gemini_model_parts(draw: st.DrawFn) -> JsonObject:
    kind = draw(st.sampled_from(["text", "thought", "call"]))
    signature = draw(signatures)
    if kind == "thought":
        return with_stamps({"text": draw(texts), "thought": True}, False, signature)
    if kind == "text":
        return with_stamps({"text": draw(texts)}, draw(st.booleans()), signature)
    call: JsonObject = {"name": draw(names)}
    if draw(st.booleans()):
        call["args"] = draw(objects)
    if draw(st.booleans()):
        call["id"] = draw(names)
    return with_stamps({"functionCall": call}, draw(st.booleans()), signature)


def unique_call_ids(parts: list[Any]) -> bool:
    ids = [p["functionCall"]["id"] for p in parts if "id" in p.get("functionCall", {})]
    return len(set(ids)) == len(ids)


@settings(max_examples=300)
@given(st.lists(gemini_model_parts(), min_size=1, max_size=6).filter(unique_call_ids))
def test_model_turn_survives_history_byte_for_byte(parts: list[JsonObject]) -> None:
    body: JsonObject = {"candidates": [{"content": {"parts": list(parts), "role": "model"}}]}
    answer = gemini.response_from_wire(body).message
    history = [Message.user("hi"), answer]
    if answer.tool_calls:
        history.append(Message.tool(*(ToolResultPart(c.id, "ok") for c in answer.tool_calls)))
    out: Any = gemini.request_to_wire(ChatRequest(tuple(history)), model="m", stream=False)
    assert json.dumps(out["contents"][1]["parts"]) == json.dumps(parts)
    if answer.tool_calls:  # each result goes back with its call's name, and its id if it had one
        wire_calls: list[Any] = [p["functionCall"] for p in parts if "functionCall" in p]
        responses_ = [p["functionResponse"] for p in out["contents"][2]["parts"]]
        assert [r["name"] for r in responses_] == [c["name"] for c in wire_calls]
        assert [r.get("id") for r in responses_] == [c.get("id") for c in wire_calls]
