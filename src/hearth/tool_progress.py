"""Progress from a running tool call to the agent's steps.

While the agent runs a call, :func:`report_progress` (from the tool's own code, in any thread)
and :func:`current_reporter` (a callback to hand to other code, such as an MCP session) deliver
``(progress, total, message)`` updates; the agent yields each as a
:class:`~hearth.agent.steps.ToolProgressStep` before the call's result. Outside a call they do
nothing. The MCP toolset (:mod:`hearth.mcp`) hands :func:`current_reporter` to a server's
progress notifications, so this module stands below both; ``hearth.agent`` re-exports
:func:`report_progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hearth.messages import ToolCallPart

Reporter = Callable[[float, float | None, str | None], None]

_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "hearth_tool_progress", default=None
)


@dataclass(frozen=True, slots=True)
class Progress:
    """One update from a running call."""

    call: ToolCallPart
    progress: float
    total: float | None
    message: str | None


def current_reporter() -> Reporter | None:
    """The running call's progress callback (safe to call from any thread), or None."""
    return _reporter.get()


def report_progress(
    progress: float, total: float | None = None, message: str | None = None
) -> None:
    """Report progress of the tool call this code runs in (a no-op outside the agent)."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(progress, total, message)


class ProgressChannel:
    """The queue one round's calls report into; the runner drains it between results."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Progress] = asyncio.Queue()

    @contextlib.contextmanager
    def bound(self, call: ToolCallPart) -> Iterator[None]:
        """Within this block (and the tasks and threads started in it with its context),
        progress goes to ``call``."""

        def report(progress: float, total: float | None, message: str | None) -> None:
            update = Progress(call, float(progress), total, message)
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
                self.loop.call_soon_threadsafe(self.queue.put_nowait, update)

        token = _reporter.set(report)
        try:
            yield
        finally:
            _reporter.reset(token)

    def drain(self) -> list[Progress]:
        updates: list[Progress] = []
        while not self.queue.empty():
            updates.append(self.queue.get_nowait())
        return updates
