"""The Responses format's codecs: documented transcripts decoded into what a user sees,
inbound bodies read (and refused by name), reasoning items kept byte for byte, and the round
trips of docs/wire.md (requests, responses, streams)."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth._sse import SSEDecoder
from hearth.errors import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ProviderError,
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
from hearth.request import ChatRequest, OutputFormat, ToolSpec
from hearth.response import Response, accumulate
from hearth.settings import GenerationSettings
from hearth.wire.formats import get_format
from hearth.wire.responses import FORMAT, errors, request, response, stream
from hearth.wire.responses.items import compact

FIXTURES = Path(__file__).parent.parent / "fixtures" / "responses"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def body(name: str) -> JsonObject:
    value = json.loads(fixture(name))
    assert isinstance(value, dict)
    return value


def frames(raw: bytes, cuts: Iterable[int] = ()) -> list[tuple[str | None, JsonObject]]:
    sse = SSEDecoder()
    bounds = [0, *sorted(set(cuts)), len(raw)]
    events = [e for a, b in itertools.pairwise(bounds) for e in sse.feed(raw[a:b])]
    events += sse.finish()
    return [(e.event, json.loads(e.data)) for e in events]


def decode(raw: bytes, cuts: Iterable[int] = ()) -> list[StreamEvent]:
    decoder = stream.StreamDecoder()
    out: list[StreamEvent] = []
    for event, data in frames(raw, cuts):
        out += decoder.feed(data, event)
    return out + decoder.finish()


# -- the registry -----------------------------------------------------------------------------


def test_the_format_is_registered_with_its_paths() -> None:
    fmt = get_format("responses")
    assert fmt is FORMAT and fmt.http.path == "/responses" and fmt.serve is not None
    assert fmt.raw is None and fmt.embed is None


# -- documented answers -----------------------------------------------------------------------


def test_a_text_response() -> None:
    r = response.response_from_wire(body("response_text.json"))
    assert r.text.startswith("In a peaceful grove beneath a silver moon")
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(36, 87, 0, 0)
    assert r.model == "gpt-4.1-2025-04-14" and r.response_id.startswith("resp_67cc")  # type: ignore[union-attr]


def test_reasoning_and_a_function_call() -> None:
    r = response.response_from_wire(body("response_reasoning_tool.json"))
    (call,) = r.tool_calls
    assert call.id == "call_12345xyz" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "Paris, France"}
    assert r.stop_reason == "tool_use"
    assert r.thinking.startswith("**Checking the weather**")
    assert r.usage == Usage(81, 214, cached_tokens=64, thinking_tokens=192)


def test_reasoning_items_go_back_byte_for_byte() -> None:
    """Decode → history → re-encode: the reasoning item (with its encrypted_content) and the
    function call's ids are sent back exactly as they came."""
    wire = body("response_reasoning_tool.json")
    r = response.response_from_wire(wire)
    history = ChatRequest(
        (
            Message.user("Weather in Paris?"),
            r.message,
            Message.tool(ToolResultPart("call_12345xyz", "18°C")),
        )
    )
    sent = request.request_to_wire(history, model="o4-mini", stream=False)
    items = sent["input"]
    assert isinstance(items, list) and isinstance(wire["output"], list)
    reasoning, _ = wire["output"]
    assert json.dumps(items[1]) == json.dumps(reasoning)
    assert items[2] == {
        "type": "function_call", "id": "fc_6820f3855a788191a9a5fa6b5a7f1e0b0ac5ba57aafcbac7",
        "call_id": "call_12345xyz", "name": "get_weather",
        "arguments": '{"location":"Paris, France"}',
    }  # fmt: skip
    assert items[3] == {"type": "function_call_output", "call_id": "call_12345xyz",
                        "output": "18°C"}  # fmt: skip
    assert sent["store"] is False and sent["include"] == ["reasoning.encrypted_content"]


