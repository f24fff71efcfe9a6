"""Anthropic Messages API (``POST /v1/messages``): the wire translator, both directions.

Implements the contract of :mod:`hearth.wire.base`. The pieces live in sibling modules and are
re-exported here: content blocks, stop reasons and usage in ``anthropic_blocks``, inbound
validation in ``anthropic_inbound``, streams in ``anthropic_stream``, errors in
``anthropic_errors``.

Outbound (:func:`request_to_wire`):

* Leading system messages → ``system`` (one text part → a string, several → text blocks); a
  system message after the conversation started is an InvalidRequestError.
* ``tool`` messages → ``user`` messages of ``tool_result`` blocks. Content is always a list of
  blocks. Thinking parts without a signature are dropped (the API rejects them; they come from
  other providers or local models); a message left with nothing to send is dropped.
* Settings: the settings table's Anthropic column (:data:`hearth.settings.SETTINGS`):
  ``max_tokens`` (4096 when unset, plus the thinking budget when thinking is on),
  ``temperature``, ``top_p``, ``top_k``, ``stop`` → ``stop_sequences``, ``thinking`` →
  ``{"type": "enabled", "budget_tokens": thinking_budget or 1024}`` / ``{"type": "disabled"}``.
  Dropped, as Anthropic has no such parameter: ``min_p``, ``repeat_penalty``,
  ``presence_penalty``, ``frequency_penalty``, ``seed``.
* Tool choice: auto / required / none / a name → ``{"type": "auto" | "any" | "none" | "tool"}``,
  sent only with tools.
* ``response_format``: an extra tool named after the format, forced (see
  :func:`hearth.wire.anthropic.output.anthropic_output_tool`); the remote backend turns its call
  back into the answer text (:class:`hearth.wire.anthropic.output.OutputToolAnswer`).
* Dropped part fields: ``TextPart.signature`` and ``ToolCallPart.signature`` (Gemini's), every
  ``meta``, ``ToolResultPart.name`` (Anthropic matches results by id).

Responses: ``usage.input_tokens`` in hearth is Anthropic's ``input_tokens +
cache_read_input_tokens + cache_creation_input_tokens``, ``cached_tokens`` the cache reads.
Stop reasons: ``refusal`` → content_filter, ``pause_turn`` → end_turn,
``model_context_window_exceeded`` → max_tokens, unknown → end_turn. Server-tool blocks in a
response are skipped.
"""

