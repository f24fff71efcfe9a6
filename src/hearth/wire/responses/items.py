"""Responses items ↔ hearth messages, both directions. Pure.

An input is a list of items; hearth's conversation is a list of messages. The mapping:

* ``message`` items (``type`` may be left out): ``system`` / ``developer`` → a system message,
  ``user`` → a user message (``input_text``, ``input_image``), ``assistant`` → a TextPart of
  the assistant message (its ``output_text`` / ``refusal`` parts joined);
* ``reasoning`` → a ThinkingPart, ``function_call`` → a ToolCallPart (``call_id`` is its id),
  both in the assistant message; consecutive assistant items make one message;
* ``function_call_output`` → a ToolResultPart; consecutive ones make one ``tool`` message.

What must come back unchanged on the next turn rides on the parts (see docs/wire.md):

* a reasoning item is opaque: ``ThinkingPart.signature`` holds the whole item as compact JSON
  (its ``id``, ``summary``, ``content`` and ``encrypted_content``), sent back byte for byte;
  ``ThinkingPart.text`` is its reasoning text (else its summary) for display. Outbound, a
  ThinkingPart without such a signature (another provider's, a local model's) is dropped, as
  Chat Completions drops them: the API only takes back its own reasoning items;
* an assistant message item's ``id`` (and ``phase``) ride on its TextPart's ``signature`` as
  compact JSON (``{"id": "msg_…"}``), so a reasoning item and the message it led to go back
  together;
* a ``function_call`` item's ``id`` (``fc_…``) is kept in the ToolCallPart's
  ``meta["responses_id"]``.

Built-in tool items (``web_search_call``, ``computer_call_output``, ``mcp_call`` …) and
``item_reference`` are refused by name; an unknown item type is an InvalidRequestError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hearth import json_fields as checks
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import (
    JsonObject,
    JsonValue,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.wire.responses.content import text_content, user_content, user_content_to_wire

ID_META = "responses_id"
"""ToolCallPart meta key: the ``function_call`` item's own id (``fc_…``)."""

BUILTIN_ITEMS = frozenset({
    "file_search_call", "computer_call", "computer_call_output", "web_search_call",
    "image_generation_call", "code_interpreter_call", "local_shell_call",
    "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
    "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
    "mcp_call", "custom_tool_call", "custom_tool_call_output", "tool_search_call",
    "tool_search_output", "compaction", "additional_tools", "program", "program_output",
})  # fmt: skip
_ROLES = ("user", "assistant", "system", "developer")


def compact(value: JsonValue) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reasoning_item(signature: str | None) -> JsonObject | None:
    """The reasoning item a ThinkingPart's signature holds, or None if it holds none."""
    if not signature or not signature.startswith("{"):
        return None
    try:
        item = json.loads(signature)
    except ValueError:
        return None
    return item if isinstance(item, dict) and item.get("type") == "reasoning" else None


def message_identity(signature: str | None) -> JsonObject | None:
    """The ``{"id": …, "phase": …}`` a TextPart's signature holds, or None."""
    if not signature or not signature.startswith("{"):
        return None
    try:
        identity = json.loads(signature)
    except ValueError:
        return None
    if isinstance(identity, dict) and isinstance(identity.get("id"), str):
        return identity
    return None


