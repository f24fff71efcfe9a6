"""Event-loop plumbing for the agent: racing a stream against cancel, cleaning up tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Literal, TypeVar

from hearth.events import StreamEvent


class CancelledByAgentError(Exception):
    """Raised inside the loop when cancel() fired; never escapes the agent."""


async def next_event(
    stream: AsyncIterator[StreamEvent], waiter: asyncio.Future[Literal[True]]
) -> StreamEvent | None:
    """The next event, or None at the end; raises CancelledByAgentError once ``waiter`` fires."""
    nxt = asyncio.ensure_future(_pull(stream))
    try:
        await asyncio.wait((nxt, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not nxt.done():
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await nxt
    if nxt.cancelled():
        raise CancelledByAgentError
    return nxt.result()


async def cancel_leftovers() -> None:
    """Cancel the tasks still on this loop (abandoned tool calls) and let them see it."""
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() if t is not current]
    for task in leftover:
        task.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)


async def _pull(stream: AsyncIterator[StreamEvent]) -> StreamEvent | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


T = TypeVar("T")


async def next_step(agen: AsyncGenerator[T, None]) -> T | None:
    """The generator's next item, or None when it is exhausted."""
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return None
