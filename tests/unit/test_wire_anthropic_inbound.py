"""Anthropic Messages API bodies the server receives: every mistake is an InvalidRequestError
naming the field, blocks hearth cannot carry are UnsupportedFeatureError, fields hearth does not
model are tolerated."""

from __future__ import annotations

import copy
from types import EllipsisType

import pytest

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject, JsonValue, Message
from hearth.wire.anthropic import chat as anthropic


def _base() -> JsonObject:
    return {
        "model": "claude-test",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


def _with(path: str, value: JsonValue | EllipsisType) -> JsonObject:
    """The base body with the field at a dotted path (``messages.0.content.0.text``) replaced;
    the value ``...`` deletes it."""
    body = copy.deepcopy(_base())
    node: JsonValue = body
    *parents, last = path.split(".")
    for key in parents:
        if isinstance(node, list):
            node = node[int(key)]
        else:
            assert isinstance(node, dict)
            node = node[key]
    if isinstance(value, EllipsisType):
        assert isinstance(node, dict)
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        assert isinstance(node, dict)
        node[last] = value
    return body


def _assistant_block(block: JsonValue) -> JsonObject:
    return _with("messages", [{"role": "assistant", "content": [block]}])


def _image(source: JsonValue) -> JsonObject:
    return _with("messages.0.content.0", {"type": "image", "source": source})


B64 = "iVBORw0KGgo="
BAD_BODIES: list[tuple[str, JsonObject, str]] = [
    ("model missing", _with("model", ...), r"^model: is required"),
    ("model wrong type", _with("model", 3), r"^model: expected a string, got an integer"),
    ("messages missing", _with("messages", ...), r"^messages: is required"),
    ("messages empty", _with("messages", []), r"^messages: must hold at least one message"),
    ("messages not array", _with("messages", "hi"), r"^messages: expected an array, got a string"),
    ("message not object", _with("messages.0", "hi"), r"^messages\[0\]: expected an object"),
    (
        "system role",
        _with("messages.0.role", "system"),
        r"^messages\[0\]\.role: unknown role 'system'.*top-level system",
    ),
    ("tool role", _with("messages.0.role", "tool"), r"^messages\[0\]\.role: unknown role 'tool'"),
    (
        "role not string",
        _with("messages.0.role", 5),
        r"^messages\[0\]\.role: expected a string, got an integer",
    ),
    (
        "content number",
        _with("messages.0.content", 5),
        r"^messages\[0\]\.content: expected a string or an array",
    ),
    (
        "content missing",
        _with("messages.0.content", ...),
        r"^messages\[0\]\.content: expected a string or an array, got null",
    ),
    (
        "block no type",
        _with("messages.0.content.0", {"text": "x"}),
        r"^messages\[0\]\.content\[0\]\.type: expected a string, got null",
    ),
    (
        "text null",
        _with("messages.0.content.0.text", None),
        r"^messages\[0\]\.content\[0\]\.text: expected a string, got null",
    ),
    (
        "tool_use in user",
        _with("messages.0.content.0", {"type": "tool_use", "id": "a", "name": "b", "input": {}}),
        r"^messages\[0\]\.content\[0\]\.type: a user message cannot hold a tool_use block",
    ),
    (
        "tool_result in assistant",
        _assistant_block({"type": "tool_result", "tool_use_id": "a"}),
        r"^messages\[0\]\.content\[0\]\.type: an assistant message cannot hold a tool_result",
    ),
    (
        "tool_result id missing",
        _with("messages.0.content.0", {"type": "tool_result", "content": "x"}),
        r"^messages\[0\]\.content\[0\]\.tool_use_id: expected a string, got null",
    ),
    (
        "tool_result is_error string",
        _with(
            "messages.0.content.0", {"type": "tool_result", "tool_use_id": "a", "is_error": "yes"}
        ),
        r"\.is_error: expected true or false, got a string",
    ),
    (
        "tool_result content number",
        _with("messages.0.content.0", {"type": "tool_result", "tool_use_id": "a", "content": 7}),
        r"\.content\[0\]\.content: expected an array, got an integer",
    ),
    (
        "tool_use input string",
        _assistant_block({"type": "tool_use", "id": "a", "name": "f", "input": "{}"}),
        r"^messages\[0\]\.content\[0\]\.input: expected an object, got a string",
    ),
    (
        "tool_use name missing",
        _assistant_block({"type": "tool_use", "id": "a", "input": {}}),
        r"\.content\[0\]\.name: expected a string, got null",
    ),
    (
        "thinking text missing",
        _assistant_block({"type": "thinking", "signature": "s"}),
        r"\.content\[0\]\.thinking: expected a string, got null",
    ),
    (
        "thinking signature number",
        _assistant_block({"type": "thinking", "thinking": "t", "signature": 1}),
        r"\.content\[0\]\.signature: expected a string",
    ),
    (
        "redacted data missing",
        _assistant_block({"type": "redacted_thinking"}),
        r"\.content\[0\]\.data: expected a string, got null",
    ),
    (
        "image bad base64",
        _image({"type": "base64", "media_type": "image/png", "data": "not base64!"}),
        r"\.source\.data: is not valid base64",
    ),
    (
        "image not image type",
        _image({"type": "base64", "media_type": "text/plain", "data": B64}),
        r"\.source\.media_type: expected an image/\* type",
    ),
    (
        "image source unknown",
        _image({"type": "telepathy"}),
        r"\.source\.type: unknown image source type 'telepathy'",
    ),
    (
        "image source missing",
        _with("messages.0.content.0", {"type": "image"}),
        r"\.content\[0\]\.source: expected an object, got null",
    ),
    ("max_tokens missing", _with("max_tokens", ...), r"^max_tokens: is required"),
    ("max_tokens zero", _with("max_tokens", 0), r"^max_tokens: must be at least 1, got 0"),
    ("max_tokens negative", _with("max_tokens", -5), r"^max_tokens: must be at least 1, got -5"),
    (
        "max_tokens string",
        _with("max_tokens", "100"),
        r"^max_tokens: expected an integer, got a string",
    ),
    (
        "max_tokens bool",
        _with("max_tokens", True),
        r"^max_tokens: expected an integer, got a boolean",
    ),
    (
        "max_tokens float",
        _with("max_tokens", 10.5),
        r"^max_tokens: expected an integer, got a number",
    ),
    (
        "temperature string",
        _with("temperature", "hot"),
        r"^temperature: expected a number, got a string",
    ),
    ("temperature out of range", _with("temperature", -1), r"temperature must be in"),
    ("top_p string", _with("top_p", "all"), r"^top_p: expected a number"),
    ("top_k float", _with("top_k", 1.5), r"^top_k: expected an integer, got a number"),
    (
        "stop_sequences string",
        _with("stop_sequences", "x"),
        r"^stop_sequences: expected an array, got a string",
    ),
    (
        "stop_sequence number",
        _with("stop_sequences", ["a", 1]),
        r"^stop_sequences\[1\]: expected a string, got an integer",
    ),
    ("stream string", _with("stream", "yes"), r"^stream: expected true or false, got a string"),
    (
        "system number",
        _with("system", 5),
        r"^system: expected a string or an array of text blocks, got an integer",
    ),
    (
        "system image block",
        _with("system", [{"type": "image"}]),
        r"^system\[0\]\.type: system blocks must be text, got 'image'",
    ),
    (
        "system text missing",
        _with("system", [{"type": "text"}]),
        r"^system\[0\]\.text: expected a string, got null",
    ),
    ("tools object", _with("tools", {"name": "x"}), r"^tools: expected an array, got an object"),
    (
        "tool name missing",
        _with("tools", [{"input_schema": {}}]),
        r"^tools\[0\]\.name: expected a string, got null",
    ),
    (
        "tool schema missing",
        _with("tools", [{"name": "f"}]),
        r"^tools\[0\]\.input_schema: expected an object, got null",
    ),
    (
        "tool description number",
        _with("tools", [{"name": "f", "description": 1, "input_schema": {}}]),
        r"^tools\[0\]\.description: expected a string",
    ),
    (
        "tool names repeat",
        _with("tools", [{"name": "f", "input_schema": {}}, {"name": "f", "input_schema": {}}]),
        r"^tools\[1\]\.name: duplicate tool name 'f'",
    ),
    (
        "tool_choice string",
        _with("tool_choice", "auto"),
        r"^tool_choice: expected an object, got a string",
    ),
    (
        "tool_choice type unknown",
        _with("tool_choice", {"type": "sometimes"}),
        r"^tool_choice\.type: unknown type 'sometimes'",
    ),
    (
        "tool_choice unknown tool",
        _with("tool_choice", {"type": "tool", "name": "nope"}),
        r"^tool_choice\.name: 'nope' names no tool",
    ),
    (
        "tool_choice name missing",
        _with("tool_choice", {"type": "tool"}),
        r"^tool_choice\.name: expected a string, got null",
    ),
    (
        "thinking no budget",
        _with("thinking", {"type": "enabled"}),
        r"^thinking\.budget_tokens: expected an integer, got null",
    ),
    (
        "thinking negative budget",
        _with("thinking", {"type": "enabled", "budget_tokens": -1}),
        r"^thinking\.budget_tokens: must not be negative",
    ),
    (
        "thinking type unknown",
        _with("thinking", {"type": "on"}),
        r"^thinking\.type: unknown type 'on'",
    ),
    (
        "thinking string",
        _with("thinking", "enabled"),
        r"^thinking: expected an object, got a string",
    ),
]


@pytest.mark.parametrize(("case", "body", "pattern"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_inbound_bodies_name_the_field(case: str, body: JsonObject, pattern: str) -> None:
    with pytest.raises(InvalidRequestError, match=pattern):
        anthropic.request_from_wire(body)


def test_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidRequestError, match=r"^body: expected an object, got an array"):
        anthropic.request_from_wire([])  # type: ignore[arg-type]


UNSUPPORTED: list[tuple[str, JsonObject, str]] = [
    (
        "image url",
        _image({"type": "url", "url": "https://example.com/a.png"}),
        r"\.source\.type: 'url' image sources are not supported",
    ),
    (
        "image file",
        _image({"type": "file", "file_id": "file_1"}),
        r"\.source\.type: 'file' image sources",
    ),
    (
        "document block",
        _with("messages.0.content.0", {"type": "document", "source": {}}),
        r"^messages\[0\]\.content\[0\]\.type: 'document' blocks are not supported",
    ),
    (
        "server tool",
        _with("tools", [{"type": "web_search_20250305", "name": "web_search"}]),
        r"^tools\[0\]\.type: Anthropic server tool 'web_search_20250305'",
    ),
    (
        "image in tool result",
        _with(
            "messages.0.content.0",
            {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "image"}]},
        ),
        r"\.content\[0\]\.content\[0\]\.type: hearth tool results carry text only",
    ),
]


@pytest.mark.parametrize(("case", "body", "pattern"), UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED])
def test_blocks_hearth_cannot_carry_are_unsupported(
    case: str, body: JsonObject, pattern: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=pattern):
        anthropic.request_from_wire(body)


def test_fields_hearth_does_not_model_are_tolerated() -> None:
    body = _base()
    body.update(
        metadata={"user_id": "u"},
        service_tier="auto",
        container=None,
        mcp_servers=[],
        some_future_field={"x": 1},
        temperature=None,
        stop_sequences=None,
    )
    body["messages"] = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "hi",
                    "cache_control": {"type": "ephemeral"},
                    "citations": None,
                }
            ],
        }
    ]
    assert anthropic.request_from_wire(body).request.messages == (Message.user("hi"),)
