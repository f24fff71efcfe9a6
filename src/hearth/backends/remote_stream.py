"""Reading a remote stream: body bytes → hearth events, shared by the sync and async twins of
:class:`hearth.backends.remote.RemoteBackend`. No I/O here except draining what follows the end
of a stream, so the connection can go back to the pool.

Streams are read the way real servers send them: SSE comment lines (``: keep-alive``,
OpenRouter's ``: OPENROUTER PROCESSING``) and events whose data is empty or blank (keep-alives)
are skipped; ``data: [DONE]`` ends the stream. A chunk that is not a JSON object is not skipped
silently and does not cost what came before it: every event decoded before it is delivered,
then :class:`~hearth.stream_errors.MalformedStreamError` is raised, naming the chunk and holding the
answer streamed so far in ``partial``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import httpx

from hearth._sse import NDJSONDecoder, SSEDecoder, SSEEvent
from hearth.errors import HearthError
from hearth.events import StreamEvent
from hearth.messages import JsonObject
from hearth.response import ResponseAccumulator
from hearth.stream_errors import MalformedStreamError
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
        self._so_far = ResponseAccumulator()  # what was delivered, for MalformedStreamError
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
        out = events if self._answer is None else self._answer.events(events)
        for event in out:
            if self._so_far.done is None:
                self._so_far.add(event)
        return out

    def _with_partial(self, error: HearthError) -> HearthError:
        """A malformed-chunk error, holding the answer delivered up to it."""
        if isinstance(error, MalformedStreamError):
            error.partial = self._so_far.message()
        return error

    def _raise_held(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self.done = True
            raise self._with_partial(error)

    def _objects(self, objects: list[JsonObject]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for obj in objects:
            if not self._decode(obj, None, events):
                break
        return events

    def _frames(self, frames: list[SSEEvent]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for frame in frames:
            if self.done or frame.data.strip() == "[DONE]":
                self.done = True
                break
            if not frame.data.strip():
                continue  # a keep-alive
            try:
                data = json.loads(frame.data)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                error = MalformedStreamError(
                    "the stream broke off at a chunk that is not a JSON object: "
                    f"{frame.data[:200]!r}; what streamed before it is the error's partial"
                )
                if not events:
                    raise self._with_partial(error)
                self._error = error  # raised once this chunk's events are delivered
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