def test_an_incomplete_and_a_failed_response() -> None:
    r = response.response_from_wire(body("response_incomplete.json"))
    assert r.stop_reason == "max_tokens" and r.text == "Once upon a time, in a land far"
    with pytest.raises(ServerError, match="failed to generate"):
        response.response_from_wire(body("response_failed.json"))


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("error_authentication_401.json", 401, AuthenticationError),
        ("error_context_length_400.json", 400, ContextLengthExceededError),
        ("error_previous_not_found_400.json", 400, InvalidRequestError),
    ],
)
def test_errors(name: str, status: int, error: type[Exception]) -> None:
    exc = errors.error_from_wire(status, body(name), {})
    assert isinstance(exc, error)


# -- streams ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cuts", [(), range(5, 4000, 37)])
def test_a_documented_text_stream(cuts: Iterable[int]) -> None:
    events = decode(fixture("stream_text.sse"), cuts)
    r = accumulate(events)
    assert r.text == "Hi there! How can I assist you today?"
    assert r.usage.input_tokens == 37 and r.stop_reason == "end_turn"
    assert json.loads(r.message.parts[0].signature or "") == {  # type: ignore[union-attr]
        "id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654"
    }


def test_a_streamed_reasoning_summary_and_call_equal_the_answer() -> None:
    streamed = accumulate(decode(fixture("stream_reasoning_tool.sse")))
    (call,) = streamed.tool_calls
    assert call.name == "get_weather" and call.arguments == '{"location":"Paris, France"}'
    assert streamed.thinking.startswith("**Checking the weather**")
    assert "\n\n**Calling the tool**" in streamed.thinking
    thinking = streamed.message.parts[0]
    assert isinstance(thinking, ThinkingPart)
    item = json.loads(thinking.signature or "")
    assert item["encrypted_content"].startswith("gAAAA")
    # the same item goes back as the non-streamed answer's would
    assert thinking.text == "\n\n".join(s["text"] for s in item["summary"])
    assert streamed.stop_reason == "tool_use" and streamed.usage.thinking_tokens == 192


def test_a_stream_failing_midway_raises_and_a_cut_one_too() -> None:
    with pytest.raises(ServerError, match="midway"):
        decode(fixture("stream_error_midway.sse"))
    with pytest.raises(ProviderError, match=r"ended before response\.completed"):
        decode(fixture("stream_truncated.sse"))


# -- inbound ----------------------------------------------------------------------------------


def test_inbound_items_become_messages() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    call = request.parse({
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": url, "detail": "low"},
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e30="},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "look",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
        ],
        "max_output_tokens": 64, "temperature": 0.5, "reasoning": {"effort": "minimal"},
    })  # fmt: skip
    req = call.chat_request()
    system, dev, user, assistant, tool = req.messages
    assert system == Message.system("Be brief.") and dev == Message.system("Use tools.")
    assert user.text == "What is this?" and user.images[0].data == PNG
    thinking, called = assistant.parts
    assert isinstance(thinking, ThinkingPart)
    assert json.loads(thinking.signature or "")["id"] == "rs_1"
    assert called == ToolCallPart("c1", "look", "{}", meta={"responses_id": "fc_1"})
    assert tool.tool_results == (ToolResultPart("c1", "a cat"),)
    assert req.settings == GenerationSettings(temperature=0.5, max_tokens=64, thinking=False)
    assert [i["type"] for i in call.input_items] == [
        "message", "message", "reasoning", "function_call", "function_call_output"
    ]
    assert all(i["id"] for i in call.input_items)


def test_text_format_and_tools_inbound() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    call = request.parse({
        "model": "m", "input": "hi",
        "text": {"format": {"type": "json_schema", "name": "City", "schema": schema,
                            "strict": True}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"},
                   "strict": True}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": False,
    })  # fmt: skip
    req = call.chat_request()
    assert req.response_format == OutputFormat("json_schema", schema, name="City")
    assert req.tools == (ToolSpec("f", "", {"type": "object"}),) and req.tool_choice == "f"
    assert call.parallel_tool_calls is False and call.echo["parallel_tool_calls"] is False


