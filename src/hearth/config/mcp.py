"""``[mcp.servers.NAME]`` tables: the MCP servers ``hearth agent --mcp NAME`` and
``hearth mcp list`` know by name.

::

    [mcp.servers.time]                       # a stdio server
    command = "mcp-server-time"
    args = ["--local-timezone", "Europe/Paris"]
    env = { TZ = "UTC" }
    cwd = "~/work"
    tools = ["get_current_time"]             # an allow-list; default: every tool
    require_approval = "destructive"         # destructive (default) | always | never
    sampling = false                         # answer sampling/createMessage with your model
    startup_timeout = 30                     # seconds
    call_timeout = 60

    [mcp.servers.docs]                       # a streamable HTTP server
    url = "https://example.com/mcp"
    headers = { "X-Team" = "search" }
    bearer_token_env = "DOCS_TOKEN"          # the variable's NAME; sent as a bearer token
"""

from __future__ import annotations

from pathlib import Path

from hearth.config.fields import Fields, SchemaError, shown
from hearth.config.lines import KeyPath
from hearth.errors import InvalidRequestError
from hearth.mcp_spec import (
    APPROVAL_POLICIES,
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_STARTUP_TIMEOUT,
    SERVER_NAME,
    ApprovalPolicy,
    MCPServer,
)

SERVER_KEYS = (
    "command", "args", "env", "cwd", "url", "headers", "bearer_token_env", "tools",
    "require_approval", "sampling", "startup_timeout", "call_timeout",
)  # fmt: skip


def parse_mcp(table: object, path: Path) -> dict[str, MCPServer]:
    """The servers of the ``[mcp]`` table."""
    top = Fields(table, ("mcp",), ("servers",))
    servers = top.table.get("servers", {})
    if not isinstance(servers, dict):
        raise SchemaError(("mcp", "servers"), f"mcp.servers must be a table, got {shown(servers)}")
    return {name: _server(name, body, path) for name, body in servers.items()}


def _server(name: str, body: object, path: Path) -> MCPServer:
    at: KeyPath = ("mcp", "servers", name)
    if not SERVER_NAME.fullmatch(name):
        raise SchemaError(at, f"MCP server name {name!r} must be 1-32 letters, digits, '_' or '-'")
    fields = Fields(body, at, SERVER_KEYS)
    cwd = fields.string("cwd")
    if cwd is not None:  # relative to the config file, like [[models]] paths
        target = Path(cwd).expanduser()
        cwd = str(target if target.is_absolute() else path.parent / target)
    tools = fields.strings("tools") if "tools" in fields.table else None
    policy = fields.choice("require_approval", APPROVAL_POLICIES)
    approval: ApprovalPolicy = next((p for p in APPROVAL_POLICIES if p == policy), "destructive")
    try:
        return MCPServer(
            name,
            command=fields.string("command"),
            args=fields.strings("args"),
            env=_string_table(fields, "env"),
            cwd=cwd,
            url=fields.string("url"),
            headers=_string_table(fields, "headers"),
            bearer_token_env=fields.env_name("bearer_token_env"),
            tools=tools,
            require_approval=approval,
            sampling=bool(fields.boolean("sampling")),
            startup_timeout=fields.number("startup_timeout") or DEFAULT_STARTUP_TIMEOUT,
            call_timeout=fields.number("call_timeout") or DEFAULT_CALL_TIMEOUT,
        )
    except InvalidRequestError as exc:
        raise SchemaError(at, f"{'.'.join(map(str, at))}: {str(exc).split(': ', 1)[-1]}") from None


def _string_table(fields: Fields, key: str) -> dict[str, str]:
    value = fields.table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise fields.fail(key, "a table of strings (the values are not shown)", echo=False)
    return dict(value)


def server_fields(server: MCPServer, mask: str) -> dict[str, object]:
    """A server's settings for ``hearth config show``: env and header values masked (they are
    often keys), defaults left out."""
    out: dict[str, object] = {}
    if server.command is not None:
        out["command"] = server.command
        if server.args:
            out["args"] = list(server.args)
    if server.env:
        out["env"] = {k: mask for k in server.env}
    if server.cwd is not None:
        out["cwd"] = server.cwd
    if server.url is not None:
        out["url"] = server.url
    if server.headers:
        out["headers"] = {k: mask for k in server.headers}
    if server.bearer_token_env is not None:
        out["bearer_token_env"] = server.bearer_token_env
    if server.tools is not None:
        out["tools"] = list(server.tools)
    out["require_approval"] = server.require_approval
    out["sampling"] = server.sampling
    out["startup_timeout"] = server.startup_timeout
    out["call_timeout"] = server.call_timeout
    return out
