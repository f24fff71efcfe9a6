"""The decision step: call a tool, or answer? Asked first, in a constrained step of its own.

A local model with no tool syntax of its own (SmolLM2) under ``tool_choice="auto"`` used to get one
grammar that allowed free text or ``<tool_call>`` blocks, and the model's first token chose. Small
models choose badly that way: SmolLM2-135M almost never opens a call before one is in the
conversation (its answer to "What is 2 + 3?" with an ``add`` tool was an essay), and once a call
and its result are there it copies the call again and again. So the choice is asked as a
question of its own, before the reply:

1. the conversation, with the tool prompt, plus a user question; the answer is constrained to
   ``Yes`` or ``No`` and taken greedily (one token, whatever the request's sampling settings);
2. then the reply: calls constrained to the tools' schemas (as ``tool_choice="required"``), or
   an answer in words with the tools hidden, constrained only never to write ``<tool_call>``.
   For that answer the tool exchanges are shown as plain text (:func:`answer_messages`):
   ``add(a=2, b=3) returned: 5``, then "Answer my question from that result.".

The question depends on where the turn stands. Before any result (the conversation ends with the
user's message): "Can one of the functions help with my request?"; once results are in (it ends
with tool results): "Do you need to call another function before you answer?". Yes: call. A model
that understands the questions decides; the smallest ones answer by the phrasing more than by the
conversation (SmolLM2-135M says yes to the first and no to the second, whatever the request:
measured on a dozen requests and tools), so they call once, then answer from the result.

Pure: :func:`decision_for` builds the question, :meth:`Decision.calls` reads the answer; the
backend runs the step (:mod:`hearth.backends.local.backend`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.messages import Message, ToolCallPart, ToolResultPart
from hearth.settings import GenerationSettings

ASK_BEFORE_RESULTS = "Can one of the functions help with my request? Answer yes or no."
ASK_AFTER_RESULTS = "Do you need to call another function before you answer? Answer yes or no."
ANSWER_FROM_RESULTS = "Answer my question from that result."
ANSWERS = ("Yes", "No")
SETTINGS = GenerationSettings(temperature=0.0, max_tokens=2)
"""Greedy and short: the decision is the model's likelier answer, never a sample."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision step of one request: the conversation to ask it on and how to read it."""

    messages: tuple[Message, ...]
    """The conversation with the tool prompt, then the question as a user message."""
    after_results: bool
    """True when the conversation ends with tool results (the question is then whether the
    model needs another call)."""

    @property
    def regex(self) -> str:
        """What the answer is constrained to."""
        return "|".join(ANSWERS)

    def calls(self, answer: str) -> bool:
        """True when ``answer`` (the step's text) means: call a tool."""
        return answer.strip() == "Yes"


def decision_for(prompted: tuple[Message, ...]) -> Decision:
    """The decision step for ``prompted`` (the conversation, the tool prompt already in its
    system message)."""
    after = ends_with_results(prompted)
    question = ASK_AFTER_RESULTS if after else ASK_BEFORE_RESULTS
    return Decision((*prompted, Message.user(question)), after_results=after)


def answer_messages(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """``messages`` for the reply in words: each tool exchange (the calls, then their results)
    becomes assistant text a plain chat model can read (``add(a=2, b=3) returned:`` and the
    result), and when the conversation ends with results a user message asks for the answer
    from them. SmolLM2 reads a ``tool`` turn as noise, and copies the ``<tool_call>`` blocks it
    sees instead of answering; this way it answers from the result."""
    out: list[Message] = []
    calls: dict[str, ToolCallPart] = {}
    for message in messages:
        calls.update((c.id, c) for c in message.tool_calls)
        results = message.tool_results
        if message.tool_calls and message.role == "assistant":
            _say(out, message.text)
        elif results and len(results) == len(message.parts):
            _say(out, "\n\n".join(_result_text(r, calls.get(r.call_id)) for r in results))
        else:
            out.append(message)
    if ends_with_results(messages):
        out.append(Message.user(ANSWER_FROM_RESULTS))
    return tuple(out)


def _say(out: list[Message], text: str) -> None:
    """Add ``text`` as assistant text, to the assistant message before it if there is one."""
    if not text:
        return
    if out and out[-1].role == "assistant" and not out[-1].tool_calls:
        text = f"{out.pop().text}\n\n{text}"
    out.append(Message.assistant(text))


def _result_text(result: ToolResultPart, call: ToolCallPart | None) -> str:
    name = call.name if call is not None else result.name or "the function"
    shown = f"{name}({_arguments_text(call.arguments)})" if call is not None else name
    verb = "failed" if result.is_error else "returned"
    return f"{shown} {verb}:\n{result.content}"


def _arguments_text(arguments: str) -> str:
    """``{"a": 2, "b": "x"}`` as ``a=2, b="x"``; anything else as it is."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments
    if not isinstance(value, dict):
        return arguments
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())


def ends_with_results(messages: tuple[Message, ...]) -> bool:
    """True when the last message holds tool results (a ``tool`` message, or a user message of
    results only)."""
    if not messages:
        return False
    last = messages[-1]
    return bool(last.parts) and all(isinstance(p, ToolResultPart) for p in last.parts)


class DecisionReader:
    """Folds the decision step's stream items into its answer and usage."""

    def __init__(self) -> None:
        self.text = ""
        self.usage = Usage()

    def add(self, item: StreamEvent | BaseException) -> bool:
        """Take one item; True once the step is done. An exception is raised."""
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, TextDelta):
            self.text += item.text
        if isinstance(item, Done):
            self.usage = item.usage
            return True
        return False


Transform = Callable[[StreamEvent], list[StreamEvent]]


def with_usage(usage: Usage, events: Transform | None) -> Transform:
    """The reply's event transform with the decision step's ``usage`` added to its Done."""

    def transform(event: StreamEvent) -> list[StreamEvent]:
        out = events(event) if events is not None else [event]
        return [replace(e, usage=e.usage + usage) if isinstance(e, Done) else e for e in out]

    return transform
