"""Hand events from the engine's worker thread to a sync or async consumer.

The worker calls :meth:`Channel.put` with a stream event or an exception; the consumer reads them
in order. Both channels are unbounded, but a request never produces more than ``max_tokens + 1``
items, so memory stays bounded by the request itself.

:class:`AsyncChannel` wakes its event loop at most once per batch of items: a ``put`` while an
earlier wake-up is still on its way to the loop only appends. A consumer that keeps up is woken
for every token, as soon as it is sampled; one that falls behind (a slow client, a busy loop)
finds every token that arrived meanwhile at once and pays one thread hop for all of them, not
one each (``call_soon_threadsafe`` writes to the loop's self-pipe each time it is called).
Channels may share a :class:`LoopWaker`, and the worker holds the wake-ups of each decode step
(:func:`held_wakeups`) until it has sampled every sequence: the loop is then woken once per step,
not once per sequence, and it never takes the GIL between two sequences' samples (every ctypes
call releases it), which would leave the worker waiting for it.
:meth:`AsyncChannel.get_merged` goes one step further for such a consumer: the text deltas
waiting in a row come out as one delta, so a server writes one frame for them, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol, TypeGuard

from hearth.events import StreamEvent, TextDelta

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


_held = threading.local()


@contextlib.contextmanager
def held_wakeups() -> Iterator[None]:
    """Within: a :meth:`LoopWaker.wake` on this thread only records the wake-up; on leaving,
    each loop with wake-ups due is woken once. Nested uses are part of the outer one."""
    if getattr(_held, "wakers", None) is not None:
        yield
        return
    wakers: dict[int, LoopWaker] = {}
    _held.wakers = wakers
    try:
        yield
    finally:
        _held.wakers = None
        for waker in wakers.values():
            waker.flush()


class LoopWaker:
    """Runs callbacks on ``loop`` for other threads: one ``call_soon_threadsafe`` (one write
    to the loop's self-pipe) for every callback asked for before the loop got to the first."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._due: list[Callable[[], None]] = []

    def wake(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._due.append(callback)
            if len(self._due) > 1:  # the loop is already due to run them
                return
        held: dict[int, LoopWaker] | None = getattr(_held, "wakers", None)
        if held is not None:  # woken when the step ends
            held[id(self)] = self
            return
        self._schedule()

    def flush(self) -> None:
        """Wake the loop if callbacks are due (after :func:`held_wakeups`)."""
        with self._lock:
            if not self._due:
                return
        self._schedule()

    def _schedule(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # a closed loop: the consumers are gone, nobody is listening
            with self._lock:
                self._due.clear()

    def _run(self) -> None:
        with self._lock:
            due, self._due = self._due, []
        for callback in due:
            callback()


class AsyncChannel:
    """For a consumer on an asyncio event loop; ``put`` may be called from any thread.
    ``waker``: shared with the other channels of the running loop (None: one of its own)."""

    def __init__(self, waker: LoopWaker | None = None) -> None:
        loop = asyncio.get_running_loop()
        if waker is None or waker.loop is not loop:
            waker = LoopWaker(loop)
        self._loop = loop
        self._waker = waker
        self._items: deque[Item] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False  # a _wake is scheduled on the loop and has not run yet
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Item) -> None:
        with self._lock:
            self._items.append(item)
            if self._wake_pending:  # the wake-up on its way will find this item too
                return
            self._wake_pending = True
        self._waker.wake(self._wake)

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def waker(self) -> LoopWaker:
        return self._waker

    @property
    def ready(self) -> int:
        """Items that :meth:`get` returns without waiting."""
        return len(self._items)

    async def get(self) -> Item:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def get_merged(self) -> Item:
        """The next item; if it is plain text, with the plain text deltas already waiting right
        behind it joined on (no waiting for more: a consumer that keeps up gets each token
        alone, one that fell behind gets what it missed in one piece)."""
        item = await self.get()
        if not (self._items and _plain_text(item)):
            return item
        parts = [item.text]
        with self._lock:
            while self._items and _plain_text(following := self._items[0]):
                self._items.popleft()
                parts.append(following.text)
        return TextDelta("".join(parts)) if len(parts) > 1 else item


def _plain_text(item: Item) -> TypeGuard[TextDelta]:
    """A text delta that carries nothing but its text (no signature, no provider fields)."""
    return type(item) is TextDelta and item == TextDelta(item.text)
