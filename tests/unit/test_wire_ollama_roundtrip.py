"""Ollama /api/chat translator: round-trip properties over the vocabulary Ollama can carry.

What Ollama cannot carry is left out of the strategies on purpose (see the module docstring of
``hearth.wire.ollama.chat``): signatures, redacted thinking, ``is_error``, tool results without a
name or out of call order, several text parts in one message, text after images, tool choice,
thinking budgets, cached/thinking token counts, response ids and stop sequences.
"""

from __future__ import annotations

import json
import string

from hypothesis import given
from hypothesis import strategies as st

from hearth._sse import NDJSONDecoder
from hearth.events import (
    Done,
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
from hearth.settings import MAX_TOKENS_LIMIT, GenerationSettings
from hearth.wire.base import WireRequest
from hearth.wire.ollama.chat import (
    META_INDEX,
    META_SYNTHETIC_ID,
    StreamDecoder,
    request_to_wire,
    response_from_wire,
)
from hearth.wire.ollama.inbound import request_from_wire
from hearth.wire.ollama.stream import StreamEncoder, response_to_wire

texts = st.text(min_size=1, max_size=12)
names = st.text(string.ascii_letters + "_", min_size=1, max_size=8)
real_ids = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10).map("id_".__add__)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects: st.SearchStrategy[JsonObject] = st.dictionaries(
    st.text(max_size=6), json_values, max_size=3
)
arguments = json_objects.map(lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False))

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBP", "image/webp"),
]
images = st.tuples(st.sampled_from(_MAGIC), st.binary(max_size=16)).map(
    lambda m: ImagePart(m[0][0] + m[1], m[0][1])
)


@st.composite
def tool_call(
    draw: st.DrawFn, *, position: int, ordinal: int, any_index: bool = True
) -> ToolCallPart:
    """A call Ollama can carry: a real id, or a made-up ``call_<ordinal>``; any index shape
    (with ``any_index``; else its position, as the server numbers the calls it answers)."""
    meta: dict[str, JsonValue] = {}
    if draw(st.booleans()):
        call_id = draw(real_ids)
    else:
        call_id = f"call_{ordinal}"
        meta[META_SYNTHETIC_ID] = True
    index = draw(st.sampled_from(["default", "absent", "other"])) if any_index else "default"
    if index == "absent":
        meta[META_INDEX] = None
    elif index == "other":
        meta[META_INDEX] = position + 1 + draw(st.integers(0, 5))
    return ToolCallPart(call_id, draw(names), draw(arguments), meta=meta or None)


@st.composite
def assistant_message(draw: st.DrawFn, *, first_ordinal: int, any_index: bool = True) -> Message:
    parts: list[Part] = []
    if draw(st.booleans()):
        parts.append(ThinkingPart(draw(texts)))
    if draw(st.booleans()):
        parts.append(TextPart(draw(texts)))
    n = draw(st.integers(0, 3))
    parts.extend(
        draw(tool_call(position=k, ordinal=first_ordinal + k, any_index=any_index))
        for k in range(n)
    )
    return Message("assistant", tuple(parts))


@st.composite
def conversations(draw: st.DrawFn) -> tuple[Message, ...]:
    messages: list[Message] = []
    ordinal = 0
    open_calls: tuple[ToolCallPart, ...] = ()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(
            st.sampled_from(["system", "user", "assistant"] + (["tool"] if open_calls else []))
        )
        if kind == "system":
            messages.append(Message.system(draw(texts)))
        elif kind == "user":
            text: list[Part] = [TextPart(draw(texts))] if draw(st.booleans()) else []
            messages.append(Message("user", (*text, *draw(st.lists(images, max_size=2)))))
        elif kind == "assistant":
            message = draw(assistant_message(first_ordinal=ordinal))
            ordinal += len(message.tool_calls)
            messages.append(message)
        else:  # results for the first k calls, in call order, each named
            k = draw(st.integers(1, len(open_calls)))
            results = [
                ToolResultPart(c.id, draw(st.text(max_size=8)), name=c.name) for c in open_calls[:k]
            ]
            messages.append(Message.tool(*results))
        open_calls = messages[-1].tool_calls if kind == "assistant" else ()
    return tuple(messages)


