"""Bounds on what one request may hold, checked before any template, tokenizer or grammar
compiler sees it, so a hostile request costs little time whatever it holds.

:class:`InputLimits` bounds the number of messages, the bytes of text in one message and the
bytes of text in the whole request (messages, tool definitions, response schema, raw prompt).
A local model sets its own from its context window (:meth:`InputLimits.for_window`: a window of
``n`` tokens holds at most ``n`` messages and ``n`` times its longest token's bytes of text), so
they never refuse a request that could have fit; a request over them raises
:class:`WindowExceededError`, a ContextLengthExceededError. ``hearth serve`` may set tighter
ones (:class:`InputTooLargeError`).

:func:`check_input` also refuses text that is not valid Unicode (a lone surrogate, which JSON's
``\\ud800`` escape can produce), naming the field, since no tokenizer can encode it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hearth.errors import ContextLengthExceededError, InvalidRequestError
from hearth.messages import ImagePart, JsonValue, Message, TextPart, ThinkingPart, ToolCallPart
from hearth.request import ChatRequest


class InputTooLargeError(InvalidRequestError):
    """A request holds more than its limits allow."""


class WindowExceededError(InputTooLargeError, ContextLengthExceededError):
    """A request holds more than a context window could ever hold: a
    :class:`~hearth.errors.ContextLengthExceededError` (so the agent compacts its history, and
    each API reports it its own way), whose ``prompt_tokens`` is a lower bound (the request
    has at least that many tokens) found without tokenizing."""

    def __init__(self, message: str, *, prompt_tokens: int, context_length: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        InvalidRequestError.__init__(self, message)


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The most a request may hold; None: no bound. ``source`` says where the bounds come from
    (it ends the error message). ``window`` and ``token_bytes``: the context window (tokens)
    and longest token (bytes) the bounds come from, when they do."""

    max_messages: int | None = None
    max_message_bytes: int | None = None
    max_text_bytes: int | None = None
    source: str = "the server's limits"
    window: int | None = None
    token_bytes: int = 1

    def __post_init__(self) -> None:
        for name in ("max_messages", "max_message_bytes", "max_text_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidRequestError(f"{name} must be at least 1, got {value}")

    @classmethod
    def for_window(cls, n_ctx: int, max_token_bytes: int, model: str) -> InputLimits:
        """What a window of ``n_ctx`` tokens could ever hold: as many messages (each is at least
        one token) and ``n_ctx * max_token_bytes`` bytes of text."""
        longest = max(1, max_token_bytes)
        most = n_ctx * longest
        return cls(
            max_messages=n_ctx,
            max_message_bytes=most,
            max_text_bytes=most,
            source=(
                f"what {model}'s context window of {n_ctx} tokens could ever hold (its longest "
                f"token is {max_token_bytes} bytes)"
            ),
            window=n_ctx,
            token_bytes=longest,
        )

    def refuse(self, message: str, *, at_least_tokens: int) -> InputTooLargeError:
        """The error for a request over these bounds: one that does not fit the window when
        the bounds are a window's."""
        if self.window is None:
            return InputTooLargeError(message)
        return WindowExceededError(
            message, prompt_tokens=at_least_tokens, context_length=self.window
        )


def text_bytes(text: str, field: str) -> int:
    """The UTF-8 length of ``text``; InvalidRequestError naming ``field`` if it is not valid
    Unicode (a lone surrogate)."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise invalid_text(field, text, exc.start) from None


def invalid_text(field: str, text: str, index: int) -> InvalidRequestError:
    """The error for a lone surrogate at ``text[index]``."""
    return InvalidRequestError(
        f"{field}: not valid Unicode text: it holds a lone surrogate (U+{ord(text[index]):04X}) "
        f"at character {index}; send valid UTF-8 (a \\uD800-\\uDFFF escape in JSON must be one "
        "half of a pair)"
    )


def check_input(request: ChatRequest, limits: InputLimits | None = None) -> None:
    """Raise :class:`InputTooLargeError` if ``request`` holds more than ``limits`` allow, and
    InvalidRequestError if any of its text is not valid Unicode. Costs time in proportion to the
    number of messages and parts, not to their text (ASCII text is never copied)."""
    limits = limits or InputLimits()
    check_count("messages", len(request.messages), limits)
    total = 0
    for index, message in enumerate(request.messages):
        size = _message_bytes(message, f"messages[{index}]")
        if limits.max_message_bytes is not None and size > limits.max_message_bytes:
            raise limits.refuse(
                f"messages[{index}]: {size} bytes of text is more than {limits.max_message_bytes}"
                f", {limits.source}; shorten it",
                at_least_tokens=-(-size // limits.token_bytes),
            )
        total += size
    total += _request_extras(request)
    if limits.max_text_bytes is not None and total > limits.max_text_bytes:
        raise limits.refuse(
            f"the request holds {total} bytes of text, more than {limits.max_text_bytes}, "
            f"{limits.source}; shorten it",
            at_least_tokens=-(-total // limits.token_bytes),
        )


def check_count(field: str, count: int, limits: InputLimits) -> None:
    """InputTooLargeError if ``count`` messages (in ``field``) are more than ``limits`` allow."""
    if limits.max_messages is not None and count > limits.max_messages:
        raise limits.refuse(
            f"{field}: {count} messages is more than {limits.max_messages}, {limits.source}; "
            "send fewer",
            at_least_tokens=count,
        )


def _message_bytes(message: Message, field: str) -> int:
    size = 0
    for index, part in enumerate(message.parts):
        where = f"{field}.parts[{index}]"
        if isinstance(part, TextPart | ThinkingPart):
            size += text_bytes(part.text, where)
        elif isinstance(part, ToolCallPart):
            size += text_bytes(part.name, f"{where}.name")
            size += text_bytes(part.arguments, f"{where}.arguments")
        elif isinstance(part, ImagePart):
            pass  # bounded on their own (bytes, pixels, count: backends.local.images)
        else:
            size += text_bytes(part.content, f"{where}.content")
            size += text_bytes(part.name or "", f"{where}.name")
    return size


def _request_extras(request: ChatRequest) -> int:
    """Bytes of the raw prompt, the tool definitions and the response format."""
    size = text_bytes(request.prompt, "prompt") if request.prompt is not None else 0
    for index, tool in enumerate(request.tools):
        where = f"tools[{index}]"
        size += text_bytes(tool.name, f"{where}.name")
        size += text_bytes(tool.description, f"{where}.description")
        size += _json_bytes(tool.parameters, f"{where}.parameters")
    fmt = request.response_format
    if fmt is not None:
        size += _json_bytes(fmt.schema, "response_format.schema")
        size += text_bytes(fmt.grammar or "", "response_format.grammar")
    return size


def _json_bytes(value: JsonValue, field: str) -> int:
    text = json.dumps(value, ensure_ascii=False)
    return text_bytes(text, field)
