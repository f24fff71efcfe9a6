"""The configuration, as frozen dataclasses. :mod:`hearth.config.parse` builds them from TOML."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from hearth._secret import Secret
from hearth.catalog.entries import DEFAULT_CHAT_MODEL, Catalog, CatalogEntry, builtin_catalog
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.mcp_spec import MCPServer

DEFAULT_MODEL = f"local:{DEFAULT_CHAT_MODEL}"


def _frozen_map(mapping: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping))


def _key_from(api_key_env: str | None, api_key: Secret | None) -> str | None:
    if api_key_env:
        value = os.environ.get(api_key_env)
        if value:
            return value
    return api_key.reveal() if api_key is not None else None


@dataclass(frozen=True)
class ProviderConfig:
    """A remote endpoint from ``[providers.NAME]``: ``NAME:model`` strings will reach it.

    ``api_key_env`` is the name of the environment variable holding the key. An ``api_key``
    written inline is accepted but is a :class:`Secret` (masked everywhere it is shown).
    ``type`` names the wire format the endpoint speaks (:data:`hearth.wire.formats.FORMAT_NAMES`).
    ``raw_completion``: whether the endpoint's models continue raw text (``/completions`` for
    ``type = "openai"``, ``/api/generate`` for ``"ollama"``); None keeps the type's default.
    ``sampling``: default generation settings for every request to the endpoint, under the
    caller's own (as ``[[models]]`` sampling is for a local model). ``max_tokens_field``
    (``type = "openai"`` only): the field the server takes the answer's token limit in,
    ``max_tokens`` or ``max_completion_tokens``; None keeps the type's.
    """

    name: str
    type: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_key: Secret | None = None
    raw_completion: bool | None = None
    sampling: GenerationSettings = field(default_factory=GenerationSettings)
    max_tokens_field: str | None = None

    def resolve_api_key(self) -> str | None:
        """The key: ``$api_key_env`` when that variable is set, else one saved with
        ``hearth keys set NAME``, else the inline key, else None."""
        from hearth.keys import stored_key

        if self.api_key_env and os.environ.get(self.api_key_env):
            return os.environ[self.api_key_env]
        return stored_key(self.name) or _key_from(None, self.api_key)


@dataclass(frozen=True)
class RouterConfig:
    """A router from ``[routers.NAME]``: ``router:NAME`` spreads calls over ``members``.

    ``members``: model strings (``gpu1:llama-3.1-8b``, ``openai:gpt-4o-mini``, an alias, even
    ``local:smollm2``), each one replica the router may send a call to. ``cooldown``: seconds a
    member that failed (connection error, timeout, 5xx, 429) sits out when its answer gave no
    ``Retry-After``. ``affinity``: send a conversation back to the member that served its start
    (a hash of its leading messages), so that member's prompt cache is reused. ``timeout``:
    seconds each member may take to answer (None: the members' own default).
    """

    name: str
    members: tuple[str, ...]
    cooldown: float = 5.0
    affinity: bool = True
    timeout: float | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Defaults for ``hearth serve`` from ``[server]``; command-line flags override them."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_queue: int = 64
    timeout: float = 600.0
    api_key_env: str | None = None
    api_key: Secret | None = None
    max_loaded_models: int | None = None
    memory_budget: int | None = None
    keep_alive: float | None = None
    """Seconds an idle local model stays loaded (None: for ever)."""

    def resolve_api_key(self) -> str | None:
        """The key clients must send: ``$api_key_env`` if set, else the inline key, else None."""
        return _key_from(self.api_key_env, self.api_key)


@dataclass(frozen=True)
class Config:
    """The effective configuration: the file's values, overridden by the environment.

    * ``path``: the file read (or that would be read); ``loaded``: whether it existed;
    * ``default_model``: what ``hearth.model()`` and the CLI use when no model is given;
    * ``aliases``: name → model string, resolved before the provider registry;
    * ``models``: the user's catalogue entries (``[[models]]``);
    * ``providers``: endpoint definitions (``[providers.NAME]``), by name;
    * ``server``: server defaults (``[server]``);
    * ``mcp_servers``: MCP servers (``[mcp.servers.NAME]``), by name;
    * ``routers``: routers over several models (``[routers.NAME]``), by name;
    * ``overrides``: the environment variables that overrode values from the file.
    """

    path: Path
    loaded: bool = False
    default_model: str = DEFAULT_MODEL
    aliases: Mapping[str, str] = field(default_factory=dict)
    models: tuple[CatalogEntry, ...] = ()
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    server: ServerConfig = field(default_factory=ServerConfig)
    overrides: tuple[str, ...] = ()
    mcp_servers: Mapping[str, MCPServer] = field(default_factory=dict)
    routers: Mapping[str, RouterConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aliases", _frozen_map(self.aliases))
        object.__setattr__(self, "providers", _frozen_map(self.providers))
        object.__setattr__(self, "mcp_servers", _frozen_map(self.mcp_servers))
        object.__setattr__(self, "routers", _frozen_map(self.routers))

    def alias_target(self, name: str) -> str | None:
        """The model string the alias ``name`` stands for (case-insensitive), else None."""
        wanted = name.strip().lower()
        for alias, target in self.aliases.items():
            if alias.lower() == wanted:
                return target
        return None

    def catalog(self) -> Catalog:
        """The local models' catalogue: the built-in entries plus ``models``."""
        return Catalog(builtin_catalog().entries + self.models)

    def resolve_model(self, spec: str | None) -> str:
        """``spec`` (or the default model when None) with an alias replaced by its target."""
        chosen = self.default_model if spec is None else spec
        target = self.alias_target(chosen)
        return chosen if target is None else target
