"""Hand events from the engine's worker thread to a sync or async consumer.

The worker calls :meth:`Channel.put` with a stream event or an exception; the consumer reads them
in order. Both channels are unbounded, but a request never produces more than ``max_tokens + 1``
items, so memory stays bounded by the request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from typing import Protocol

from hearth.events import StreamEvent

Item = StreamEvent | BaseException


class Channel(Protocol):
    def put(self, item: Item) -> None: ...


class SyncChannel:
    """For a consumer thread that blocks on :meth:`get`."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def get(self) -> Item:
        return self._queue.get()


class AsyncChannel:
    """For a consumer on an asyncio event loop; ``put`` may be called from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Item] = asyncio.Queue()

    def put(self, item: Item) -> None:
        # A closed loop means the consumer is gone and nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def get(self) -> Item:
        return await self._queue.get()
