"""How a local request's tools and ``response_format`` shape its prompt, constraint and output.

:func:`plan_output` decides, per request (pure, no model needed):

* ``response_format`` (json_schema / json / gbnf / regex) without tools: the prompt is unchanged
  and the output is constrained by the format's grammar; the answer text *is* the JSON (or
  grammar) text.
* tools with ``tool_choice="auto"`` and no format, on a model whose template or name shows a
  trained tool syntax (:func:`~hearth.backends.local.toolcalls.detect_family`): the template
  renders the tools and the model's own syntax is parsed out of its text (``native``).
* tools otherwise (a model with no tool syntax such as SmolLM2, ``required`` / a named tool, or
  a ``response_format`` too): a Hermes tool prompt is added to the system message and the output
  is constrained to one or more calls (``required``) or calls to the named tool. Every call is
  then valid JSON, names a real tool and has schema-valid arguments. Under ``auto`` without a
  format, the plan carries a :class:`~hearth.backends.local.decision.Decision`: the backend asks
  it first, then follows :func:`decided` (calls as for ``required``, or an answer in words with
  the tools hidden). With a ``response_format`` and ``auto``, one grammar allows calls or an
  answer in the format (as OpenAI's API does); with ``required`` or a named tool it is calls
  only, and the format applies to a later answer. The tool prompt says what shape an answer
  without a call must take.
* ``tool_choice="none"``: the tools are not shown and only the format (if any) constrains.

:class:`ToolEvents` (from :meth:`OutputPlan.events`) turns the text of a tool-calling generation
into text and tool-call events, and ends it with stop reason ``tool_use`` when a call was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hearth.backends.local.decision import Decision, answer_messages, decision_for
from hearth.backends.local.grammars import (
    output_grammar,
    text_grammar,
    tools_grammar,
    tools_or_answer_grammar,
)
from hearth.backends.local.toolcalls import ToolCallParser, ToolFamily, detect_family
from hearth.backends.local.toolcalls_prompts import answer_format_rule, hermes_tool_prompt
from hearth.events import Done, StreamEvent, TextDelta, ToolCallEvent
from hearth.messages import Message, TextPart
from hearth.request import ChatRequest, OutputFormat, ToolSpec

_CALL_MARKER = "<tool_call>"


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """What :func:`plan_output` decided for one request."""

    messages: tuple[Message, ...]
    """The conversation to render (with a tool prompt added when tools are constrained)."""
    grammar: str | None = None
    """The llguidance grammar that constrains the output, if any."""
    what: str = ""
    """What the grammar came from, for error messages."""
    parser: ToolFamily | None = None
    """The tool-call syntax to parse out of the output, if tools were offered."""
    tool_names: tuple[str, ...] = ()
    template_tools: tuple[ToolSpec, ...] = ()
    """Tools for the chat template to render (the native path)."""
    call_prefix: str = ""
    """With tools and a response_format under ``auto`` the output is calls or an answer in the
    format, never both, and output that opens with this is calls (see ToolEvents); empty for
    every other plan."""
    decision: Decision | None = None
    """Under ``auto`` on the constrained path without a format: the question to ask before
    the reply (see :func:`decided`); the plan's own grammar is then None."""
    single_call: bool = False
    """Keep only the first call the model writes (``parallel_tool_calls=False`` on the native
    path, where no grammar bounds the calls)."""

    @property
    def calls_or_answer(self) -> bool:
        return bool(self.call_prefix)

    def events(self) -> ToolEvents | None:
        """The tool-call parser for this plan's events, if tools were offered."""
        if self.parser is None:
            return None
        return ToolEvents(
            self.parser, self.tool_names, call_prefix=self.call_prefix, single=self.single_call
        )


def plan_output(
    request: ChatRequest,
    *,
    template_source: str | None,
    model_name: str,
    template_family: ToolFamily | None,
) -> OutputPlan:
    """See the module docstring. ``template_family``: the syntax the chat template asks for when
    it renders tools (None: it cannot)."""
    fmt = request.response_format
    choice = request.tool_choice
    tools = request.tools if choice != "none" else ()
    if not tools:
        if fmt is None:
            return OutputPlan(request.messages)
        return OutputPlan(request.messages, output_grammar(fmt), f"{fmt.kind} response_format")
    names = tuple(t.name for t in tools)
    family = detect_family(template_source, model_name)
    if fmt is None and family is not None and template_family is not None and choice == "auto":
        return OutputPlan(
            request.messages,
            parser=template_family,
            tool_names=names,
            template_tools=tools,
            single_call=request.settings.parallel_tool_calls is False,
        )
    if fmt is None and choice == "auto":
        prompt = tool_prompt(tools, choice, parallel=parallel_calls(request))
        prompted = with_tool_prompt(request.messages, prompt)
        return OutputPlan(
            prompted, parser="hermes", tool_names=names, decision=decision_for(prompted)
        )
    prefix = ""
    parallel = parallel_calls(request)
    if fmt is not None and choice == "auto":
        grammar = tools_or_answer_grammar(tools, fmt, parallel=parallel)
        what = f"tool list and {fmt.kind} response_format"
        prefix = _call_prefix(fmt)
    else:
        grammar, what = tools_grammar(tools, choice, parallel=parallel), "tool list"
    return OutputPlan(
        with_tool_prompt(request.messages, tool_prompt(tools, choice, fmt, parallel=parallel)),
        grammar,
        what,
        parser="hermes",
        tool_names=names,
        call_prefix=prefix,
    )


