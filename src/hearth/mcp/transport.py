"""Opening one MCP session with the official SDK: stdio or streamable HTTP.

Only this module and :mod:`hearth.mcp.connection` import the ``mcp`` SDK, so ``import hearth``
(and reading the config) never loads it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TextIO

from hearth.mcp_spec import MCPServer

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.client._transport import TransportStreams
    from mcp.client.session import ElicitationFnT, MessageHandlerFnT, SamplingFnT

CLIENT_NAME = "hearth"


@contextlib.asynccontextmanager
async def open_session(
    spec: MCPServer,
    errlog: TextIO | None,
    *,
    on_message: MessageHandlerFnT,
    sampling: SamplingFnT | None,
    elicitation: ElicitationFnT | None,
) -> AsyncIterator[ClientSession]:
    """A ClientSession over the server's transport, not yet initialized. A stdio server's
    stderr goes to ``errlog``; leaving the context stops the server (the SDK closes its stdin,
    then terminates its process group)."""
    import mcp_types as types
    from mcp import ClientSession, StdioServerParameters, stdio_client

    async with contextlib.AsyncExitStack() as stack:
        if spec.command is not None:
            params = StdioServerParameters(
                command=spec.command, args=list(spec.args), env=dict(spec.env) or None,
                cwd=spec.cwd,
            )  # fmt: skip
            transport = stdio_client(params, errlog=errlog or sys.stderr)
            read, write = await stack.enter_async_context(transport)
        else:
            read, write = await stack.enter_async_context(_http(spec))
        session = ClientSession(
            read,
            write,
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            message_handler=on_message,
            client_info=types.Implementation(name=CLIENT_NAME, version=_version()),
        )
        yield await stack.enter_async_context(session)


@contextlib.asynccontextmanager
async def _http(spec: MCPServer) -> AsyncIterator[TransportStreams]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    assert spec.url is not None
    # reads may wait as long as a call may take; connecting is bounded by the start-up time
    timeout = httpx2.Timeout(spec.startup_timeout, read=max(spec.call_timeout, 30.0) + 5.0)
    client = create_mcp_http_client(headers=spec.http_headers(), timeout=timeout)
    async with client, streamable_http_client(spec.url, http_client=client) as streams:
        yield streams


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hearthlm")
    except PackageNotFoundError:
        return "0"
