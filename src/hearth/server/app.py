"""``create_app(settings)``: the Starlette application. Its state lives on ``app.state.hearth``;
nothing is kept in module globals, so two apps in one process never share anything."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hearth.backends.base import Backend
from hearth.config.schema import Config
from hearth.server import anthropic, gemini, ollama, openai, ops, responses, tokenizer, webui
from hearth.server.access_log import AccessLog
from hearth.server.guard import RequestGuard
from hearth.server.handling import ServerState
from hearth.server.metrics import Metrics
from hearth.server.residency import Residency
from hearth.server.response_keeper import ResponseKeeper
from hearth.server.router import ModelRouter, build_router
from hearth.server.served import Served
from hearth.server.settings import ServerSettings

log = logging.getLogger("hearth.server")


def create_app(
    settings: ServerSettings,
    *,
    config: Config | None = None,
    backends: Mapping[str, Backend] | None = None,
    load: bool = True,
) -> Starlette:
    """The server for ``settings``. ``config`` gives the aliases, providers and local models it
    serves (default: the user's config file, read here, once); ``backends`` maps model names to
    ready backends (tests); ``load`` loads local models in the background at startup (/ready says
    when they are)."""
    if config is None:
        from hearth.config import load_config

        config = load_config()
    router = build_router(settings, config, backends)
    metrics = Metrics(lambda: router.queue_depth, lambda: router.active)
    residency = Residency(
        router.served,
        max_loaded=settings.max_loaded_models,
        memory_budget=settings.memory_budget,
        keep_alive=settings.keep_alive,
        metrics=metrics,
    )
    metrics.watch_residency(lambda: len(residency.loaded()), lambda: residency.used_memory)

    def swapped(served: Served) -> None:
        served.admission.hold = functools.partial(residency.hold, served)

    for served in router.served:
        swapped(served)
    router.on_add = swapped
    state = ServerState(
        settings=settings, router=router, metrics=metrics, config=config, residency=residency
    )
    keeper = ResponseKeeper(settings.responses_store)
    middleware = [Middleware(AccessLog)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
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
    apis = [
        *openai.routes(), *responses.routes(), *anthropic.routes(), *gemini.routes(),
        *ollama.routes(), *tokenizer.routes(),
    ]  # fmt: skip
    routes = [*apis, *ops.routes()]
    ui = webui.WebUIState(settings.store_path) if settings.web_ui else None
    if ui is not None:
        routes += webui.routes()
    routes.append(Route("/", _root(ui is not None), methods=["GET", "HEAD"]))
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=_lifespan(router, load, state, ui, keeper)
    )
    app.state.hearth = state
    app.state.webui = ui
    app.state.responses = keeper
    return app


def _root(page: bool) -> Callable[[Request], Awaitable[Response]]:
    """``/``: the chat page for a browser (it asks for HTML) when the page is served, else
    Ollama's liveness answer, which Ollama's own clients check before they talk to a server."""

    async def root(request: Request) -> Response:
        if page and "text/html" in request.headers.get("accept", ""):
            return await webui.page.index(request)
        return await ollama.liveness(request)

    return root


def _lifespan(  # type: ignore[no-untyped-def]
    router: ModelRouter,
    load: bool,
    state: ServerState,
    ui: webui.WebUIState | None,
    keeper: ResponseKeeper,
):
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group, keeper.running():
            if load:
                group.start_soon(_load, router, state.residency)
            group.start_soon(state.residency.reap)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
        keeper.close()
        state.parsers.close()
        await anyio.to_thread.run_sync(router.close)
        if ui is not None:
            await anyio.to_thread.run_sync(ui.close)

    return lifespan


async def _load(router: ModelRouter, residency: Residency) -> None:
    try:
        await anyio.to_thread.run_sync(router.load, abandon_on_cancel=True)
    except Exception as exc:  # /ready reports it; requests for the model get the error
        log.error("loading failed: %s", exc)
    await residency.preload()
