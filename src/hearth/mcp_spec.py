"""What an MCP server is to hearth: how to start or reach it, and the policy for its tools.

An :class:`MCPServer` is a plain description (no connection, no SDK import): a stdio server
(``command``, ``args``, ``env``, ``cwd``) or a streamable HTTP one (``url``, ``headers``, a bearer
token read from ``$bearer_token_env``). It comes from Python, from a ``[mcp.servers.NAME]`` table
(:mod:`hearth.config.mcp`), from an ``mcpServers`` JSON file (:mod:`hearth.mcp.json_file`) or
from a ``--mcp`` option (:func:`parse_server_option`).

It stands beside :mod:`hearth.mcp`, not in it, so that the configuration (which
:func:`hearth.model` reads) holds server specs without loading the MCP package;
``hearth.mcp`` re-exports its names.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType
from typing import Literal, TypeAlias

from hearth.errors import InvalidRequestError

ApprovalPolicy: TypeAlias = Literal["destructive", "always", "never"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = ("destructive", "always", "never")
SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_CALL_TIMEOUT = 60.0
# words of a command line that launch something else: the server's name is further on
_LAUNCHERS = frozenset({
    "npx", "uvx", "uv", "pipx", "bunx", "bun", "deno", "node", "python", "python3", "run",
    "tool", "exec", "-m", "--from", "dlx", "pnpm", "yarn",
})  # fmt: skip


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class MCPServer:
    """One MCP server. Give ``command`` (stdio) or ``url`` (streamable HTTP), not both.

    * ``name``: how hearth calls it (1-32 letters, digits, ``_``, ``-``); a tool whose name
      another server (or one of the agent's own tools) also has is exposed as ``NAME__tool``.
    * ``command``, ``args``, ``env`` (added to a minimal inherited environment: PATH, HOME, …),
      ``cwd``: how to start a stdio server.
    * ``url``, ``headers``, ``bearer_token_env`` (the name of the variable holding the token,
      sent as ``Authorization: Bearer …``): how to reach an HTTP server.
    * ``tools``: an allow-list of the server's tool names; None allows them all.
    * ``require_approval``: ``"destructive"`` (default: tools whose annotations say
      ``destructiveHint`` need the approval callback), ``"always"`` or ``"never"``.
    * ``sampling``: answer the server's ``sampling/createMessage`` requests with the agent's
      own model (off by default: a server then gets an error).
    * ``startup_timeout``: seconds to start and initialize; ``call_timeout``: seconds a call
      may take.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token_env: str | None = None
    tools: tuple[str, ...] | None = None
    require_approval: ApprovalPolicy = "destructive"
    sampling: bool = False
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    call_timeout: float = DEFAULT_CALL_TIMEOUT

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "env", _frozen(self.env))
        object.__setattr__(self, "headers", _frozen(self.headers))
        if self.tools is not None:
            object.__setattr__(self, "tools", tuple(self.tools))
        problem = self._problem()
        if problem is not None:
            raise InvalidRequestError(f"MCP server {self.name!r}: {problem}")

    def _problem(self) -> str | None:  # noqa: PLR0911 - one return per rule, each its message
        if not SERVER_NAME.fullmatch(self.name):
            return (
                "the name must be 1-32 letters, digits, '_' or '-', starting with a letter or digit"
            )
        if (self.command is None) == (self.url is None):
            return "give either command (a stdio server) or url (a streamable HTTP server)"
        if self.command is not None and not self.command.strip():
            return "command is empty"
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            return f"url must start with http:// or https://, got {self.url!r}"
        if self.url is None and (self.headers or self.bearer_token_env):
            return "headers and bearer_token_env apply to url servers only"
        if self.url is not None and (self.args or self.env or self.cwd):
            return "args, env and cwd apply to command servers only"
        if self.bearer_token_env is not None and not ENV_NAME.fullmatch(self.bearer_token_env):
            return (
                "bearer_token_env must name an environment variable (e.g. DOCS_TOKEN), not "
                "hold the token"
            )
        if self.require_approval not in APPROVAL_POLICIES:
            choices = ", ".join(APPROVAL_POLICIES)
            return f"require_approval must be one of {choices}, got {self.require_approval!r}"
        for label, value in (("startup_timeout", self.startup_timeout),
                             ("call_timeout", self.call_timeout)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                return f"{label} must be a positive number of seconds, got {value!r}"
        return None

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    @property
    def target(self) -> str:
        """The command line or URL, for people to read."""
        if self.url is not None:
            return self.url
        return shlex.join([self.command or "", *self.args])

    def http_headers(self) -> dict[str, str]:
        """The headers an HTTP server gets: ``headers`` plus the bearer token, read now (an
        unset variable is an InvalidRequestError saying which)."""
        headers = dict(self.headers)
        if self.bearer_token_env is not None:
            token = os.environ.get(self.bearer_token_env, "")
            if not token:
                raise InvalidRequestError(
                    f"MCP server {self.name!r}: the environment variable "
                    f"{self.bearer_token_env} (bearer_token_env) is not set; export the token "
                    "in it"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers


def parse_server_option(text: str, configured: Mapping[str, MCPServer]) -> MCPServer:
    """A ``--mcp`` value: the name of a configured server, a URL, or a command line."""
    spec = text.strip()
    if not spec:
        raise InvalidRequestError(
            "--mcp is empty; give a configured server's name, a URL or a command"
        )
    if spec in configured:
        return configured[spec]
    if spec.startswith(("http://", "https://")):
        return MCPServer(_name_from_url(spec), url=spec)
    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise InvalidRequestError(f"--mcp {spec!r} is not a command line: {exc}") from None
    if len(words) == 1 and not _runnable(words[0]):
        known = ", ".join(sorted(configured)) or "none are configured"
        raise InvalidRequestError(
            f"--mcp {spec!r}: no MCP server of that name is configured ({known}), and there is "
            "no such command; give a configured name, a URL or a command line"
        )
    return MCPServer(name_from_command(words), command=words[0], args=tuple(words[1:]))


def name_from_command(words: list[str]) -> str:
    """A server name from its command line: the first word that is not a launcher or a flag
    (``npx -y @modelcontextprotocol/server-everything`` → ``server-everything``)."""
    for word in words:
        base = PurePath(word).name if "/" in word else word
        if word.startswith("-") or base in _LAUNCHERS or base.startswith("python"):
            continue
        return _as_name(base.split("@")[0] or base)
    return _as_name(PurePath(words[0]).name)


def _name_from_url(url: str) -> str:
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return _as_name(host.split(".")[0] if not host.replace(".", "").isdigit() else "http")


def _as_name(text: str) -> str:
    stem = text.rsplit(".", 1)[0] if text.endswith((".js", ".py", ".ts", ".mjs")) else text
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:32]
    return name or "mcp"


def _runnable(word: str) -> bool:
    import shutil

    return shutil.which(word) is not None or os.path.isfile(word)
