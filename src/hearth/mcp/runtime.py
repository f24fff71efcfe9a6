"""The thread that owns MCP connections: one event loop, in a daemon thread, per toolset.

The SDK's transports and sessions live in anyio task groups that must be entered and left by
one task on one loop. The agent's sync methods run each call on a fresh private loop, and an
async caller brings its own; so every connection lives here instead, and callers on any loop
or thread reach it through :meth:`MCPRuntime.call` (async) or :meth:`MCPRuntime.run` (sync).
Cancelling the caller's await cancels the work here too.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hearth.errors import InvalidRequestError

T = TypeVar("T")

_LIVE: weakref.WeakSet[MCPRuntime] = weakref.WeakSet()


class MCPRuntime:
    """An event loop running in its own daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "hearth-mcp") -> None:
        self.loop = asyncio.new_event_loop()
        self.on_exit: Callable[[], None] | None = None  # run at interpreter exit if still alive
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._started.wait()
        _LIVE.add(self)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if not self.alive:
            coro.close()
            raise InvalidRequestError("the MCP connections are closed; open the toolset again")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` here and await it from any other loop; cancelling the await cancels it."""
        if self.in_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` here and wait for it from sync code (any thread but this one)."""
        if self.in_thread():
            coro.close()
            raise InvalidRequestError("MCPRuntime.run() called from its own thread; await call()")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (cancelling what still runs on it) and join the thread."""
        if self._thread.is_alive() and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.in_thread():
            self._thread.join(timeout)
        _LIVE.discard(self)


@atexit.register
def _stop_all() -> None:  # a toolset nobody closed: its servers still get stopped
    for runtime in list(_LIVE):
        if runtime.on_exit is not None:
            with contextlib.suppress(Exception):
                runtime.on_exit()
        runtime.stop()
