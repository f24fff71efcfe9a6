"""Chat Completions messages (and the field readers every inbound body uses), read into hearth
Messages: for the server's inbound requests (:mod:`hearth.wire.openai.inbound`) and for the
OpenAI-style dict messages the Python API accepts (:mod:`hearth.dict_messages`). Every problem
is an InvalidRequestError whose message starts with the field's path."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

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
from hearth.wire.openai.shapes import DETAIL_META, REFUSAL_META

_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S)
_ROLES = ("system", "developer", "user", "assistant", "tool")
_EFFORT_THINKING = {"none": False, "minimal": False, "low": True, "medium": True, "high": True}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _bad(path: str, expected: str, value: object) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: expected {expected}, got {_type_name(value)}")


def _get(
    obj: JsonObject, key: str, path: str, check: Callable[[object], bool], expected: str
) -> JsonValue:
    value = obj.get(key)
    if value is not None and not check(value):
        raise _bad(f"{path}{key}", expected, value)
    return value


def _str(obj: JsonObject, key: str, path: str, *, required: bool = False) -> str | None:
    value = _get(obj, key, path, lambda v: isinstance(v, str), "a string")
    if required and value is None:
        raise InvalidRequestError(f"{path}{key}: required")
    return value if isinstance(value, str) else None


def _num(obj: JsonObject, key: str, path: str = "") -> float | None:
    value = _get(
        obj, key, path,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number",
    )  # fmt: skip
    return float(value) if isinstance(value, int | float) else None


def _int(obj: JsonObject, key: str, path: str = "") -> int | None:
    value = _get(
        obj, key, path, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
    )
    return value if isinstance(value, int) else None


def _obj(obj: JsonObject, key: str, path: str) -> JsonObject | None:
    value = _get(obj, key, path, lambda v: isinstance(v, dict), "an object")
    return value if isinstance(value, dict) else None


def _list(obj: JsonObject, key: str, path: str) -> list[JsonValue] | None:
    value = _get(obj, key, path, lambda v: isinstance(v, list), "an array")
    return value if isinstance(value, list) else None


def _objects(items: list[JsonValue], path: str) -> list[JsonObject]:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"{path}[{i}]", "an object", item)
    return [item for item in items if isinstance(item, dict)]


def _messages(raw: list[JsonObject]) -> tuple[Message, ...]:
    out: list[Message] = []
    for i, item in enumerate(raw):
        add_message(out, item, f"messages[{i}].")
    return tuple(out)


def add_message(out: list[Message], item: JsonObject, path: str) -> None:
    """Append the Message of one Chat Completions message ``item`` to ``out``; a tool result
    joins the tool message just before it. ``path`` (``messages[2].``) starts every error."""
    role = _str(item, "role", path, required=True)
    if role not in _ROLES:
        raise InvalidRequestError(
            f"{path}role: unknown role {role!r}; expected one of {', '.join(_ROLES)}"
        )
    if role == "tool":
        result = _tool_result(item, path)
        if out and out[-1].role == "tool":
            out[-1] = Message("tool", (*out[-1].parts, result))
        else:
            out.append(Message("tool", (result,)))
    elif role == "assistant":
        out.append(Message("assistant", _assistant(item, path)))
    elif role == "user":
        out.append(Message("user", _content(item, path, images=True)))
    else:
        out.append(Message("system", (TextPart(_text_only(item, path)),)))


def _content(item: JsonObject, path: str, *, images: bool) -> tuple[Part, ...]:
    content = item.get("content")
    if isinstance(content, str):
        return (TextPart(content),)
    if not isinstance(content, list):
        raise _bad(f"{path}content", "a string or an array of content parts", content)
    parts: list[Part] = []
    for j, part in enumerate(_objects(content, f"{path}content")):
        where = f"{path}content[{j}]."
        kind = _str(part, "type", where, required=True)
        if kind == "text":
            parts.append(TextPart(_str(part, "text", where, required=True) or ""))
        elif kind == "image_url" and images:
            parts.append(_image(part, where))
        elif kind in ("image_url", "input_audio", "file"):
            raise UnsupportedFeatureError(
                f"{where}type: {kind} content is not supported in this message"
            )
        else:
            raise InvalidRequestError(f"{where}type: unknown content part type {kind!r}")
    return tuple(parts)


def _text_only(item: JsonObject, path: str) -> str:
    return "".join(p.text for p in _content(item, path, images=False) if isinstance(p, TextPart))


def _image(part: JsonObject, where: str) -> ImagePart:
    spec = _obj(part, "image_url", where)
    if spec is None:
        raise InvalidRequestError(f"{where}image_url: required")
    url = _str(spec, "url", f"{where}image_url.", required=True) or ""
    if url.startswith(("http://", "https://")):
        raise UnsupportedFeatureError(
            f"{where}image_url.url: hearth does not fetch image URLs; send the image inline "
            "as a data: URL (data:image/png;base64,…)"
        )
    found = _DATA_URL.match(url)
    if not found:
        raise InvalidRequestError(f"{where}image_url.url: expected a data:image/…;base64,… URL")
    try:
        data = base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{where}image_url.url: the base64 data is malformed") from None
    detail = _str(spec, "detail", f"{where}image_url.")
    try:
        return ImagePart(data, found["type"], meta={DETAIL_META: detail} if detail else None)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{where}image_url.url: {exc}") from None


def _assistant(item: JsonObject, path: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    reasoning = _str(item, "reasoning_content", path) or _str(item, "reasoning", path)
    if reasoning:
        parts.append(ThinkingPart(reasoning))
    content = item.get("content")
    if content is not None:
        for part in _content(item, path, images=False):
            if not (isinstance(part, TextPart) and not part.text):
                parts.append(part)
    refusal = _str(item, "refusal", path)
    if refusal:
        parts.append(TextPart(refusal, meta={REFUSAL_META: True}))
    calls = _list(item, "tool_calls", path) or []
    for j, call in enumerate(_objects(calls, f"{path}tool_calls")):
        parts.append(_tool_call(call, f"{path}tool_calls[{j}]."))
    return tuple(parts)


def _tool_call(call: JsonObject, path: str) -> ToolCallPart:
    call_id = _str(call, "id", path, required=True) or ""
    kind = _str(call, "type", path)
    if kind not in (None, "function"):
        raise UnsupportedFeatureError(f"{path}type: only function tool calls are supported")
    function = _obj(call, "function", path)
    if function is None:
        raise InvalidRequestError(f"{path}function: required")
    name = _str(function, "name", f"{path}function.", required=True) or ""
    arguments = _str(function, "arguments", f"{path}function.")
    return ToolCallPart(call_id, name, "{}" if arguments is None else arguments)


def _tool_result(item: JsonObject, path: str) -> ToolResultPart:
    call_id = _str(item, "tool_call_id", path, required=True) or ""
    return ToolResultPart(call_id, _text_only(item, path))
