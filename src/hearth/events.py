"""Stream events: what every backend emits, discriminated by ``kind``.

A stream is zero or more :class:`TextDelta`, :class:`ThinkingDelta`, :class:`ToolCallEvent` and
:class:`ImageEvent` in the order the model produced them, then exactly one :class:`Done`. Deltas
are never empty (except one that only carries a signature, ``meta`` or log-probabilities) and
never split a UTF-8 character.
:func:`hearth.response.accumulate` folds a stream into a :class:`hearth.response.Response`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from hearth.logprobs import TokenLogprob
from hearth.messages import ImagePart, Meta, ToolCallPart

StopReason: TypeAlias = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "cancelled",
    "content_filter",
    "tool_error",
]
"""Why an answer stopped, the same for every provider. ``tool_error``: the model tried to call a
tool and the provider rejected the call before it reached the caller (Gemini's
``MALFORMED_FUNCTION_CALL``, ``UNEXPECTED_TOOL_CALL``, ``TOO_MANY_TOOL_CALLS``): a failed call
the model may make again, not an answer."""
STOP_REASONS: tuple[StopReason, ...] = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "cancelled",
    "content_filter",
    "tool_error",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``cached_tokens`` is the part of ``input_tokens`` served from a cache;
    ``thinking_tokens`` the part of ``output_tokens`` spent on reasoning. With speculative
    decoding, ``drafted_tokens`` were proposed as drafts and ``accepted_tokens`` of them kept
    (they are part of ``output_tokens``; the others were computed and thrown away)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    thinking_tokens: int = 0
    drafted_tokens: int = 0
    accepted_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.thinking_tokens + other.thinking_tokens,
            self.drafted_tokens + other.drafted_tokens,
            self.accepted_tokens + other.accepted_tokens,
        )


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text. A provider's signature on answer text (Gemini's
    ``thoughtSignature`` on a text part) arrives on a delta with ``text == ""``. ``meta``: the
    opaque provider fields of the part the text belongs to (Gemini's ``"thought": false``
    stamp), kept on the TextPart it accumulates into. ``logprobs``: the log-probabilities of
    the tokens this text came from, when the request asked for them (``logprobs=True``); a
    delta may carry them with ``text == ""`` (tokens whose text is held back or is empty).
    ``choice``: which answer the text belongs to, when the request asked for several
    (``n``); 0 otherwise."""

    text: str
    signature: str | None = None
    meta: Meta = None
    logprobs: tuple[TokenLogprob, ...] = ()
    choice: int = 0
    kind: Literal["text"] = field(default="text", repr=False)


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of reasoning. A provider's signature arrives on a delta with ``text == ""``, and
    so does ``meta`` that is not the provider's text (a local reasoning model's tool calls
    written inside its thinking, :mod:`hearth.backends.local.thinkstream`); the ThinkingPart the
    deltas accumulate into keeps it."""

    text: str
    signature: str | None = None
    redacted: bool = False
    meta: Meta = None
    kind: Literal["thinking"] = field(default="thinking", repr=False)


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A complete tool call (arguments fully assembled). Parallel calls are several events."""

    call: ToolCallPart
    kind: Literal["tool_call"] = field(default="tool_call", repr=False)


@dataclass(frozen=True, slots=True)
class ImageEvent:
    """An image the model produced (Gemini's model-side ``inlineData``), whole."""

    image: ImagePart
    kind: Literal["image"] = field(default="image", repr=False)


@dataclass(frozen=True, slots=True)
class Done:
    """The end of a stream: why it stopped and what it cost. ``model`` is the model that
    answered as the backend names it (hearth's spec for a local model, the provider's reported
    version for a remote one); ``model_name`` the model's own name where it has one (a GGUF
    file's ``general.name``). ``stop_detail`` is the provider's own reason, as it wrote it,
    where the format keeps it (Gemini's ``finishReason``). ``prompt_logprobs``: a raw
    completion's prompt tokens with their log-probabilities, when the request asked for them
    (``prompt_logprobs=True``). ``choices``: when the request asked for several answers
    (``n``), each one's own end (its stop reason and usage; ``choices[0]`` is this Done's own,
    whose ``usage`` counts the prompt once and every answer's output); empty otherwise. The
    stream still has exactly one Done, after every answer's text."""

    stop_reason: StopReason
    usage: Usage = field(default_factory=Usage)
    stop_sequence: str | None = None
    model: str | None = None
    response_id: str | None = None
    stop_detail: str | None = None
    model_name: str | None = None
    prompt_logprobs: tuple[TokenLogprob, ...] | None = None
    choices: tuple[Done, ...] = ()
    kind: Literal["done"] = field(default="done", repr=False)


StreamEvent: TypeAlias = TextDelta | ThinkingDelta | ToolCallEvent | ImageEvent | Done
