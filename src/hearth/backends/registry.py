"""Provider name → backend factory.

Built-in providers are named here as ``"module:function"`` strings so that nothing is imported
until a model of that provider is asked for. Plugins add providers through the
``hearth.backends`` entry-point group. An unknown provider is an error that lists the known ones.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from hearth.backends.base import Backend
from hearth.errors import UnknownProviderError

ENTRY_POINT_GROUP = "hearth.backends"

BUILTIN_PROVIDERS: dict[str, str] = {
    "local": "hearth.backends.local.backend:create_backend",
    "openai": "hearth.backends.openai_compat:create_openai",
    "lmstudio": "hearth.backends.openai_compat:create_lmstudio",
    "llama-server": "hearth.backends.openai_compat:create_llama_server",
    "vllm": "hearth.backends.openai_compat:create_vllm",
    "hearth": "hearth.backends.openai_compat:create_hearth",
    "groq": "hearth.backends.openai_compat:create_groq",
    "openrouter": "hearth.backends.openai_compat:create_openrouter",
    "together": "hearth.backends.openai_compat:create_together",
    "deepseek": "hearth.backends.openai_compat:create_deepseek",
    "anthropic": "hearth.backends.anthropic:create_backend",
    "gemini": "hearth.backends.gemini:create_backend",
    "ollama": "hearth.backends.ollama:create_backend",
}


class BackendFactory(Protocol):
    def __call__(self, model: str, /, **options: object) -> Backend: ...


def split_model_string(spec: str) -> tuple[str, str]:
    """``"provider:name"`` → ``(provider, name)``. A bare name or a path means ``local``."""
    provider, sep, name = spec.partition(":")
    if sep and provider and "/" not in provider and "\\" not in provider and "." not in provider:
        return provider, name
    return "local", spec


def providers() -> list[str]:
    """Every provider name: the built-in ones and those plugins register."""
    from importlib.metadata import entry_points  # ~30 ms: only when plugins are looked up

    plugin_names = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(set(BUILTIN_PROVIDERS) | set(plugin_names))


def factory_for(provider: str) -> BackendFactory:
    target = BUILTIN_PROVIDERS.get(provider)
    if target is not None:
        module_name, _, attr = target.partition(":")
        factory: BackendFactory = getattr(importlib.import_module(module_name), attr)
        return factory
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=provider):
        loaded: BackendFactory = ep.load()
        return loaded
    raise UnknownProviderError(provider, providers())


def create_backend(spec: str, **options: object) -> Backend:
    """Build the backend for ``"provider:name"``."""
    provider, name = split_model_string(spec)
    return factory_for(provider)(name, **options)