def decided(request: ChatRequest, plan: OutputPlan, *, call: bool) -> OutputPlan:
    """The reply's plan once ``plan``'s decision step has chosen: calls to the request's tools,
    constrained as under ``required`` (the prompt is the one the decision was asked on, so its
    tokens are reused), or an answer in words with the tools hidden that never writes a
    ``<tool_call>``, the tool exchanges shown as text (:func:`answer_messages`)."""
    if call:
        grammar = tools_grammar(request.tools, "required", parallel=parallel_calls(request))
        return replace(plan, grammar=grammar, what="tool list", decision=None)
    return OutputPlan(answer_messages(request.messages), text_grammar(), "answer in words")


def _call_prefix(fmt: OutputFormat) -> str:
    """What an output of calls-or-an-answer in ``fmt`` opens with when it is calls: ``<`` for
    a JSON answer (constrained JSON never starts with it, nor with white space), else the whole
    ``<tool_call>`` (a regex or grammar answer may start with ``<``)."""
    return "<" if fmt.kind in ("json", "json_schema") else _CALL_MARKER


def parallel_calls(request: ChatRequest) -> bool:
    """Whether a constrained reply may hold several calls: only when the request asks for
    ``parallel_tool_calls=True``. A local model that was never trained on a tool syntax makes
    one call a reply by default (as llama-server does): left free, SmolLM2 follows a good call
    with made-up ones; the agent loop's next round makes the next call."""
    return request.settings.parallel_tool_calls is True


def tool_prompt(
    tools: Sequence[ToolSpec],
    choice: str,
    fmt: OutputFormat | None = None,
    *,
    parallel: bool = True,
) -> str:
    """The Hermes tool prompt, plus what ``choice`` (and ``fmt``, the shape of an answer
    without a call) asks of the model; ``parallel``: whether a reply may hold several calls."""
    if choice == "auto":
        if fmt is None:
            rule = "Call a function when it helps; otherwise answer in plain text."
        else:
            rule = (
                "Call a function when it helps. When you answer without calling a function, "
                f"your answer must be {answer_format_rule(fmt)}"
            )
        return f"{hermes_tool_prompt(tools)}\n\n{rule}"
    if choice == "required":
        rule = f"You must call {'one or more' if parallel else 'one'} of the functions."
    else:
        rule = f"You must call the function {choice}."
    if fmt is not None:
        rule += f" Once you have their results, your answer must be {answer_format_rule(fmt)}"
    return f"{hermes_tool_prompt(tools)}\n\n{rule}"


def with_tool_prompt(messages: tuple[Message, ...], prompt: str) -> tuple[Message, ...]:
    """``messages`` with ``prompt`` at the start of the system message (added if there is none)."""
    if messages and messages[0].role == "system":
        first = messages[0]
        merged = Message("system", (TextPart(f"{prompt}\n\n"), *first.parts))
        return (merged, *messages[1:])
    return (Message.system(prompt), *messages)


class ToolEvents:
    """Parses tool calls out of a generation's text events; ends it with ``tool_use`` if any.

    With a ``call_prefix`` (the plan of tools plus a ``response_format`` under ``auto``, whose
    grammar allows calls or an answer, never both), the start of the output decides: output that
    opens with ``<tool_call>`` is parsed for calls, anything else is the answer and passes
    through whole, so a JSON answer whose strings mention ``<tool_call>`` is not cut up. Output
    that ends inside the marker is a call cut off when it opens with ``call_prefix`` (``<``, for
    a JSON answer, which never does), else the answer (a regex answer such as ``<tool``)."""

    def __init__(
        self,
        family: ToolFamily,
        tool_names: Sequence[str],
        *,
        call_prefix: str = "",
        single: bool = False,
    ) -> None:
        self._parser = ToolCallParser(family, tool_names)
        self._called = False
        self._single = single
        self._prefix = call_prefix
        self._undecided = bool(call_prefix)
        self._answer = False
        self._head = ""

    def __call__(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, Done):
            out = self._end()
            if self._called and event.stop_reason in ("end_turn", "stop_sequence"):
                event = replace(event, stop_reason="tool_use", stop_sequence=None)
            return [*out, event]
        return [event]

    def _text(self, text: str) -> list[StreamEvent]:
        if self._answer:
            return [TextDelta(text)] if text else []
        if not self._undecided:
            return self._note(self._parser.feed(text))
        head = self._head + text
        if len(head) < len(_CALL_MARKER) and _CALL_MARKER.startswith(head):
            self._head = head  # could still become a call
            return []
        self._undecided, self._head = False, ""
        if head.startswith(_CALL_MARKER):
            return self._note(self._parser.feed(head))
        self._answer = True
        return [TextDelta(head)]

    def _end(self) -> list[StreamEvent]:
        if self._answer:
            return []
        if not self._undecided:
            return self._note(self._parser.finish())
        head = self._head  # the output ended inside what could have been "<tool_call>"
        if not head or not head.startswith(self._prefix):
            return [TextDelta(head)] if head else []
        # a call cut off in its marker: the parser reports it as cut off once it has the marker
        self._parser.feed(_CALL_MARKER)
        return self._note(self._parser.finish())

    def _note(self, events: list[StreamEvent]) -> list[StreamEvent]:
        kept: list[StreamEvent] = []
        for event in events:
            if isinstance(event, ToolCallEvent):
                if self._single and self._called:
                    continue  # parallel_tool_calls=False: the first call only
                self._called = True
            kept.append(event)
        return kept
