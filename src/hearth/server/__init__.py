"""``hearth serve``: an OpenAI-, Anthropic- and Gemini-compatible HTTP server (Starlette).

>>> from hearth.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(models=("local:smollm2",)))

Routes live in one module per API flavour (:mod:`.openai`, :mod:`.anthropic`, :mod:`.gemini`,
:mod:`.ops`); what they share (keys, bodies, errors, deadlines, slots, disconnects, streaming) is
in :mod:`.handling`; admission control in :mod:`.admission`; Prometheus metrics in
:mod:`.metrics`. See docs/server.md.
"""

from __future__ import annotations

from hearth.server.app import create_app
from hearth.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
