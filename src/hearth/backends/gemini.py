"""``gemini:MODEL`` — Google's Gemini REST API (GEMINI_API_KEY or GOOGLE_API_KEY,
GEMINI_BASE_URL): ``generateContent``, and ``streamGenerateContent?alt=sse`` for streams.

A :class:`hearth.backends.remote.RemoteBackend` over :mod:`hearth.wire.gemini`; options as for
:mod:`hearth.backends.openai_compat`. The key travels in the ``x-goog-api-key`` header, never in
the URL.
"""

from __future__ import annotations

from hearth.backends.endpoints import get_endpoint
from hearth.backends.remote import RemoteBackend, create_remote


def create_backend(model: str, /, **options: object) -> RemoteBackend:
    """Registry factory for ``gemini:MODEL``."""
    return create_remote(get_endpoint("gemini"), model, options)
