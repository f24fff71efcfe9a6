"""``create_app(settings)``: the Starlette application. Its state lives on ``app.state.hearth``;
nothing is kept in module globals, so two apps in one process never share anything."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from hearth.backends.base import Backend
from hearth.config.schema import Config
from hearth.server import anthropic, gemini, openai, ops
from hearth.server.access_log import AccessLog
from hearth.server.guard import RequestGuard
from hearth.server.handling import ServerState
from hearth.server.metrics import Metrics
from hearth.server.router import ModelRouter, build_router
from hearth.server.settings import ServerSettings

log = logging.getLogger("hearth.server")


def create_app(
    settings: ServerSettings,
    *,
    config: Config | None = None,
    backends: Mapping[str, Backend] | None = None,
    load: bool = True,
) -> Starlette:
    """The server for ``settings``. ``config`` resolves aliases and providers (default: the
    user's config file); ``backends`` maps model names to ready backends (tests); ``load``
    loads local models in the background at startup (/ready says when they are)."""
    if config is None:
        from hearth.config import load_config

        config = load_config()
    router = build_router(settings, config, backends)
    metrics = Metrics(lambda: router.queue_depth, lambda: router.active)
    state = ServerState(settings=settings, router=router, metrics=metrics)
    middleware = [Middleware(AccessLog)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "x-api-key",
                    "x-goog-api-key",
                    "anthropic-version",
                ],
            )
        )
    middleware.append(
        Middleware(
            RequestGuard,
            allowed_hosts=settings.allowed_hosts,
            cors_origins=settings.cors_origins,
        )
    )
    app = Starlette(
        routes=[*openai.routes(), *anthropic.routes(), *gemini.routes(), *ops.routes()],
        middleware=middleware,
        lifespan=_lifespan(router, load, state),
    )
    app.state.hearth = state
    return app


def _lifespan(router: ModelRouter, load: bool, state: ServerState):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            if load:
                group.start_soon(_load, router)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
        state.parsers.close()
        await anyio.to_thread.run_sync(router.close)

    return lifespan


async def _load(router: ModelRouter) -> None:
    try:
        await anyio.to_thread.run_sync(router.load, abandon_on_cancel=True)
    except Exception as exc:  # /ready reports it; requests for the model get the error
        log.error("loading failed: %s", exc)
