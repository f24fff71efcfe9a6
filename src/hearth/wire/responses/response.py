"""Response objects of the Responses API, both directions. Pure.

A hearth :class:`~hearth.response.Response` becomes a ``response`` object (for the server) and
back (for remote backends):

* output items: a ThinkingPart → a ``reasoning`` item (its own item back when its signature
  holds one; else hearth's, with the text as ``reasoning_text`` content and any other
  signature as ``encrypted_content``), each run of text → a ``message`` item with one
  ``output_text`` part, each ToolCallPart → a ``function_call`` item (see
  :mod:`hearth.wire.responses.items` for the ids that ride on the parts);
* ``status``: ``end_turn`` / ``stop_sequence`` / ``tool_use`` → ``completed``; ``max_tokens`` →
  ``incomplete`` (``incomplete_details.reason: max_output_tokens``); ``content_filter`` →
  ``incomplete`` (``content_filter``); ``cancelled`` → ``cancelled``. Back: ``completed`` is
  ``tool_use`` when the output holds a call, else ``end_turn``; a ``failed`` response raises
  its error;
* ``usage``: ``input_tokens`` (``input_tokens_details.cached_tokens``), ``output_tokens``
  (``output_tokens_details.reasoning_tokens``), ``total_tokens``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from hearth.errors import HearthError, InvalidRequestError, ProviderError
from hearth.events import StopReason, Usage
from hearth.logprobs import TokenLogprob
from hearth.messages import (
    JsonObject,
    JsonValue,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from hearth.response import Response
from hearth.wire.openai.logprobs import chat_logprobs_from_wire, chat_logprobs_to_wire
from hearth.wire.responses.errors import error_from_wire
from hearth.wire.responses.items import (
    call_item,
    message_identity,
    output_parts,
    reasoning_item,
)
from hearth.wire.responses.request import default_echo, new_id

NewId = Callable[[str], str]

STATUS: dict[StopReason, tuple[str, str | None]] = {
    "end_turn": ("completed", None),
    "stop_sequence": ("completed", None),
    "tool_use": ("completed", None),
    "max_tokens": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "cancelled": ("cancelled", None),
    "tool_error": ("failed", None),  # the upstream model's call was malformed (Gemini)
}


def usage_to_wire(usage: Usage) -> JsonObject:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
        "total_tokens": usage.total_tokens,
    }


def usage_from_wire(usage: JsonValue) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    inputs = usage.get("input_tokens_details")
    outputs = usage.get("output_tokens_details")
    return Usage(
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        cached_tokens=_int(inputs.get("cached_tokens")) if isinstance(inputs, dict) else 0,
        thinking_tokens=_int(outputs.get("reasoning_tokens")) if isinstance(outputs, dict) else 0,
    )


def _int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# -- output items -----------------------------------------------------------------------------


def reasoning_output(part: ThinkingPart, item_id: str) -> JsonObject:
    """A ThinkingPart as an output item: its own item when its signature holds one."""
    own = reasoning_item(part.signature)
    if own is not None:
        return own
    item: JsonObject = {"id": item_id, "type": "reasoning", "summary": []}
    item["content"] = [{"type": "reasoning_text", "text": part.text}] if part.text else []
    if part.signature:
        item["encrypted_content"] = part.signature
    return item


def text_output_part(text: str, logprobs: tuple[TokenLogprob, ...] = ()) -> JsonObject:
    """An ``output_text`` part; ``logprobs`` its tokens' (``include:
    ["message.output_text.logprobs"]``), in OpenAI chat's entry shape."""
    entries = chat_logprobs_to_wire(logprobs)["content"] if logprobs else []
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": entries}


def message_output(
    text: str,
    item_id: str,
    signature: str | None = None,
    status: str = "completed",
    logprobs: tuple[TokenLogprob, ...] = (),
) -> JsonObject:
    """A ``message`` output item holding one ``output_text`` part."""
    identity = message_identity(signature) or {"id": item_id}
    item: JsonObject = {"id": identity["id"], "type": "message", "status": status}
    if "phase" in identity:
        item["phase"] = identity["phase"]
    item["role"] = "assistant"
    item["content"] = [text_output_part(text, logprobs)] if status == "completed" else []
    return item


def call_output(call: ToolCallPart, item_id: str) -> JsonObject:
    own = (call.meta or {}).get("responses_id")
    return call_item(call, own if isinstance(own, str) else item_id, "completed")


