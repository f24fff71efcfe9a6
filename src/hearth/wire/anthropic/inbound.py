"""Anthropic Messages API: validating a request body the server receives.

Every mistake raises :class:`~hearth.errors.InvalidRequestError` whose message starts with the
path of the offending field (``messages[2].content[0].tool_use_id: expected a string, got
null``). Blocks and tools hearth cannot carry (documents, server tools, image URLs) raise
:class:`~hearth.errors.UnsupportedFeatureError` naming the field, as do top-level fields that
would change the answer (``mcp_servers``, ``container``). Fields that only label or route a
request (``metadata``, ``service_tier``, ``cache_control``, ``citations``, …) are ignored.

Structured outputs: ``output_config.format`` (generally available; what the ``anthropic`` SDK
sends, also for ``messages.parse(output_format=SomeModel)``) or the beta's top-level
``output_format``, each ``{"type": "json_schema", "schema": {...}}`` →
``ChatRequest.response_format = OutputFormat("json_schema", schema)``. The schema is checked
(:func:`hearth._schema.check_schema`, as on the OpenAI route): an invalid one is an
InvalidRequestError naming ``output_config.format.schema``. The answer is then an ordinary text
block holding the JSON. Both fields at once must carry the same schema. Of ``output_config``'s
other keys, ``effort`` is taken when it is ``"high"`` (Anthropic's default, so nothing changes);
any other effort and any other key (``task_budget``, …) is refused by name.

Mapping to hearth: ``system`` → one leading system message (a string → one TextPart, a list of
text blocks → one TextPart each); a user message holding only ``tool_result`` blocks → a ``tool``
message; ``tool_use.input`` → compact JSON text; a ``tool_result`` whose content is a list of
text blocks → their texts joined with newlines; ``thinking`` ``{"type": "enabled",
"budget_tokens": N}`` → ``thinking=True, thinking_budget=N``, ``adaptive`` → ``thinking=True``,
``disabled`` → ``thinking=False``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import NoReturn

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
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
from hearth.request import ChatRequest, OutputFormat, ToolChoice, ToolSpec
from hearth.settings import GenerationSettings, wire_fields
from hearth.wire.anthropic.blocks import dump_input
from hearth.wire.base import WireRequest

_ROLE_BLOCKS: dict[str, frozenset[str]] = {
    "user": frozenset({"text", "image", "tool_result"}),
    "assistant": frozenset({"text", "thinking", "redacted_thinking", "tool_use"}),
}
_CHOICES: dict[str, ToolChoice] = {"auto": "auto", "any": "required", "none": "none"}


# ------------------------------------------------------------------------ typed field access


def _fail(path: str, problem: str) -> NoReturn:
    raise InvalidRequestError(f"{path}: {problem}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _object(value: JsonValue, path: str) -> JsonObject:
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {_json_type(value)}")
    return value


def _list(value: JsonValue, path: str) -> list[JsonValue]:
    if not isinstance(value, list):
        _fail(path, f"expected an array, got {_json_type(value)}")
    return value


def _string(value: JsonValue, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {_json_type(value)}")
    return value


def _integer(value: JsonValue, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"expected an integer, got {_json_type(value)}")
    return value


def _number(value: JsonValue, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(path, f"expected a number, got {_json_type(value)}")
    return value


def _boolean(value: JsonValue, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, f"expected true or false, got {_json_type(value)}")
    return value


# ---------------------------------------------------------------------------------- blocks


def _text_block(block: JsonObject, path: str) -> Part:
    return TextPart(_string(block.get("text"), f"{path}.text"))


def _image_block(block: JsonObject, path: str) -> Part:
    source = _object(block.get("source"), f"{path}.source")
    kind = _string(source.get("type"), f"{path}.source.type")
    if kind in ("url", "file"):
        raise UnsupportedFeatureError(
            f"{path}.source.type: {kind!r} image sources are not supported; send the image "
            "inline as base64 (hearth does not fetch URLs or files)"
        )
    if kind != "base64":
        _fail(f"{path}.source.type", f"unknown image source type {kind!r}; expected 'base64'")
    media_type = _string(source.get("media_type"), f"{path}.source.media_type")
    if not media_type.startswith("image/"):
        _fail(f"{path}.source.media_type", f"expected an image/* type, got {media_type!r}")
    data = _string(source.get("data"), f"{path}.source.data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        _fail(f"{path}.source.data", "is not valid base64")
    return ImagePart(raw, media_type)


def _tool_use_block(block: JsonObject, path: str) -> Part:
    raw = block.get("input", {})
    return ToolCallPart(
        _string(block.get("id"), f"{path}.id"),
        _string(block.get("name"), f"{path}.name"),
        dump_input(_object(raw, f"{path}.input")),
    )


def _tool_result_content(value: JsonValue, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    texts: list[str] = []
    for i, item in enumerate(_list(value, path)):
        block = _object(item, f"{path}[{i}]")
        kind = _string(block.get("type"), f"{path}[{i}].type")
        if kind != "text":
            raise UnsupportedFeatureError(
                f"{path}[{i}].type: hearth tool results carry text only, got a {kind!r} block"
            )
        texts.append(_string(block.get("text"), f"{path}[{i}].text"))
    return "\n".join(texts)


def _tool_result_block(block: JsonObject, path: str) -> Part:
    is_error = block.get("is_error")
    return ToolResultPart(
        _string(block.get("tool_use_id"), f"{path}.tool_use_id"),
        _tool_result_content(block.get("content"), f"{path}.content"),
        is_error=False if is_error is None else _boolean(is_error, f"{path}.is_error"),
    )


def _thinking_block(block: JsonObject, path: str) -> Part:
    text = _string(block.get("thinking"), f"{path}.thinking")
    signature = block.get("signature")
    sig = None if signature is None else _string(signature, f"{path}.signature")
    return ThinkingPart(text, sig or None)


def _redacted_block(block: JsonObject, path: str) -> Part:
    return ThinkingPart("", _string(block.get("data"), f"{path}.data"), redacted=True)


_BLOCKS: dict[str, Callable[[JsonObject, str], Part]] = {
    "text": _text_block,
    "image": _image_block,
    "tool_use": _tool_use_block,
    "tool_result": _tool_result_block,
    "thinking": _thinking_block,
    "redacted_thinking": _redacted_block,
}


def _block(value: JsonValue, path: str, role: str) -> Part:
    block = _object(value, path)
    kind = _string(block.get("type"), f"{path}.type")
    parse = _BLOCKS.get(kind)
    if parse is None:
        raise UnsupportedFeatureError(
            f"{path}.type: {kind!r} blocks are not supported; hearth carries {', '.join(_BLOCKS)}"
        )
    if kind not in _ROLE_BLOCKS[role]:
        article = "an" if role == "assistant" else "a"
        _fail(f"{path}.type", f"{article} {role} message cannot hold a {kind} block")
    return parse(block, path)


# -------------------------------------------------------------------------------- messages


def _message(value: JsonValue, path: str) -> Message:
    item = _object(value, path)
    role = _string(item.get("role"), f"{path}.role")
    if role not in _ROLE_BLOCKS:
        hint = " (system prompts go in the top-level system field)" if role == "system" else ""
        _fail(f"{path}.role", f"unknown role {role!r}; expected 'user' or 'assistant'{hint}")
    content = item.get("content")
    if isinstance(content, str):
        parts: tuple[Part, ...] = (TextPart(content),)
    elif isinstance(content, list):
        parts = tuple(_block(b, f"{path}.content[{j}]", role) for j, b in enumerate(content))
    else:
        _fail(f"{path}.content", f"expected a string or an array, got {_json_type(content)}")
    if role == "user" and parts and all(isinstance(p, ToolResultPart) for p in parts):
        return Message("tool", parts)
    return Message("assistant" if role == "assistant" else "user", parts)


def _system(value: JsonValue) -> tuple[Message, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (Message.system(value),)
    if not isinstance(value, list):
        _fail("system", f"expected a string or an array of text blocks, got {_json_type(value)}")
    parts: list[Part] = []
    for i, item in enumerate(value):
        block = _object(item, f"system[{i}]")
        kind = _string(block.get("type"), f"system[{i}].type")
        if kind != "text":
            _fail(f"system[{i}].type", f"system blocks must be text, got {kind!r}")
        parts.append(_text_block(block, f"system[{i}]"))
    return (Message("system", tuple(parts)),) if parts else ()


def _messages(value: JsonValue) -> tuple[Message, ...]:
    if value is None:
        _fail("messages", "is required")
    items = _list(value, "messages")
    if not items:
        _fail("messages", "must hold at least one message")
    return tuple(_message(m, f"messages[{i}]") for i, m in enumerate(items))


# ----------------------------------------------------------------------- tools and settings


def _tool(value: JsonValue, path: str) -> ToolSpec:
    spec = _object(value, path)
    kind = spec.get("type")
    if kind is not None and kind != "custom":
        raise UnsupportedFeatureError(
            f"{path}.type: Anthropic server tool {kind!r} is not supported; hearth runs "
            "custom tools (name, description, input_schema) only"
        )
    description = spec.get("description")
    return ToolSpec(
        _string(spec.get("name"), f"{path}.name"),
        "" if description is None else _string(description, f"{path}.description"),
        _object(spec.get("input_schema"), f"{path}.input_schema"),
    )


def _tools(value: JsonValue) -> tuple[ToolSpec, ...]:
    if value is None:
        return ()
    tools = tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(_list(value, "tools")))
    seen: set[str] = set()
    for i, spec in enumerate(tools):
        if spec.name in seen:
            _fail(f"tools[{i}].name", f"duplicate tool name {spec.name!r}")
        seen.add(spec.name)
    return tools


def _tool_choice(value: JsonValue, tools: tuple[ToolSpec, ...]) -> ToolChoice:
    if value is None:
        return "auto"
    choice = _object(value, "tool_choice")
    kind = _string(choice.get("type"), "tool_choice.type")
    if kind in _CHOICES:
        return _CHOICES[kind]
    if kind != "tool":
        _fail("tool_choice.type", f"unknown type {kind!r}; expected auto, any, none or tool")
    name = _string(choice.get("name"), "tool_choice.name")
    if name not in {t.name for t in tools}:
        _fail("tool_choice.name", f"{name!r} names no tool in tools")
    return name


def _thinking(value: JsonValue) -> tuple[bool | None, int | None]:
    if value is None:
        return None, None
    config = _object(value, "thinking")
    kind = _string(config.get("type"), "thinking.type")
    if kind == "disabled":
        return False, None
    if kind == "adaptive":
        return True, None
    if kind != "enabled":
        _fail("thinking.type", f"unknown type {kind!r}; expected enabled, disabled or adaptive")
    budget = _integer(config.get("budget_tokens"), "thinking.budget_tokens")
    if budget < 0:
        _fail("thinking.budget_tokens", f"must not be negative, got {budget}")
    return True, budget


def _settings(body: JsonObject) -> GenerationSettings:
    """Each number with an Anthropic field in the settings table (``max_tokens`` required),
    ``stop_sequences`` and ``thinking``."""
    if body.get("max_tokens") is None:
        _fail("max_tokens", "is required")
    values: dict[str, object] = {}
    for setting, key in wire_fields("anthropic"):
        value = body.get(key)
        if setting.kind in (int, float) and value is not None:
            values[setting.name] = (_integer if setting.kind is int else _number)(value, key)
    max_tokens = values["max_tokens"]
    if isinstance(max_tokens, int) and max_tokens < 1:
        _fail("max_tokens", f"must be at least 1, got {max_tokens}")
    stops = body.get("stop_sequences")
    stop = () if stops is None else _list(stops, "stop_sequences")
    thinking, budget = _thinking(body.get("thinking"))
    return GenerationSettings(
        **values,  # type: ignore[arg-type]
        stop=tuple(_string(s, f"stop_sequences[{i}]") for i, s in enumerate(stop)),
        thinking=thinking,
        thinking_budget=budget,
        parallel_tool_calls=_parallel(body.get("tool_choice")),
    )


def _parallel(choice: JsonValue) -> bool | None:
    """``tool_choice.disable_parallel_tool_use`` as ``parallel_tool_calls`` (None: unset)."""
    if not isinstance(choice, dict) or choice.get("disable_parallel_tool_use") is None:
        return None
    value = choice["disable_parallel_tool_use"]
    if not isinstance(value, bool):
        _fail("tool_choice.disable_parallel_tool_use", f"must be true or false, got {value!r}")
    return not value


# ------------------------------------------------------------------------- structured output

_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_DEFAULT_EFFORT = "high"
_OUTPUT_CONFIG_KEYS = frozenset({"format", "effort"})


def _json_schema_format(value: JsonValue, path: str) -> OutputFormat:
    fmt = _object(value, path)
    kind = _string(fmt.get("type"), f"{path}.type")
    if kind != "json_schema":
        _fail(f"{path}.type", f"unknown type {kind!r}; expected 'json_schema'")
    if fmt.get("schema") is None:
        _fail(f"{path}.schema", "is required: the JSON schema the answer must match")
    schema = _object(fmt.get("schema"), f"{path}.schema")
    from hearth._schema import check_schema

    check_schema(schema, what=f"{path}.schema")
    return OutputFormat("json_schema", schema=schema)


def _effort(value: JsonValue) -> None:
    if value is None:
        return
    effort = _string(value, "output_config.effort")
    if effort not in _EFFORTS:
        _fail(
            "output_config.effort",
            f"unknown effort {effort!r}; expected one of {', '.join(_EFFORTS)}",
        )
    if effort != _DEFAULT_EFFORT:
        raise UnsupportedFeatureError(
            f"output_config.effort: hearth has no effort setting: every answer is made at "
            f"Anthropic's default effort ({_DEFAULT_EFFORT!r}), got {effort!r}; leave effort out "
            "(to change how much the model reasons, use thinking)"
        )


def _output_config(value: JsonValue) -> OutputFormat | None:
    if value is None:
        return None
    config = _object(value, "output_config")
    for key, item in config.items():
        if key not in _OUTPUT_CONFIG_KEYS and item is not None:
            raise UnsupportedFeatureError(
                f"output_config.{key}: hearth honours output_config.format (and effort "
                f"{_DEFAULT_EFFORT!r}) only; leave {key} out"
            )
    _effort(config.get("effort"))
    fmt = config.get("format")
    return None if fmt is None else _json_schema_format(fmt, "output_config.format")


def _response_format(body: JsonObject) -> OutputFormat | None:
    """``output_config.format`` (generally available) or the structured-outputs beta's
    top-level ``output_format`` (its older name): ``{"type": "json_schema", "schema": …}``."""
    current = _output_config(body.get("output_config"))
    if body.get("output_format") is None:
        return current
    legacy = _json_schema_format(body.get("output_format"), "output_format")
    if current is not None and current != legacy:
        _fail(
            "output_format",
            "differs from output_config.format; send the schema once, as output_config.format "
            "(output_format is the beta's older name for it)",
        )
    return legacy


_REFUSED: tuple[tuple[str, str], ...] = (
    ("mcp_servers", "hearth does not connect to MCP servers; send tools instead"),
    ("container", "hearth has no code-execution container; leave it out"),
)
"""Fields that change the answer, so ignoring them would answer a different request."""


def _refuse_unsupported(body: JsonObject) -> None:
    for key, why in _REFUSED:
        if body.get(key) not in (None, {}, []):
            raise UnsupportedFeatureError(f"{key}: {why}")


def parse_request(body: JsonObject, model: str | None) -> WireRequest:
    """Validate an inbound Messages API body (see the module docstring)."""
    body = _object(body, "body")
    _refuse_unsupported(body)
    name = body.get("model")
    if name is None:
        if model is None:
            _fail("model", "is required")
        name = model
    stream = body.get("stream")
    settings = _settings(body)
    tools = _tools(body.get("tools"))
    request = ChatRequest(
        messages=_system(body.get("system")) + _messages(body.get("messages")),
        settings=settings,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_format=_response_format(body),
    )
    return WireRequest(
        model=_string(name, "model"),
        request=request,
        stream=False if stream is None else _boolean(stream, "stream"),
    )
