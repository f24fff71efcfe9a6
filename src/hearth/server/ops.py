"""Operations routes: /health (the process answers), /ready (every model loaded), /metrics
(Prometheus text format) and /openapi.json (the schema of every route)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hearth.server.handling import ServerState, check_key, error_response
from hearth.server.metrics import CONTENT_TYPE
from hearth.server.openapi import openapi_schema
from hearth.server.residency import swappable
from hearth.server.served import Served
from hearth.wire.openai.errors import error_to_wire


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.hearth
    return state


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    state = _state(request)
    served = state.router.served
    on_demand = state.residency.preloaded  # models left unloaded then load on first request

    def status(s: Served) -> str:
        if s.loaded:
            return "ready"
        if s.load_error:
            return "failed"
        return "unloaded" if on_demand and swappable(s) else "loading"

    models = {s.id: status(s) for s in served}
    errors = {s.id: s.load_error for s in served if s.load_error}
    ok = all(v in ("ready", "unloaded") for v in models.values())
    body: dict[str, object] = {"status": "ready" if ok else "not ready", "models": models}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    state = _state(request)
    key = state.settings.api_key
    if key is not None:
        try:
            check_key(request, key.reveal())
        except Exception as exc:
            return error_response(error_to_wire, exc)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_schema())


def routes() -> list[BaseRoute]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
