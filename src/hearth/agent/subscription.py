"""Subscribing to an agent's steps: several consumers (a UI and a logger), each with its own
bounded buffer.

Every step the agent emits, in any turn (a ``run()``, an ``iter()``, a turn a background
trigger started), is put into every open subscription's buffer, in order. Publishing never
waits for a subscriber: a slow one cannot hold up the agent or the other subscribers. When a
subscriber's buffer is full, its ``overflow`` policy says what happens:

* ``"end"`` (the default): the subscription ends. The consumer still reads the steps that were
  buffered, then iterating raises :class:`SubscriberLaggedError`, saying how far behind it fell,
  so a logger never loses steps without knowing it;
* ``"drop_oldest"``: the oldest buffered step is dropped to make room; ``dropped`` counts them
  (for a UI that only cares about the latest state).

A subscription is read with ``for step in sub`` (blocking, any thread) or ``async for step in
sub`` (any event loop). It ends when the consumer closes it (``close()``, or leaving its
``with`` block) or the agent is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Literal, TypeAlias

from hearth.errors import HearthError, InvalidRequestError

from .steps import Step

Overflow: TypeAlias = Literal["end", "drop_oldest"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("end", "drop_oldest")
DEFAULT_BUFFER = 1024
"""Steps a subscription holds unread before its overflow policy applies."""


class SubscriberLaggedError(HearthError):
    """A subscriber fell behind: its buffer was full (``buffer`` steps) when the agent emitted
    another step, and its ``overflow="end"`` policy ended the subscription."""

    def __init__(self, buffer: int) -> None:
        self.buffer = buffer
        super().__init__(
            f"this subscriber fell behind: {buffer} steps were waiting unread when the agent "
            "emitted another, so the subscription ended. Read steps faster, subscribe with a "
            "larger buffer=, or with overflow='drop_oldest' to skip old steps instead"
        )


class Subscription:
    """One consumer's view of an agent's steps (see the module docstring)."""

    def __init__(self, hub: Hub, buffer: int, overflow: Overflow) -> None:
        if buffer < 1:
            raise InvalidRequestError(f"buffer must be at least 1 step, got {buffer}")
        if overflow not in OVERFLOW_POLICIES:
            raise InvalidRequestError(
                f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {overflow!r}"
            )
        self.buffer = buffer
        self.overflow: Overflow = overflow
        self.dropped = 0
        """Steps this subscriber never saw (dropped by ``drop_oldest``, or the one that ended
        the subscription under ``end``)."""
        self._hub = hub
        self._items: deque[Step] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._lagged = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def closed(self) -> bool:
        """True once no more steps will be added (the buffered ones may still be read)."""
        return self._closed

    def close(self) -> None:
        """Stop receiving steps; iteration ends once the buffered ones are read."""
        self._hub.remove(self)
        self._end(lagged=False)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the publishing side (never blocks) -----------------------------------------------------

    def put(self, step: Step) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._items) >= self.buffer:
                self.dropped += 1
                if self.overflow == "end":
                    self._hub.remove(self)
                    self._end_locked(lagged=True)
                    return
                self._items.popleft()
            self._items.append(step)
            self._wake_locked()

    def _end(self, *, lagged: bool) -> None:
        with self._cond:
            self._end_locked(lagged=lagged)

    def _end_locked(self, *, lagged: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._lagged = lagged
        self._wake_locked()

    def _wake_locked(self) -> None:
        self._cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_resolve, future)

    # -- the consuming side ---------------------------------------------------------------------

    def _take_locked(self) -> Step | None:
        """The next step, None at the end; raises SubscriberLaggedError after the last
        buffered step of a subscription its overflow ended."""
        if self._items:
            return self._items.popleft()
        if self._lagged:
            raise SubscriberLaggedError(self.buffer)
        return None

    def __iter__(self) -> Iterator[Step]:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                step = self._take_locked()
            if step is None:
                return
            yield step

    async def __aiter__(self) -> AsyncIterator[Step]:
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                ready = bool(self._items) or self._closed
                if ready:
                    step = self._take_locked()
                else:
                    future: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, future))
            if not ready:
                await future
                continue
            if step is None:
                return
            yield step


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Hub:
    """The open subscriptions of one agent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscription] = []

    def subscribe(self, buffer: int, overflow: Overflow) -> Subscription:
        subscription = Subscription(self, buffer, overflow)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscribers.remove(subscription)

    def publish(self, step: Step) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.put(step)

    def close(self) -> None:
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscription in subscribers:
            subscription._end(lagged=False)
