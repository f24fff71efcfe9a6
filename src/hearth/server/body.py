"""Reading a request body: JSON only, within a size and a time limit, cut short by a shutdown,
decoded off the event loop, and every string in it checked to be valid Unicode.

* The content type must be JSON (``application/json`` or ``application/…+json``; a charset, if
  given, UTF-8): 415 otherwise. A web page can send ``text/plain`` to any address without asking
  first (a CORS "simple request"); it cannot send JSON that way.
* The body must arrive within ``timeout`` seconds (408), hold at most ``limit`` bytes (413) and
  be UTF-8 JSON whose top level is an object (400).
* A client that hangs up mid-upload raises :class:`UploadAbandonedError`; a server that begins
  shutting down (``draining()``) while the body is still arriving answers 503 at once rather than
  wait for it.
* Decoding a large body takes time in proportion to its size, so above :data:`INLINE_BYTES` it
  runs on a :class:`ParsePool` thread (few, and at a lower CPU priority), and above
  :data:`C_DECODE_BYTES` with Python's pure-Python JSON scanner, which (unlike the C one, which
  holds the GIL for its whole run: 0.1 s for 8 MB) lets the event loop's thread take the GIL
  back every millisecond.
* Any string, or object key, holding a lone surrogate (JSON's ``"\\ud800"``) is a 400 that names
  the field (``messages[0].content``); nothing past the edge ever meets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import json.scanner
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from hearth.errors import HearthError, InvalidRequestError
from hearth.input_limits import invalid_text
from hearth.messages import JsonObject, JsonValue

T = TypeVar("T")

INLINE_BYTES = 32 * 1024
"""Bodies up to this size are decoded and parsed on the event loop (a few milliseconds)."""

C_DECODE_BYTES = 4 * 1024 * 1024
"""Bodies up to this size are decoded by the C decoder: it holds the GIL ~10 ms per MB (so at
most ~50 ms here), but costs a tenth of the CPU of the pure-Python scanner, which matters as
much when a hostile client keeps sending them."""

PARSE_NICE = 10
"""How much lower the parsing threads' CPU priority is (Linux niceness)."""

_POLL = 0.1  # seconds between two looks at the shutdown flag while a body arrives
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class StatusError(InvalidRequestError):
    """A bad request whose HTTP status is not 400 (``http_status``). Its body was not read to
    the end, so the connection is closed after the answer (``close_connection``)."""

    http_status = 400
    close_connection = True


class BodyTooLargeError(StatusError):
    """The request body is over the server's limit (413)."""

    http_status = 413


class UnsupportedMediaTypeError(StatusError):
    """The body is not declared as JSON (415)."""

    http_status = 415


class BodyTimeoutError(StatusError):
    """The body did not arrive in time (408)."""

    http_status = 408


class ShuttingDownError(HearthError):
    """The server began shutting down before the request's body had arrived (503)."""

    http_status = 503
    close_connection = True


class UploadAbandonedError(Exception):
    """The client disconnected before its request body had all arrived."""


