"""``ollama:MODEL`` — Ollama's native ``/api/chat`` with NDJSON streaming (OLLAMA_HOST, read as
the ``ollama`` client reads it; no key unless OLLAMA_API_KEY is set).

A :class:`hearth.backends.remote.RemoteBackend` over :mod:`hearth.wire.ollama`; options as for
:mod:`hearth.backends.openai_compat`.
"""

from __future__ import annotations

from hearth.backends.endpoints import get_endpoint
from hearth.backends.remote import RemoteBackend, create_remote


def create_backend(model: str, /, **options: object) -> RemoteBackend:
    """Registry factory for ``ollama:MODEL``."""
    return create_remote(get_endpoint("ollama"), model, options)
