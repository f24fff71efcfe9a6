"""Gemini REST (``generateContent`` / ``streamGenerateContent?alt=sse``) ↔ hearth, both ways.

The model is named in the URL path (``models/{model}:generateContent``), not in the body: the
backend builds the URL, the server passes the path's model to :func:`request_from_wire`.

Requests:

* Leading system messages ↔ ``systemInstruction`` (one Content of text parts; inbound it becomes
  one system message). A system message after another kind of message is refused.
* ``user`` ↔ role ``user``; ``assistant`` ↔ role ``model``; a ``tool`` message ↔ a ``user``
  Content of ``functionResponse`` parts (inbound, a user Content holding only function responses
  becomes a ``tool`` message). Parts: see :mod:`hearth.wire.gemini.parts`.
* A function call without an ``id`` gets ``call_<n>`` (n: its position among the request's or
  answer's calls) and ``meta`` saying so, and goes back out without one. A tool result whose
  call had no id goes out without one too, and its ``name`` comes from the call when missing.
* Settings, tools and tool choice: see :mod:`hearth.wire.gemini.config`.

Responses: ``candidates[0]`` (others ignored) → the assistant message; ``finishReason`` →
StopReason (:func:`~hearth.wire.gemini.parts.finish_reason_from_wire`), the reason itself kept
as ``stop_detail`` (and written back by the encoders); a prompt blocked by
``promptFeedback.blockReason`` (no candidates) → an empty message with ``content_filter``
(``stop_detail``: the block reason);
``usageMetadata`` → Usage; ``modelVersion`` / ``responseId`` → ``model`` / ``response_id``.
Unknown fields, part kinds and finish reasons are tolerated.

Streams live in :mod:`hearth.wire.gemini.stream`, errors in :mod:`hearth.wire.gemini.errors`.
"""

from __future__ import annotations

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
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.base import WireRequest
from hearth.wire.gemini import logprobs as gemini_logprobs
from hearth.wire.gemini import shapes
from hearth.wire.gemini.config import (
    response_format_from_wire,
    settings_from_wire,
    settings_to_wire,
    tool_choice_from_wire,
    tool_choice_to_wire,
    tools_from_wire,
    tools_to_wire,
)
from hearth.wire.gemini.errors import error_from_wire, error_to_wire
from hearth.wire.gemini.output import gemini_response_config
from hearth.wire.gemini.parts import (
    META_SYNTHETIC_ID,
    PartDecoder,
    Side,
    call_to_wire,
    decode_parts,
    finish_reason_from_wire,
    finish_reason_to_wire,
    image_to_wire,
    result_to_wire,
    text_to_wire,
    thinking_to_wire,
    usage_from_wire,
    usage_to_wire,
)
from hearth.wire.gemini.stream import StreamDecoder, StreamEncoder

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "error_from_wire",
    "error_to_wire",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
]


# --- requests: hearth → Gemini ---------------------------------------------------------------


def request_to_wire(request: ChatRequest, *, model: str, stream: bool) -> JsonObject:
    """The ``generateContent`` body. ``model`` and ``stream`` choose the URL
    (``models/{model}:streamGenerateContent?alt=sse`` when streaming), not the body."""
    del model, stream  # both live in the URL the backend builds
    system: list[JsonValue] = []
    contents: list[JsonValue] = []
    encoder = _MessageEncoder()
    for i, message in enumerate(request.messages):
        if message.role == "system":
            if contents:
                raise InvalidRequestError(
                    f"messages[{i}]: Gemini takes system instructions only before the "
                    "conversation (systemInstruction); move it to the start"
                )
            system.extend(text_to_wire(p) for p in message.parts if isinstance(p, TextPart))
            continue
        contents.append(encoder.content(message, i))
    body: JsonObject = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = tools_to_wire(request.tools)
    if tools:
        body["tools"] = tools
    tool_config = tool_choice_to_wire(request.tool_choice)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    config = settings_to_wire(request.settings)
    if request.response_format is not None:
        config.update(gemini_response_config(request.response_format))
    if config:
        body["generationConfig"] = config
    return body


class _MessageEncoder:
    """Encodes messages in order, remembering each tool call so a later result can take the
    call's name (``functionResponse.name`` is required) and know whether its id was made up."""

    def __init__(self) -> None:
        self._calls: dict[str, ToolCallPart] = {}

    def content(self, message: Message, index: int) -> JsonObject:
        parts = self.parts(message, index)
        if not parts:
            raise InvalidRequestError(
                f"messages[{index}]: a {message.role} message with nothing Gemini can carry; "
                "Gemini needs at least one part per turn"
            )
        role = "model" if message.role == "assistant" else "user"
        return {"role": role, "parts": parts}

    def parts(self, message: Message, index: int) -> list[JsonValue]:
        parts: list[JsonValue] = []
        for j, part in enumerate(message.parts):
            wire = self._part(part, f"messages[{index}].parts[{j}]")
            if wire is not None:
                parts.append(wire)
        return parts

    def _part(self, part: Part, path: str) -> JsonObject | None:
        if isinstance(part, TextPart):
            return text_to_wire(part)
        if isinstance(part, ThinkingPart):
            return thinking_to_wire(part)
        if isinstance(part, ImagePart):
            return image_to_wire(part)
        if isinstance(part, ToolCallPart):
            self._calls[part.id] = part
            return call_to_wire(part)
        return self._result(part, path)

    def _result(self, part: ToolResultPart, path: str) -> JsonObject:
        call = self._calls.get(part.call_id)
        name = part.name or (call.name if call is not None else None)
        if name is None:
            raise InvalidRequestError(
                f"{path}: the tool result for call {part.call_id!r} has no name and no earlier "
                "tool call has that id; Gemini's functionResponse needs the function name"
            )
        synthetic = _synthetic(part) or (call is not None and _synthetic(call))
        return result_to_wire(part, name, with_id=not synthetic)


