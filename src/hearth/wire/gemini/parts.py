"""Gemini parts, finish reasons and usage ↔ hearth, shared by requests, responses and streams.

Parts (hearth → Gemini, and back):

* :class:`TextPart` ↔ ``{"text"}``; ``signature`` ↔ the part's ``thoughtSignature``.
* :class:`ThinkingPart` ↔ ``{"text", "thought": true}`` (+ ``thoughtSignature``). Redacted
  thinking (Anthropic's encrypted blocks) has no Gemini form and is left out.
* :class:`ImagePart` ↔ ``{"inlineData": {"mimeType", "data": base64}}``, in user and model turns
  alike (image models answer with images). Inline data that is not an image is refused in a
  request the server receives and skipped in a provider's answer.
* :class:`ToolCallPart` ↔ ``{"functionCall": {"name", "args", "id"}}`` (+ ``thoughtSignature``);
  ``arguments`` is ``args`` as compact JSON text.
* :class:`ToolResultPart` ↔ ``{"functionResponse": {"name", "response", "id"}}``; ``response``
  is ``{"result": content}`` (``{"error": content}`` when ``is_error``).

Keys come out in the order the API itself writes them (the proto field order: the data field,
then ``thought``, then ``thoughtSignature``; ``name``, ``args``/``response``, ``id``), so a part
the API sent is re-encoded byte for byte. What Gemini says that hearth's parts have no field
for travels in the part's ``meta`` (keys below); hearth ignores it, this module reads it back.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict, deque
from typing import Literal

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import StopReason, Usage
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Meta,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.wire.gemini import shapes

META_THOUGHT = "gemini_thought"
"""``False``: the part carried an explicit ``"thought": false`` stamp."""
META_SYNTHETIC_ID = "gemini_synthetic_id"
"""``True``: Gemini sent no ``id``; hearth made one up (``call_<n>``) and leaves it out again."""
META_NO_ARGS = "gemini_no_args"
"""``True``: the ``functionCall`` had no ``args`` key (hearth's ``arguments`` is ``"{}"``)."""
META_RAW_RESPONSE = "gemini_raw_response"
"""``True``: ``functionResponse.response`` was not ``{"result"|"error": <string>}``; the tool
result's ``content`` is that object's JSON text, sent back as the object."""

_CONTENT_FILTER = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_TOOL_ERROR = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
_FINISH_TO_WIRE: dict[StopReason, str] = {
    "end_turn": "STOP",
    "tool_use": "STOP",
    "stop_sequence": "STOP",
    "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "cancelled": "OTHER",
    "tool_error": "MALFORMED_FUNCTION_CALL",
}
FINISH_REASONS = frozenset(
    {"STOP", "MAX_TOKENS", "OTHER", "LANGUAGE", "FINISH_REASON_UNSPECIFIED"}
    | _CONTENT_FILTER
    | _TOOL_ERROR
)
"""The ``finishReason`` values Gemini documents (a ``stop_detail`` the encoders write back)."""


def dump_args(value: JsonValue) -> str:
    """Arguments as hearth keeps them: compact JSON text, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- hearth → Gemini -------------------------------------------------------------------------


def _stamp(part: JsonObject, meta: Meta, signature: str | None) -> JsonObject:
    if meta is not None and meta.get(META_THOUGHT) is False:
        part["thought"] = False
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def _flag(meta: Meta, key: str) -> bool:
    return meta is not None and meta.get(key) is True


def text_to_wire(part: TextPart) -> JsonObject:
    return _stamp({"text": part.text}, part.meta, part.signature)


def thinking_to_wire(part: ThinkingPart) -> JsonObject | None:
    """A thought part, or None for redacted thinking (no Gemini form)."""
    if part.redacted:
        return None
    wire: JsonObject = {"text": part.text, "thought": True}
    if part.signature is not None:
        wire["thoughtSignature"] = part.signature
    return wire


def image_to_wire(part: ImagePart) -> JsonObject:
    data = base64.b64encode(part.data).decode("ascii")
    return {"inlineData": {"mimeType": part.media_type, "data": data}}


def call_to_wire(part: ToolCallPart) -> JsonObject:
    call: JsonObject = {"name": part.name}
    if not _flag(part.meta, META_NO_ARGS) or part.arguments.strip() not in ("", "{}"):
        call["args"] = part.parsed_arguments()
    if not _flag(part.meta, META_SYNTHETIC_ID):
        call["id"] = part.id
    return _stamp({"functionCall": call}, part.meta, part.signature)


def result_to_wire(part: ToolResultPart, name: str, *, with_id: bool) -> JsonObject:
    response: JsonObject = {"error" if part.is_error else "result": part.content}
    if _flag(part.meta, META_RAW_RESPONSE):
        try:
            raw = json.loads(part.content)
        except ValueError:
            raw = None
        if isinstance(raw, dict):
            response = raw
    result: JsonObject = {"name": name, "response": response}
    if with_id:
        result["id"] = part.call_id
    return {"functionResponse": result}


def finish_reason_to_wire(reason: StopReason, detail: str | None = None) -> str:
    """``detail`` (a ``stop_detail``) when it is a Gemini reason that reads back as ``reason``,
    so Gemini's own reason survives a round trip; else the usual one for ``reason``."""
    if detail in FINISH_REASONS:
        has_calls = reason == "tool_use"
        if finish_reason_from_wire(detail, has_calls=has_calls) == reason:
            return detail
    return _FINISH_TO_WIRE[reason]


def usage_to_wire(usage: Usage) -> JsonObject:
    wire: JsonObject = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.thinking_tokens, 0),
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_tokens:
        wire["cachedContentTokenCount"] = usage.cached_tokens
    if usage.thinking_tokens:
        wire["thoughtsTokenCount"] = usage.thinking_tokens
    return wire


