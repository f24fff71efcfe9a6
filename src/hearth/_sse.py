"""Incremental decoders for streamed HTTP bodies: Server-Sent Events and NDJSON. No I/O.

Both take the body as it arrives, in chunks of any size (a line, a UTF-8 character or a CRLF may
be split anywhere), and return whole items as soon as they are complete::

    decoder = SSEDecoder()
    for chunk in response.iter_bytes():
        for event in decoder.feed(chunk):
            ...
    for event in decoder.finish():
        ...

:class:`SSEDecoder` follows the WHATWG ``text/event-stream`` rules: ``event``, ``data`` (several
``data:`` lines join with ``\\n``), ``id`` and ``retry`` fields; comment lines (``:``, used for
keep-alives) and unknown fields are ignored; CRLF, LF and CR end lines; a leading BOM is dropped;
a block without data dispatches nothing. One deliberate leniency: at the end of the body,
:meth:`SSEDecoder.finish` dispatches a last event that lacked its closing blank line, since some
servers close the connection right after the final ``data:`` line. ``[DONE]`` is ordinary data;
the caller decides what it means.

:class:`NDJSONDecoder` yields one JSON object per non-blank line and raises
:class:`hearth.errors.ProviderError` for a line that is not a JSON object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hearth.errors import ProviderError
from hearth.messages import JsonObject

_BOM = b"\xef\xbb\xbf"
_LINE_ENDS = (b"\n", b"\r")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event.

    ``event`` is the ``event:`` field (None when the block had none, which the standard calls
    ``message``); ``data`` the ``data:`` lines joined with ``\\n``; ``id`` the last event id seen
    so far in the stream (it persists across events, as the standard says); ``retry`` the
    reconnection time in milliseconds last announced by the server, if any.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class _LineSplitter:
    """Splits a byte stream into lines on CRLF, LF or CR, wherever the chunks break."""

    def __init__(self) -> None:
        self._partial = b""
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data.startswith(b"\n"):
                data = data[1:]
        buffer = self._partial + data
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._partial = buffer
                return []
            self._started = True
            buffer = buffer.removeprefix(_BOM)
        lines = buffer.splitlines(keepends=True)
        self._partial = lines.pop() if lines and not lines[-1].endswith(_LINE_ENDS) else b""
        if lines and lines[-1].endswith(b"\r"):
            self._skip_lf = True
        return [line.rstrip(b"\r\n") for line in lines]

    def finish(self) -> list[bytes]:
        """The unterminated last line, if there is one."""
        rest = self._partial
        self._partial = b""
        if not self._started:
            rest = rest.removeprefix(_BOM)
        return [rest] if rest else []


class SSEDecoder:
    """Bytes → :class:`SSEEvent`, incrementally. See the module docstring for the rules."""

    def __init__(self) -> None:
        self._lines = _LineSplitter()
        self._data: list[str] = []
        self._event: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        return self._last_id

    @property
    def retry(self) -> int | None:
        """The reconnection time (ms) the server last announced with ``retry:``."""
        return self._retry

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Decode another chunk of the body; the events it completed, in order."""
        events: list[SSEEvent] = []
        for line in self._lines.feed(data):
            self._line(line.decode("utf-8", errors="replace"), events)
        return events

    def finish(self) -> list[SSEEvent]:
        """The end of the body: a last line without its newline, and a last undispatched event."""
        events: list[SSEEvent] = []
        for line in self._lines.finish():
            self._line(line.decode("utf-8", errors="replace"), events)
        self._dispatch(events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event, self._last_id, self._retry))
        self._data = []
        self._event = None


class NDJSONDecoder:
    """Bytes → one JSON object per line, incrementally. Blank lines are skipped."""

    def __init__(self) -> None:
        self._lines = _LineSplitter()
        self._line_no = 0

    def feed(self, data: bytes) -> list[JsonObject]:
        """Decode another chunk of the body; the objects on the lines it completed."""
        return [obj for line in self._lines.feed(data) if (obj := self._parse(line)) is not None]

    def finish(self) -> list[JsonObject]:
        """The end of the body: the last line, if it had no newline."""
        return [obj for line in self._lines.finish() if (obj := self._parse(line)) is not None]

    def _parse(self, line: bytes) -> JsonObject | None:
        self._line_no += 1
        if not line.strip():
            return None
        try:
            value = json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise ProviderError(
                f"line {self._line_no} of the NDJSON stream is not valid JSON ({exc}): "
                f"{_preview(line)}; the server sent something other than newline-delimited JSON"
            ) from None
        if not isinstance(value, dict):
            raise ProviderError(
                f"line {self._line_no} of the NDJSON stream is a JSON {type(value).__name__}, "
                f"not an object: {_preview(line)}"
            )
        return value


def _preview(line: bytes, limit: int = 200) -> str:
    text = line.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")
