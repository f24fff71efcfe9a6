"""OpenAI Chat Completions ↔ hearth, both directions. Pure: no I/O, no httpx.

Implements the contract of :mod:`hearth.wire.base` (see docs/wire.md). The inbound request half
lives in :mod:`hearth.wire.openai.inbound`, streams in :mod:`hearth.wire.openai.stream`, errors in
:mod:`hearth.wire.openai.errors`; all are re-exported here.

What maps where:

* messages: ``system`` ↔ leading or interleaved ``Message("system")`` (``developer`` reads as
  system); user text and images (``image_url`` with a ``data:`` URL; ``detail`` is kept in the
  part's ``meta``); assistant text, ``refusal`` (a TextPart with ``meta={"openai_refusal": true}``)
  and ``tool_calls`` (ids and argument strings kept byte for byte); ``tool`` messages ↔
  ToolResultParts (consecutive ones merge into one hearth ``tool`` message).
* settings: the settings table's OpenAI column (:data:`hearth.settings.SETTINGS`), today
  temperature, top_p, presence/frequency penalties, seed, stop, and max_tokens as
  ``max_completion_tokens`` (``max_tokens_field="max_tokens"`` for servers that predate it).
  top_k, min_p and repeat_penalty are not OpenAI parameters: they are sent only with
  ``sampler_extensions=True`` (llama-server, vLLM, hearth's server accept them);
  ``repeat_penalty_field`` names the last (vLLM calls it ``repetition_penalty`` and ignores
  ``repeat_penalty``).
* ``response_format``: ``json_schema`` (``strict`` only when the schema qualifies) or
  ``json_object`` (:func:`hearth.wire.openai.output.openai_response_format`); grammars are
  refused.
* dropped outbound, because Chat Completions has no place for them: ThinkingParts of earlier
  turns, signatures and ``meta`` on text parts, ToolResultPart ``is_error``, and (except with
  ``sampler_extensions``, where they go as ``chat_template_kwargs.enable_thinking`` and
  ``thinking_budget``) ``thinking`` and ``thinking_budget``. Inbound, ``reasoning_effort``
  sets ``thinking`` (``none``/``minimal`` → False), ``chat_template_kwargs.enable_thinking``
  (vLLM's, SGLang's and llama-server's switch) overrides it, ``thinking_budget`` (hearth's
  extension) sets the budget, and an assistant ``reasoning_content`` (or ``reasoning``, as vLLM
  and OpenRouter name it) becomes a ThinkingPart.
* ``logprobs`` / ``top_logprobs`` ↔ the settings of the same names, and each choice's
  ``logprobs.content`` ↔ ``Response.logprobs`` (:mod:`hearth.wire.openai.logprobs`).
* responses: ``reasoning_content`` / ``reasoning`` (llama-server, vLLM, DeepSeek, OpenRouter) →
  ThinkingPart; usage with ``cached_tokens`` and ``reasoning_tokens``; ``finish_reason`` ``stop``
  → end_turn (``stop`` with tool calls → tool_use), ``length`` → max_tokens, ``tool_calls`` /
  ``function_call`` → tool_use, ``content_filter`` → content_filter, anything else → end_turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from hearth.dict_messages import DETAIL_META, REFUSAL_META
from hearth.errors import ProviderError
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    Part,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec
from hearth.response import Response
from hearth.settings import GenerationSettings, wire_values
from hearth.wire.openai.errors import error_from_wire, error_to_wire
from hearth.wire.openai.inbound import request_from_wire
from hearth.wire.openai.logprobs import (
    chat_logprobs_from_wire,
    chat_logprobs_to_wire,
    chat_settings_to_wire,
)
from hearth.wire.openai.output import openai_response_format
from hearth.wire.openai.shapes import (
    STOP_TO_FINISH,
    assistant_parts,
    assistant_to_wire,
    choice_stop,
    image_url,
    stop_string,
    str_or_none,
    usage_from_wire,
    usage_to_wire,
)
from hearth.wire.openai.stream import StreamDecoder, StreamEncoder

__all__ = [
    "DETAIL_META",
    "REFUSAL_META",
    "StreamDecoder",
    "StreamEncoder",
    "error_from_wire",
    "error_to_wire",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
]


# ---------------------------------------------------------------------------------------------
# requests, outbound


def request_to_wire(
    request: ChatRequest,
    *,
    model: str,
    stream: bool,
    max_tokens_field: str = "max_completion_tokens",
    sampler_extensions: bool = False,
    repeat_penalty_field: str = "repeat_penalty",
) -> JsonObject:
    """The Chat Completions body for ``request``."""
    messages: list[JsonValue] = []
    for message in request.messages:
        messages.extend(_message_to_wire(message))
    body: JsonObject = {"model": model, "messages": messages}
    if request.tools:
        body["tools"] = [function_tool(t) for t in request.tools]
    if request.tool_choice != "auto":
        body["tool_choice"] = _tool_choice_to_wire(request.tool_choice)
    if request.response_format is not None:
        body["response_format"] = openai_response_format(request.response_format)
    body.update(
        settings_to_wire(
            request.settings, max_tokens_field, sampler_extensions, repeat_penalty_field
        )
    )
    if not request.tools:  # OpenAI refuses parallel_tool_calls without tools
        body.pop("parallel_tool_calls", None)
    if sampler_extensions:
        body.update(_thinking_to_wire(request.settings))
    body.update(chat_settings_to_wire(request.settings))
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _thinking_to_wire(s: GenerationSettings) -> JsonObject:
    """The thinking switch and budget for servers that run templates (llama-server, vLLM,
    SGLang, hearth): ``chat_template_kwargs.enable_thinking``, and hearth's ``thinking_budget``
    (which the others ignore)."""
    out: JsonObject = {}
    if s.thinking is not None:
        out["chat_template_kwargs"] = {"enable_thinking": s.thinking}
    if s.thinking_budget is not None:
        out["thinking_budget"] = s.thinking_budget
    return out


def _message_to_wire(message: Message) -> list[JsonValue]:
    if message.role == "system":
        return [{"role": "system", "content": message.text}]
    if message.role == "assistant":
        return [assistant_to_wire(message.parts)]
    out: list[JsonValue] = [
        {"role": "tool", "tool_call_id": p.call_id, "content": p.content}
        for p in message.parts
        if isinstance(p, ToolResultPart)
    ]
    rest = [p for p in message.parts if not isinstance(p, ToolResultPart)]
    if message.role == "user" and (rest or not out):
        out.append({"role": "user", "content": _user_content(rest)})
    return out


def _user_content(parts: Sequence[Part]) -> JsonValue:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    content: list[JsonValue] = []
    for part in parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image_url", "image_url": image_url(part)})
    return content


def function_tool(tool: ToolSpec) -> JsonObject:
    """A tool in the ``{"type": "function", "function": {…}}`` shape OpenAI and Ollama share."""
    function: JsonObject = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _tool_choice_to_wire(choice: str) -> JsonValue:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def settings_to_wire(
    s: GenerationSettings,
    max_tokens_field: str,
    sampler_extensions: bool,
    repeat_penalty_field: str = "repeat_penalty",
) -> JsonObject:
    """The sampling fields of a Chat Completions (or legacy completions) body: each setting
    with an OpenAI field in the settings table (:data:`hearth.settings.SETTINGS`), under the
    name the endpoint option it names chooses; local samplers only with
    ``sampler_extensions``."""
    renamed = {"max_tokens_field": max_tokens_field, "repeat_penalty_field": repeat_penalty_field}
    out: JsonObject = {}
    for setting, field, value in wire_values(s, "openai"):
        if setting.local and not sampler_extensions:
            continue
        option = setting.wire.openai_option
        out[field if option is None else renamed.get(option, field)] = value
    return out


# ---------------------------------------------------------------------------------------------
# responses


def response_from_wire(body: JsonObject) -> Response:
    """A ``chat.completion`` object → Response. Tolerant of unknown fields and values."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderError(
            f"the OpenAI-compatible response has no choices: {json.dumps(body)[:300]}"
        )
    choice = choices[0]
    message = choice.get("message")
    parts = assistant_parts(message if isinstance(message, dict) else {})
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    reason, sequence = choice_stop(choice, has_calls)
    return Response(
        message=Message("assistant", parts),
        stop_reason=reason,
        stop_sequence=sequence,
        usage=usage_from_wire(body.get("usage")),
        model=str_or_none(body.get("model")),
        response_id=str_or_none(body.get("id")),
        logprobs=chat_logprobs_from_wire(choice.get("logprobs")),
    )


def response_to_wire(
    response: Response, *, model: str, response_id: str, created: int | None = None
) -> JsonObject:
    """A Response as a ``chat.completion`` object (for the server): one choice, or one per
    answer when it holds several (``n``)."""
    answers = response.choices or (response,)
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [_choice_to_wire(answer, i) for i, answer in enumerate(answers)],
        "usage": usage_to_wire(response.usage),
    }


def _choice_to_wire(answer: Response, index: int) -> JsonObject:
    message = assistant_to_wire(answer.message.parts)
    thinking = answer.message.thinking
    if thinking:
        message["reasoning_content"] = thinking
    return {
        "index": index,
        "message": message,
        "logprobs": chat_logprobs_to_wire(answer.logprobs) if answer.logprobs else None,
        "finish_reason": STOP_TO_FINISH[answer.stop_reason],
        "stop_reason": stop_string(answer.stop_reason, answer.stop_sequence),
    }
