"""``hearth mcp list``, and the ``--mcp`` / ``--mcp-config`` options of ``hearth agent``.

``--mcp`` takes the name of a configured server (``[mcp.servers.NAME]`` in the config file, or
a server of the ``--mcp-config`` file), a URL (streamable HTTP), or a command line (stdio).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearth._text import escape_controls
from hearth.errors import InvalidRequestError

if TYPE_CHECKING:
    from hearth.config import Config
    from hearth.mcp import MCPServer, MCPToolset, ServerStatus
    from hearth.messages import ToolCallPart

McpOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        help="An MCP server whose tools the agent may use: a configured name, a URL, or a "
        "command line such as 'mcp-server-time'. Repeatable.",
    ),
]
McpConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--mcp-config",
        help="An mcpServers JSON file (as Claude Desktop, Cursor and LM Studio write): its "
        "servers can be named with --mcp.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="MCP servers: their status and tools.", no_args_is_help=True)
    group.command("list")(list_servers)
    app.add_typer(group, name="mcp")


def configured(config: Config, mcp_config: Path | None) -> dict[str, MCPServer]:
    """The servers known by name: the config file's, then the --mcp-config file's."""
    servers = dict(config.mcp_servers)
    if mcp_config is not None:
        from hearth.mcp import load_mcp_json

        servers.update(load_mcp_json(mcp_config))
    return servers


def chosen_servers(
    options: list[str] | None, mcp_config: Path | None, config: Config
) -> list[MCPServer]:
    """The servers the ``--mcp`` options name, checked before anything starts."""
    from hearth.mcp import parse_server_option

    known = configured(config, mcp_config)
    servers = [parse_server_option(option, known) for option in options or []]
    names = [s.name for s in servers]
    for name in names:
        if names.count(name) > 1:
            raise InvalidRequestError(
                f"two --mcp servers are named {name!r}; configure one of them under another "
                "name ([mcp.servers.NAME] or --mcp-config)"
            )
    return servers


def list_servers(
    mcp: McpOpt = None, mcp_config: McpConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Start each configured server (and each --mcp one), and show its status and tools."""
    from hearth.cli.ui import status
    from hearth.config import load_config
    from hearth.mcp import MCPToolset
    from hearth.mcp.toolset import describe

    config = load_config()
    servers = list(configured(config, mcp_config).values()) if not mcp else []
    servers += chosen_servers(mcp, mcp_config, config)
    if not servers:
        sys.stdout.write(
            "no MCP servers: add [mcp.servers.NAME] tables to the config file "
            "(hearth config path), or give --mcp or --mcp-config\n"
        )
        return
    with MCPToolset(servers) as toolset, status("starting MCP servers"):
        statuses = toolset.status()
    if as_json:
        sys.stdout.write(json.dumps([describe(s) for s in statuses], indent=2) + "\n")
        return
    for server in statuses:
        sys.stdout.write(_server_text(server))


def _server_text(server: ServerStatus) -> str:
    state = f"ready, {len(server.tools)} tools" if server.state == "ready" else server.state
    lines = [f"{server.name}  ({server.transport}: {escape_controls(server.target)})  {state}"]
    if server.error:
        lines.append(f"  error: {escape_controls(server.error)}")
    for tool in sorted(server.tools, key=lambda t: t.name):
        first = (tool.description.strip().splitlines() or [""])[0]
        mark = "  [needs approval]" if tool.approval else ""
        alias = f" (its {tool.original!r})" if tool.name != tool.original else ""
        lines.append(f"  {tool.name}{alias}{mark}  {escape_controls(first[:100])}")
    if server.hidden:
        lines.append(f"  not in the allow-list: {', '.join(server.hidden)}")
    lines += [f"  skipped: {escape_controls(s)}" for s in server.skipped]
    return "\n".join(lines) + "\n"


def ask_approval(call: ToolCallPart, reason: str) -> bool:
    """The CLI's approval callback: ask on the terminal; refuse when there is none to ask."""
    if not sys.stdin.isatty():
        sys.stderr.write(
            f"[{escape_controls(call.name)} needs approval ({escape_controls(reason)}); not "
            "asked: stdin is not a terminal]\n"
        )
        return False
    prompt = f"{escape_controls(reason)}.\nAllow {escape_controls(call.name)}"
    shown = escape_controls(call.arguments[:300])
    return bool(typer.confirm(f"{prompt}({shown})?", default=False, err=True))


@contextlib.contextmanager
def started_servers(
    options: list[str] | None, mcp_config: Path | None
) -> Iterator[MCPToolset | None]:
    """The ``--mcp`` servers, started (behind a spinner) and stopped at the end; None when
    there are none."""
    if not options:
        if mcp_config is not None:
            raise InvalidRequestError(
                "--mcp-config only names servers; choose them with --mcp NAME"
            )
        yield None
        return
    from hearth.cli.ui import status
    from hearth.config import load_config
    from hearth.mcp import MCPToolset

    servers = chosen_servers(options, mcp_config, load_config())
    with MCPToolset(servers, approve=ask_approval) as toolset:
        with status("starting MCP servers: " + ", ".join(s.name for s in servers)):
            toolset.connect()
        yield toolset