def _synthetic(part: ToolCallPart | ToolResultPart) -> bool:
    return part.meta is not None and part.meta.get(META_SYNTHETIC_ID) is True


# --- requests: Gemini → hearth ---------------------------------------------------------------


def request_from_wire(
    body: JsonObject, *, model: str | None = None, stream: bool = False
) -> WireRequest:
    """An inbound ``generateContent`` body. ``model`` is the URL's (``models/`` prefix
    optional); ``stream`` is True for ``:streamGenerateContent``. Every problem raises
    InvalidRequestError (UnsupportedFeatureError for what hearth cannot do) naming the field."""
    shape = shapes.parse(shapes.Request, body, inbound="request")
    name = model or shape.model
    if not name:
        raise InvalidRequestError(
            "model: Gemini names the model in the URL path (models/{model}:generateContent)"
        )
    if shape.cached_content:
        raise UnsupportedFeatureError(
            "cachedContent: hearth has no Gemini context caches; send the contents inline"
        )
    decoder = PartDecoder(strict=True)
    messages = _system_from_wire(shape.system_instruction, decoder)
    if not shape.contents:
        raise InvalidRequestError("contents: at least one content is required")
    for i, content in enumerate(shape.contents):
        messages.append(_content_from_wire(content, decoder, f"contents[{i}]"))
    tools = tools_from_wire(shape.tools)
    choice = tool_choice_from_wire(shape.tool_config, [t.name for t in tools])
    settings = settings_from_wire(shape.generation_config)
    output = response_format_from_wire(shape.generation_config)
    request = ChatRequest(tuple(messages), settings, tools, choice, output)
    return WireRequest(name.removeprefix("models/"), request, stream)


def _system_from_wire(content: shapes.Content | None, decoder: PartDecoder) -> list[Message]:
    if content is None or not content.parts:
        return []
    parts = decode_parts(decoder, content.parts, side="user", path="systemInstruction.parts")
    for j, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise InvalidRequestError(
                f"systemInstruction.parts[{j}]: a system instruction holds only text"
            )
    return [Message("system", tuple(parts))]


def _content_from_wire(content: shapes.Content, decoder: PartDecoder, path: str) -> Message:
    role = content.role or "user"
    if role not in ("user", "model", "function"):
        raise InvalidRequestError(f"{path}.role: expected 'user' or 'model', got {role!r}")
    if not content.parts:
        raise InvalidRequestError(f"{path}.parts: a content needs at least one part")
    side: Side = "model" if role == "model" else "user"
    parts = decode_parts(decoder, content.parts, side=side, path=f"{path}.parts")
    if side == "model":
        return Message("assistant", tuple(parts))
    if all(isinstance(p, ToolResultPart) for p in parts):
        return Message("tool", tuple(parts))
    return Message("user", tuple(parts))


# --- responses -------------------------------------------------------------------------------


def response_to_wire(response: Response, *, model: str, response_id: str) -> JsonObject:
    """A ``GenerateContentResponse``: one candidate, or one per answer (``candidateCount``)."""
    answers = response.choices or (response,)
    return {
        "candidates": [_candidate(answer, i) for i, answer in enumerate(answers)],
        "usageMetadata": usage_to_wire(response.usage),
        "modelVersion": model,
        "responseId": response_id,
    }


def _candidate(answer: Response, index: int) -> JsonObject:
    parts = _MessageEncoder().parts(answer.message, 0)
    candidate: JsonObject = {}
    if parts:
        candidate["content"] = {"parts": parts, "role": "model"}
    candidate["finishReason"] = finish_reason_to_wire(answer.stop_reason, answer.stop_detail)
    candidate["index"] = index
    if answer.logprobs:
        candidate["logprobsResult"] = gemini_logprobs.to_wire(answer.logprobs)
    return candidate


def response_from_wire(body: JsonObject) -> Response:
    """A ``GenerateContentResponse`` from Gemini. Tolerant of what it does not know; a body of
    the wrong shape raises ProviderError naming the field."""
    shape = shapes.parse(shapes.Response, body, inbound="response")
    usage = usage_from_wire(shape.usage_metadata)
    if not shape.candidates:
        blocked = shape.prompt_feedback.block_reason if shape.prompt_feedback else None
        return Response(
            Message("assistant", ()),
            "content_filter" if blocked else "end_turn",
            usage,
            model=shape.model_version,
            response_id=shape.response_id,
            stop_detail=blocked or None,
        )
    candidate = shape.candidates[0]
    wire_parts = candidate.content.parts if candidate.content is not None else []
    decoder = PartDecoder(strict=False)
    parts = decode_parts(decoder, wire_parts, side="model", path="candidates[0].content.parts")
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return Response(
        Message("assistant", tuple(parts)),
        finish_reason_from_wire(candidate.finish_reason, has_calls=has_calls),
        usage,
        model=shape.model_version,
        response_id=shape.response_id,
        stop_detail=candidate.finish_reason,
        logprobs=gemini_logprobs.from_wire(candidate.logprobs_result),
    )
