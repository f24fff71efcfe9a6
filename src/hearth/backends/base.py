"""The Backend protocol and the capabilities a backend reports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from hearth.events import StreamEvent
from hearth.request import ChatRequest
from hearth.response import Response, ResponseAccumulator

Accelerator: TypeAlias = Literal["cpu", "gpu", "remote"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do. ``context_length`` is None when the backend does not say."""

    streaming: bool = True
    tools: bool = False
    structured_output: bool = False
    vision: bool = False
    embeddings: bool = False
    thinking: bool = False
    context_length: int | None = None
    accelerator: Accelerator = "cpu"


@runtime_checkable
class Backend(Protocol):
    """A model behind one provider.

    ``stream`` / ``astream`` return iterators of events ending with exactly one ``Done``. Closing
    the iterator early (``close()`` / ``aclose()``, leaving a ``for`` loop through ``break`` and
    then dropping it, or cancelling the task) stops the generation.
    """

    @property
    def name(self) -> str: ...

    def capabilities(self) -> Capabilities: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]: ...

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    def chat(self, request: ChatRequest) -> Response: ...

    async def achat(self, request: ChatRequest) -> Response: ...

    def close(self) -> None: ...


class BackendBase:
    """Implements ``chat`` / ``achat`` on top of ``stream`` / ``astream``."""

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError

    def chat(self, request: ChatRequest) -> Response:
        acc = ResponseAccumulator()
        events = self.stream(request)
        try:
            for event in events:
                acc.add(event)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return acc.response()

    async def achat(self, request: ChatRequest) -> Response:
        acc = ResponseAccumulator()
        events = self.astream(request)
        try:
            async for event in events:
                acc.add(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        return acc.response()

    def close(self) -> None:
        """Release what the backend holds (threads, model memory, connections)."""
