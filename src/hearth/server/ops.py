"""Operations routes: /health (the process answers), /ready (every model loaded), /metrics
(Prometheus text format) and /openapi.json (the schema of every route)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hearth.server.handling import ServerState, check_key, error_response
from hearth.server.metrics import CONTENT_TYPE
from hearth.server.openapi import openapi_schema
from hearth.wire.openai.errors import error_to_wire


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.hearth
    return state


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    served = _state(request).router.served
    models = {
        s.id: ("ready" if s.loaded else "failed" if s.load_error else "loading") for s in served
    }
    errors = {s.id: s.load_error for s in served if s.load_error}
    ok = all(s.loaded for s in served)
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