def reasoning_text(item: JsonObject) -> str:
    """A reasoning item's text: its ``reasoning_text`` content, else its summary."""
    content = item.get("content")
    texts = [
        str(p["text"]) for p in (content if isinstance(content, list) else [])
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    ]  # fmt: skip
    if texts:
        return "".join(texts)
    summary = item.get("summary")
    return "\n\n".join(
        str(p["text"]) for p in (summary if isinstance(summary, list) else [])
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# items → messages


@dataclass
class InputReader:
    """Folds items into messages. ``results`` lists each tool result's (path, call_id), for
    the check that every result answers a call (:func:`check_results`)."""

    messages: list[Message] = field(default_factory=list)
    results: list[tuple[str, str]] = field(default_factory=list)

    def read(self, items: list[JsonObject], path: str) -> None:
        for i, item in enumerate(items):
            self.item(item, f"{path}[{i}].")

    def item(self, item: JsonObject, where: str) -> None:
        kind = checks.string(item, "type", where)
        if kind is None and "role" in item:
            kind = "message"
        reader = _READERS.get(kind or "")
        if reader is not None:
            reader(self, item, where)
        elif kind in BUILTIN_ITEMS:
            raise UnsupportedFeatureError(
                f"{where}type: {kind} items belong to OpenAI's built-in tools, which hearth "
                "does not run; send messages, function_call and function_call_output items"
            )
        elif kind == "item_reference":
            raise UnsupportedFeatureError(
                f"{where}type: hearth does not look items up by id; send the item itself, or "
                "continue a stored response with previous_response_id"
            )
        elif kind is None:
            raise InvalidRequestError(f"{where}type: required (or a role, for a message)")
        else:
            raise InvalidRequestError(
                f"{where}type: unknown item type {kind!r}; expected message, reasoning, "
                "function_call or function_call_output"
            )

    def _message(self, item: JsonObject, where: str) -> None:
        role = checks.string(item, "role", where, required=True)
        if role not in _ROLES:
            raise InvalidRequestError(
                f"{where}role: unknown role {role!r}; expected one of {', '.join(_ROLES)}"
            )
        if role == "assistant":
            text = text_content(item, where, ("output_text", "refusal"))
            identity: JsonObject = {}
            for key in ("id", "phase"):
                value = checks.string(item, key, where)
                if value is not None:
                    identity[key] = value
            signature = compact(identity) if "id" in identity else None
            self._assistant(TextPart(text, signature))
        elif role == "user":
            self.messages.append(Message("user", user_content(item, where)))
        else:
            text = text_content(item, where, ("input_text",))
            self.messages.append(Message("system", (TextPart(text),)))

    def _reasoning(self, item: JsonObject, where: str) -> None:
        checks.string(item, "id", where)
        checks.string(item, "encrypted_content", where)
        for key in ("summary", "content"):
            checks.objects(checks.array(item, key, where) or [], f"{where}{key}")
        self._assistant(ThinkingPart(reasoning_text(item), compact(item)))

    def _call(self, item: JsonObject, where: str) -> None:
        call_id = checks.string(item, "call_id", where, required=True) or ""
        name = checks.string(item, "name", where, required=True) or ""
        arguments = checks.string(item, "arguments", where, required=True) or ""
        item_id = checks.string(item, "id", where)
        meta = {ID_META: item_id} if item_id else None
        self._assistant(ToolCallPart(call_id, name, arguments, meta=meta))

    def _output(self, item: JsonObject, where: str) -> None:
        call_id = checks.string(item, "call_id", where, required=True) or ""
        output = item.get("output")
        if isinstance(output, list):
            text = text_content({"content": output}, f"{where}output.", ("input_text",))
        elif isinstance(output, str):
            text = output
        else:
            raise checks.bad(f"{where}output", "a string or an array of input_text parts", output)
        self.results.append((f"{where}call_id", call_id))
        result = ToolResultPart(call_id, text)
        if self.messages and self.messages[-1].role == "tool":
            self.messages[-1] = Message("tool", (*self.messages[-1].parts, result))
        else:
            self.messages.append(Message("tool", (result,)))

    def _assistant(self, part: Part) -> None:
        if self.messages and self.messages[-1].role == "assistant":
            self.messages[-1] = Message("assistant", (*self.messages[-1].parts, part))
        else:
            self.messages.append(Message("assistant", (part,)))


_READERS: dict[str, Callable[[InputReader, JsonObject, str], None]] = {
    "message": InputReader._message,
    "reasoning": InputReader._reasoning,
    "function_call": InputReader._call,
    "function_call_output": InputReader._output,
}


def check_results(messages: Sequence[Message], results: list[tuple[str, str]]) -> None:
    """Every ``function_call_output`` answers a ``function_call`` that came before it (in the
    stored conversation or this input)."""
    known = {c.id for m in messages for c in m.tool_calls}
    for where, call_id in results:
        if call_id not in known:
            raise InvalidRequestError(
                f"{where}: no function_call with call_id {call_id!r} comes before this "
                "function_call_output; send the call first (or continue its response with "
                "previous_response_id)"
            )


def output_parts(items: list[JsonValue]) -> tuple[Part, ...]:
    """The assistant parts of a response's ``output`` (remote answers): items hearth did not
    ask for (built-in tool calls) are skipped."""
    reader = InputReader()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") not in ("message", "reasoning",
                                                                  "function_call"):
            continue
        if item.get("type") == "message" and item.get("role") != "assistant":
            continue
        reader.item(item, f"output[{i}].")
    parts = [p for m in reader.messages for p in m.parts]
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# messages → items


def messages_to_items(messages: Sequence[Message]) -> list[JsonValue]:
    """A conversation as input items (see the module docstring for what is dropped)."""
    items: list[JsonValue] = []
    for message in messages:
        if message.role == "system":
            items.append({"role": "system", "content": message.text})
        elif message.role == "assistant":
            items.extend(assistant_items(message.parts))
        else:
            rest: list[Part] = []
            for part in message.parts:
                if isinstance(part, ToolResultPart):
                    items.append(
                        {"type": "function_call_output", "call_id": part.call_id,
                         "output": part.content}
                    )  # fmt: skip
                else:
                    rest.append(part)
            if message.role == "user" and (rest or not message.parts):
                items.append({"role": "user", "content": user_content_to_wire(rest)})
    return items


def assistant_items(parts: Sequence[Part]) -> list[JsonValue]:
    """An assistant message's parts as input items."""
    items: list[JsonValue] = []
    for part in parts:
        if isinstance(part, ThinkingPart):
            item = reasoning_item(part.signature)
            if item is not None:
                items.append(item)
        elif isinstance(part, TextPart):
            identity = message_identity(part.signature)
            if identity is None:
                items.append({"role": "assistant", "content": part.text})
            else:
                items.append({
                    "type": "message", **identity, "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": part.text, "annotations": []}],
                })  # fmt: skip
        elif isinstance(part, ToolCallPart):
            items.append(call_item(part))
    return items


def call_item(
    call: ToolCallPart, item_id: str | None = None, status: str | None = None
) -> JsonObject:
    """A ``function_call`` item; its id is ``item_id``, else the one it came with."""
    found = (call.meta or {}).get(ID_META)
    item: JsonObject = {"type": "function_call"}
    chosen = item_id if item_id is not None else found
    if isinstance(chosen, str):
        item["id"] = chosen
    if status is not None:
        item["status"] = status
    item.update(call_id=call.id, name=call.name, arguments=call.arguments)
    return item
