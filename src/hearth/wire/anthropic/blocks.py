"""Anthropic Messages API: content blocks, stop reasons and usage, shared by both directions.

Outbound (hearth → wire) conversions here are exact. Decoding provider output
(:func:`blocks_to_parts`, :func:`stop_reason_from_wire`, :func:`usage_from_wire`) is tolerant:
unknown block types and stop reasons are skipped or mapped to a default, never fatal. The strict
validation of bodies the *server* receives lives in :mod:`hearth.wire.anthropic.inbound`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from hearth.events import StopReason, Usage
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

PROVIDER = "anthropic"

_STOP_FROM_WIRE: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "end_turn",
    "refusal": "content_filter",
    "model_context_window_exceeded": "max_tokens",
}
_STOP_TO_WIRE: dict[StopReason, str] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "content_filter": "refusal",
    "cancelled": "end_turn",
    "tool_error": "end_turn",  # Anthropic has no failed-call reason: the answer simply ends
}


def dump_input(value: JsonValue) -> str:
    """Tool input object → hearth's argument text (the compact form docs/wire.md fixes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- hearth parts → wire blocks


def part_to_block(part: Part, *, unsigned_thinking: bool = False) -> JsonObject | None:
    """One hearth part as an Anthropic content block, or None for a part that cannot go.

    Thinking without a signature (from another provider or a local model) cannot be sent back
    to Anthropic, which rejects unsigned thinking; it is dropped unless ``unsigned_thinking``
    (responses the server sends), where it goes with ``"signature": ""``.
    """
    if isinstance(part, ThinkingPart):
        return _thinking_to_block(part, unsigned_thinking)
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {
            "type": "tool_use",
            "id": part.id,
            "name": part.name,
            "input": part.parsed_arguments(),
        }
    if isinstance(part, ToolResultPart):
        return _tool_result_to_block(part)
    return _image_to_block(part)


def _thinking_to_block(part: ThinkingPart, unsigned: bool) -> JsonObject | None:
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.signature} if part.signature else None
    if not part.signature and not unsigned:
        return None
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def _tool_result_to_block(part: ToolResultPart) -> JsonObject:
    block: JsonObject = {
        "type": "tool_result",
        "tool_use_id": part.call_id,
        "content": part.content,
    }
    if part.is_error:
        block["is_error"] = True
    return block


def _image_to_block(part: ImagePart) -> JsonObject:
    return {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": part.media_type,
            "data": base64.b64encode(part.data).decode("ascii"),
        },
    }


def parts_to_blocks(parts: Iterable[Part], *, unsigned_thinking: bool = False) -> list[JsonValue]:
    blocks: list[JsonValue] = []
    for part in parts:
        block = part_to_block(part, unsigned_thinking=unsigned_thinking)
        if block is not None:
            blocks.append(block)
    return blocks


# ---------------------------------------------------------- wire blocks → hearth (tolerant)


def _str(value: JsonValue, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def block_to_part(block: JsonValue) -> Part | None:
    """A response content block as a hearth part; None for blocks hearth does not model
    (server tool use and its results, unknown future types)."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "text":
        return TextPart(_str(block.get("text")))
    if kind == "thinking":
        return ThinkingPart(_str(block.get("thinking")), _str(block.get("signature")) or None)
    if kind == "redacted_thinking":
        return ThinkingPart("", _str(block.get("data")), redacted=True)
    if kind == "tool_use":
        raw = block.get("input")
        return ToolCallPart(
            _str(block.get("id")),
            _str(block.get("name")),
            dump_input(raw if isinstance(raw, dict) else {}),
        )
    return None


def blocks_to_parts(blocks: JsonValue) -> tuple[Part, ...]:
    if not isinstance(blocks, list):
        return ()
    parts = (block_to_part(b) for b in blocks)
    return tuple(p for p in parts if p is not None)


# ----------------------------------------------------------------- stop reasons and usage


def stop_reason_from_wire(value: JsonValue) -> StopReason:
    return _STOP_FROM_WIRE.get(value, "end_turn") if isinstance(value, str) else "end_turn"


def stop_reason_to_wire(reason: StopReason) -> str:
    return _STOP_TO_WIRE[reason]


def usage_from_wire(usage: JsonValue) -> Usage:
    """Anthropic's ``input_tokens`` excludes cached tokens; hearth's includes them."""
    if not isinstance(usage, dict):
        return Usage()
    cache_read = _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_int(usage.get("input_tokens")) + cache_read + cache_write,
        output_tokens=_int(usage.get("output_tokens")),
        cached_tokens=cache_read,
    )


def usage_to_wire(usage: Usage) -> JsonObject:
    """The inverse of :func:`usage_from_wire` (cache writes are not tracked by hearth: 0)."""
    return {
        "input_tokens": max(0, usage.input_tokens - usage.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }
