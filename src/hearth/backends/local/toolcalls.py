"""Tool calls read out of a local model's text, while it streams. Pure, no I/O.

Models that were trained to call tools write the calls as text in their own syntax.
:class:`ToolCallParser` is fed that text as it is generated and turns it into
:class:`~hearth.events.TextDelta` and :class:`~hearth.events.ToolCallEvent` events, in order:

========  ===================================================================================
family    what a call looks like
========  ===================================================================================
gemma     ````tool_code`` block holding ``name(arg=value, …)`` lines (or ``[f(…), g(…)]``)
hermes    ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` (Qwen, Hermes, SmolLM3)
llama3    ``{"name": …, "parameters": {…}}`` anywhere in the text, or after ``<|python_tag|>``
          (also ``<|python_tag|>brave_search.call(query=…)``); several calls split by ``;``
mistral   ``[TOOL_CALLS][{"name": …, "arguments": {…}}, …]`` or ``[TOOL_CALLS]name[ARGS]{…}``
========  ===================================================================================

Streaming rules:

* text flows out as soon as it cannot be the start of a call: a tail that could still grow into
  a call marker (``<tool_`` at the end of a chunk) is held back and never leaks, and neither does
  trailing whitespace until something other than a call follows it;
* whitespace between text and a call, or between calls, is dropped;
* a call's text may be split across any number of chunks: any chunking of the same output gives
  the same events, up to how the text deltas are cut;
* a call that cannot be read (bad JSON or Python, an unknown tool, a call cut off at the end of
  the output) is still emitted, with its raw text as ``arguments`` and ``meta={"error": …}``, so
  the agent answers it with an error result the model can act on;
* a complete call whose closing tag is missing at the end (the model stopped right after it) is
  accepted.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

from hearth.backends.local.toolcalls_families import (
    CallBuilder,
    IdFactory,
    json_calls,
    named_json_call,
    new_call_id,
    python_calls,
)
from hearth.errors import HearthError
from hearth.events import StreamEvent, TextDelta, ToolCallEvent
from hearth.messages import ToolCallPart

ToolFamily: TypeAlias = Literal["gemma", "hermes", "llama3", "mistral"]
TOOL_FAMILIES: tuple[ToolFamily, ...] = ("gemma", "hermes", "llama3", "mistral")

__all__ = [
    "TOOL_FAMILIES",
    "ToolCallParser",
    "ToolCallParserClosedError",
    "ToolFamily",
    "detect_family",
    "new_call_id",
]


class ToolCallParserClosedError(HearthError, RuntimeError):
    """``feed`` was called after ``finish``: a parser serves one generation only."""


# --- which family ---------------------------------------------------------------------------------

_TEMPLATE_SIGNS: tuple[tuple[str, ToolFamily], ...] = (
    ("[TOOL_CALLS]", "mistral"),
    ("<tool_call>", "hermes"),
    ("<|python_tag|>", "llama3"),
    ("tool_code", "gemma"),
    ("<start_of_turn>", "gemma"),
    ("<|start_header_id|>", "llama3"),
)
_NAME_SIGNS: tuple[tuple[tuple[str, ...], ToolFamily], ...] = (
    (("gemma",), "gemma"),
    (("qwen", "hermes", "smollm3"), "hermes"),
    (("llama-3", "llama3", "llama_3", "llama 3"), "llama3"),
    (("mistral", "mixtral", "ministral", "devstral", "magistral", "codestral"), "mistral"),
)


def detect_family(template: str | None, model_name: str) -> ToolFamily | None:
    """The tool-call syntax a model writes, from its chat template, else from its name.

    The template decides when it shows one of the families' markers (``[TOOL_CALLS]``,
    ``<tool_call>``, ``<|python_tag|>``, ``tool_code``) or turn tags (Gemma's
    ``<start_of_turn>``, Llama 3's ``<|start_header_id|>``). Otherwise the model name is matched
    (``gemma``, ``qwen``/``hermes``, ``llama-3``, ``mistral``…). None when neither tells: such a
    model has no trained tool syntax, and tools must be handled by constrained decoding.
    """
    if template:
        for sign, family in _TEMPLATE_SIGNS:
            if sign in template:
                return family
    lowered = model_name.lower()
    for needles, family in _NAME_SIGNS:
        if any(needle in lowered for needle in needles):
            return family
    return None


# --- readers: what to do inside a call ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    consumed: int
    calls: list[ToolCallPart] = field(default_factory=list)
    next: _Reader | None = None  # None: the call is over, back to text


class _Reader(Protocol):
    def step(self, buf: str) -> _Step | None:
        """Progress over ``buf`` (the text since the reader started), or None: need more text."""
        ...

    def finish(self, buf: str) -> list[ToolCallPart]:
        """The output ended inside the call."""
        ...


_Parse = Callable[[str], list[ToolCallPart]]


class _Delimited:
    """A call body that ends at a closing tag (``</tool_call>``, Gemma's closing fence).

    ``closes(body)`` says whether a closing tag after ``body`` ends the call, or sits inside one
    of its string literals (``f(text="```")``) and is part of it.
    """

    def __init__(
        self, close: str, parse: _Parse, builder: CallBuilder, closes: Callable[[str], bool]
    ) -> None:
        self._close = close
        self._parse = parse
        self._builder = builder
        self._closes = closes
        self._from = 0

    def step(self, buf: str) -> _Step | None:
        while True:
            end = buf.find(self._close, self._from)
            if end < 0:
                self._from = max(self._from, len(buf) - len(self._close) + 1)
                return None
            if self._closes(buf[:end]):
                return _Step(end + len(self._close), self._parse(buf[:end]))
            self._from = end + 1

    def finish(self, buf: str) -> list[ToolCallPart]:
        calls = self._parse(buf)
        if all(call.meta is None or "error" not in call.meta for call in calls):
            return calls  # complete, only the closing tag is missing
        name = next((c.name for c in calls if c.name), "")
        problem = f"the tool call was cut off before its closing {self._close!r}"
        return [self._builder.error(name, buf.strip(), problem)]


class _JsonValue:
    """A JSON object or array whose first character is at ``buf[0]``; ends where it closes.

    The scan is incremental (each character is looked at once) and string-aware, so brackets
    inside strings do not count.
    """

    def __init__(self, parse: _Parse, builder: CallBuilder) -> None:
        self._parse = parse
        self._builder = builder
        self._pos = 0
        self._closers: list[str] = []  # the brackets still open, as the characters closing them
        self._in_string = False
        self._escaped = False

    def step(self, buf: str) -> _Step | None:
        end = self._scan(buf)
        return None if end is None else _Step(end, self._parse(buf[:end]))

    def _scan(self, buf: str) -> int | None:
        for index in range(self._pos, len(buf)):
            char = buf[index]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._closers.append("}" if char == "{" else "]")
            # a mismatched bracket ends the value too: json.loads then says what is wrong
            elif char in "}]" and (
                not self._closers or self._closers.pop() != char or not self._closers
            ):
                self._pos = index + 1
                return index + 1
        self._pos = len(buf)
        return None

    def finish(self, buf: str) -> list[ToolCallPart]:
        calls = self._parse(buf)
        name = next((c.name for c in calls if c.name), "")
        return [self._builder.error(name, buf, "the tool call was cut off: its JSON never closes")]


class _ToEnd:
    """Everything up to the end of the output is the call (``<|python_tag|>`` code)."""

    def __init__(self, parse: _Parse) -> None:
        self._parse = parse

    def step(self, buf: str) -> _Step | None:
        return None

    def finish(self, buf: str) -> list[ToolCallPart]:
        return self._parse(buf)


class _Dispatch:
    """Skips whitespace after a marker, then picks a reader by the first character."""

    def __init__(self, pick: Callable[[str], _Reader], empty: Callable[[str], list[ToolCallPart]]):
        self._pick = pick
        self._empty = empty

    def step(self, buf: str) -> _Step | None:
        stripped = buf.lstrip()
        if not stripped:
            return None
        return _Step(len(buf) - len(stripped), next=self._pick(stripped[0]))

    def finish(self, buf: str) -> list[ToolCallPart]:
        return self._empty(buf)


class _MistralName:
    """``name[ARGS]{…}`` (optionally ``name[CALL_ID]id[ARGS]{…}``) after ``[TOOL_CALLS]``."""

    def __init__(self, builder: CallBuilder) -> None:
        self._builder = builder

    def step(self, buf: str) -> _Step | None:
        end = buf.find("[ARGS]")
        if end < 0:
            return None
        name = buf[:end].split("[CALL_ID]", 1)[0].strip()
        builder = self._builder

        def parse(raw: str) -> list[ToolCallPart]:
            return [named_json_call(name, raw, builder)]

        def pick(first: str) -> _Reader:
            if first == "{":
                return _JsonValue(parse, builder)
            return _ToEnd(parse)

        def empty(raw: str) -> list[ToolCallPart]:
            return [builder.error(name, raw, "the call was cut off before its arguments")]

        return _Step(end + len("[ARGS]"), next=_Dispatch(pick, empty))

    def finish(self, buf: str) -> list[ToolCallPart]:
        problem = "the call was cut off before [ARGS]"
        return [self._builder.error(buf.strip()[:128], buf, problem)]


# --- families ------------------------------------------------------------------------------------


def _cut_off(builder: CallBuilder, marker: str) -> Callable[[str], list[ToolCallPart]]:
    def empty(raw: str) -> list[ToolCallPart]:
        return [builder.error("", raw, f"the output ended right after {marker}")]

    return empty


def _json_closes(body: str) -> bool:
    """Whether ``body`` ends outside a JSON string (an odd count of unescaped quotes: inside)."""
    quotes = len(re.findall(r'(?<!\\)(?:\\\\)*"', body))
    return quotes % 2 == 0


def _python_closes(body: str) -> bool:
    """Whether a fence after ``body`` closes the block: the code is complete, or the fence
    starts a line (then the code is broken, not open)."""
    if not body.strip() or body.rstrip(" \t").endswith("\n"):
        return True
    try:
        ast.parse(body.strip())
    except SyntaxError:
        return False
    return True


def _reader_factory(family: ToolFamily, builder: CallBuilder) -> Callable[[], _Reader]:
    """The reader that starts when the family's marker is seen."""

    def json_parse(raw: str) -> list[ToolCallPart]:
        return json_calls(raw, builder)

    def code_parse(raw: str) -> list[ToolCallPart]:
        return python_calls(raw, builder)

    if family == "hermes":
        return lambda: _Delimited(
            "</tool_call>", lambda raw: json_calls(raw.strip(), builder), builder, _json_closes
        )
    if family == "gemma":
        return lambda: _Delimited("```", code_parse, builder, _python_closes)

    def pick_llama(first: str) -> _Reader:
        return _JsonValue(json_parse, builder) if first in "{[" else _ToEnd(code_parse)

    def pick_mistral(first: str) -> _Reader:
        return _JsonValue(json_parse, builder) if first in "{[" else _MistralName(builder)

    if family == "llama3":
        return lambda: _Dispatch(pick_llama, _cut_off(builder, "<|python_tag|>"))
    return lambda: _Dispatch(pick_mistral, _cut_off(builder, "[TOOL_CALLS]"))


_MARKERS: dict[ToolFamily, str] = {
    "gemma": "```tool_code",
    "hermes": "<tool_call>",
    "llama3": "<|python_tag|>",
    "mistral": "[TOOL_CALLS]",
}

_LLAMA_STARTS = ('{"name":', '{"type":"function","name":')
_LLAMA_LOOKAHEAD = 64

_Match = Literal["yes", "maybe", "no"]


def _llama_call_start(text: str) -> _Match:
    """Whether ``text`` (starting at a ``{``) opens a Llama 3 JSON call; "maybe": too short to say.

    Whitespace outside strings is ignored, so ``{ "name" : `` counts.
    """
    compact = ""
    in_string = False
    for char in text[:_LLAMA_LOOKAHEAD]:
        if char == '"':
            in_string = not in_string
        elif char.isspace() and not in_string:
            continue
        compact += char
        if any(compact.startswith(start) for start in _LLAMA_STARTS):
            return "yes"
        if not any(start.startswith(compact) for start in _LLAMA_STARTS):
            return "no"
    return "maybe" if len(text) < _LLAMA_LOOKAHEAD else "no"


def _held_prefix(buf: str, marker: str) -> int:
    """The length of the longest tail of ``buf`` that is a proper prefix of ``marker``."""
    for size in range(min(len(marker) - 1, len(buf)), 0, -1):
        if buf.endswith(marker[:size]):
            return size
    return 0


# --- the parser ----------------------------------------------------------------------------------


class ToolCallParser:
    """Splits one generation's text into text deltas and tool-call events, as it streams.

    ``tool_names`` are the tools the model was offered; a call to any other name is emitted with
    an error in its meta. ``new_id`` makes call ids (default: ``call_`` + 24 hex digits).
    """

    def __init__(
        self,
        family: ToolFamily,
        tool_names: Collection[str],
        *,
        new_id: IdFactory = new_call_id,
    ) -> None:
        if family not in _MARKERS:
            raise ValueError(f"unknown tool family {family!r}; expected one of {TOOL_FAMILIES}")
        self.family: ToolFamily = family
        self._marker = _MARKERS[family]
        self._new_reader = _reader_factory(family, CallBuilder(tool_names, new_id))
        self._separators = " \t\r\n;" if family == "llama3" else " \t\r\n"
        self._buf = ""
        self._reader: _Reader | None = None
        self._after_call = False
        self._closed = False

    def feed(self, text: str) -> list[StreamEvent]:
        """The events that ``text`` (the next piece of output) completes."""
        if self._closed:
            raise ToolCallParserClosedError("this ToolCallParser has finished; make a new one")
        self._buf += text
        out: list[StreamEvent] = []
        while self._advance(out):
            pass
        return out

    def finish(self) -> list[StreamEvent]:
        """The remaining events at the end of the output: held text, or a cut-off call."""
        if self._closed:
            return []
        out: list[StreamEvent] = []
        while self._advance(out):
            pass
        self._closed = True
        buf, self._buf = self._buf, ""
        if self._reader is not None:
            out.extend(ToolCallEvent(call) for call in self._reader.finish(buf))
            self._reader = None
        else:
            self._emit(out, buf.lstrip(self._separators) if self._after_call else buf)
        return out

    def _advance(self, out: list[StreamEvent]) -> bool:
        """One move of the state machine; False when it must wait for more text."""
        if self._reader is None:
            return self._text(out)
        step = self._reader.step(self._buf)
        if step is None:
            return False
        self._buf = self._buf[step.consumed :]
        out.extend(ToolCallEvent(call) for call in step.calls)
        self._reader = step.next
        if step.next is None:
            self._after_call = True
        return True

    def _text(self, out: list[StreamEvent]) -> bool:
        buf = self._buf
        if self._after_call:
            buf = self._buf = buf.lstrip(self._separators)
            if not buf:
                return False
            self._after_call = False
        start, skip, hold = self._find_call(buf)
        if start is not None:
            self._emit(out, buf[:start].rstrip())
            self._buf = buf[start + skip :]
            self._reader = self._new_reader()
            return True
        safe = len(buf[: len(buf) - hold].rstrip())
        self._emit(out, buf[:safe])
        self._buf = buf[safe:]
        return False

    def _find_call(self, buf: str) -> tuple[int | None, int, int]:
        """(where a call starts or None, how many marker characters to skip, how many to hold)."""
        start = buf.find(self._marker)
        if start >= 0:
            found: int | None = start
            skip = len(self._marker)
            hold = 0
        else:
            found, skip, hold = None, 0, _held_prefix(buf, self._marker)
        if self.family != "llama3":
            return found, skip, hold
        limit = len(buf) if found is None else found
        index = buf.find("{", 0, limit)
        while index >= 0:
            match = _llama_call_start(buf[index:])
            if match == "yes":
                return index, 0, 0
            if match == "maybe":
                return None, 0, max(hold, len(buf) - index)
            index = buf.find("{", index + 1, limit)
        return found, skip, hold

    @staticmethod
    def _emit(out: list[StreamEvent], text: str) -> None:
        if text:
            out.append(TextDelta(text))
