"""FakeBackend: a backend that plays back scripted events, for testing code built on hearth.

>>> fake = FakeBackend([[TextDelta("Hel"), TextDelta("lo"), Done("end_turn")]])
>>> hearth.Model(fake).chat("hi").text
'Hello'

Each request consumes the next script in order; the requests it received are kept in
``requests``. A script may contain an exception instance, which is raised at that point.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from hearth.backends.base import BackendBase, Capabilities
from hearth.events import StreamEvent
from hearth.request import ChatRequest

Script = Sequence[StreamEvent | BaseException]


class FakeBackend(BackendBase):
    def __init__(
        self,
        scripts: Sequence[Script],
        *,
        name: str = "fake:scripted",
        capabilities: Capabilities | None = None,
    ) -> None:
        self._scripts = list(scripts)
        self._name = name
        self._capabilities = capabilities or Capabilities(accelerator="cpu")
        self.requests: list[ChatRequest] = []
        self.closed_early = 0

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _next(self, request: ChatRequest) -> Script:
        if not self._scripts:
            raise AssertionError("FakeBackend received more requests than it has scripts")
        self.requests.append(request)
        return self._scripts.pop(0)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        return self._play(self._next(request))

    def _play(self, script: Script) -> Iterator[StreamEvent]:
        finished = False
        try:
            for item in script:
                if isinstance(item, BaseException):
                    raise item
                yield item
            finished = True
        finally:
            if not finished:
                self.closed_early += 1

    async def _aplay(self, script: Script) -> AsyncIterator[StreamEvent]:
        for event in self._play(script):
            yield event

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._aplay(self._next(request))