def image(url: str) -> JsonObject:
    return {"role": "user", "content": [{"type": "input_image", "image_url": url}]}


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ({"tools": [{"type": "web_search"}]}, UnsupportedFeatureError,
         r"tools\[0\]\.type: 'web_search'"),
        ({"tools": [{"type": "mcp", "server_url": "x"}]}, UnsupportedFeatureError, "built-in"),
        ({"include": ["bogus"]}, InvalidRequestError, "unknown value"),
        ({"truncation": "auto"}, UnsupportedFeatureError, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, UnsupportedFeatureError, "prompt:"),
        ({"conversation": "conv_1"}, UnsupportedFeatureError, "previous_response_id"),
        ({"top_logprobs": 21}, InvalidRequestError, "top_logprobs: must be between 0 and 20"),
        ({"text": {"verbosity": "low"}}, UnsupportedFeatureError, "verbosity"),
        ({"reasoning": {"summary": "auto"}}, UnsupportedFeatureError, "summary"),
        ({"tool_choice": {"type": "web_search_preview"}}, UnsupportedFeatureError, "built-in"),
        ({"input": [{"type": "web_search_call", "id": "ws"}]}, UnsupportedFeatureError,
         r"input\[0\]\.type: web_search_call"),
        ({"input": [{"type": "teleport"}]}, InvalidRequestError, "unknown item type 'teleport'"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, UnsupportedFeatureError,
         "previous_response_id"),
        ({"input": [{"role": "wizard", "content": "x"}]}, InvalidRequestError, "unknown role"),
        ({"input": 7}, InvalidRequestError, "input: expected a string or an array"),
        ({"input": [image("data:image/png;base64,aGVsbG8=")]}, InvalidRequestError,
         "not an image"),
        ({"input": [image("https://x/cat.png")]}, UnsupportedFeatureError, "does not fetch"),
        ({"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "objekt"}}}},
         InvalidRequestError, r"text\.format\.schema"),
        ({"metadata": {"k": 5}}, InvalidRequestError, "metadata.k"),
    ],
)
def test_inbound_refusals_name_the_field(
    extra: JsonObject, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        request.parse({"model": "m", "input": "hi", **extra}).chat_request()


def test_a_function_call_output_must_answer_a_call() -> None:
    call = request.parse({
        "model": "m",
        "input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}],
    })
    with pytest.raises(InvalidRequestError, match=r"input\[0\]\.call_id: no function_call"):
        call.chat_request()
    history = (Message.user("hi"), Message.assistant(ToolCallPart("nope", "f")))
    assert call.chat_request(history).messages[-1].tool_results[0].call_id == "nope"


# -- the server's answers read by the openai SDK's accumulator --------------------------------


def test_the_encoded_stream_is_what_the_openai_sdk_accumulates() -> None:
    from openai._models import construct_type
    from openai._types import omit
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.responses import ResponseStreamEvent

    encoder = stream.StreamEncoder(model="m", response_id="resp_1")
    events: list[StreamEvent] = [
        ThinkingDelta("Let me"), ThinkingDelta(" think."), TextDelta("Hel"), TextDelta("lo"),
        ToolCallEvent(ToolCallPart("call_1", "f", '{"a":1}')), Done("tool_use", Usage(5, 3, 2)),
    ]  # fmt: skip
    chunks = encoder.start() + [c for e in events for c in encoder.encode(e)]
    assert [c.data["sequence_number"] for c in chunks if c.data] == list(range(len(chunks)))
    assert all(c.event == (c.data or {}).get("type") for c in chunks)
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for chunk in chunks:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=chunk.data))
    final = state._completed_response
    assert final is not None and final.output_text == "Hello" and final.status == "completed"
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call"]
    assert final.usage.input_tokens_details.cached_tokens == 2  # type: ignore[union-attr]


def test_a_stream_that_fails_ends_with_error_and_response_failed() -> None:
    encoder = stream.StreamEncoder(model="m", response_id="resp_1")
    encoder.start()
    encoder.encode(TextDelta("Hi"))
    chunks = encoder.error(ServerError("upstream broke", status_code=502))
    assert [c.event for c in chunks] == ["error", "response.failed"]
    failed = chunks[1].data["response"]  # type: ignore[index]
    assert failed["status"] == "failed" and "upstream broke" in failed["error"]["message"]  # type: ignore[index,call-overload]