from __future__ import annotations

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue, Message, TextPart
from hearth.request import ChatRequest, ToolChoice, ToolSpec
from hearth.response import Response
from hearth.settings import GenerationSettings, wire_values
from hearth.wire.anthropic.blocks import (
    blocks_to_parts,
    parts_to_blocks,
    stop_reason_from_wire,
    stop_reason_to_wire,
    usage_from_wire,
    usage_to_wire,
)
from hearth.wire.anthropic.errors import error_from_event, error_from_wire, error_to_wire
from hearth.wire.anthropic.inbound import parse_request
from hearth.wire.anthropic.output import anthropic_output_tool
from hearth.wire.anthropic.stream import StreamDecoder, StreamEncoder
from hearth.wire.base import WireRequest

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_THINKING_BUDGET",
    "StreamDecoder",
    "StreamEncoder",
    "error_from_wire",
    "error_to_wire",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` is required by Anthropic; this is sent when the settings leave it unset."""
DEFAULT_THINKING_BUDGET = 1024
"""``budget_tokens`` when thinking is on without a budget (Anthropic's minimum)."""

_CHOICE: dict[str, str] = {"auto": "auto", "required": "any", "none": "none"}


def _system_to_wire(messages: tuple[Message, ...]) -> tuple[JsonValue, tuple[Message, ...]]:
    """The ``system`` value (None when absent) and the messages after the leading system ones."""
    lead = 0
    while lead < len(messages) and messages[lead].role == "system":
        lead += 1
    for i in range(lead, len(messages)):
        if messages[i].role == "system":
            raise InvalidRequestError(
                f"messages[{i}]: Anthropic takes system prompts only before the conversation; "
                f"this system message follows the {messages[i - 1].role} message "
                f"messages[{i - 1}]"
            )
    texts = [p.text for m in messages[:lead] for p in m.parts if isinstance(p, TextPart)]
    if not lead:
        return None, messages
    if len(texts) == 1:
        return texts[0], messages[lead:]
    blocks: list[JsonValue] = [{"type": "text", "text": t} for t in texts]
    return blocks, messages[lead:]


def _messages_to_wire(messages: tuple[Message, ...]) -> list[JsonValue]:
    out: list[JsonValue] = []
    for message in messages:
        blocks = parts_to_blocks(message.parts)
        if message.parts and not blocks:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        out.append({"role": role, "content": blocks})
    return out


def _tools_to_wire(
    tools: tuple[ToolSpec, ...], choice: ToolChoice, parallel: bool | None
) -> JsonObject:
    """``tools`` and ``tool_choice``; ``parallel_tool_calls=False`` is the choice's
    ``disable_parallel_tool_use`` (a choice of ``none`` has no such field)."""
    if not tools:
        return {}
    specs: list[JsonValue] = []
    for tool in tools:
        spec: JsonObject = {"name": tool.name}
        if tool.description:
            spec["description"] = tool.description
        spec["input_schema"] = tool.parameters
        specs.append(spec)
    wire_choice: JsonObject = (
        {"type": _CHOICE[choice]} if choice in _CHOICE else {"type": "tool", "name": choice}
    )
    if parallel is not None and choice != "none":
        wire_choice["disable_parallel_tool_use"] = not parallel
    return {"tools": specs, "tool_choice": wire_choice}


def _settings_to_wire(settings: GenerationSettings) -> JsonObject:
    """Each setting with an Anthropic field in the settings table (``max_tokens`` aside: the
    body always has it, see :func:`_max_tokens`), and ``thinking``."""
    out: JsonObject = {
        key: value
        for setting, key, value in wire_values(settings, "anthropic")
        if setting.name != "max_tokens"
    }
    if settings.thinking is True:
        budget = settings.thinking_budget
        out["thinking"] = {
            "type": "enabled",
            "budget_tokens": DEFAULT_THINKING_BUDGET if budget is None else budget,
        }
    elif settings.thinking is False:
        out["thinking"] = {"type": "disabled"}
    return out


def _max_tokens(settings: GenerationSettings) -> int:
    if settings.max_tokens is not None:
        return settings.max_tokens
    if settings.thinking:
        budget = settings.thinking_budget
        return DEFAULT_MAX_TOKENS + (DEFAULT_THINKING_BUDGET if budget is None else budget)
    return DEFAULT_MAX_TOKENS


def request_to_wire(request: ChatRequest, *, model: str, stream: bool) -> JsonObject:
    """A ChatRequest as a Messages API body (see the module docstring for what maps where)."""
    system, conversation = _system_to_wire(request.messages)
    body: JsonObject = {"model": model, "max_tokens": _max_tokens(request.settings)}
    if system is not None:
        body["system"] = system
    body["messages"] = _messages_to_wire(conversation)
    body.update(
        _tools_to_wire(request.tools, request.tool_choice, request.settings.parallel_tool_calls)
    )
    if request.response_format is not None:
        _add_output_tool(body, request)
    body.update(_settings_to_wire(request.settings))
    if stream:
        body["stream"] = True
    return body


def _add_output_tool(body: JsonObject, request: ChatRequest) -> None:
    """Structured output rides on a tool (see :func:`anthropic_output_tool`)."""
    assert request.response_format is not None
    tool, choice = anthropic_output_tool(
        request.response_format,
        tool_names=[t.name for t in request.tools],
        choice=request.tool_choice,
        thinking=request.settings.thinking is True,
    )
    tools = body.get("tools")
    body["tools"] = [*tools, tool] if isinstance(tools, list) else [tool]
    if choice is not None:
        body["tool_choice"] = choice


def request_from_wire(
    body: JsonObject, *, model: str | None = None, stream: bool = False
) -> WireRequest:
    """Validate a Messages API body the server received; InvalidRequestError names the field.
    ``model`` is used only when the body has none; the body says whether to stream."""
    return parse_request(body, model)


def response_to_wire(response: Response, *, model: str, response_id: str) -> JsonObject:
    """A Response as a Messages API response body."""
    return {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": parts_to_blocks(response.message.parts, unsigned_thinking=True),
        "stop_reason": stop_reason_to_wire(response.stop_reason),
        "stop_sequence": response.stop_sequence,
        "usage": usage_to_wire(response.usage),
    }


def response_from_wire(body: JsonObject) -> Response:
    """A Messages API response body as a Response (tolerant of unknown fields and values).
    A body that is an error object raises the mapped error."""
    if body.get("type") == "error":
        raise error_from_event(body)
    model, response_id, stop_sequence = body.get("model"), body.get("id"), body.get("stop_sequence")
    return Response(
        message=Message("assistant", blocks_to_parts(body.get("content"))),
        stop_reason=stop_reason_from_wire(body.get("stop_reason")),
        usage=usage_from_wire(body.get("usage")),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        model=model if isinstance(model, str) else None,
        response_id=response_id if isinstance(response_id, str) else None,
    )