# --- Gemini → hearth -------------------------------------------------------------------------


def finish_reason_from_wire(reason: str | None, *, has_calls: bool) -> StopReason:
    """MAX_TOKENS → max_tokens; the safety family → content_filter; a call Gemini rejected
    (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS) → tool_error; any
    other reason (STOP, none, OTHER, unknown ones) → tool_use when the answer holds function
    calls, else end_turn. The reason itself is kept as ``stop_detail``."""
    if reason == "MAX_TOKENS":
        return "max_tokens"
    if reason in _CONTENT_FILTER:
        return "content_filter"
    if reason in _TOOL_ERROR:
        return "tool_error"
    return "tool_use" if has_calls else "end_turn"


def usage_from_wire(usage: shapes.UsageMetadata | None) -> Usage:
    """Gemini counts thoughts apart from candidates; hearth's output holds both. Tool-use
    prompt tokens (search results and the like) are input."""
    if usage is None:
        return Usage()
    return Usage(
        input_tokens=usage.prompt_token_count + usage.tool_use_prompt_token_count,
        output_tokens=usage.candidates_token_count + usage.thoughts_token_count,
        cached_tokens=usage.cached_content_token_count,
        thinking_tokens=usage.thoughts_token_count,
    )


Side = Literal["user", "model"]


