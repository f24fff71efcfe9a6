"""Building an agent: its tool table (with the optional finish tool) and starting history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hearth.errors import InvalidRequestError
from hearth.messages import Message
from hearth.request import ToolSpec
from hearth.tools import Tool, as_tool

if TYPE_CHECKING:
    from hearth.client import ToolLike
    from hearth.store import ConversationStore

FINISH_TOOL = ToolSpec(
    "finish",
    "Call this when the task is done, with your final answer for the user.",
    {
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "the final answer"}},
        "required": ["answer"],
    },
)


def tool_table(tools: Iterable[ToolLike], finish_tool: bool) -> dict[str, Tool]:
    table: dict[str, Tool] = {}
    for t in map(as_tool, tools):
        if t.name in table:
            raise InvalidRequestError(f"two tools are named {t.name!r}; tool names must be unique")
        table[t.name] = t
    if finish_tool and FINISH_TOOL.name in table:
        raise InvalidRequestError(
            "finish_tool=True adds a tool named 'finish', and one of your tools has that name"
        )
    return table


def initial_history(
    store: ConversationStore | None,
    conversation_id: str | None,
    system: str | None,
    messages: Sequence[Message],
) -> tuple[list[Message], bool]:
    """The history to start from, and whether it is a stored compacted context (which every
    later turn must then keep up to date in the store)."""
    if conversation_id is not None:
        if store is None:
            raise InvalidRequestError("conversation_id needs a store to load it from")
        if messages:
            raise InvalidRequestError("give either messages or conversation_id, not both")
        stored_conversation = store.load(conversation_id)
        history = stored_conversation.messages
        stored = history[0].text if history and history[0].role == "system" else None
        if system is not None and system != stored:
            raise InvalidRequestError(
                "the stored conversation has a different system prompt; leave system= unset "
                "to continue it"
            )
        return history, stored_conversation.context is not None
    history = list(messages)
    if system is not None:
        if history and history[0].role == "system":
            raise InvalidRequestError("system= was given and the messages start with one")
        history.insert(0, Message.system(system))
    return history, False
