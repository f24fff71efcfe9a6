"""Messages given as OpenAI-style dicts, turned into :class:`~hearth.messages.Message`.

``m.chat([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}])``
works as with OpenAI's SDK: ``content`` a string or a list of ``text`` / ``image_url`` parts
(images inline, as ``data:`` URLs), assistant ``tool_calls``, ``tool`` messages with their
``tool_call_id``, ``developer`` as a system message. The OpenAI format's inbound translator
(:mod:`hearth.wire.openai.inbound`) reads a request's ``messages`` with :func:`add_message`, so
the dicts mean exactly what they mean to ``hearth serve``. Every problem is an
InvalidRequestError whose message starts with the field's path.

Dicts shaped for another API are refused with what to write instead: Anthropic content blocks
(``tool_use``, ``tool_result``, ``image`` with a ``source``, ``thinking``) and Gemini contents
(``parts``, the ``model`` role).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from hearth import json_fields as checks
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import (
    ImagePart,
    JsonObject,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

MessageDict: TypeAlias = Mapping[str, object]
"""An OpenAI-style chat message: ``{"role": "user", "content": "Hi"}`` and the rest of the
Chat Completions message shapes (see the module docstring)."""

REFUSAL_META = "openai_refusal"
"""The meta key that marks a TextPart as the assistant's ``refusal``."""
DETAIL_META = "openai_detail"
"""The meta key of an ImagePart's ``detail`` (``low`` / ``high``), kept for the way back out."""

_ROLES = ("system", "developer", "user", "assistant", "tool")

_CALL = (
    '{"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", '
    '"function": {"name": "add", "arguments": "{\\"a\\": 2}"}}]}'
)
_ANTHROPIC_BLOCKS = {
    "tool_use": f"write the call OpenAI's way: {_CALL}",
    "tool_result": 'write the result as its own message: {"role": "tool", '
    '"tool_call_id": "call_1", "content": "…"}',
    "image": 'write {"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}',
    "document": "send the document's text as a text part",
    "thinking": "give a hearth.Message whose parts hold a hearth.ThinkingPart",
    "redacted_thinking": "give a hearth.Message whose parts hold a hearth.ThinkingPart",
}


def messages_from_dicts(items: Sequence[Message | MessageDict]) -> tuple[Message, ...]:
    """``items`` as Messages: Messages as they are, OpenAI-style dicts translated. Raises
    :class:`~hearth.errors.InvalidRequestError` naming the item and field that is wrong."""
    out: list[Message] = []
    for i, item in enumerate(items):
        if isinstance(item, Message):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InvalidRequestError(
                f"messages[{i}] is a {type(item).__name__}; give a hearth.Message or an "
                'OpenAI-style dict such as {"role": "user", "content": "Hi"}'
            )
        _check_shape(item, i)
        add_message(out, dict(item), f"messages[{i}].")  # type: ignore[arg-type]
    return tuple(out)


def _check_shape(item: MessageDict, i: int) -> None:
    """Refuse a dict shaped for Anthropic's or Gemini's API, saying what to write instead."""
    if "parts" in item or item.get("role") == "model":
        raise InvalidRequestError(
            f"messages[{i}] is a Gemini content (role/parts); write OpenAI-style dicts: "
            '{"role": "user", "content": "…"}, and "assistant" for the model\'s turns'
        )
    content = item.get("content")
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "image" and isinstance(block, Mapping) and "source" not in block:
            continue  # not Anthropic's image block: the translator says what is wrong
        if isinstance(kind, str) and kind in _ANTHROPIC_BLOCKS:
            raise InvalidRequestError(
                f"messages[{i}].content[{j}] is an Anthropic {kind} block; hearth takes "
                f"OpenAI-style dicts: {_ANTHROPIC_BLOCKS[kind]}"
            )


def add_message(out: list[Message], item: JsonObject, path: str) -> None:
    """Append the Message of one Chat Completions message ``item`` to ``out``; a tool result
    joins the tool message just before it. ``path`` (``messages[2].``) starts every error."""
    role = checks.string(item, "role", path, required=True)
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
    parts: list[Part] = []
    for where, kind, part in checks.content_parts(content, path):
        if kind == "text":
            parts.append(TextPart(checks.string(part, "text", where, required=True) or ""))
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
    spec = checks.obj(part, "image_url", where)
    if spec is None:
        raise InvalidRequestError(f"{where}image_url: required")
    url = checks.string(spec, "url", f"{where}image_url.", required=True) or ""
    media_type, data = checks.data_url(url, f"{where}image_url.url")
    detail = checks.string(spec, "detail", f"{where}image_url.")
    try:
        return ImagePart(data, media_type, meta={DETAIL_META: detail} if detail else None)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{where}image_url.url: {exc}") from None


def _assistant(item: JsonObject, path: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    reasoning = checks.string(item, "reasoning_content", path) or checks.string(
        item, "reasoning", path
    )
    if reasoning:
        parts.append(ThinkingPart(reasoning))
    content = item.get("content")
    if content is not None:
        for part in _content(item, path, images=False):
            if not (isinstance(part, TextPart) and not part.text):
                parts.append(part)
    refusal = checks.string(item, "refusal", path)
    if refusal:
        parts.append(TextPart(refusal, meta={REFUSAL_META: True}))
    calls = checks.array(item, "tool_calls", path) or []
    for j, call in enumerate(checks.objects(calls, f"{path}tool_calls")):
        parts.append(_tool_call(call, f"{path}tool_calls[{j}]."))
    return tuple(parts)


def _tool_call(call: JsonObject, path: str) -> ToolCallPart:
    call_id = checks.string(call, "id", path, required=True) or ""
    kind = checks.string(call, "type", path)
    if kind not in (None, "function"):
        raise UnsupportedFeatureError(f"{path}type: only function tool calls are supported")
    function = checks.obj(call, "function", path)
    if function is None:
        raise InvalidRequestError(f"{path}function: required")
    name = checks.string(function, "name", f"{path}function.", required=True) or ""
    arguments = checks.string(function, "arguments", f"{path}function.")
    return ToolCallPart(call_id, name, "{}" if arguments is None else arguments)


def _tool_result(item: JsonObject, path: str) -> ToolResultPart:
    call_id = checks.string(item, "tool_call_id", path, required=True) or ""
    return ToolResultPart(call_id, _text_only(item, path))
