"""Provider name → backend factory.

A provider is, in order of precedence:

1. ``local`` (and ``hf``, models in the Hugging Face cache): the in-process llama.cpp backend;
   ``router``: ``router:NAME`` spreads calls over the members of ``[routers.NAME]``;
2. a ``[providers.NAME]`` table in the user's config (an endpoint of type openai, anthropic,
   gemini or ollama with its own base_url and key variable; it may shadow a built-in row);
3. a built-in endpoint row of :mod:`hearth.backends.endpoints` (``openai``, ``anthropic``,
   ``gemini``, ``ollama``, ``lmstudio``, ``groq``, …) — endpoints are data, not classes;
4. a plugin registered in the ``hearth.backends`` entry-point group.

Nothing heavy is imported until a model of that provider is asked for. An unknown provider is an
error that lists the known ones; nothing falls back to a default.

The registry never reads the config file: every function takes the :class:`Config` its caller
read once, at the edge (``hearth.model``, the CLI, ``create_app``).
"""

from __future__ import annotations

import importlib
from functools import partial
from typing import TYPE_CHECKING, Protocol

from hearth.backends.base import Backend
from hearth.errors import UnknownProviderError

if TYPE_CHECKING:
    from hearth.backends.endpoints import Endpoint
    from hearth.config.schema import Config, ProviderConfig

ENTRY_POINT_GROUP = "hearth.backends"

BUILTIN_PROVIDERS: dict[str, str] = {
    "local": "hearth.backends.local.backend:create_backend",
    "hf": "hearth.backends.local.backend:create_hf_backend",
    "router": "hearth.backends.router:create_router",
}
CATALOG_PROVIDERS = frozenset({"local", "hf"})
"""The built-in providers whose factories also take ``catalog=``: the built-in models plus the
config's ``[[models]]``."""
CONFIG_PROVIDERS = frozenset({"router"})
"""The built-in providers whose factories take the whole ``config=`` (``router:NAME`` reads its
``[routers.NAME]`` table and builds its members from the config's providers)."""


class BackendFactory(Protocol):
    def __call__(self, model: str, /, **options: object) -> Backend: ...


def split_model_string(spec: str) -> tuple[str, str]:
    """``"provider:name"`` → ``(provider, name)``. A bare name or a path means ``local``."""
    provider, sep, name = spec.partition(":")
    if sep and provider and "/" not in provider and "\\" not in provider and "." not in provider:
        return provider, name
    return "local", spec


def providers(config: Config) -> list[str]:
    """Every provider name: local, configured, built-in endpoints and plugins."""
    from importlib.metadata import entry_points  # ~30 ms: only when plugins are looked up

    from hearth.backends.endpoints import ENDPOINTS

    plugin_names = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    names = set(BUILTIN_PROVIDERS) | set(ENDPOINTS) | set(config.providers) | set(plugin_names)
    return sorted(names)


def factory_for(provider: str, config: Config) -> BackendFactory:
    """The factory for ``provider``; ``config`` gives its ``[providers.NAME]`` table, if any,
    and the local models' catalogue."""
    target = BUILTIN_PROVIDERS.get(provider)
    if target is not None:
        module_name, _, attr = target.partition(":")
        factory: BackendFactory = getattr(importlib.import_module(module_name), attr)
        if provider in CATALOG_PROVIDERS:
            return partial(factory, catalog=config.catalog())
        if provider in CONFIG_PROVIDERS:
            return partial(factory, config=config)
        return factory
    configured = config.providers.get(provider)
    if configured is not None:
        return partial(_create_configured, configured)
    from hearth.backends.endpoints import ENDPOINTS

    if provider in ENDPOINTS:
        return partial(_create_remote, ENDPOINTS[provider])
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=provider):
        loaded: BackendFactory = ep.load()
        return loaded
    raise UnknownProviderError(provider, providers(config))


def _create_configured(provider: ProviderConfig, model: str, /, **options: object) -> Backend:
    """A ``[providers.NAME]`` endpoint. Its configured key (variable or inline) goes with the
    call unless the caller passes its own key, or points the call at another base_url."""
    from hearth.backends.endpoints import endpoint_from_config

    key = provider.resolve_api_key()
    if key is not None and "api_key" not in options and "base_url" not in options:
        options = {**options, "api_key": key}
    return _create_remote(endpoint_from_config(provider), model, **options)


def _create_remote(endpoint: Endpoint, model: str, /, **options: object) -> Backend:
    from hearth.backends.remote import create_remote

    return create_remote(endpoint, model, options)


def create_backend(spec: str, /, *, config: Config, **options: object) -> Backend:
    """Build the backend for ``"provider:name"`` under ``config`` (aliases already resolved)."""
    provider, name = split_model_string(spec)
    return factory_for(provider, config)(name, **options)
