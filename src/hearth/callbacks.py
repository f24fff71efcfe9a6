"""Callbacks the caller hands in around tool calls: each may be a plain function or a coroutine
function.

The agent's hooks (:mod:`hearth.agent.hooks`) and the MCP toolset's approval and elicitation
callbacks (:mod:`hearth.mcp`) share these, which is why they live below both.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

from hearth.messages import ToolCallPart

T = TypeVar("T")

MaybeAwaitable: TypeAlias = T | Awaitable[T]

ApprovalCallback: TypeAlias = Callable[[ToolCallPart, str], MaybeAwaitable[bool]]
"""Asked whether a tool call may run (the call, and the reason it needs approval)."""


async def call_hook(value: MaybeAwaitable[T]) -> T:
    """The hook's return value, awaited if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value
