"""The chat page of ``hearth serve``: ``GET /`` and what it uses.

* :mod:`.page` serves the page and its static files (``/ui/static/…``, all from this package:
  no CDN) with a Content-Security-Policy that allows this origin's scripts and styles only;
* :mod:`.conversations` is the small JSON API under ``/ui/api/`` through which the page lists,
  loads, saves and deletes conversations in hearth's SQLite store, and learns what each served
  model can do (vision, for the image button).

The page itself talks to the models over ``/v1/models`` and ``/v1/chat/completions`` (SSE),
like any OpenAI client. See docs/server.md, "The chat page".
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from hearth.server.webui import conversations, page
from hearth.server.webui.conversations import WebUIState

__all__ = ["WebUIState", "routes"]


def routes() -> list[BaseRoute]:
    """The page, its static files and its JSON API."""
    return [*page.routes(), *conversations.routes()]
