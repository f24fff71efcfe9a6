"""The state behind ``/v1/responses``: the stored responses and the background ones running.

One :class:`ResponseKeeper` lives on the app (``app.state.responses``; no globals). It opens
the response store (:mod:`hearth.store.responses`) on first use, so an app that never serves a
Responses request never touches the file. Background responses run as tasks in a task group
the app's lifespan owns (:meth:`ResponseKeeper.running`): each has its own cancel scope, which
``POST /v1/responses/{id}/cancel`` and ``DELETE`` cancel, and the app's shutdown cancels them
all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from hearth.errors import InvalidRequestError, ModelUnavailableError
from hearth.messages import Message
from hearth.store.responses import ResponseStore, StoredResponse
from hearth.wire.responses.errors import ResponseNotFoundError

log = logging.getLogger("hearth.server")


class ResponseKeeper:
    """Stored responses and background tasks of one app."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._store: ResponseStore | None = None
        self._lock = threading.Lock()
        self._group: TaskGroup | None = None
        self._running: dict[str, anyio.CancelScope] = {}

    @property
    def store(self) -> ResponseStore:
        with self._lock:
            if self._store is None:
                from hearth.store import default_path

                self._store = ResponseStore(self._path or default_path())
            return self._store

    def get(self, response_id: str) -> StoredResponse:
        """The stored response, or ResponseNotFoundError (404)."""
        found = self.store.get(response_id)
        if found is None:
            raise ResponseNotFoundError(response_id)
        return found

    def history(self, previous: str | None) -> tuple[Message, ...]:
        """The conversation a request with ``previous_response_id`` continues (400 if there is
        none to continue)."""
        if previous is None:
            return ()
        found = self.store.get(previous)
        if found is None:
            raise InvalidRequestError(
                f"previous_response_id: no response {previous!r} is stored here (never "
                "stored, created with store: false, or deleted); send the whole conversation "
                "as input instead"
            )
        if found.context is None:
            raise InvalidRequestError(
                f"previous_response_id: response {previous!r} is {found.status} and has no "
                "answer to continue from; wait for it to complete, or continue another one"
            )
        return found.context

    # -- background ---------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The task group background responses run in, for the app's lifespan."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    def start(self, response_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` in the background; :meth:`cancel` stops it."""
        if self._group is None:
            raise ModelUnavailableError(
                "background responses need the server running (its lifespan started); "
                "send background: false, or start the app with its lifespan"
            )
        scope = anyio.CancelScope()
        self._running[response_id] = scope

        async def run() -> None:
            try:
                with scope:
                    if not scope.cancel_called:  # cancelled before it ever ran
                        await work()
            except Exception:  # never let one response take the app's task group down
                log.exception("background response %s failed", response_id)
            finally:
                self._running.pop(response_id, None)

        self._group.start_soon(run)

    def cancel(self, response_id: str) -> bool:
        """Cancel a running background response; False if none runs under that id."""
        scope = self._running.pop(response_id, None)
        if scope is None:
            return False
        scope.cancel()
        return True

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
