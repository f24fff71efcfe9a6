"""Shapes shared by the OpenAI Chat Completions translators: finish reasons, usage, assistant
messages, tool calls and images, in both directions. Pure."""

from __future__ import annotations

import base64
import json

from hearth.dict_messages import DETAIL_META, REFUSAL_META
from hearth.errors import ProviderError
from hearth.events import StopReason, Usage
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

FINISH_TO_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}
STOP_TO_FINISH: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "cancelled": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "tool_error": "stop",  # OpenAI has no failed-call reason: the answer simply ends
}


def stop_reason(finish_reason: JsonValue, has_calls: bool) -> StopReason:
    """An OpenAI ``finish_reason`` as a StopReason; unknown values are a natural end."""
    reason: StopReason = "end_turn"
    if isinstance(finish_reason, str):
        reason = FINISH_TO_STOP.get(finish_reason, "end_turn")
    return "tool_use" if reason == "end_turn" and has_calls else reason


def choice_stop(choice: JsonObject, has_calls: bool) -> tuple[StopReason, str | None]:
    """A ``choices[]`` item's stop reason, and the stop string when the server names it (vLLM's
    ``stop_reason`` field, which hearth serve sends too: the string, or a stop token's id)."""
    reason = stop_reason(choice.get("finish_reason"), has_calls)
    said = choice.get("stop_reason")
    if reason == "end_turn" and isinstance(said, str) and said:
        return "stop_sequence", said
    return reason, None


def stop_string(reason: StopReason, sequence: str | None) -> str | None:
    """vLLM's ``stop_reason`` field for an answer: the stop string that ended it, else null."""
    return sequence if reason == "stop_sequence" else None


def image_url(part: ImagePart) -> JsonObject:
    url: JsonObject = {
        "url": f"data:{part.media_type};base64,{base64.b64encode(part.data).decode('ascii')}"
    }
    detail = (part.meta or {}).get(DETAIL_META)
    if isinstance(detail, str):
        url["detail"] = detail
    return url


def assistant_to_wire(parts: tuple[Part, ...]) -> JsonObject:
    """An assistant message (request history) or a response's ``message`` object."""
    texts = [p for p in parts if isinstance(p, TextPart) and not _is_refusal(p)]
    refusal = "".join(p.text for p in parts if isinstance(p, TextPart) and _is_refusal(p))
    calls = [p for p in parts if isinstance(p, ToolCallPart)]
    out: JsonObject = {"role": "assistant"}
    if len(texts) == 1:
        out["content"] = texts[0].text
    elif texts:
        out["content"] = [{"type": "text", "text": p.text} for p in texts]
    else:
        out["content"] = None if calls or refusal else ""
    if refusal:
        out["refusal"] = refusal
    if calls:
        out["tool_calls"] = [tool_call_to_wire(c) for c in calls]
    return out


def _is_refusal(part: TextPart) -> bool:
    return bool(part.meta and part.meta.get(REFUSAL_META))


def tool_call_to_wire(call: ToolCallPart) -> JsonObject:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def assistant_parts(message: JsonObject) -> tuple[Part, ...]:
    """The parts of an assistant ``message`` object (a response's, or a request's history)."""
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(reasoning))
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(TextPart(content))
    elif isinstance(content, list):
        for item in content:
            if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"]:
                parts.append(TextPart(str(item["text"])))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(TextPart(refusal, meta={REFUSAL_META: True}))
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        if isinstance(call, dict):
            parts.append(_tool_call_from_wire(call, i))
    return tuple(parts)


def _tool_call_from_wire(call: JsonObject, index: int) -> ToolCallPart:
    function = call.get("function")
    fn = function if isinstance(function, dict) else {}
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ProviderError(f"tool call {index} in the response has no function name")
    arguments = fn.get("arguments")
    if isinstance(arguments, dict):  # a few servers send an object instead of JSON text
        arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    call_id = call.get("id")
    return ToolCallPart(
        id=call_id if isinstance(call_id, str) and call_id else f"call_{index}",
        name=name,
        arguments=arguments if isinstance(arguments, str) else "{}",
    )


def usage_from_wire(usage: JsonValue) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    return Usage(
        input_tokens=as_int(usage.get("prompt_tokens")),
        output_tokens=as_int(usage.get("completion_tokens")),
        cached_tokens=as_int(prompt.get("cached_tokens")) if isinstance(prompt, dict) else 0,
        thinking_tokens=(
            as_int(completion.get("reasoning_tokens")) if isinstance(completion, dict) else 0
        ),
        **_prediction_from_wire(completion),
    )


def _prediction_from_wire(completion: JsonValue) -> dict[str, int]:
    """Drafted and accepted tokens from OpenAI's predicted-output counts."""
    if not isinstance(completion, dict):
        return {}
    accepted = as_int(completion.get("accepted_prediction_tokens"))
    rejected = as_int(completion.get("rejected_prediction_tokens"))
    return {"drafted_tokens": accepted + rejected, "accepted_tokens": accepted}


def usage_to_wire(usage: Usage) -> JsonObject:
    """OpenAI's usage object; speculative drafts as its predicted-output counts (accepted and
    rejected prediction tokens), present only when something was drafted."""
    completion: JsonObject = {"reasoning_tokens": usage.thinking_tokens}
    if usage.drafted_tokens:
        completion["accepted_prediction_tokens"] = usage.accepted_tokens
        completion["rejected_prediction_tokens"] = usage.drafted_tokens - usage.accepted_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": completion,
    }


def as_int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def str_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None
