"""MCP tools in an agent: its tool table, its approval policy, and the servers' lifetime.

The agent's tools become a live mapping (its own tools, then the MCP tools as the servers list
them now), so a server's ``notifications/tools/list_changed`` reaches the next model call. The
``pre_tool`` hook is wrapped: the user's hook decides first (a ``Deny`` or ``Ask`` is final);
then a call to an MCP tool that needs approval (``destructiveHint``, or ``require_approval =
"always"``) goes to the approval callback, and is denied without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.callbacks import call_hook
from hearth.mcp.toolset import MCPToolset
from hearth.mcp_spec import MCPServer
from hearth.tools import Tool

from .hooks import Ask, Deny

if TYPE_CHECKING:
    from hearth.client import Model
    from hearth.messages import ToolCallPart

    from .hooks import Hooks, ToolDecision


class AgentTools(Mapping[str, Tool]):
    """The agent's own tools, then the MCP tools of the moment."""

    def __init__(self, own: Mapping[str, Tool], toolset: MCPToolset) -> None:
        self.own = own
        self.toolset = toolset

    def __getitem__(self, name: str) -> Tool:
        if name in self.own:
            return self.own[name]
        return self.toolset.tools[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        yield from (n for n in self.toolset.tools if n not in self.own)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class AgentMCP:
    toolset: MCPToolset
    owned: bool
    tools: AgentTools
    hooks: Hooks

    async def aconnect(self, cancelled: threading.Event) -> None:
        """Start the servers; give up (stopping the ones starting) once ``cancelled`` is set,
        so ``agent.cancel()`` is not kept waiting by a slow server."""
        starting = asyncio.ensure_future(self.toolset.aconnect())
        try:
            while not starting.done():
                if cancelled.is_set():
                    starting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await starting
                    return
                await asyncio.wait({starting}, timeout=0.05)
            starting.result()
        finally:
            starting.cancel()

    def close(self) -> None:
        if self.owned:
            self.toolset.close()


def attach(
    servers: Iterable[MCPServer] | MCPToolset,
    own: Mapping[str, Tool],
    hooks: Hooks,
    model: Model,
    reserved: Iterable[str] = (),
) -> AgentMCP:
    """The MCP side of an agent: servers given as specs are the agent's to close; a toolset
    given ready-made stays its creator's."""
    taken = [*own, *reserved]
    if isinstance(servers, MCPToolset):
        toolset, owned = servers, False
        toolset.model = toolset.model or model
        toolset.reserve(taken)
    else:
        toolset = MCPToolset(servers, model=model, approve=hooks.approve, reserved=taken)
        owned = True
    return AgentMCP(toolset, owned, AgentTools(own, toolset), with_approval(hooks, toolset))


def with_approval(hooks: Hooks, toolset: MCPToolset) -> Hooks:
    user = hooks.pre_tool

    async def pre_tool(call: ToolCallPart) -> ToolDecision:
        decision = None if user is None else await call_hook(user(call))
        if isinstance(decision, Deny | Ask):
            return decision
        reason = toolset.approval_reason(call.name)
        if reason is None:
            return decision
        if hooks.approve is None:
            return Deny(f"{reason}, so it needs approval, and no approval callback is set")
        if await call_hook(hooks.approve(call, reason)):
            return decision
        return Deny(f"not approved ({reason})")

    return dataclasses.replace(hooks, pre_tool=pre_tool)
