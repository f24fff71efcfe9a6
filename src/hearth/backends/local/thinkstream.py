"""A reasoning model's output split, while it streams, into thinking and answer. Pure, no I/O.

The prompt leaves a reasoning model inside its think block
(:meth:`~hearth.backends.local.reasoning.ThinkingSyntax.prompt`), so its output is
``thinking</think>answer``. :class:`ThinkingSplitter` turns the text pieces of that output into
``("thinking", …)`` and ``("text", …)`` pieces:

* an opening tag the model writes again at the very start is dropped, and so is the white space
  around the thinking and between the closing tag and the answer (with harmony, the ``final``
  channel header too);
* a tail that could still grow into the closing tag (``</thi`` at the end of a chunk) is held
  back until the next piece says what it is, so no part of a tag ever leaks, whatever the
  chunking: any chunking of one output gives the same thinking and the same answer;
* output that ends inside the thinking (the model stopped, or hit ``max_tokens``) is all
  thinking; text after the closing tag is all answer (a second ``<think>`` there is text).

:class:`ThinkingEvents` applies it to a generation's events: thinking pieces become
:class:`~hearth.events.ThinkingDelta`, answer pieces go on, as text, to the tool-call parser of the
request's plan (so a call written after ``</think>`` is parsed by the model's tool family). A call
written inside the thinking is neither executed nor lost: the thinking is read by the same
family's parser and any call found is reported in the thinking part's ``meta``
(``tool_calls_in_thinking``: a list of ``{"id", "name", "arguments"}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

from hearth.backends.local.reasoning import ThinkingSyntax
from hearth.backends.local.toolcalls import ToolCallParser, ToolFamily
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent
from hearth.messages import JsonValue, ToolCallPart

PieceKind: TypeAlias = Literal["thinking", "text"]
Piece: TypeAlias = tuple[PieceKind, str]
Transform: TypeAlias = Callable[[StreamEvent], list[StreamEvent]]
IN_THINKING_KEY = "tool_calls_in_thinking"

_WS = " \t\r\n"


def _held(buf: str, tag: str) -> int:
    """The length of the longest tail of ``buf`` that is a proper prefix of ``tag``."""
    for n in range(min(len(buf), len(tag) - 1), 0, -1):
        if tag.startswith(buf[-n:]):
            return n
    return 0


class ThinkingSplitter:
    """Splits one generation's text into thinking and answer pieces; see the module docstring.
    ``inside``: the output starts inside the thinking (else it is all answer)."""

    def __init__(self, syntax: ThinkingSyntax, *, inside: bool = True) -> None:
        self._syntax = syntax
        self._state: Literal["start", "thinking", "between", "answer"] = (
            "start" if inside else "answer"
        )
        self._buf = ""

    @property
    def thinking(self) -> bool:
        """True while the output is (still) inside the thinking."""
        return self._state in ("start", "thinking")

    def feed(self, text: str) -> list[Piece]:
        """The pieces that ``text`` (the next piece of output) makes safe to show."""
        if self._state == "answer":
            return [("text", text)] if text else []
        self._buf += text
        out: list[Piece] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[Piece]:
        """The held-back text at the end of the output."""
        buf, self._buf = self._buf, ""
        if self._state in ("start", "thinking"):
            body = buf.strip(_WS) if self._state == "start" else buf.rstrip(_WS)
            return [("thinking", body)] if body else []
        if self._state == "between":  # white space, or part of the answer header
            return []
        return [("text", buf)] if buf else []

    def _step(self, out: list[Piece]) -> bool:
        """One move of the state machine; False when it must wait for more text."""
        if self._state == "start":
            return self._start()
        if self._state == "thinking":
            return self._thinking(out)
        if self._state == "between":
            return self._between(out)
        if self._buf:
            out.append(("text", self._buf))
            self._buf = ""
        return False

    def _start(self) -> bool:
        """Drop white space and a repeated opening tag at the start of the thinking."""
        head = self._buf.lstrip(_WS)
        opener = self._syntax.open
        if head.startswith(opener):
            self._buf = head[len(opener) :]
            return True
        if not head or opener.startswith(head):
            self._buf = head
            return False  # white space only, or could still be the tag
        self._buf, self._state = head, "thinking"
        return True

    def _thinking(self, out: list[Piece]) -> bool:
        buf, close = self._buf, self._syntax.close
        at = buf.find(close)
        if at >= 0:
            body = buf[:at].rstrip(_WS)
            if body:
                out.append(("thinking", body))
            self._buf, self._state = buf[at + len(close) :], "between"
            return True
        safe = len(buf[: len(buf) - _held(buf, close)].rstrip(_WS))
        if safe:
            out.append(("thinking", buf[:safe]))
        self._buf = buf[safe:]
        return False

    def _between(self, out: list[Piece]) -> bool:
        """Drop the white space (and answer header) between the thinking and the answer."""
        head = self._buf.lstrip(_WS)
        marker = self._syntax.answer_marker
        if marker and head.startswith(marker):
            head = head[len(marker) :].lstrip(_WS)
            marker = ""
        if not head or (marker and marker.startswith(head)):
            self._buf = head
            return False
        self._buf, self._state = "", "answer"
        out.append(("text", head))
        return False


class ThinkingEvents:
    """A generation's events with its thinking split out (see the module docstring).

    ``inner``: the plan's tool-call transform, fed the answer (None: the answer is text).
    ``family`` and ``tool_names``: the syntax and tools to look for calls inside the thinking
    (no tools: nothing is looked for)."""

    def __init__(
        self,
        syntax: ThinkingSyntax,
        inner: Transform | None = None,
        *,
        family: ToolFamily | None = None,
        tool_names: Sequence[str] = (),
    ) -> None:
        self._splitter = ThinkingSplitter(syntax)
        self._inner = inner
        self._calls = ToolCallParser(family or "hermes", tool_names) if tool_names else None
        self._found: list[ToolCallPart] = []
        self._reported = False

    def __call__(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, TextDelta):
            out = self._route(self._splitter.feed(event.text))
            if event.logprobs:  # the tokens' log-probabilities, thinking's and answer's, in order
                out.extend(self._pass(TextDelta("", logprobs=event.logprobs)))
            return out
        if isinstance(event, Done):
            out = self._route(self._splitter.finish())
            out.extend(self._report())
            return [*out, *self._pass(event)]
        return self._pass(event)

    def _pass(self, event: StreamEvent) -> list[StreamEvent]:
        return self._inner(event) if self._inner is not None else [event]

    def _route(self, pieces: list[Piece]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for kind, text in pieces:
            if kind == "thinking":
                out.append(ThinkingDelta(text))
                if self._calls is not None:
                    self._look(self._calls.feed(text))
            else:
                out.extend(self._report())
                out.extend(self._pass(TextDelta(text)))
        return out

    def _report(self) -> list[StreamEvent]:
        """The calls found inside the thinking, once, as the thinking part's meta."""
        if self._reported or self._calls is None:
            return []
        self._reported = True
        self._look(self._calls.finish())
        if not self._found:
            return []
        calls: list[JsonValue] = [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self._found
        ]
        return [ThinkingDelta("", meta={IN_THINKING_KEY: calls})]

    def _look(self, events: list[StreamEvent]) -> None:
        self._found.extend(e.call for e in events if isinstance(e, ToolCallEvent))
