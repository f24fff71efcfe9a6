"""Anthropic Messages API requests: hearth → wire for the backend, wire → hearth for the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.errors import InvalidRequestError
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
from hearth.settings import GenerationSettings
from hearth.wire.anthropic import chat as anthropic

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def load(name: str) -> JsonObject:
    body: JsonObject = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return body


def compact(value: JsonValue) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------- inbound fixture


def test_documented_tool_conversation_decodes_for_the_server() -> None:
    wire = anthropic.request_from_wire(load("request_tool_conversation.json"))
    assert wire.model == "claude-sonnet-4-5-20250929"
    assert wire.stream is True
    req = wire.request
    assert [m.role for m in req.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert req.messages[0].parts == (
        TextPart("You are a weather assistant."),
        TextPart("Answer in one sentence."),
    )
    assert req.messages[1].parts == (
        ImagePart(PNG_HEADER, "image/png"),
        TextPart("What's the weather like where this photo was taken, and what time is it there?"),
    )
    assert req.messages[2].parts == (
        ThinkingPart(
            "The photo shows the Golden Gate Bridge, so San Francisco.", "EqQBCgIYAhIMsig1"
        ),
        ThinkingPart("", "EmwKAhgBEgyredacted1", redacted=True),
        TextPart("That's San Francisco; let me check."),
        ToolCallPart(
            "toolu_01A", "get_weather", '{"location":"San Francisco, CA","unit":"celsius"}'
        ),
        ToolCallPart("toolu_01B", "get_time", '{"timezone":"America/Los_Angeles"}'),
    )
    assert req.messages[3].parts == (
        ToolResultPart("toolu_01A", "15 degrees, fog"),
        ToolResultPart("toolu_01B", "08:15\nPDT"),
    )
    assert req.messages[4].parts == (TextPart("It is 08:15 and foggy at 15 degrees."),)
    assert req.messages[5].parts == (
        ToolResultPart("toolu_01C", "service unavailable", is_error=True),
        TextPart("Thanks! And tomorrow?"),
    )
    assert req.settings == GenerationSettings(
        temperature=1.0,
        max_tokens=16000,
        stop=("\n\nHuman:",),
        thinking=True,
        thinking_budget=10000,
        parallel_tool_calls=True,  # tool_choice.disable_parallel_tool_use: false
    )
    assert [t.name for t in req.tools] == ["get_weather", "get_time"]
    assert req.tools[0].description == "Get the current weather in a given location"
    assert req.tools[0].parameters["required"] == ["location"]
    assert req.tools[1].description == ""
    assert req.tool_choice == "auto"


def test_string_content_and_system_and_model_from_the_url() -> None:
    body: JsonObject = {
        "max_tokens": 10,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
    }
    wire = anthropic.request_from_wire(body, model="claude-from-url")
    assert wire.model == "claude-from-url"
    assert wire.stream is False
    assert wire.request.messages == (Message.system("Be brief."), Message.user("Hi"))
    body["model"] = "claude-in-body"
    assert anthropic.request_from_wire(body, model="other").model == "claude-in-body"


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, (True, 2048)),
        ({"type": "disabled"}, (False, None)),
        ({"type": "adaptive"}, (True, None)),
        (None, (None, None)),
    ],
)
def test_thinking_config_inbound(
    thinking: JsonValue, expected: tuple[bool | None, int | None]
) -> None:
    body: JsonObject = {
        "model": "m",
        "max_tokens": 5000,
        "messages": [{"role": "user", "content": "x"}],
    }
    if thinking is not None:
        body["thinking"] = thinking
    got = anthropic.request_from_wire(body).request.settings
    assert (got.thinking, got.thinking_budget) == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "lookup"}, "lookup"),
    ],
)
def test_tool_choice_inbound(choice: JsonValue, expected: str) -> None:
    body: JsonObject = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
        "tool_choice": choice,
    }
    assert anthropic.request_from_wire(body).request.tool_choice == expected


# --------------------------------------------------------------------------------- outbound


def test_request_to_wire_golden() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.user((TextPart("Look:"), ImagePart(PNG_HEADER, "image/png"))),
            Message.assistant(
                (
                    ThinkingPart("hmm", "sig-1"),
                    ThinkingPart("", "opaque", redacted=True),
                    ToolCallPart("toolu_1", "lookup", '{"q": "x", "n": 2}'),
                )
            ),
            Message.tool(
                ToolResultPart("toolu_1", "found", name="lookup"),
                ToolResultPart("toolu_2", "boom", is_error=True),
            ),
        ),
        settings=GenerationSettings(
            temperature=0.5, top_p=0.9, top_k=40, max_tokens=300, stop=("END",), seed=7, min_p=0.1
        ),
        tools=(
            ToolSpec(
                "lookup",
                "Look things up",
                {"type": "object", "properties": {"q": {"type": "string"}}},
            ),
        ),
        tool_choice="lookup",
    )
    assert anthropic.request_to_wire(request, model="claude-x", stream=True) == {
        "model": "claude-x",
        "max_tokens": 300,
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBORw0KGgo=",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "lookup",
                        "input": {"q": "x", "n": 2},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": "boom",
                        "is_error": True,
                    },
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": "Look things up",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "tool", "name": "lookup"},
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "stream": True,
    }


def _body(settings: GenerationSettings, *messages: Message, **kw: object) -> JsonObject:
    request = ChatRequest(messages or (Message.user("hi"),), settings, **kw)  # type: ignore[arg-type]
    return anthropic.request_to_wire(request, model="m", stream=False)


@pytest.mark.parametrize(
    ("settings", "max_tokens", "thinking"),
    [
        (GenerationSettings(), 4096, None),
        (GenerationSettings(max_tokens=10), 10, None),
        (GenerationSettings(thinking=False), 4096, {"type": "disabled"}),
        (
            GenerationSettings(thinking=True),
            4096 + 1024,
            {"type": "enabled", "budget_tokens": 1024},
        ),
        (
            GenerationSettings(thinking=True, thinking_budget=8000),
            4096 + 8000,
            {"type": "enabled", "budget_tokens": 8000},
        ),
        (
            GenerationSettings(thinking=True, thinking_budget=2000, max_tokens=3000),
            3000,
            {"type": "enabled", "budget_tokens": 2000},
        ),
    ],
)
def test_max_tokens_default_and_thinking(
    settings: GenerationSettings, max_tokens: int, thinking: JsonValue
) -> None:
    body = _body(settings)
    assert body["max_tokens"] == max_tokens
    assert body.get("thinking") == thinking
    assert "stream" not in body


def test_settings_anthropic_lacks_are_dropped() -> None:
    body = _body(
        GenerationSettings(
            min_p=0.1, repeat_penalty=1.1, presence_penalty=1.0, frequency_penalty=1.0, seed=3
        )
    )
    assert set(body) == {"model", "max_tokens", "messages"}


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("f", {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_outbound(choice: str, wire: JsonValue) -> None:
    body = _body(GenerationSettings(), tools=(ToolSpec("f"),), tool_choice=choice)
    assert body["tool_choice"] == wire
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert "tools" not in _body(GenerationSettings(), tool_choice="none")


def test_several_system_messages_become_text_blocks() -> None:
    body = _body(
        GenerationSettings(),
        Message.system("a"),
        Message("system", (TextPart("b"), TextPart("c"))),
        Message.user("hi"),
    )
    assert body["system"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "text", "text": "c"},
    ]


def test_system_message_after_the_conversation_started_is_refused() -> None:
    with pytest.raises(
        InvalidRequestError,
        match=r"^messages\[2\]: .*system prompts only before.*follows .* messages\[1\]",
    ):
        _body(
            GenerationSettings(), Message.user("a"), Message.assistant("b"), Message.system("late")
        )


def test_unsigned_thinking_is_not_sent_back() -> None:
    body = _body(
        GenerationSettings(),
        Message.user("a"),
        Message.assistant((ThinkingPart("local model musing"), TextPart("answer"))),
        Message.assistant(ThinkingPart("only unsigned thinking")),
        Message.user("b"),
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
        {"role": "user", "content": [{"type": "text", "text": "b"}]},
    ]


def test_tool_results_in_a_user_message_go_out_as_they_are() -> None:
    body = _body(
        GenerationSettings(), Message.user((ToolResultPart("t1", "ok"), TextPart("next?")))
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                {"type": "text", "text": "next?"},
            ],
        }
    ]


def test_tool_call_arguments_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="not a JSON object"):
        _body(
            GenerationSettings(),
            Message.user("a"),
            Message.assistant(ToolCallPart("t", "f", "[1, 2]")),
        )


# ------------------------------------------------------------------------- round trip


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_nonempty = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)
_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_arguments = st.dictionaries(_text, _json_value, max_size=4).map(compact)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)

_text_part = st.builds(TextPart, _text)
_image_part = st.builds(
    ImagePart,
    st.binary(max_size=32),
    st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
)
_result_part = st.builds(ToolResultPart, _ids, _text, st.booleans())
_thinking_part = st.builds(ThinkingPart, _text, _nonempty) | st.builds(
    lambda sig: ThinkingPart("", sig, redacted=True), _nonempty
)
_call_part = st.builds(ToolCallPart, _ids, _ids, _arguments)


@st.composite
def _user_message(draw: st.DrawFn) -> Message:
    own: list[Part] = draw(st.lists(_text_part | _image_part, min_size=1, max_size=3))
    results: list[Part] = draw(st.lists(_result_part, max_size=2))
    parts = draw(st.permutations(own + results))
    return Message("user", tuple(parts))


_messages = st.one_of(
    _user_message(),
    st.lists(_result_part, min_size=1, max_size=3).map(lambda rs: Message("tool", tuple(rs))),
    st.lists(_text_part | _thinking_part | _call_part, min_size=1, max_size=4).map(
        lambda ps: Message("assistant", tuple(ps))
    ),
)
_tool_specs = st.lists(
    st.builds(
        ToolSpec,
        _ids,
        _text,
        st.dictionaries(_ids, st.just({"type": "string"}), max_size=2).map(
            lambda p: {"type": "object", "properties": p}
        ),
    ),
    max_size=3,
    unique_by=lambda t: t.name,
)
_unit = st.floats(0, 1, allow_nan=False)


@st.composite
def _settings(draw: st.DrawFn) -> GenerationSettings:
    thinking = draw(st.sampled_from([None, False, True]))
    return GenerationSettings(
        temperature=draw(st.none() | _unit),
        top_p=draw(st.none() | _unit),
        top_k=draw(st.none() | st.integers(0, 500)),
        max_tokens=draw(st.integers(1, 200_000)),
        stop=tuple(draw(st.lists(_nonempty, max_size=4))),
        thinking=thinking,
        thinking_budget=draw(st.integers(0, 100_000)) if thinking else None,
    )


@st.composite
def anthropic_requests(draw: st.DrawFn) -> ChatRequest:
    system = draw(st.lists(_text_part, max_size=3))
    messages = draw(st.lists(_messages, min_size=1, max_size=5))
    lead = (Message("system", tuple(system)),) if system else ()
    tools = tuple(draw(_tool_specs))
    names = [t.name for t in tools]
    choice = draw(st.sampled_from(["auto", "required", "none", *names])) if tools else "auto"
    return ChatRequest(lead + tuple(messages), draw(_settings()), tools, choice)


@settings(max_examples=300)
@given(anthropic_requests(), st.booleans())
def test_request_round_trip(request: ChatRequest, stream: bool) -> None:
    body = anthropic.request_to_wire(request, model="claude-rt", stream=stream)
    over_the_wire = json.loads(json.dumps(body))
    wire = anthropic.request_from_wire(over_the_wire)
    assert wire.request == request
    assert (wire.model, wire.stream) == ("claude-rt", stream)
