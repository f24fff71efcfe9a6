"""Messages given as OpenAI-style dicts, turned into :class:`~hearth.messages.Message`.

``m.chat([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}])``
works as with OpenAI's SDK: ``content`` a string or a list of ``text`` / ``image_url`` parts
(images inline, as ``data:`` URLs), assistant ``tool_calls``, ``tool`` messages with their
``tool_call_id``, ``developer`` as a system message. The dicts are read by the OpenAI format's
own inbound translator (:mod:`hearth.wire.openai.inbound`, imported only when a dict is given),
so they mean exactly what they mean to ``hearth serve``.

Dicts shaped for another API are refused with what to write instead: Anthropic content blocks
(``tool_use``, ``tool_result``, ``image`` with a ``source``, ``thinking``) and Gemini contents
(``parts``, the ``model`` role).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from hearth.errors import InvalidRequestError
from hearth.messages import Message

MessageDict: TypeAlias = Mapping[str, object]
"""An OpenAI-style chat message: ``{"role": "user", "content": "Hi"}`` and the rest of the
Chat Completions message shapes (see the module docstring)."""

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
    from hearth.wire.openai.messages_in import add_message

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
