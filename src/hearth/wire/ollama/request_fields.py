"""The request fields ``/api/chat`` and ``/api/generate`` share, inbound (for ``hearth serve``):
``options``, ``format``, ``think``, ``keep_alive`` and ``images``, and what the server reads
besides the ChatRequest (:class:`OllamaRequest`). Pure: no I/O.

* ``options``: the sampling options hearth has (:class:`hearth.wire.ollama.chat.WireOptions`)
  become GenerationSettings. ``num_predict`` -1 ("no limit") and -2 ("fill the context") mean
  hearth's default (the model's window); other values below 1 are refused. ``num_ctx`` is
  returned for the server to check against the served model's window (hearth sets a model's
  context when it loads it, not per request). Options that only tune loading or the machine
  (``num_gpu``, ``num_thread``, ``use_mmap``…) are ignored. Sampling options hearth has no
  sampler for (``mirostat``, ``typical_p``, ``tfs_z``, ``repeat_last_n``) are accepted at their
  neutral value (the one hearth samples with) and refused otherwise: the answer would not be
  the one asked for.
* ``format``: ``"json"`` → any JSON; an object → that JSON schema (checked first, so an invalid
  one is a 400 naming ``format``); ``""`` or null → none.
* ``think``: true / false, or a level (``"low"``, ``"medium"``, ``"high"``, ``"max"``) → true.
* ``keep_alive``: a number of seconds or a Go duration (``"5m"``, ``"1h30m"``, ``"-1"``, ``"0"``).
  It is checked, but the server keeps every model it serves loaded for its whole life; on an
  empty request (Ollama's "load the model"), ``0`` asks to unload, which the server refuses.
* ``logprobs`` / ``top_logprobs``: the settings of the same names; each line of the answer
  carries its tokens' ``logprobs`` (:mod:`hearth.wire.ollama.stream`).
* ``images``: raw base64 (line breaks ignored, as Go's decoder does), identified by their magic
  bytes: PNG, JPEG, GIF or WebP; anything else is refused, naming the item.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from pydantic import ConfigDict, ValidationError

from hearth.errors import InvalidRequestError
from hearth.logprobs import MAX_TOP_LOGPROBS
from hearth.messages import ImagePart, JsonObject
from hearth.request import ChatRequest, OutputFormat
from hearth.settings import GenerationSettings
from hearth.wire.ollama.chat import OPTIONS, WireOptions

THINK_LEVELS = ("low", "medium", "high", "max")
_NO_LIMIT = (-1, -2)  # Ollama's num_predict: -1 no limit, -2 fill the context
_DEFAULT_SETTINGS = GenerationSettings()
_NEUTRAL: dict[str, float] = {"typical_p": 1.0, "tfs_z": 1.0, "mirostat": 0, "repeat_last_n": 64}
"""Sampling options hearth has no sampler for, and the value that leaves the answer as hearth
samples it (repeat_last_n: the window hearth's repeat penalty looks back over)."""
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_SECONDS = re.compile(rf"-?{_NUMBER}")
_DURATION = re.compile(rf"-?({_NUMBER}(?:ns|us|µs|ms|s|m|h))+")


class Unset(enum.Enum):
    """``keep_alive`` not given: the server's own default applies."""

    UNSET = "unset"


UNSET = Unset.UNSET
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class OllamaRequest:
    """An inbound ``/api/chat`` or ``/api/generate`` body: the model, the ChatRequest (None for
    an empty chat or prompt: Ollama's "load the model" request), whether to stream, and the
    fields the server checks itself."""

    model: str
    request: ChatRequest | None
    stream: bool
    num_ctx: int | None = None
    unload: bool = False
    """An empty request with ``keep_alive`` 0: Ollama's "unload the model"."""
    keep_alive: float | Unset | None = UNSET
    """Seconds the model stays loaded after this request (None: for ever; UNSET: the
    server's default)."""


class InboundOptions(WireOptions):
    """``options`` as the server reads it: hearth's sampling options, plus ``num_ctx``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    num_ctx: int | None = None


class WireFields(Protocol):
    """The fields ``/api/chat`` and ``/api/generate`` bodies share."""

    keep_alive: Any
    options: InboundOptions | None
    think: Any
    logprobs: bool | None
    top_logprobs: int | None
    format: Any
    stream: bool | None


@dataclass(frozen=True, slots=True)
class SharedFields:
    """What the shared fields of a chat or generate body say, read once (:func:`read_shared`)."""

    settings: GenerationSettings
    output: OutputFormat | None
    stream: bool
    num_ctx: int | None
    unload: bool
    keep_alive: float | Unset | None

    def request(self, model: str, request: ChatRequest | None) -> OllamaRequest:
        """The OllamaRequest for ``request`` (None: Ollama's load or unload request)."""
        unload = self.unload and request is None
        return OllamaRequest(
            model, request, self.stream, self.num_ctx, unload=unload, keep_alive=self.keep_alive
        )


def read_shared(wire: WireFields) -> SharedFields:
    """``keep_alive``, ``options`` (sampling, ``think``, ``num_ctx``), ``logprobs``, ``format``
    and ``stream`` of a chat or generate body (Ollama streams unless told not to)."""
    unload = keep_alive_is_zero(wire.keep_alive)
    keep = keep_alive_seconds(wire.keep_alive)
    settings = logprobs_from_wire(
        settings_from_wire(wire.options, wire.think), wire.logprobs, wire.top_logprobs
    )
    output = format_from_wire(wire.format)
    stream = True if wire.stream is None else wire.stream
    return SharedFields(settings, output, stream, num_ctx_from_wire(wire.options), unload, keep)


def invalid(exc: ValidationError) -> InvalidRequestError:
    """A pydantic error as an InvalidRequestError naming the field (``messages[2].role: …``)."""
    error = exc.errors()[0]
    where = ""
    for item in error["loc"]:
        if isinstance(item, int):
            where += f"[{item}]"
        else:
            where += f".{item}" if where else item
    return InvalidRequestError(f"{where or 'body'}: {error['msg']}")


def settings_from_wire(options: InboundOptions | None, think: object) -> GenerationSettings:
    """GenerationSettings from ``options`` and ``think``; the message names the wire field."""
    options = options or InboundOptions()
    _refuse_unsampled(options)
    values: dict[str, Any] = {name: getattr(options, key) for name, key in OPTIONS.items()}
    predict = values["max_tokens"]
    if predict in _NO_LIMIT:
        values["max_tokens"] = None
    elif predict is not None and predict < 1:
        raise InvalidRequestError(
            f"options.num_predict: must be a positive number of tokens, or -1 (no limit) or -2 "
            f"(fill the context); got {predict}"
        )
    values["stop"] = tuple(values["stop"] or ())
    thinking = think_from_wire(think)
    try:
        return replace(_DEFAULT_SETTINGS, **values, thinking=thinking)
    except InvalidRequestError:
        for name, key in OPTIONS.items():  # find the field: the message names it as the wire does
            try:
                replace(_DEFAULT_SETTINGS, **{name: values[name]})
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"options.{key}: {exc}") from None
        raise


def num_ctx_from_wire(options: InboundOptions | None) -> int | None:
    """``options.num_ctx``, checked to be positive; None when absent."""
    if options is None or options.num_ctx is None:
        return None
    if options.num_ctx < 1:
        raise InvalidRequestError(f"options.num_ctx: must be at least 1, got {options.num_ctx}")
    return options.num_ctx


def _refuse_unsampled(options: InboundOptions) -> None:
    extra = options.model_extra or {}
    for name, neutral in _NEUTRAL.items():
        if name in WireOptions.model_fields or name not in extra or extra[name] is None:
            continue
        value = extra[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequestError(f"options.{name}: expected a number, got {value!r}")
        if value != neutral:
            raise InvalidRequestError(
                f"options.{name}: hearth has no {name} sampler, so only {neutral:g} (which "
                f"leaves sampling as it is) is accepted; got {value:g}"
            )


def logprobs_from_wire(
    settings: GenerationSettings, logprobs: bool | None, top_logprobs: int | None
) -> GenerationSettings:
    """``logprobs`` / ``top_logprobs`` (top-level fields, beside ``options``) laid on
    ``settings``. ``top_logprobs`` needs ``logprobs``, as Ollama says."""
    if top_logprobs is not None and not 0 <= top_logprobs <= MAX_TOP_LOGPROBS:
        raise InvalidRequestError(
            f"top_logprobs: must be between 0 and {MAX_TOP_LOGPROBS}, got {top_logprobs}"
        )
    if top_logprobs and not logprobs:
        raise InvalidRequestError("top_logprobs: needs logprobs set to true")
    if not logprobs:
        return settings
    return replace(settings, logprobs=True, top_logprobs=top_logprobs or None)


def think_from_wire(value: object) -> bool | None:
    """``think``: a bool, or a level (→ True); None when absent."""
    if value is None or isinstance(value, bool):
        return value
    if value in THINK_LEVELS:
        return True
    raise InvalidRequestError(
        f"think: must be true, false or one of {', '.join(THINK_LEVELS)}; got {value!r}"
    )


def format_from_wire(value: object) -> OutputFormat | None:
    """``format``: ``"json"``, a JSON schema object, or nothing (null or ``""``)."""
    if value is None or value == "":
        return None
    if value == "json":
        return OutputFormat("json")
    if isinstance(value, dict):
        from hearth._schema import check_schema

        schema = cast(JsonObject, value)
        check_schema(schema, what="format")
        return OutputFormat("json_schema", schema)
    raise InvalidRequestError(f'format: must be "json" or a JSON schema object; got {value!r}')


def keep_alive_is_zero(value: object) -> bool:
    """Whether ``keep_alive`` asks to unload at once (0); refuses a malformed one."""
    if value is None:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, str):
        text = value.strip()
        if _SECONDS.fullmatch(text) or _DURATION.fullmatch(text):
            return all(float(n) == 0 for n in re.findall(_NUMBER, text))
    raise InvalidRequestError(
        f'keep_alive: expected a number of seconds or a duration such as "5m"; got {value!r}'
    )


def keep_alive_seconds(value: object) -> float | Unset | None:
    """Ollama's ``keep_alive`` in seconds: a number of seconds or a Go duration (``"5m"``,
    ``"1h30m"``); negative means for ever (None); absent is UNSET. Refuses a malformed one."""
    if value is None:
        return UNSET
    keep_alive_is_zero(value)  # the same checks and message
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        if _SECONDS.fullmatch(text):
            seconds = float(text)
        else:
            sign = -1.0 if text.startswith("-") else 1.0
            parts = re.findall(rf"{_NUMBER}(ns|us|µs|ms|s|m|h)", text)
            seconds = sign * sum(float(n) * _UNITS[unit] for n, unit in parts)
    return None if seconds < 0 else seconds


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG, GIF or WebP bytes, from their magic numbers; else None."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_from_wire(data: str, where: str) -> ImagePart:
    """One ``images`` item; ``where`` names it in the error (``messages[0].images[1]``)."""
    try:  # like Go's base64 decoder, ignore line breaks
        raw = base64.b64decode(data.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        hint = " (send raw base64, not a data: URL)" if data.startswith("data:") else ""
        raise InvalidRequestError(f"{where}: not valid base64{hint}") from None
    media_type = sniff_image_type(raw)
    if media_type is None:
        raise InvalidRequestError(f"{where}: not a PNG, JPEG, GIF or WebP image")
    return ImagePart(raw, media_type)
