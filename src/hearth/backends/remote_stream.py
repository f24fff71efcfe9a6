"""Reading a remote stream: body bytes → hearth events, shared by the sync and async twins of
:class:`hearth.backends.remote.RemoteBackend`. No I/O here except draining what follows the end
of a stream, so the connection can go back to the pool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import httpx

from hearth._sse import NDJSONDecoder, SSEDecoder, SSEEvent
from hearth.errors import HearthError, ProviderError
from hearth.events import StreamEvent
from hearth.messages import JsonObject
from hearth.wire.base import AnswerFilter, StreamDecoder


class StreamReader:
    """Body bytes → hearth events: framing (SSE / NDJSON), ``[DONE]``, JSON, the wire decoder.
    Shared by the sync and async twins. An error met after some events of the same chunk is
    held back until those events are delivered."""

    def __init__(
        self,
        framing: Literal["sse", "ndjson"],
        decoder: StreamDecoder,
        answer: AnswerFilter | None = None,
    ) -> None:
        self._sse = SSEDecoder() if framing == "sse" else None
        self._ndjson = NDJSONDecoder() if framing == "ndjson" else None
        self._decoder = decoder
        self._answer = answer
        self._error: HearthError | None = None
        self.done = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._raise_held()
        if self._sse is not None:
            return self._out(self._frames(self._sse.feed(chunk)))
        assert self._ndjson is not None
        return self._out(self._objects(self._ndjson.feed(chunk)))

    def finish(self) -> list[StreamEvent]:
        self._raise_held()
        events: list[StreamEvent] = []
        if not self.done and self._sse is not None:
            events = self._frames(self._sse.finish())
        elif not self.done and self._ndjson is not None:
            events = self._objects(self._ndjson.finish())
        if self._error is not None:
            return self._out(events)
        return self._out(events + self._decoder.finish())

    def _out(self, events: list[StreamEvent]) -> list[StreamEvent]:
        return events if self._answer is None else self._answer.events(events)

    def _raise_held(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self.done = True
            raise error

    def _objects(self, objects: list[JsonObject]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for obj in objects:
            if not self._decode(obj, None, events):
                break
        return events

    def _frames(self, frames: list[SSEEvent]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for frame in frames:
            if self.done or frame.data == "[DONE]":
                self.done = True
                break
            try:
                data = json.loads(frame.data)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                error = ProviderError(
                    f"a stream event's data is not a JSON object: {frame.data[:200]!r}"
                )
                if not events:
                    raise error
                self._error = error
                break
            if not self._decode(data, frame.event, events):
                break
        return events

    def _decode(self, data: JsonObject, event: str | None, events: list[StreamEvent]) -> bool:
        """Feed one frame to the wire decoder; False when it failed after earlier events."""
        try:
            events += self._decoder.feed(data, event)
        except HearthError as exc:
            if not events:
                raise
            self._error = exc
            return False
        return True


_DRAIN_LIMIT = 1 << 16


def drain(chunks: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` so the connection goes back to the pool; give up quietly
    (the connection is then closed instead)."""
    seen = 0
    try:
        for chunk in chunks:
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        return


async def adrain(chunks: AsyncIterator[bytes]) -> None:
    """The async twin of :func:`drain`."""
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        return