def test_parallel_tool_calls_false_keeps_the_first_call() -> None:
    encoder = stream.StreamEncoder(model="m", response_id="r", single_call=True)
    calls = [ToolCallEvent(ToolCallPart(f"c{i}", "f")) for i in range(3)]
    chunks = [c for e in [*calls, Done("tool_use")] for c in encoder.encode(e)]
    final = chunks[-1].data["response"]  # type: ignore[index]
    assert [o["call_id"] for o in final["output"]] == ["c0"]  # type: ignore[index,union-attr]


# -- round trips ------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
_hex = st.text("0123456789abcdef", min_size=4, max_size=8)
_args = st.dictionaries(st.text(max_size=4), st.integers(), max_size=2).map(json.dumps)
_summary = st.lists(_text.map(lambda t: {"type": "summary_text", "text": t}), max_size=2)
_BOUNDED = settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


@st.composite
def _reasoning(draw: st.DrawFn) -> ThinkingPart:
    """A reasoning item as OpenAI sends it, and the part the decoder makes of it."""
    item: JsonObject = {"id": "rs_" + draw(_hex), "type": "reasoning", "summary": draw(_summary)}
    if draw(st.booleans()):
        item["encrypted_content"] = "gAAAA" + draw(_hex)
    from hearth.wire.responses.items import reasoning_text

    return ThinkingPart(reasoning_text(item), compact(item))


@st.composite
def _call(draw: st.DrawFn) -> ToolCallPart:
    meta = {"responses_id": "fc_" + draw(_hex)} if draw(st.booleans()) else None
    return ToolCallPart("call_" + draw(_hex), draw(st.sampled_from(["f", "g"])), draw(_args),
                        meta=meta)  # fmt: skip


@st.composite
def _assistant(draw: st.DrawFn) -> Message:
    parts: list[ThinkingPart | TextPart | ToolCallPart] = []
    if draw(st.booleans()):
        parts.append(draw(_reasoning()))
    calls = draw(st.lists(_call(), max_size=2, unique_by=lambda c: c.id))
    if draw(st.booleans()) or not calls:
        signature = compact({"id": "msg_" + draw(_hex)}) if draw(st.booleans()) else None
        parts.append(TextPart(draw(_text), signature))
    return Message("assistant", (*parts, *calls))


@st.composite
def _messages(draw: st.DrawFn) -> tuple[Message, ...]:
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message.system(draw(_text)))
    for _ in range(draw(st.integers(1, 2))):
        image = [ImagePart(PNG, "image/png")] if draw(st.booleans()) else []
        out.append(Message.user([TextPart(draw(_text)), *image]))
        assistant = draw(_assistant())
        out.append(assistant)
        if assistant.tool_calls:
            out.append(Message.tool(*(ToolResultPart(c.id, draw(_text))
                                      for c in assistant.tool_calls)))  # fmt: skip
    return tuple(out)


_settings = st.builds(
    GenerationSettings,
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0, 1),
    max_tokens=st.none() | st.integers(1, 4096),
)
_formats = st.sampled_from([
    None, OutputFormat("json"),
    OutputFormat("json_schema", {"type": "object", "properties": {"a": {"type": "integer"}}},
                 name="thing", description="a thing"),
])  # fmt: skip
_TOOLS = (ToolSpec("f", "does f"), ToolSpec("g"))


@_BOUNDED
@given(_messages(), _settings, st.booleans(), st.sampled_from(["auto", "required", "none", "g"]),
       _formats)  # fmt: skip