class PartDecoder:
    """Turns Gemini parts into hearth parts, for one request, response or stream.

    It numbers function calls by position so a call without an ``id`` gets ``call_<n>``, and
    remembers those calls so a later ``functionResponse`` without an ``id`` takes the id of the
    oldest unanswered call of the same name (Gemini matches them by name and order).

    ``strict`` (requests the server receives): a part hearth cannot carry raises, naming it by
    ``path``. Otherwise (provider responses) such parts are skipped.
    """

    def __init__(self, *, strict: bool) -> None:
        self._strict = strict
        self._count = 0
        self._unanswered: defaultdict[str, deque[str]] = defaultdict(deque)

    def decode(self, part: shapes.Part, *, side: Side, path: str) -> Part | None:
        """The hearth part for ``part`` in a ``side`` turn, or None when it is skipped."""
        if part.function_call is not None:
            ok = self._allows(side, "model", f"{path}.functionCall")
            return self._call(part.function_call, part) if ok else None
        if part.function_response is not None:
            ok = self._allows(side, "user", f"{path}.functionResponse")
            return self._result(part.function_response) if ok else None
        if part.inline_data is not None:
            return self._inline(part.inline_data, path)
        if part.thought is True:
            ok = self._allows(side, "model", f"{path}.thought")
            return ThinkingPart(part.text or "", part.thought_signature) if ok else None
        if part.text is not None or part.thought_signature is not None:
            meta: Meta = {META_THOUGHT: False} if part.thought is False else None
            return TextPart(part.text or "", part.thought_signature, meta)
        if self._strict:
            raise _unknown_part(part, path)
        return None

    def _inline(self, blob: shapes.Blob, path: str) -> ImagePart | None:
        """An image, in a user or a model turn; other inline data (audio, …) has no hearth
        part: refused inbound, skipped in a provider's answer."""
        if not self._strict and not blob.mime_type.startswith("image/"):
            return None
        return _image(blob, path)

    def _allows(self, side: Side, allowed: Side, path: str) -> bool:
        """Whether this kind of part may sit in a ``side`` turn; strict decoders raise instead
        of answering no."""
        if side == allowed:
            return True
        if self._strict:
            who = "a model turn" if allowed == "model" else "a user turn"
            raise InvalidRequestError(f"{path}: only {who} can hold this part")
        return False

    def _call(self, call: shapes.FunctionCall, part: shapes.Part) -> ToolCallPart:
        meta: dict[str, JsonValue] = {}
        call_id = call.id
        if call_id is None:
            call_id = f"call_{self._count}"
            meta[META_SYNTHETIC_ID] = True
            self._unanswered[call.name].append(call_id)
        self._count += 1
        if call.args is None:
            meta[META_NO_ARGS] = True
        if part.thought is False:
            meta[META_THOUGHT] = False
        arguments = "{}" if call.args is None else dump_args(call.args)
        return ToolCallPart(call_id, call.name, arguments, part.thought_signature, meta or None)

    def _result(self, response: shapes.FunctionResponse) -> ToolResultPart:
        meta: dict[str, JsonValue] = {}
        content, is_error = _result_content(response.response)
        if content is None:
            content = dump_args(response.response or {})
            meta[META_RAW_RESPONSE] = True
        call_id = response.id
        if call_id is None:
            meta[META_SYNTHETIC_ID] = True
            waiting = self._unanswered[response.name]
            if waiting:
                call_id = waiting.popleft()
            else:
                call_id = f"call_{self._count}"
                self._count += 1
        return ToolResultPart(call_id, content, is_error, response.name, meta or None)


def decode_parts(
    decoder: PartDecoder, parts: list[shapes.Part], *, side: Side, path: str
) -> list[Part]:
    out: list[Part] = []
    for j, wire in enumerate(parts):
        part = decoder.decode(wire, side=side, path=f"{path}[{j}]")
        if part is not None:
            out.append(part)
    return out


def _result_content(response: shapes.Object | None) -> tuple[str | None, bool]:
    if response is not None and len(response) == 1:
        key, value = next(iter(response.items()))
        if key in ("result", "error") and isinstance(value, str):
            return value, key == "error"
    return None, False


def _image(blob: shapes.Blob, path: str) -> ImagePart:
    if not blob.mime_type.startswith("image/"):
        raise UnsupportedFeatureError(
            f"{path}.inlineData.mimeType: hearth carries only images inline, got {blob.mime_type!r}"
        )
    padded = blob.data + "=" * (-len(blob.data) % 4)
    for altchars in (None, b"-_"):  # standard or URL-safe alphabet, as the API accepts
        try:
            data = base64.b64decode(padded, altchars=altchars, validate=True)
            break
        except (binascii.Error, ValueError):
            continue
    else:
        raise InvalidRequestError(f"{path}.inlineData.data: not valid base64")
    return ImagePart(data, blob.mime_type)


def _unknown_part(part: shapes.Part, path: str) -> InvalidRequestError:
    kinds = sorted(part.model_extra or {})
    if "fileData" in kinds or "file_data" in kinds:
        return UnsupportedFeatureError(
            f"{path}.fileData: hearth does not fetch files by URI; send the image as inlineData"
        )
    if kinds:
        return UnsupportedFeatureError(f"{path}: unsupported part kind {', '.join(kinds)}")
    return InvalidRequestError(
        f"{path}: a part needs one of text, inlineData, functionCall or functionResponse"
    )
