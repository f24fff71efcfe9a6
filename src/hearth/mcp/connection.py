"""One MCP server's connection, owned by a task on the MCP runtime's loop.

The owner task opens the transport and the session, initializes, lists the tools, and then
waits until it is told to stop: the SDK's task groups are entered and left by that one task.
Calls come from other tasks on the same loop. A server that crashed (its connection closed) is
dropped at once; one that did not answer a call in time is pinged before the next call, and
dropped if it does not answer. The next call then starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, NoReturn, TextIO, cast

from hearth.errors import InvalidRequestError, MCPServerError
from hearth.mcp_spec import MCPServer

from .transport import open_session

if TYPE_CHECKING:
    import mcp_types as types
    from mcp import ClientSession
    from mcp.client.session import ElicitationFnT, IncomingMessage, SamplingFnT
    from mcp.shared.dispatcher import ProgressFnT

State = Literal["new", "starting", "ready", "failed", "closed"]
PING_TIMEOUT = 5.0
STDERR_TAIL = 2000


class MCPCallError(Exception):  # never leaves hearth.mcp: it becomes an error result
    """A call did not produce a result; the message is what the model is told."""


class Connection:
    """One server: started on first use, restarted after a crash or a hang."""

    def __init__(
        self,
        spec: MCPServer,
        *,
        sampling: SamplingFnT | None = None,
        elicitation: ElicitationFnT | None = None,
        on_tools_changed: Callable[[Connection], None] = lambda c: None,
    ) -> None:
        self.spec = spec
        self.tools: tuple[types.Tool, ...] = ()
        self.state: State = "new"
        self.error: MCPServerError | None = None
        self.starts = 0
        self._sampling = sampling
        self._elicitation = elicitation
        self._on_tools_changed = on_tools_changed
        self._session: ClientSession | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._list_lock: asyncio.Lock | None = None
        self._suspect = False
        self._errlog: TextIO | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._owners: set[asyncio.Task[None]] = set()  # running, or still shutting down
        self._ready: asyncio.Future[ClientSession] | None = None

    # -- lifetime (on the runtime's loop) -----------------------------------------------------

    async def ensure(self) -> ClientSession:
        """The live session, started (or restarted) if need be; MCPServerError if it cannot."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.state == "closed":
                raise InvalidRequestError(f"MCP server {self.spec.name!r} has been closed")
            if self._session is not None and self._suspect:
                self._suspect = False
                if not await self._answers_ping(self._session):
                    await self._drop()
            if self._session is None:
                await self._start()
            assert self._session is not None
            return self._session

    async def close(self) -> None:
        """Stop the server (a stdio server's process group is terminated if it lingers)."""
        self.state = "closed"
        await self._drop()
        if self._owners:  # one a cancelled start is still stopping: its server must go too
            await asyncio.wait(set(self._owners), timeout=10.0)
        for task in list(self._background):
            task.cancel()
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    async def _start(self) -> None:
        load_sdk()  # before the clock starts: importing it can take seconds on a busy machine
        self.starts += 1
        self.state = "starting"
        if self._errlog is None and self.spec.command is not None:
            log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            self._errlog = cast(TextIO, log)  # closed in close(); the server writes to it
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[ClientSession] = loop.create_future()
        ready.add_done_callback(_retrieved)
        self._ready = ready
        self._stop = asyncio.Event()
        self._owner = loop.create_task(self._own(ready, self._stop), name=f"mcp-{self.spec.name}")
        self._owners.add(self._owner)
        self._owner.add_done_callback(self._owners.discard)
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), self.spec.startup_timeout)
        except TimeoutError:
            await self._drop(cancel=True)
            self._fail(self._startup_error(
                f"did not finish starting (initialize and tools/list) within "
                f"{self.spec.startup_timeout:g} s; check that the command starts an MCP server "
                "that speaks stdio (or that the URL is one), or raise startup_timeout"
            ))  # fmt: skip
        except MCPServerError as exc:
            await self._drop(cancel=True)
            self._fail(exc)
        except BaseException:
            await self._drop(cancel=True)
            raise
        self._session = session
        self.state, self.error = "ready", None

    def _fail(self, error: MCPServerError) -> NoReturn:
        self.state, self.error = "failed", error
        raise error

    async def _own(self, ready: asyncio.Future[ClientSession], stop: asyncio.Event) -> None:
        """Open, initialize, list the tools, hand the session over, and hold it until ``stop``."""
        try:
            async with open_session(
                self.spec, self._errlog, on_message=self._on_message,
                sampling=self._sampling, elicitation=self._elicitation,
            ) as session:  # fmt: skip
                await session.initialize()
                await self._list_tools(session)
                if not ready.done():
                    ready.set_result(session)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(self._startup_error(_reason(exc)))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._session = None

    async def _drop(self, *, cancel: bool = False) -> None:
        """End the owner task (and with it the transport and the server process): told to
        stop, or cancelled when it is still starting (``cancel``)."""
        owner, self._owner, self._session = self._owner, None, None
        if self._stop is not None:
            self._stop.set()
        if owner is None:
            return
        if cancel:
            owner.cancel()
        done, _ = await asyncio.wait({owner}, timeout=10.0)
        if not done:  # the transport's own shutdown is bounded; this is a last resort
            owner.cancel()
            with contextlib.suppress(BaseException):
                await owner

    # -- tools ---------------------------------------------------------------------------------

    async def _list_tools(self, session: ClientSession) -> None:
        if self._list_lock is None:
            self._list_lock = asyncio.Lock()
        async with self._list_lock:
            tools: list[types.Tool] = []
            cursor: str | None = None
            for _ in range(100):  # a server that pages forever cannot hang us
                import mcp_types as types

                params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    break
            self.tools = tuple(tools)
        self._on_tools_changed(self)

    async def _on_message(self, message: IncomingMessage) -> None:
        import mcp_types as types

        ready = self._ready
        if isinstance(message, Exception) and ready is not None and not ready.done():
            # the transport failed while starting (e.g. connection refused): say so now
            ready.set_exception(self._startup_error(_reason(message)))
        elif isinstance(message, types.ToolListChangedNotification):
            task = asyncio.get_running_loop().create_task(self._refresh())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _refresh(self) -> None:
        session = self._session
        if session is None:
            return
        with contextlib.suppress(Exception):  # the next start lists them anyway
            await asyncio.wait_for(self._list_tools(session), self.spec.call_timeout)

    # -- calls ----------------------------------------------------------------------------------

    async def call_tool(
        self, name: str, arguments: dict[str, object], progress: ProgressFnT | None
    ) -> types.CallToolResult:
        """The server's result; MCPCallError (saying what happened) when there is none."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        try:
            session = await self.ensure()
        except MCPServerError as exc:
            raise MCPCallError(
                f"{exc} The server will be started again on the next call."
            ) from None
        where = f"tool {name!r} of MCP server {self.spec.name!r}"
        completed = False
        try:
            result = await session.call_tool(
                name, arguments, read_timeout_seconds=self.spec.call_timeout,
                progress_callback=progress,
            )  # fmt: skip
            completed = True
            return result
        except MCPError as exc:
            completed = exc.code not in (REQUEST_TIMEOUT, CONNECTION_CLOSED)
            if exc.code == REQUEST_TIMEOUT:
                raise MCPCallError(
                    f"{where} did not answer within {self.spec.call_timeout:g} s; the call was "
                    "cancelled. You may try again (the server is checked first)."
                ) from None
            if exc.code == CONNECTION_CLOSED:
                await self._dropped_mid_call()
                raise MCPCallError(
                    f"MCP server {self.spec.name!r} stopped during the call to {name!r} (its "
                    f"connection closed){self._stderr_note()}. It will be started again on the "
                    "next call."
                ) from None
            raise MCPCallError(f"{where} failed: {exc.message}") from None
        finally:
            if not completed:  # timed out, cancelled or broken: check the server next time
                self._suspect = True

    async def _dropped_mid_call(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._drop()
            self.state = "new"

    async def _answers_ping(self, session: ClientSession) -> bool:
        try:
            limit = min(PING_TIMEOUT, self.spec.startup_timeout)
            await asyncio.wait_for(session.send_ping(), limit)
        except Exception:
            return False
        return True

    # -- errors ---------------------------------------------------------------------------------

    def _startup_error(self, what: str) -> MCPServerError:
        tail = self._stderr_tail()
        said = f"; it wrote to stderr: {tail}" if tail else ""
        return MCPServerError(
            f"MCP server {self.spec.name!r} ({self.spec.target}) {what}{said}",
            server=self.spec.name,
            stderr=tail,
        )

    def _stderr_note(self) -> str:
        tail = self._stderr_tail()
        return f"; its stderr ends: {tail}" if tail else ""

    def _stderr_tail(self) -> str:
        log = self._errlog
        if log is None or log.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            log.flush()
            size = log.seek(0, 2)
            log.seek(max(0, size - STDERR_TAIL * 4))
            text = log.read()
            log.seek(0, 2)
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return " | ".join(lines)[-STDERR_TAIL:]
        return ""


def _reason(exc: BaseException) -> str:
    """Why a start failed, for a person: the SDK's errors and OS errors in plain words."""
    if isinstance(exc, FileNotFoundError):
        return f"could not be started: no such command or directory ({exc.filename or exc})"
    if isinstance(exc, PermissionError):
        return f"could not be started: permission denied ({exc.filename or exc})"
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return _reason(inner)
    if isinstance(exc, asyncio.CancelledError):
        return "was stopped while starting"
    text = str(exc) or type(exc).__name__
    if "Connection closed" in text:
        return "closed the connection while starting (did the command exit?)"
    return f"failed to start: {type(exc).__name__}: {text}"


def load_sdk() -> None:
    """Import the parts of the mcp SDK a connection uses (on the runtime's thread)."""
    import mcp
    import mcp.client.stdio
    import mcp.client.streamable_http
    import mcp_types

    del mcp, mcp_types


def _retrieved(future: asyncio.Future[ClientSession]) -> None:
    """Mark a start's outcome as seen (nobody awaits it after a timeout)."""
    if not future.cancelled():
        future.exception()
