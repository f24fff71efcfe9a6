"""The contract every wire module implements. See docs/wire.md for the full description.

Every wire module ``hearth.wire.<fmt>`` exposes, as plain module-level functions and classes:

* ``request_to_wire(request: ChatRequest, *, model: str, stream: bool) -> JsonObject``
* ``request_from_wire(body: JsonObject, *, model: str | None = None) -> WireRequest``
  (``model`` comes from the URL for formats that put it there, e.g. Gemini)
* ``response_to_wire(response: Response, *, model: str, response_id: str) -> JsonObject``
* ``response_from_wire(body: JsonObject) -> Response``
* ``class StreamDecoder`` — wire stream chunks → :class:`hearth.events.StreamEvent`:
  ``feed(data: JsonObject, event: str | None = None) -> list[StreamEvent]`` for each decoded
  SSE event / NDJSON line (``event`` is the SSE ``event:`` name where the format uses one), and
  ``finish() -> list[StreamEvent]`` at the end of the byte stream (raises
  :class:`hearth.errors.ProviderError` if the stream ended without its terminal chunk).
* ``class StreamEncoder(*, model: str, response_id: str)`` — events → wire chunks, for the
  server: ``encode(event: StreamEvent) -> list[WireChunk]`` (and ``start()`` / ``error(exc)``
  where the format has opening or error frames).
* ``error_from_wire(status: int, body: JsonObject | str, headers: Mapping[str, str])
  -> HearthError`` — the format's error mapping, in one place (a ProviderError subclass, or
  ModelNotFoundError / ContextLengthExceededError / InvalidRequestError where they fit).
* ``error_to_wire(exc: HearthError) -> tuple[int, JsonObject]`` — for the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from hearth.errors import HearthError
from hearth.events import StreamEvent
from hearth.messages import JsonObject
from hearth.request import ChatRequest


@dataclass(frozen=True, slots=True)
class WireRequest:
    """An inbound request: which model it names, what it asks, and whether it wants a stream."""

    model: str
    request: ChatRequest
    stream: bool


@dataclass(frozen=True, slots=True)
class WireChunk:
    """One outbound stream frame: an SSE ``event:`` name (None for data-only formats) and data.
    ``data`` None means a literal terminator such as OpenAI's ``[DONE]``."""

    event: str | None
    data: JsonObject | None


class StreamDecoder(Protocol):
    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> list[WireChunk]: ...


class ErrorFromWire(Protocol):
    def __call__(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str]
    ) -> HearthError: ...


class ErrorToWire(Protocol):
    def __call__(self, exc: HearthError) -> tuple[int, JsonObject]: ...
