"""Conversations as versioned JSON, and a readable transcript.

>>> text = dumps(messages)            # {"format": "hearth.conversation", "version": 1, ...}
>>> loads(text) == list(messages)
True

Every field of every part round-trips exactly: reasoning text with its opaque ``signature``,
``redacted`` thinking, tool-call ids and raw argument text, and each part's provider ``meta``.
Image bytes are stored as base64. A document from a newer format version is refused with a
message that says so, rather than half-read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence

from hearth.errors import InvalidRequestError
from hearth.messages import (
    ROLES,
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    Meta,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

FORMAT = "hearth.conversation"
VERSION = 1


class HistoryFormatError(InvalidRequestError):
    """A conversation document is not valid hearth conversation JSON."""


def part_to_data(part: Part) -> JsonObject:
    """One part as a JSON object, discriminated by ``kind``; absent optional fields omitted."""
    data: JsonObject = {"kind": part.kind}
    if isinstance(part, TextPart):
        data["text"] = part.text
        _put(data, "signature", part.signature)
    elif isinstance(part, ImagePart):
        data["media_type"] = part.media_type
        data["data"] = base64.b64encode(part.data).decode("ascii")
    elif isinstance(part, ThinkingPart):
        data["text"] = part.text
        _put(data, "signature", part.signature)
        if part.redacted:
            data["redacted"] = True
    elif isinstance(part, ToolCallPart):
        data.update(id=part.id, name=part.name, arguments=part.arguments)
        _put(data, "signature", part.signature)
    else:
        data.update(call_id=part.call_id, content=part.content)
        if part.is_error:
            data["is_error"] = True
        _put(data, "name", part.name)
    if part.meta is not None:
        data["meta"] = dict(part.meta)
    return data


def part_from_data(data: Mapping[str, JsonValue]) -> Part:
    """The inverse of :func:`part_to_data`."""
    kind = data.get("kind")
    meta = _meta(data)
    try:
        if kind == "text":
            return TextPart(_str(data, "text"), _opt_str(data, "signature"), meta)
        if kind == "image":
            raw = base64.b64decode(_str(data, "data"), validate=True)
            return ImagePart(raw, _str(data, "media_type"), meta)
        if kind == "thinking":
            redacted = bool(data.get("redacted", False))
            return ThinkingPart(_str(data, "text"), _opt_str(data, "signature"), redacted, meta)
        if kind == "tool_call":
            return ToolCallPart(
                _str(data, "id"),
                _str(data, "name"),
                _str(data, "arguments"),
                _opt_str(data, "signature"),
                meta,
            )
        if kind == "tool_result":
            return ToolResultPart(
                _str(data, "call_id"),
                _str(data, "content"),
                bool(data.get("is_error", False)),
                _opt_str(data, "name"),
                meta,
            )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, HistoryFormatError):
            raise
        raise HistoryFormatError(f"a {kind} part is malformed: {exc}") from exc
    raise HistoryFormatError(
        f"unknown part kind {kind!r}; expected text, image, thinking, tool_call or tool_result"
    )


def message_to_data(message: Message) -> JsonObject:
    return {"role": message.role, "parts": [part_to_data(p) for p in message.parts]}


def message_from_data(data: Mapping[str, JsonValue]) -> Message:
    role = data.get("role")
    parts = data.get("parts")
    if role not in ROLES:
        raise HistoryFormatError(f"unknown message role {role!r}; expected one of {ROLES}")
    if not isinstance(parts, list):
        raise HistoryFormatError("a message needs a 'parts' list")
    return Message(role, tuple(part_from_data(_obj(p)) for p in parts))


def messages_to_data(messages: Iterable[Message]) -> list[JsonValue]:
    return [message_to_data(m) for m in messages]


def messages_from_data(data: JsonValue) -> list[Message]:
    if not isinstance(data, list):
        raise HistoryFormatError("'messages' must be a list")
    return [message_from_data(_obj(m)) for m in data]


def to_document(messages: Iterable[Message], **extra: JsonValue) -> JsonObject:
    """The versioned document: format, version, any ``extra`` fields, then the messages."""
    doc: JsonObject = {"format": FORMAT, "version": VERSION}
    doc.update(extra)
    doc["messages"] = messages_to_data(messages)
    return doc


def from_document(doc: JsonValue) -> list[Message]:
    """The messages of a document made by :func:`to_document`; checks format and version."""
    obj = _obj(doc)
    if obj.get("format") != FORMAT:
        raise HistoryFormatError(f"not a hearth conversation (format is {obj.get('format')!r})")
    version = obj.get("version")
    if not isinstance(version, int) or version < 1:
        raise HistoryFormatError(f"bad conversation format version {version!r}")
    if version > VERSION:
        raise HistoryFormatError(
            f"this conversation was written by a newer hearth (format version {version}; this "
            f"one reads up to {VERSION}); upgrade hearth to read it"
        )
    return messages_from_data(obj.get("messages"))


def dumps(messages: Iterable[Message], *, indent: int | None = None, **extra: JsonValue) -> str:
    """A conversation as versioned JSON text."""
    return json.dumps(to_document(messages, **extra), ensure_ascii=False, indent=indent)


def loads(text: str) -> list[Message]:
    """Messages from :func:`dumps` output."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryFormatError(f"conversation JSON is not valid JSON: {exc}") from exc
    return from_document(doc)


def transcript(messages: Sequence[Message], *, max_chars: int | None = 2000) -> str:
    """A human-readable view: one block per message; long contents cut with a visible note."""
    blocks = [_transcript_block(m, max_chars) for m in messages]
    return "\n\n".join(b for b in blocks if b)


def _transcript_block(message: Message, max_chars: int | None) -> str:
    lines: list[str] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            lines.append(_clip(part.text, max_chars))
        elif isinstance(part, ThinkingPart):
            body = "[redacted]" if part.redacted else _clip(part.text, max_chars)
            lines.append(f"(thinking) {body}")
        elif isinstance(part, ImagePart):
            lines.append(f"[image {part.media_type}, {len(part.data)} bytes]")
        elif isinstance(part, ToolCallPart):
            lines.append(f"→ {part.name}({_clip(part.arguments, max_chars)})  [{part.id}]")
        else:
            flag = " (error)" if part.is_error else ""
            lines.append(f"← [{part.call_id}]{flag} {_clip(part.content, max_chars)}")
    return f"{message.role}:\n" + "\n".join("  " + ln.replace("\n", "\n  ") for ln in lines)


def _clip(text: str, max_chars: int | None) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[:max_chars] + f" […{len(text) - max_chars} more characters]"


def _put(data: JsonObject, key: str, value: str | None) -> None:
    if value is not None:
        data[key] = value


def _obj(value: JsonValue) -> JsonObject:
    if not isinstance(value, dict):
        raise HistoryFormatError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, JsonValue], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise HistoryFormatError(f"field {key!r} must be a string, got {value!r:.60}")
    return value


def _opt_str(data: Mapping[str, JsonValue], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise HistoryFormatError(f"field {key!r} must be a string or absent, got {value!r:.60}")
    return value


def _meta(data: Mapping[str, JsonValue]) -> Meta:
    meta = data.get("meta")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise HistoryFormatError("a part's 'meta' must be a JSON object")
    return meta
