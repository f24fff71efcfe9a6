"""AgentStream: the steps of a sync agent run as a context manager."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from .steps import AgentResult, Step, TextStep, TurnComplete, TurnError


class AgentStream:
    """The steps of :meth:`Agent.stream`; leaving the ``with`` block early cancels the turn."""

    def __init__(self, steps: Iterator[Step]) -> None:
        self._steps = steps
        self.result: AgentResult | None = None

    def __iter__(self) -> Iterator[Step]:
        for step in self._steps:
            if isinstance(step, TurnComplete | TurnError):
                self.result = step.result
            yield step

    @property
    def text_stream(self) -> Iterator[str]:
        for step in self:
            if isinstance(step, TextStep):
                yield step.text

    def close(self) -> None:
        close = getattr(self._steps, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> AgentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAgentStream:
    """The async twin of :class:`AgentStream` (:meth:`Agent.astream`)."""

    def __init__(self, steps: AsyncGenerator[Step, None]) -> None:
        self._steps = steps
        self.result: AgentResult | None = None

    async def __aiter__(self) -> AsyncIterator[Step]:
        async for step in self._steps:
            if isinstance(step, TurnComplete | TurnError):
                self.result = step.result
            yield step

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        async for step in self:
            if isinstance(step, TextStep):
                yield step.text

    async def aclose(self) -> None:
        await self._steps.aclose()

    async def __aenter__(self) -> AsyncAgentStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
