"""Tools from many MCP servers at once, as hearth :class:`~hearth.tools.Tool` objects.

>>> from hearth.mcp import MCPServer, MCPToolset
>>> with MCPToolset([MCPServer("time", command="mcp-server-time")]) as mcp:
...     mcp.connect()
...     print(mcp.tools["get_current_time"].run('{"timezone": "Asia/Tokyo"}').content)

Every connection lives on the toolset's own event-loop thread (:mod:`hearth.mcp.runtime`), so
the tools work from sync code, from any event loop, and from the agent. Closing the toolset
stops every server it started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.errors import InvalidRequestError, MCPServerError
from hearth.mcp_spec import MCPServer
from hearth.tool_progress import current_reporter
from hearth.tools import Tool, ToolResult

from .connection import Connection, MCPCallError, State
from .naming import exposed_names
from .requests import ElicitCallback, elicitation_callback, sampling_callback
from .results import tool_result
from .runtime import MCPRuntime

if TYPE_CHECKING:
    import mcp_types as types

    from hearth.callbacks import ApprovalCallback
    from hearth.client import Model

CLOSE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class MCPToolInfo:
    """One MCP tool: the ``name`` the model sees, the ``server`` and its own name for it
    (``original``), its description, its annotations' hints, and why a call needs approval
    (``approval``; None when it does not)."""

    name: str
    server: str
    original: str
    description: str
    read_only: bool
    destructive: bool
    approval: str | None


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """A server as ``hearth mcp list`` shows it: ``state`` (``ready`` or ``failed``), the
    ``error`` when it failed, its exposed ``tools``, the tools the allow-list ``hidden``, and
    the ones ``skipped`` because hearth could not use their schema (with the reason)."""

    name: str
    transport: str
    target: str
    state: State
    error: str | None
    tools: tuple[MCPToolInfo, ...]
    hidden: tuple[str, ...]
    skipped: tuple[str, ...]


class MCPToolset:
    """The tools of some MCP servers; a context manager that stops them on exit.

    ``model`` answers the servers' sampling requests (for servers with ``sampling=True``);
    ``approve`` (the agent's approval callback) or ``elicit`` answers elicitation. ``reserved``
    are names already taken (the agent's own tools): an MCP tool with one gets a server prefix.
    Servers start on :meth:`connect` (or the first call) and restart after a crash.
    """

    def __init__(
        self,
        servers: Iterable[MCPServer],
        *,
        model: Model | None = None,
        approve: ApprovalCallback | None = None,
        elicit: ElicitCallback | None = None,
        reserved: Iterable[str] = (),
    ) -> None:
        self.servers = tuple(servers)
        names = [s.name for s in self.servers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidRequestError(
                f"two MCP servers are named {twice[0]!r}; give each server its own name"
            )
        _require_sdk()
        self.model = model
        self._reserved = frozenset(reserved)
        self._runtime: MCPRuntime | None = None
        self._closed = False
        self._connections = {
            s.name: Connection(
                s,
                sampling=sampling_callback(s, lambda: self.model),
                elicitation=elicitation_callback(s, elicit, approve),
                on_tools_changed=lambda c: self._rebuild(),
            )
            for s in self.servers
        }
        self._table: dict[str, Tool] = {}
        self._info: dict[str, MCPToolInfo] = {}
        self._skipped: dict[str, list[str]] = {}

    # -- the tools ------------------------------------------------------------------------------

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools of the servers started so far, by the name the model sees."""
        return self._table

    def info(self, name: str) -> MCPToolInfo | None:
        return self._info.get(name)

    def approval_reason(self, name: str) -> str | None:
        """Why a call to the tool ``name`` needs approval, or None (also for non-MCP tools)."""
        info = self._info.get(name)
        return None if info is None else info.approval

    def reserve(self, names: Iterable[str]) -> None:
        """Add names the MCP tools must not take (an agent's own tools)."""
        self._reserved = self._reserved | set(names)
        self._rebuild()

    def _rebuild(self) -> None:
        """Recompute the exposed tools (after a server listed its tools)."""
        entries: list[tuple[Connection, types.Tool]] = []
        for conn in self._connections.values():
            allowed = conn.spec.tools
            entries += [(conn, t) for t in conn.tools if allowed is None or t.name in allowed]
        names = exposed_names([(c.spec.name, t.name) for c, t in entries], self._reserved)
        table: dict[str, Tool] = {}
        info: dict[str, MCPToolInfo] = {}
        skipped: dict[str, list[str]] = {}
        for conn, mcp_tool in entries:
            name = names[(conn.spec.name, mcp_tool.name)]
            try:
                table[name] = self._tool(conn, mcp_tool, name)
            except InvalidRequestError as exc:
                skipped.setdefault(conn.spec.name, []).append(f"{mcp_tool.name}: {exc}")
                continue
            info[name] = _info(conn.spec, mcp_tool, name)
        self._table, self._info, self._skipped = table, info, skipped

    def _tool(self, conn: Connection, mcp_tool: types.Tool, name: str) -> Tool:
        original = mcp_tool.name
        schema = dict(mcp_tool.input_schema)
        description = mcp_tool.description or mcp_tool.title or ""

        async def call(**arguments: object) -> ToolResult:
            return await self._call(conn, original, arguments)

        return Tool.from_schema(name, schema, call, description=description)

    async def _call(self, conn: Connection, tool: str, arguments: dict[str, object]) -> ToolResult:
        report = current_reporter()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if report is not None:
                report(progress, total, message)

        try:
            result = await self._running().call(conn.call_tool(tool, arguments, on_progress))
        except MCPCallError as exc:
            return ToolResult(str(exc), is_error=True)
        return tool_result(result)

    # -- lifetime ---------------------------------------------------------------------------------

    def _running(self) -> MCPRuntime:
        if self._closed:
            raise InvalidRequestError("this MCPToolset is closed")
        if self._runtime is None:
            self._runtime = MCPRuntime()
            self._runtime.on_exit = self.close
        return self._runtime

    def connect(self) -> None:
        """Start every server (at the same time) and list its tools; MCPServerError naming
        each server that could not start."""
        self._running().run(self._connect_all())

    async def aconnect(self) -> None:
        await self._running().call(self._connect_all())

    async def _connect_all(self) -> None:
        pending = [c for c in self._connections.values() if c.state != "ready"]
        outcomes = await asyncio.gather(*(c.ensure() for c in pending), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if not errors:
            return
        first = errors[0]
        if not isinstance(first, MCPServerError):
            raise first
        if len(errors) > 1:
            raise MCPServerError(" | ".join(map(str, errors)), server=first.server,
                                 stderr=first.stderr)  # fmt: skip
        raise first

    def status(self) -> list[ServerStatus]:
        """Each server, started if it can be, with its tools or why it failed."""
        runtime = self._running()
        runtime.run(self._try_all())
        return [self._status(c) for c in self._connections.values()]

    async def _try_all(self) -> None:
        await asyncio.gather(*(c.ensure() for c in self._connections.values()),
                             return_exceptions=True)  # fmt: skip

    def _status(self, conn: Connection) -> ServerStatus:
        spec = conn.spec
        allowed = spec.tools
        hidden = [t.name for t in conn.tools if allowed is not None and t.name not in allowed]
        tools = tuple(i for i in self._info.values() if i.server == spec.name)
        error = str(conn.error) if conn.error is not None else None
        return ServerStatus(spec.name, spec.transport, spec.target, conn.state, error, tools,
                            tuple(hidden), tuple(self._skipped.get(spec.name, ())))  # fmt: skip

    def close(self) -> None:
        """Stop every server this toolset started and its thread. Idempotent."""
        runtime, self._runtime = self._runtime, None
        self._closed = True
        if runtime is None:
            return
        if runtime.alive and not runtime.in_thread():
            try:
                runtime.run(self._close_all(), timeout=CLOSE_TIMEOUT)
            finally:
                runtime.stop()

    async def aclose(self) -> None:
        runtime, self._runtime = self._runtime, None
        self._closed = True
        if runtime is None:
            return
        try:
            await runtime.call(self._close_all())
        finally:
            await asyncio.to_thread(runtime.stop)

    async def _close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self._connections.values()),
                             return_exceptions=True)  # fmt: skip

    def __enter__(self) -> MCPToolset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MCPToolset:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _info(spec: MCPServer, tool: types.Tool, name: str) -> MCPToolInfo:
    hints = tool.annotations
    read_only = bool(hints is not None and hints.read_only_hint)
    destructive = bool(hints is not None and hints.destructive_hint and not read_only)
    approval: str | None = None
    if spec.require_approval == "always":
        approval = f"MCP server {spec.name!r} requires approval for every tool call"
    elif spec.require_approval == "destructive" and destructive:
        approval = f"{tool.name!r} of MCP server {spec.name!r} is marked destructive"
    return MCPToolInfo(name, spec.name, tool.name, tool.description or "", read_only,
                       destructive, approval)  # fmt: skip


def describe(status: ServerStatus) -> dict[str, object]:
    """A status as JSON values (``hearth mcp list --json``)."""
    return {
        "name": status.name, "transport": status.transport, "target": status.target,
        "state": status.state, "error": status.error,
        "tools": [{"name": t.name, "original": t.original, "description": t.description,
                   "needs_approval": t.approval is not None} for t in status.tools],
        "hidden_by_allow_list": list(status.hidden), "skipped": list(status.skipped),
    }  # fmt: skip


def _require_sdk() -> None:
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        raise InvalidRequestError(
            "MCP servers need the official mcp SDK: pip install 'hearthlm[mcp]'"
        )
