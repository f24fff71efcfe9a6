"""Streamed answers: frames from wire chunks, and a response that stops when the client goes.

Two framings, as a format's ``HttpFacts.framing`` says: server-sent events (``sse_frame``,
:class:`EventStreamResponse`) and newline-delimited JSON (``ndjson_frame``,
:class:`NDJSONResponse`, Ollama's streams). :func:`framing` gives both for a name.

:class:`EventStreamResponse` is a plain ASGI response. While it streams it also listens for
``http.disconnect``: when the client goes away the body generator is cancelled at once (not at
the next write), so its ``finally`` closes the backend stream and the engine stops generating.
:class:`NDJSONResponse` is the same response with another media type.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import anyio
from starlette.types import Receive, Scope, Send

from hearth.messages import JsonObject
from hearth.wire.base import WireChunk
from hearth.wire.compact import compact_json


def sse_frame(chunk: WireChunk) -> bytes:
    """One SSE frame; ``data`` None is OpenAI's ``[DONE]`` terminator. JSON never holds a raw
    newline, so the data always fits one ``data:`` line."""
    data = "[DONE]" if chunk.data is None else chunk.encoded or compact_json(chunk.data)
    if chunk.event:
        return f"event: {chunk.event}\ndata: {data}\n\n".encode()
    return f"data: {data}\n\n".encode()


def json_line(data: JsonObject) -> bytes:
    return (compact_json(data) + "\n").encode()


def ndjson_frame(chunk: WireChunk) -> bytes:
    """One NDJSON line; a chunk without data (a terminator) is nothing, NDJSON has none."""
    if chunk.data is None:
        return b""
    return ((chunk.encoded or compact_json(chunk.data)) + "\n").encode()


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client has gone (every other message is ignored)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a stream must end (``time.monotonic()`` seconds) and the frames that end it then
    (the format's error event)."""

    at: float
    frames: Callable[[], list[bytes]]


class EventStreamResponse:
    """Streams ``body`` as ``text/event-stream``; cancels it if the client disconnects, or when
    its ``deadline`` passes (then sends the deadline's frames)."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        media_type: str = "text/event-stream",
        deadline: Deadline | None = None,
    ) -> None:
        self.body = body
        self.deadline = deadline
        self.status_code = 200
        self.headers = {
            "content-type": f"{media_type}; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
            **(headers or {}),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    await wait_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await send({"type": "http.response.start", "status": 200, "headers": raw})
                await self._send_body(send)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        except OSError:  # the client went away mid-write
            pass
        finally:
            aclose = getattr(self.body, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


    async def _send_body(self, send: Send) -> None:
        """Every frame of the body, within one cancel scope for the deadline (a timer per
        stream, not per frame); past it, the body is cancelled and the deadline's frames sent."""
        at = self.deadline.at if self.deadline is not None else float("inf")
        with anyio.CancelScope(deadline=_anyio_time(at)) as scope:
            async for frame in self.body:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        if scope.cancelled_caught and self.deadline is not None:
            aclose = getattr(self.body, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
            for frame in self.deadline.frames():
                await send({"type": "http.response.body", "body": frame, "more_body": True})


def _anyio_time(monotonic_at: float) -> float:
    """A ``time.monotonic()`` instant on anyio's clock (the event loop's)."""
    return monotonic_at - time.monotonic() + anyio.current_time()


class NDJSONResponse(EventStreamResponse):
    """Streams ``body`` as ``application/x-ndjson`` (one JSON object a line), cancelling it if
    the client disconnects, as :class:`EventStreamResponse` does."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(
            body, headers=headers, media_type="application/x-ndjson", deadline=deadline
        )


Framing = tuple[Callable[[WireChunk], bytes], type[EventStreamResponse]]


def framing(name: Literal["sse", "ndjson"]) -> Framing:
    """The frame function and response type of a format's stream framing."""
    return (ndjson_frame, NDJSONResponse) if name == "ndjson" else (sse_frame, EventStreamResponse)
