"""``anthropic:MODEL`` — Anthropic's Messages API (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL).

A :class:`hearth.backends.remote.RemoteBackend` over :mod:`hearth.wire.anthropic`; options as
for :mod:`hearth.backends.openai_compat` (api_key, base_url, timeout, max_retries, vision,
http_client, async_http_client).
"""

from __future__ import annotations

from hearth.backends.endpoints import get_endpoint
from hearth.backends.remote import RemoteBackend, create_remote


def create_backend(model: str, /, **options: object) -> RemoteBackend:
    """Registry factory for ``anthropic:MODEL``."""
    return create_remote(get_endpoint("anthropic"), model, options)
