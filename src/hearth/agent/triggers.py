"""Who runs the agent's turns, and when it is idle.

A turn runs in the foreground (a ``run()`` / ``iter()`` / ``aiter()`` call, whose caller gets
the steps) or in the background: a message :meth:`~hearth.agent.Agent.send` queues while the
agent is idle starts a turn at once, as a trigger should. That turn runs as a task on the
caller's event loop when ``send()`` is called from async code, else on a daemon thread with its
own event loop; its steps go to the agent's subscribers (:mod:`hearth.agent.subscription`).

:class:`TurnGate` says which of the two holds the agent, thread-safely, and lets anyone wait
until it is idle (no turn running).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from hearth.errors import InvalidRequestError
from hearth.messages import Message

from .steps import AgentStopReason, Step, TurnComplete, TurnError
from .subscription import Hub

IDLE_POLL_SECONDS = 0.01
"""How often an async wait for idle looks again."""


class TurnGate:
    """Whether a turn runs, who started it (``background``), and an event set while idle."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy = False
        self.background = False
        self._idle = threading.Event()
        self._idle.set()

    def claim_locked(self, *, background: bool) -> bool:
        """Take the agent for a turn if it is idle (hold ``lock``)."""
        if self.busy:
            return False
        self.busy, self.background = True, background
        self._idle.clear()
        return True

    def release_locked(self) -> None:
        self.busy = self.background = False
        self._idle.set()

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def wait(self, timeout: float | None) -> bool:
        if _loop_running():
            raise InvalidRequestError(
                "Agent.wait_for_idle() would block the running event loop; "
                "use await agent.await_for_idle() in async code"
            )
        return self._idle.wait(timeout)

    async def await_idle(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._idle.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(IDLE_POLL_SECONDS)
        return True


TurnSteps = Callable[[Message], AsyncGenerator[Step, None]]


class Dispatcher:
    """An agent's inbox, its subscribers, and who runs its turns (see the module docstring).

    ``turn(message)`` runs one turn; ``begin()`` is called before a run delivers the inbox;
    ``inside_turn()`` says whether the caller is code running inside the agent's own turn.
    """

    def __init__(
        self, turn: TurnSteps, *, begin: Callable[[], None], inside_turn: Callable[[], bool]
    ) -> None:
        self.inbox: deque[Message] = deque()
        self.gate = TurnGate()
        self.hub = Hub()
        self.private_loop: asyncio.AbstractEventLoop | None = None  # iter()'s, closing soon
        self._turn = turn
        self._begin = begin
        self._inside_turn = inside_turn
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped_by_cancel = False
        self._closed = False

    def send(self, message: Message) -> None:
        """Queue ``message``; if the agent is idle, start a background run for it now."""
        with self.gate.lock:
            self._refuse_if_closed()
            self.inbox.append(message)
            if not self.gate.claim_locked(background=True):
                return
        start_background(self._drain, avoid=None, tasks=self._tasks)

    def close(self) -> None:
        """No runs after this; every subscription ends."""
        with self.gate.lock:
            self._closed = True
        self.hub.close()

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise InvalidRequestError("this agent is closed; create a new Agent to run turns")

    async def claim(self) -> None:
        """Take the agent for a foreground run: refused while another caller's run goes on
        (or from inside the agent's own turn), after the background run when one goes on."""
        while True:
            with self.gate.lock:
                self._refuse_if_closed()
                if self.gate.claim_locked(background=False):
                    return
                background = self.gate.background
            if not background or self._inside_turn():
                raise InvalidRequestError(
                    "the agent is already running a turn; use send() to queue a message"
                )
            await self.gate.await_idle(None)

    def release(self, *, stopped: bool) -> None:
        """End a foreground run. A message sent as it ended starts its own turn in the
        background, unless the run was cut short or cancelled (then it waits for the next
        run or send)."""
        with self.gate.lock:
            stopped = stopped or self._stopped_by_cancel
            if not self.inbox or stopped or self._closed:
                self.gate.release_locked()
                return
            self.gate.background = True
        start_background(self._drain, avoid=self.private_loop, tasks=self._tasks)

    async def _drain(self) -> None:
        """A background run: deliver the queued messages (their steps go to the hub only)."""
        try:
            while True:
                async with contextlib.aclosing(self.deliver()) as steps:
                    async for _ in steps:
                        pass
                with self.gate.lock:
                    if not self.inbox or self._stopped_by_cancel or self._closed:
                        self.gate.release_locked()
                        return
        except BaseException:
            with self.gate.lock:
                self.gate.release_locked()
            raise

    async def deliver(self) -> AsyncGenerator[Step, None]:
        """The turns of the queued messages, in order, each step published to the subscribers
        before the caller sees it; stops after a cancelled turn."""
        self._begin()
        self._stopped_by_cancel = False
        while self.inbox:
            stop: AgentStopReason | None = None
            async with contextlib.aclosing(self._turn(self.inbox.popleft())) as steps:
                async for step in steps:
                    if isinstance(step, TurnComplete | TurnError):
                        stop = step.result.stop_reason
                    self.hub.publish(step)
                    yield step
            if stop == "cancelled":
                self._stopped_by_cancel = True
                return


def start_background(
    drain: Callable[[], Coroutine[Any, Any, None]],
    *,
    avoid: asyncio.AbstractEventLoop | None,
    tasks: set[asyncio.Task[None]],
) -> None:
    """Run ``drain()`` now: as a task on the running event loop (unless it is ``avoid``, a
    loop about to close), else on a daemon thread with its own loop. ``tasks`` keeps the
    tasks alive while they run."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop is not avoid:
        task = loop.create_task(drain())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return
    context = contextvars.Context()  # a fresh turn: nothing of the caller's turn carries over
    thread = threading.Thread(
        target=context.run,
        args=(_run_on_own_loop, drain),
        name="hearth-agent-trigger",
        daemon=True,
    )
    thread.start()


def _run_on_own_loop(drain: Callable[[], Coroutine[Any, Any, None]]) -> None:
    from .runtime import cancel_leftovers

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(drain())
    finally:
        loop.run_until_complete(cancel_leftovers())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