def _opt(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


settings = st.builds(
    GenerationSettings,
    temperature=_opt(st.floats(0, 2)),
    top_p=_opt(st.floats(0, 1)),
    top_k=_opt(st.integers(0, 200)),
    min_p=_opt(st.floats(0, 1)),
    repeat_penalty=_opt(st.floats(0.01, 3)),
    presence_penalty=_opt(st.floats(-2, 2)),
    frequency_penalty=_opt(st.floats(-2, 2)),
    seed=_opt(st.integers(-(2**63), 2**63 - 1)),
    max_tokens=_opt(st.integers(1, MAX_TOKENS_LIMIT)),
    stop=st.lists(texts, max_size=4).map(tuple),
    thinking=_opt(st.booleans()),
)
tool_specs = st.lists(names, unique=True, max_size=3).flatmap(
    lambda ns: st.tuples(
        *(
            st.builds(
                ToolSpec,
                name=st.just(n),
                description=st.just("") | texts,
                parameters=st.just({"type": "object", "properties": {}})
                | st.just(
                    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
                ),
            )
            for n in ns
        )
    )
)
requests = st.builds(ChatRequest, messages=conversations(), settings=settings, tools=tool_specs)


@given(requests, st.booleans())
def test_request_round_trip(request: ChatRequest, stream: bool) -> None:
    body = request_to_wire(request, model="qwen3", stream=stream)
    json.dumps(body)  # plain JSON
    assert request_from_wire(body) == WireRequest("qwen3", request, stream)


def _stop(draw: st.DrawFn, has_calls: bool) -> StopReason:
    natural: StopReason = "tool_use" if has_calls else "end_turn"
    return draw(st.sampled_from([natural, "max_tokens"]))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    message = draw(assistant_message(first_ordinal=0, any_index=False))
    usage = Usage(draw(st.integers(0, 10**7)), draw(st.integers(0, 10**7)))
    model = draw(names)
    return Response(message, _stop(draw, bool(message.tool_calls)), usage, model=model)


@given(responses())
def test_response_round_trip(response: Response) -> None:
    assert response.model is not None
    body = response_to_wire(response, model=response.model, response_id="ignored")
    json.dumps(body)
    assert response_from_wire(body) == response


@st.composite
def streams(draw: st.DrawFn) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    calls = 0
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["text", "thinking", "call"]))
        if kind == "text":
            events.append(TextDelta(draw(texts)))
        elif kind == "thinking":
            events.append(ThinkingDelta(draw(texts)))
        else:
            call = draw(tool_call(position=calls, ordinal=calls, any_index=False))
            events.append(ToolCallEvent(call))
            calls += 1
    usage = Usage(draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)))
    events.append(Done(_stop(draw, calls > 0), usage, model="qwen3"))
    return events


@given(streams(), st.data())
def test_encoded_stream_decodes_to_the_same_events_however_the_bytes_are_cut(
    events: list[StreamEvent], data: st.DataObject
) -> None:
    encoder = StreamEncoder(model="qwen3", response_id="r", clock=lambda: 0)  # same bytes
    lines = [chunk.data for e in events for chunk in encoder.encode(e)]
    payload = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=6)))
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    ndjson, decoder = NDJSONDecoder(), StreamDecoder()
    decoded: list[StreamEvent] = []
    for piece in pieces:
        for obj in ndjson.feed(piece):
            decoded.extend(decoder.feed(obj))
    for obj in ndjson.finish():
        decoded.extend(decoder.feed(obj))
    decoded.extend(decoder.finish())
    assert decoded == events


wire_calls = st.lists(
    st.builds(
        lambda call_id, index, name, args: {
            **({"id": call_id} if call_id else {}),
            "function": {
                **({"index": index} if index is not None else {}),
                "name": name,
                "arguments": args,
            },
        },
        st.none() | real_ids,
        st.none() | st.integers(0, 4),
        names,
        json_objects,
    ),
    min_size=1,
    max_size=4,
)


@given(wire_calls)
def test_wire_tool_calls_survive_decode_history_reencode_byte_for_byte(
    calls: list[JsonValue],
) -> None:
    body: JsonObject = {
        "model": "m",
        "message": {"role": "assistant", "content": "", "tool_calls": calls},
        "done": True,
    }
    response = response_from_wire(body)
    request = ChatRequest((Message.user("q"), response.message))
    messages = request_to_wire(request, model="m", stream=False)["messages"]
    assert isinstance(messages, list) and isinstance(messages[1], dict)
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    assert json.dumps(messages[1]["tool_calls"], **compact) == json.dumps(calls, **compact)  # type: ignore[arg-type]
