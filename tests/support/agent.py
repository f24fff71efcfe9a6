"""Scripts for agent tests: model answers and tool rounds for FakeBackend, and a slow backend."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence

from hearth import Done, Model, TextDelta, ToolCallEvent, Usage
from hearth.backends.testing import FakeBackend, Script
from hearth.events import StreamEvent
from hearth.messages import ToolCallPart
from hearth.request import ChatRequest


def call(name: str, arguments: str = "{}", id: str | None = None) -> ToolCallEvent:
    return ToolCallEvent(ToolCallPart(id or f"call_{name}", name, arguments))


def answer(text: str, *, usage: Usage | None = None) -> list[StreamEvent]:
    return [TextDelta(text), Done("end_turn", usage or Usage(10, 2))]


def calls(*events: ToolCallEvent, text: str = "") -> list[StreamEvent]:
    head: list[StreamEvent] = [TextDelta(text)] if text else []
    return [*head, *events, Done("tool_use", Usage(10, 5))]


def fake_model(*scripts: Script) -> tuple[Model, FakeBackend]:
    backend = FakeBackend(list(scripts))
    return Model(backend), backend


class SlowBackend(FakeBackend):
    """Plays scripts with ``delay`` seconds before each event (sync and async), counting the
    events it produced, so cancel() can be tested from another thread."""

    def __init__(self, scripts: Sequence[Script], delay: float, **kw: object) -> None:
        super().__init__(scripts, **kw)  # type: ignore[arg-type]
        self.delay = delay
        self.produced = 0
        self.started = threading.Event()

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        for event in super().stream(request):
            time.sleep(self.delay)
            self.produced += 1
            yield event

    async def _slow(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        inner = super().astream(request)
        self.started.set()
        async for event in inner:
            await asyncio.sleep(self.delay)
            self.produced += 1
            yield event

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._slow(request)
