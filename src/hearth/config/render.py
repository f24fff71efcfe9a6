"""The effective configuration as JSON values or as TOML text, with every secret masked.

An inline ``api_key`` shows as ``"********"``; an ``api_key_env`` shows the variable's name and
whether it is set, never its value. The TOML text parses back (with :mod:`tomllib`) to the same
values, masks included.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from hearth._secret import MASK
from hearth.catalog.entries import CatalogEntry, HFSource, PathSource
from hearth.config.schema import Config, ProviderConfig, RouterConfig, ServerConfig
from hearth.settings import GenerationSettings

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def entry_fields(entry: CatalogEntry) -> dict[str, object]:
    """A catalogue entry as the keys of a ``[[models]]`` table (unset ones left out)."""
    out: dict[str, object] = {"name": entry.name}
    if entry.aliases:
        out["aliases"] = list(entry.aliases)
    if entry.description:
        out["description"] = entry.description
    source = entry.source
    if isinstance(source, HFSource):
        out["hf"] = f"{source.repo}/{source.file}"
        if source.revision:
            out["revision"] = source.revision
    elif isinstance(source, PathSource):
        out["path"] = str(source.path)
    else:
        out["filename"] = source.filename
        out["pypi"] = [
            {"package": p.package, "version": p.version, "member": p.member} for p in source.parts
        ]
    optional = {
        "sha256": entry.sha256,
        "size": entry.size,
        "template": entry.template,
        "context_length": entry.context_length,
        "draft_model": entry.draft_model,
    }
    out.update({key: value for key, value in optional.items() if value is not None})
    out["capabilities"] = list(entry.capabilities)
    if entry.thinking_tags is not None:
        out["thinking_tags"] = list(entry.thinking_tags)
    if entry.chat_template is not None:
        out["chat_template"] = entry.chat_template
    projector = entry.mmproj
    if projector is not None:
        out["mmproj"] = projector.describe().removeprefix("path:")
        if entry.mmproj_sha256 is not None:
            out["mmproj_sha256"] = entry.mmproj_sha256
    sampling = _settings(entry.sampling)
    if sampling:
        out["sampling"] = sampling
    for key, value in entry.accelerator.given().items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _settings(settings: GenerationSettings) -> dict[str, object]:
    """The settings that are set, as TOML values (``[[models]]`` and ``[providers]`` sampling)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name in type(settings).__dataclass_fields__
        if (value := getattr(settings, name)) not in (None, ())
    }


def _key_fields(endpoint: ProviderConfig | ServerConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    if endpoint.api_key_env is not None:
        out["api_key_env"] = endpoint.api_key_env
        out["api_key_env_set"] = bool(os.environ.get(endpoint.api_key_env))
    if endpoint.api_key is not None:
        out["api_key"] = MASK
    return out


def config_json(config: Config) -> dict[str, object]:
    """The configuration as JSON values, secrets masked."""
    providers: dict[str, object] = {}
    for name, provider in config.providers.items():
        fields: dict[str, object] = {"type": provider.type}
        if provider.base_url is not None:
            fields["base_url"] = provider.base_url
        if provider.raw_completion is not None:
            fields["raw_completion"] = provider.raw_completion
        if provider.max_tokens_field is not None:
            fields["max_tokens_field"] = provider.max_tokens_field
        sampling = _settings(provider.sampling)
        if sampling:
            fields["sampling"] = sampling
        providers[name] = fields | _key_fields(provider)
    server = config.server
    from hearth.config.mcp import server_fields

    mcp = {name: server_fields(s, MASK) for name, s in config.mcp_servers.items()}
    return {
        "path": str(config.path),
        "loaded": config.loaded,
        "overrides": list(config.overrides),
        "default_model": config.default_model,
        "aliases": dict(config.aliases),
        "models": [entry_fields(entry) for entry in config.models],
        "providers": providers,
        "server": {
            "host": server.host,
            "port": server.port,
            "max_queue": server.max_queue,
            "timeout": server.timeout,
        }
        | _residency_fields(server)
        | _key_fields(server),
        "mcp_servers": mcp,
        "routers": {name: _router_fields(router) for name, router in config.routers.items()},
    }


def _residency_fields(server: ServerConfig) -> dict[str, object]:
    """``[server]``'s model limits, where set (keep_alive -1: for ever, said explicitly)."""
    out: dict[str, object] = {}
    if server.max_loaded_models is not None:
        out["max_loaded_models"] = server.max_loaded_models
    if server.memory_budget is not None:
        out["memory_budget"] = server.memory_budget
    if server.keep_alive is not None:
        out["keep_alive"] = server.keep_alive
    return out


def _router_fields(router: RouterConfig) -> dict[str, object]:
    out: dict[str, object] = {
        "members": list(router.members),
        "cooldown": router.cooldown,
        "affinity": router.affinity,
    }
    if router.timeout is not None:
        out["timeout"] = router.timeout
    return out


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: object) -> str:
    """A TOML value: JSON's string escapes are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _table(header: str, fields: Mapping[str, object]) -> list[str]:
    lines = [header]
    for key, value in fields.items():
        if key == "api_key_env_set":
            continue
        note = ""
        if key == "api_key_env":
            note = "  # set" if fields.get("api_key_env_set") else "  # not set"
        elif key == "api_key":
            note = "  # written in the file; masked"
        lines.append(f"{toml_key(key)} = {toml_value(value)}{note}")
    return [*lines, ""]


def config_toml(config: Config) -> str:
    """The configuration as commented TOML text, secrets masked."""
    data = config_json(config)
    state = "read" if config.loaded else "not found: built-in defaults"
    lines = [f"# hearth configuration from {config.path} ({state})"]
    if config.overrides:
        lines.append(f"# overridden by the environment: {', '.join(config.overrides)}")
    lines += [f"default_model = {toml_value(config.default_model)}", ""]
    if config.aliases:
        lines += _table("[aliases]", config.aliases)
    for entry in config.models:
        lines += _table("[[models]]", entry_fields(entry))
    providers = data["providers"]
    assert isinstance(providers, dict)
    for name, fields in providers.items():
        lines += _table(f"[providers.{toml_key(name)}]", fields)
    server = data["server"]
    assert isinstance(server, dict)
    lines += _table("[server]", server)
    mcp = data["mcp_servers"]
    assert isinstance(mcp, dict)
    for name, fields in mcp.items():
        lines += _table(f"[mcp.servers.{toml_key(name)}]", fields)
    for name, router in config.routers.items():
        lines += _table(f"[routers.{toml_key(name)}]", _router_fields(router))
    return "\n".join(lines).rstrip() + "\n"