def output_items(
    parts: Sequence[Part], ids: NewId = new_id, logprobs: tuple[TokenLogprob, ...] = ()
) -> list[JsonValue]:
    """An assistant message's parts as output items; ``logprobs`` (the answer's) go with its
    last text."""
    items: list[JsonValue] = []
    last_text = max((i for i, p in enumerate(parts) if isinstance(p, TextPart)), default=-1)
    for i, part in enumerate(parts):
        if isinstance(part, ThinkingPart):
            items.append(reasoning_output(part, ids("rs")))
        elif isinstance(part, TextPart):
            own = logprobs if i == last_text else ()
            items.append(message_output(part.text, ids("msg"), part.signature, logprobs=own))
        elif isinstance(part, ToolCallPart):
            items.append(call_output(part, ids("fc")))
    return items


# -- response objects -------------------------------------------------------------------------


def response_object(
    *,
    response_id: str,
    model: str,
    status: str,
    output: list[JsonValue],
    echo: JsonObject,
    created_at: float,
    usage: Usage | None = None,
    stop_reason: StopReason | None = None,
    error: JsonObject | None = None,
) -> JsonObject:
    """A ``response`` object; ``status`` is the one ``stop_reason`` maps to, when given."""
    incomplete: JsonValue = None
    if stop_reason is not None:
        status, reason = STATUS[stop_reason]
        incomplete = {"reason": reason} if reason else None
    done = status in ("completed", "incomplete", "failed", "cancelled")
    body: JsonObject = {
        "id": response_id, "object": "response", "created_at": int(created_at),
        "status": status, "completed_at": int(time.time()) if status == "completed" else None,
        "error": error, "incomplete_details": incomplete,
    }  # fmt: skip
    body.update(echo)
    body["model"] = model
    body["output"] = output
    body["usage"] = usage_to_wire(usage) if usage is not None and done else None
    return body


def response_to_wire(
    response: Response,
    *,
    model: str,
    response_id: str,
    echo: JsonObject | None = None,
    created_at: float | None = None,
    ids: NewId = new_id,
) -> JsonObject:
    """A finished Response as a ``response`` object (for the server)."""
    return response_object(
        response_id=response_id,
        model=model,
        status="completed",
        output=output_items(response.message.parts, ids, response.logprobs),
        echo=echo if echo is not None else default_echo(),
        created_at=time.time() if created_at is None else created_at,
        usage=response.usage,
        stop_reason=response.stop_reason,
    )


def first_call_only(response: Response) -> Response:
    """``response`` with its tool calls after the first left out (``parallel_tool_calls:
    false``: the model makes at most one call per turn)."""
    calls = response.message.tool_calls
    if len(calls) < 2:
        return response
    parts = tuple(p for p in response.message.parts if p not in calls[1:])
    return replace(response, message=Message("assistant", parts))


def stop_reason(body: JsonObject, has_calls: bool) -> StopReason:
    """A response object's status (and ``incomplete_details``) as a StopReason."""
    status = body.get("status")
    if status == "incomplete":
        details = body.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "content_filter" if reason == "content_filter" else "max_tokens"
    if status == "cancelled":
        return "cancelled"
    return "tool_use" if has_calls else "end_turn"


def failure(body: JsonObject, *, provider: str) -> HearthError:
    """The error of a ``failed`` response object."""
    error = body.get("error")
    detail: JsonObject = error if isinstance(error, dict) else {"message": "the response failed"}
    code = detail.get("code")
    status = 429 if code == "rate_limit_exceeded" else 500
    status = 400 if code in ("invalid_prompt", "context_length_exceeded") else status
    exc = error_from_wire(status, {"error": detail}, {}, provider=provider)
    exc.args = (f"the response failed: {exc}",)
    return exc


def response_from_wire(body: JsonObject, *, provider: str = "openai") -> Response:
    """A ``response`` object → Response. Tolerant of unknown fields, items and values."""
    if body.get("status") == "failed":
        raise failure(body, provider=provider)
    output = body.get("output")
    if not isinstance(output, list):
        raise ProviderError(f"the response has no output list: {json.dumps(body)[:300]}")
    try:
        parts = output_parts(output)
    except InvalidRequestError as exc:
        raise ProviderError(f"{provider} sent a malformed response: {exc}") from None
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    model = body.get("model")
    response_id = body.get("id")
    return Response(
        message=Message("assistant", parts),
        stop_reason=stop_reason(body, has_calls),
        usage=usage_from_wire(body.get("usage")),
        model=model if isinstance(model, str) else None,
        response_id=response_id if isinstance(response_id, str) else None,
        logprobs=output_logprobs(output),
    )


def output_logprobs(output: list[JsonValue]) -> tuple[TokenLogprob, ...]:
    """The ``logprobs`` of every ``output_text`` part of the message items, in order."""
    entries: list[TokenLogprob] = []
    for item in output:
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "output_text":
                entries.extend(chat_logprobs_from_wire({"content": part.get("logprobs")}))
    return tuple(entries)
