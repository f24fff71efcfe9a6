"""The ``mcpServers`` JSON file that Claude Desktop, Cursor and LM Studio use.

::

    {"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "docs": {"url": "https://example.com/mcp", "headers": {"X-Team": "a"}}
    }}

``command``, ``args``, ``env``, ``cwd``, ``url``, ``headers`` and ``type`` (``stdio``,
``http``, ``streamable-http``) are read; a server with ``"disabled": true`` is left out. Keys
that other applications add for themselves (``autoApprove``, ``timeout``, …) are ignored, since
the file is theirs too. Anything hearth reads that is wrong is an error naming the file and the
server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from hearth.errors import ConfigFileError, InvalidRequestError
from hearth.mcp_spec import MCPServer

_Fail: TypeAlias = Callable[[str], ConfigFileError]
_TYPES = ("stdio", "http", "streamable-http", "streamableHttp")


def load_mcp_json(path: str | Path) -> dict[str, MCPServer]:
    """The servers of an ``mcpServers`` JSON file, by name."""
    where = str(path)
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(
            where, "no such file; give the path of an mcpServers JSON file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(where, f"cannot read it: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(where, f"not valid JSON: {exc.msg}", line=exc.lineno,
                              column=exc.colno) from None  # fmt: skip
    return parse_mcp_json(data, where)


def parse_mcp_json(data: object, where: str) -> dict[str, MCPServer]:
    """The servers of a parsed ``mcpServers`` document; ``where`` names it in errors."""
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise ConfigFileError(
            where, 'expected a JSON object with an "mcpServers" object of servers by name, e.g. '
            '{"mcpServers": {"time": {"command": "mcp-server-time"}}}'
        )  # fmt: skip
    servers: dict[str, MCPServer] = {}
    for name, entry in data["mcpServers"].items():
        server = _server(name, entry, where)
        if server is not None:
            servers[name] = server
    return servers


def _server(name: str, entry: object, where: str) -> MCPServer | None:
    def fail(message: str) -> ConfigFileError:
        return ConfigFileError(where, f"mcpServers.{name}: {message}")

    if not isinstance(entry, dict):
        raise fail("must be an object with command (and args, env) or url (and headers)")
    if entry.get("disabled") is True:
        return None
    kind = entry.get("type")
    if kind is not None and kind not in _TYPES:
        hint = ""
        if kind == "sse":
            hint = " (hearth speaks streamable HTTP, not the older SSE transport)"
        raise fail(f"type must be one of {', '.join(_TYPES)}, got {kind!r}{hint}")
    try:
        return MCPServer(
            name,
            command=_string(entry, "command", fail),
            args=tuple(_strings(entry, "args", fail)),
            env=_table(entry, "env", fail),
            cwd=_string(entry, "cwd", fail),
            url=_string(entry, "url", fail),
            headers=_table(entry, "headers", fail),
        )
    except InvalidRequestError as exc:
        raise fail(str(exc).split(": ", 1)[-1]) from None


def _string(entry: dict[str, object], key: str, fail: _Fail) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(f"{key} must be a string, got {json.dumps(value)[:60]}")
    return value


def _strings(entry: dict[str, object], key: str, fail: _Fail) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{key} must be an array of strings")
    return value


def _table(entry: dict[str, object], key: str, fail: _Fail) -> dict[str, str]:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise fail(f"{key} must be an object of strings (the values are not shown)")
    return value
