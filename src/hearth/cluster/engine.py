"""The engine replica: a Ray Serve deployment that owns one hearth backend (one engine).

:func:`hearth.cluster.serve_app.build_app` wraps :class:`Engine` with ``serve.deployment`` once
per served model. Its replicas are what Ray Serve scales, routes to (with
:class:`~hearth.cluster.request_router.PrefixAffinityRouter`) and restarts when one dies. Each
loads its model in its constructor, so a replica is ready only once its model is.

A stream begins with a :class:`~hearth.cluster.transport.ReplicaTag`; a hearth error is sent as
a :class:`~hearth.cluster.transport.RemoteFailure` item (see :mod:`hearth.cluster.transport`).
Every second the replica reports its figures to the application's stats board, which the
ingress's ``/metrics`` sums (:mod:`hearth.cluster.replica_stats`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hearth.backends.base import Backend, Capabilities
from hearth.backends.registry import create_backend
from hearth.cluster.replica_stats import ReplicaFigures
from hearth.cluster.transport import RemoteFailure, ReplicaTag, to_remote
from hearth.embeddings import Embeddings
from hearth.errors import HearthError
from hearth.events import Done, StreamEvent
from hearth.request import ChatRequest, EmbedRequest

if TYPE_CHECKING:
    from hearth.config.schema import Config
    from hearth.input_limits import InputLimits

log = logging.getLogger("hearth.cluster")
REPORT_EVERY = 1.0


class Engine:
    """One replica of one served model. ``model``: the name it is served as; ``spec``: the
    model string it resolves to; ``options``: the backend's options (slots, n_threads …);
    ``board``: the name of the stats board actor (None: no reports)."""

    def __init__(
        self,
        model: str,
        spec: str,
        config: Config,
        options: dict[str, object],
        board: tuple[str, str] | None = None,
    ) -> None:
        from ray import serve

        self.replica: str = serve.get_replica_context().replica_id.unique_id
        self.backend: Backend = create_backend(spec, config=config, **options)
        load = getattr(self.backend, "load", None)
        if callable(load):
            load()
        self.figures = ReplicaFigures(self.replica, model)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if board is not None:
            threading.Thread(
                target=self._report, args=board, name="hearth-replica-stats", daemon=True
            ).start()

    def _count(self, **changes: int) -> None:
        with self._lock:
            f = self.figures
            self.figures = replace(f, **{k: getattr(f, k) + v for k, v in changes.items()})

    def _report(self, name: str, namespace: str) -> None:
        import ray

        board: Any = None
        while not self._stop.wait(REPORT_EVERY):
            try:
                board = board or ray.get_actor(name, namespace=namespace)
                board.report.remote(self.figures)
            except Exception as exc:  # the board restarts with the app; try again next time
                log.debug("stats report failed: %s", exc)
                board = None

    def capabilities(self) -> Capabilities:
        return self.backend.capabilities()

    def input_limits(self) -> InputLimits | None:
        limits = getattr(self.backend, "input_limits", None)
        found: InputLimits | None = limits() if callable(limits) else None
        return found

    async def astream(
        self, request: ChatRequest
    ) -> AsyncIterator[ReplicaTag | StreamEvent | RemoteFailure]:
        """The backend's events for ``request``, after the replica's tag."""
        yield ReplicaTag(self.replica)
        self._count(active=1)
        events = self.backend.astream(request)
        failed = 0
        try:
            async for event in events:
                if isinstance(event, Done):
                    usage = event.usage
                    self._count(output_tokens=usage.output_tokens, prompt_tokens=usage.input_tokens)
                yield event
        except HearthError as exc:
            failed = 1
            yield to_remote(exc)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            self._count(active=-1, requests=1, failed=failed)

    async def aembed(self, request: EmbedRequest) -> tuple[str, Embeddings | RemoteFailure]:
        """The vectors of ``request`` (or its error), with the replica's id."""
        self._count(active=1)
        try:
            result: Embeddings | RemoteFailure = await self.backend.aembed(request)
        except HearthError as exc:
            self._count(failed=1)
            result = to_remote(exc)
        finally:
            self._count(active=-1, requests=1)
        return self.replica, result

    def __del__(self) -> None:
        self._stop.set()
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