def test_request_round_trip(
    messages: tuple[Message, ...],
    settings_: GenerationSettings,
    tools: bool,
    choice: str,
    fmt: OutputFormat | None,
) -> None:
    original = ChatRequest(
        messages, settings_, _TOOLS if tools else (), choice if tools else "auto",
        response_format=fmt,
    )  # fmt: skip
    assert FORMAT.serve is not None
    for streamed in (False, True):
        wire = FORMAT.chat.request_to_wire(original, model="m", stream=streamed, options={})
        back = FORMAT.serve.request_from_wire(json.loads(json.dumps(wire)))
        assert back.request == original and back.stream is streamed


@st.composite
def _responses(draw: st.DrawFn) -> Response:
    message = draw(_assistant())
    parts = tuple(
        p if not isinstance(p, TextPart) or p.signature else
        TextPart(p.text, compact({"id": "msg_" + draw(_hex)}))
        for p in message.parts
    )  # fmt: skip
    parts = tuple(
        p if not isinstance(p, ToolCallPart) or p.meta else
        ToolCallPart(p.id, p.name, p.arguments, meta={"responses_id": "fc_" + draw(_hex)})
        for p in parts
    )  # fmt: skip
    stop = "tool_use" if any(isinstance(p, ToolCallPart) for p in parts) else draw(
        st.sampled_from(["end_turn", "max_tokens", "content_filter", "cancelled"]))  # fmt: skip
    usage = draw(st.builds(Usage, *(st.integers(0, 10_000) for _ in range(4))))
    return Response(Message("assistant", parts), stop, usage, model="m", response_id="resp_1")  # type: ignore[arg-type]


@_BOUNDED
@given(_responses())
def test_response_round_trip(answer: Response) -> None:
    """Parts that carry their ids (as a remote answer's do) come back equal."""
    wire = response.response_to_wire(answer, model="m", response_id="resp_1")
    assert response.response_from_wire(json.loads(json.dumps(wire))) == answer


@st.composite
def _events(draw: st.DrawFn) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    if draw(st.booleans()):
        out += [ThinkingDelta(t) for t in draw(st.lists(_text, min_size=1, max_size=3))]
    if draw(st.booleans()):
        out += [TextDelta(t) for t in draw(st.lists(_text, min_size=1, max_size=3))]
    calls = draw(st.lists(_call(), max_size=3, unique_by=lambda c: c.id))
    out += [ToolCallEvent(ToolCallPart(c.id, c.name, c.arguments)) for c in calls]
    stop = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens",
                                                          "content_filter"]))  # fmt: skip
    usage = draw(st.builds(Usage, *(st.integers(0, 10_000) for _ in range(4))))
    out.append(Done(stop, usage, model="m", response_id="resp_1"))  # type: ignore[arg-type]
    return out


@_BOUNDED
@given(_events())
def test_decoding_the_encoded_stream_gives_back_the_events(events: list[StreamEvent]) -> None:
    """What the server's encoder sends, the remote decoder reads back: the same deltas, calls
    and Done, plus each item's identity (the ids the encoder gave it) as signatures."""
    encoder = stream.StreamEncoder(model="m", response_id="resp_1")
    chunks = encoder.start() + [c for e in events for c in encoder.encode(e)]
    decoder = stream.StreamDecoder()
    decoded: list[StreamEvent] = []
    for chunk in chunks:
        assert chunk.data is not None
        decoded += decoder.feed(json.loads(json.dumps(chunk.data)), chunk.event)
    decoded += decoder.finish()
    done_items = [c.data["item"] for c in chunks
                  if c.event == "response.output_item.done" and c.data]  # fmt: skip
    plain: list[StreamEvent] = []
    for event in decoded:
        if isinstance(event, TextDelta | ThinkingDelta) and event.signature:
            assert event.text == ""
            assert json.loads(event.signature)["id"] in {i["id"] for i in done_items}  # type: ignore[index]
        elif isinstance(event, ToolCallEvent):
            calls = {i["id"] for i in done_items if i["type"] == "function_call"}  # type: ignore[index]
            assert (event.call.meta or {}).get("responses_id") in calls
            plain.append(ToolCallEvent(ToolCallPart(event.call.id, event.call.name,
                                                    event.call.arguments)))  # fmt: skip
        else:
            plain.append(event)
    assert plain == events