def check_content_type(request: Request) -> None:
    """415 unless the request declares a JSON body in UTF-8."""
    declared = request.headers.get("content-type")
    if declared is None:
        raise UnsupportedMediaTypeError(
            "content-type: missing; send the body as JSON with 'Content-Type: application/json'"
        )
    media, _, params = declared.partition(";")
    media = media.strip().lower()
    json_like = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not json_like:
        raise UnsupportedMediaTypeError(
            f"content-type: {declared.strip()!r} is not JSON; send the body as JSON with "
            "'Content-Type: application/json'"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(
                f"content-type: charset {value.strip()!r} is not supported; send UTF-8"
            )


async def read_body(
    request: Request, *, limit: int, timeout: float, draining: Callable[[], bool]
) -> bytes:
    """The raw body, read within ``limit`` bytes and ``timeout`` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body: {declared} bytes is over the limit of {limit} bytes")
    deadline = time.monotonic() + timeout
    raw = bytearray()
    more = True
    while more:
        message: Any = None
        while message is None:
            left = deadline - time.monotonic()
            if draining():
                raise ShuttingDownError("the server is shutting down; retry on another instance")
            if left <= 0:
                raise BodyTimeoutError(
                    f"body: not received within {timeout:g} s ({len(raw)} bytes arrived); "
                    "send the whole body at once"
                )
            with anyio.move_on_after(min(_POLL, left)):
                message = await request.receive()  # safe to cancel: nothing is lost
        if message["type"] == "http.disconnect":
            raise UploadAbandonedError(f"after {len(raw)} bytes")
        raw += message.get("body", b"")
        if len(raw) > limit:
            raise BodyTooLargeError(f"body: over the limit of {limit} bytes")
        more = bool(message.get("more_body", False))
    return bytes(raw)


class ParsePool:
    """The worker threads that decode and parse large bodies: few (``workers``), so however
    many bodies arrive at once few threads contend with the event loop for the GIL, and at a
    lower CPU priority (nice +10, Linux), so that when the CPU is short a model's threads and
    the event loop come first and the hostile request is the one that waits."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on one of the pool's threads; abandoned (not stopped) if cancelled. The
        threads start on first use (again after :meth:`close`: an app may be started again)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another async library: anyio's own threads
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="hearth-parse", initializer=_lower_priority
            )
        return await asyncio.wrap_future(self._executor.submit(work), loop=loop)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    if sys.platform == "linux":  # elsewhere the id of a thread is no process id
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PARSE_NICE)


async def decode_json(raw: bytes, pool: ParsePool | None = None) -> JsonObject:
    """``raw`` as a JSON object with valid Unicode throughout; on a worker thread (``pool``'s)
    when large."""
    if len(raw) <= INLINE_BYTES:
        return parse_json(raw, fast=True)
    fast = len(raw) <= C_DECODE_BYTES
    if pool is None:
        return await anyio.to_thread.run_sync(parse_json, raw, fast, abandon_on_cancel=True)
    return await pool.run(lambda: parse_json(raw, fast))


def _no_constants(name: str) -> object:
    raise InvalidRequestError(f"body: {name} is not valid JSON; send numbers as finite values")


def _gil_friendly_decoder() -> json.JSONDecoder:
    """A decoder whose scanner is Python code: slower, but it lets other threads run."""
    decoder = json.JSONDecoder(parse_constant=_no_constants)
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder


def parse_json(raw: bytes, fast: bool = True) -> JsonObject:
    """Decode ``raw`` (the C decoder if ``fast``) and check every string in it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"body: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); send "
            "JSON encoded as UTF-8"
        ) from None
    try:
        if fast:
            data = json.loads(text, parse_constant=_no_constants)
        else:
            data = _gil_friendly_decoder().decode(text)
    except InvalidRequestError:
        raise
    except RecursionError:
        raise InvalidRequestError("body: nested too deeply to be a request") from None
    except ValueError as exc:
        raise InvalidRequestError(f"body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("body: expected a JSON object")
    try:
        if _SURROGATE_ESCAPE.search(raw):  # UTF-8 bytes cannot hold one; only an escape can
            check_text(data)
    except RecursionError:
        raise InvalidRequestError("body: nested too deeply to be a request") from None
    return data


def check_text(value: JsonValue) -> None:
    """InvalidRequestError naming the first field (or key) that holds a lone surrogate."""
    found = _find_surrogate(value)
    if found is not None:
        path, text, index = found
        raise invalid_text(path.removeprefix(".") or "body", text, index)


def _surrogate_at(text: str) -> int | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _find_surrogate(value: JsonValue) -> tuple[str, str, int] | None:
    """(path, text, index) of the first lone surrogate in ``value``, or None."""
    if isinstance(value, str):
        at = _surrogate_at(value)
        return None if at is None else ("", value, at)
    if isinstance(value, dict):
        for key, item in value.items():
            at = _surrogate_at(key)
            if at is not None:
                return (f".{key!a}", key, at)
            found = _find_surrogate(item)
            if found is not None:
                return (f".{key}{found[0]}", found[1], found[2])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_surrogate(item)
            if found is not None:
                return (f"[{index}]{found[0]}", found[1], found[2])
    return None
