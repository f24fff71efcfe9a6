"""Hooks: code the agent calls around each turn and each tool call.

Every hook may be a plain function or a coroutine function.

* ``pre_turn(message) -> Deny | None`` — refuse the user's input. The turn ends with a
  ``turn_error`` step and nothing reaches the model (the message is not added to the history).
* ``pre_tool(call) -> Allow | Deny | Rewrite | Ask | None`` — decide each tool call before it
  runs. ``Deny`` gives the model an error result with the reason; ``Rewrite`` replaces the
  arguments; ``Ask`` asks the ``approve`` callback (no callback: denied).
* ``post_tool(call, result) -> ToolResult | str | None`` — redact or transform what the model
  sees: a ToolResult replaces the result, a str replaces its content (keeping ``is_error``), None
  keeps it. Anything else is a TypeError naming the value.
* ``post_turn(result)`` — after every turn that completes (not after a ``turn_error``: a failed
  model call, or an answer that never matched ``output_type``).

A deny is final: the tool does not run, whatever the model writes next; a repeated call meets
the same hook again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from hearth.callbacks import ApprovalCallback, MaybeAwaitable, call_hook
from hearth.messages import JsonObject, Message, ToolCallPart
from hearth.tools import ToolResult

from .steps import AgentResult

__all__ = [
    "Allow",
    "ApprovalCallback",
    "Ask",
    "Deny",
    "Hooks",
    "MaybeAwaitable",
    "PostToolHook",
    "PostTurnHook",
    "PreToolHook",
    "PreTurnHook",
    "Rewrite",
    "ToolDecision",
    "call_hook",
]


@dataclass(frozen=True, slots=True)
class Allow:
    """Run the call as the model wrote it."""


@dataclass(frozen=True, slots=True)
class Deny:
    """Refuse: the reason is what the model (or, for pre_turn, the caller) is told."""

    reason: str = "denied by policy"


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Run the call with these arguments instead (a JSON object, or its JSON text)."""

    arguments: JsonObject | str


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask the approval callback; ``reason`` is shown to it."""

    reason: str = ""


ToolDecision: TypeAlias = Allow | Deny | Rewrite | Ask | None

PreTurnHook: TypeAlias = Callable[[Message], MaybeAwaitable[Deny | None]]
PreToolHook: TypeAlias = Callable[[ToolCallPart], MaybeAwaitable[ToolDecision]]
PostToolHook: TypeAlias = Callable[
    [ToolCallPart, ToolResult], MaybeAwaitable[ToolResult | str | None]
]
PostTurnHook: TypeAlias = Callable[[AgentResult], MaybeAwaitable[None]]


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks of an :class:`~hearth.agent.Agent`; every one is optional."""

    pre_turn: PreTurnHook | None = None
    pre_tool: PreToolHook | None = None
    post_tool: PostToolHook | None = None
    post_turn: PostTurnHook | None = None
    approve: ApprovalCallback | None = None
