"""Admission control: a bounded wait for one of a model's slots, refused at once when full.

Each served model has ``parallel`` slots and room for ``max_queue`` waiting requests. A request
that finds the room full gets :class:`OverloadedError` (the server answers 429 with
``Retry-After``) without waiting. A waiting request whose client goes away, or whose deadline
passes, leaves the line without ever reaching the backend.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio

from hearth.errors import OverloadedError, RequestTimeoutError

Hold = Callable[[float, "float | bool | None"], AbstractAsyncContextManager[None]]
"""What a slot holds besides itself: the model loaded (``Residency.hold``), given the deadline
and the request's keep_alive."""


class Admission:
    """The slots and the waiting line of one model. ``hold``: entered once a slot is taken,
    for as long as it is held (the server keeps the model loaded under it)."""

    def __init__(
        self, *, parallel: int, max_queue: int, retry_after: float = 1.0, hold: Hold | None = None
    ) -> None:
        self.hold = hold
        self.parallel = parallel
        self.max_queue = max_queue
        self.retry_after = retry_after
        self.waiting = 0
        self.active = 0
        self._slots: anyio.Semaphore | None = None

    def _semaphore(self) -> anyio.Semaphore:
        if self._slots is None:  # made on first use, inside the server's event loop
            self._slots = anyio.Semaphore(self.parallel)
        return self._slots

    @asynccontextmanager
    async def slot(
        self, deadline: float, keep_alive: float | bool | None = True
    ) -> AsyncIterator[None]:
        """Hold one slot for the block. Raises OverloadedError when the line is full and
        RequestTimeoutError when ``deadline`` (a ``time.monotonic()`` value) passes first.
        ``keep_alive``: how long the model stays loaded after (True: the server's default)."""
        slots = self._semaphore()
        if self.active + self.waiting >= self.parallel + self.max_queue:
            raise OverloadedError(
                f"the server is busy ({self.active} running, {self.waiting} waiting, queue "
                f"limit {self.max_queue}); retry after {math.ceil(self.retry_after)} s",
                retry_after=self.retry_after,
            )
        self.waiting += 1
        try:
            with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                await slots.acquire()
        except TimeoutError:
            raise RequestTimeoutError(
                "the request's deadline passed while it waited for a free slot"
            ) from None
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            if self.hold is None:
                yield
            else:
                async with self.hold(deadline, keep_alive):
                    yield
        finally:
            self.active -= 1
            slots.release()
