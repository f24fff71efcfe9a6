"""How a local request's tools and ``response_format`` shape its prompt, constraint and output.

:func:`plan_output` decides, per request (pure, no model needed):

* ``response_format`` (json_schema / json / gbnf / regex): the prompt is unchanged and the
  output is constrained by the format's grammar; the answer text *is* the JSON (or grammar) text.
* tools with ``tool_choice="auto"`` on a model whose template or name shows a trained tool syntax
  (:func:`~hearth.backends.local.toolcalls.detect_family`): the template renders the tools and
  the model's own syntax is parsed out of its text (``native``).
* tools otherwise (a model with no tool syntax such as SmolLM2, or ``required`` / a named tool):
  a Hermes tool prompt is added to the system message and the output is constrained to free text
  or ``<tool_call>`` blocks (``auto``), one or more calls (``required``) or calls to the named
  tool. Every call is then valid JSON, names a real tool and has schema-valid arguments.
* ``tool_choice="none"``: the tools are not shown and nothing is constrained.

:class:`ToolEvents` turns the text of a tool-calling generation into text and tool-call events,
and ends it with stop reason ``tool_use`` when a call was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hearth.backends.local.grammars import output_grammar, tools_grammar
from hearth.backends.local.toolcalls import ToolCallParser, ToolFamily, detect_family
from hearth.backends.local.toolcalls_prompts import hermes_tool_prompt
from hearth.errors import UnsupportedFeatureError
from hearth.events import Done, StreamEvent, TextDelta, ToolCallEvent
from hearth.messages import Message, TextPart
from hearth.request import ChatRequest, ToolSpec


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
    tools = request.tools if request.tool_choice != "none" else ()
    if not tools:
        if fmt is None:
            return OutputPlan(request.messages)
        return OutputPlan(request.messages, output_grammar(fmt), f"{fmt.kind} response_format")
    if fmt is not None:
        raise UnsupportedFeatureError(
            "a local model takes tools or response_format in one request, not both; "
            "call the tools first, then ask for the structured answer in a request without tools"
        )
    names = tuple(t.name for t in tools)
    family = detect_family(template_source, model_name)
    if family is not None and template_family is not None and request.tool_choice == "auto":
        return OutputPlan(
            request.messages, parser=template_family, tool_names=names, template_tools=tools
        )
    return OutputPlan(
        with_tool_prompt(request.messages, tool_prompt(tools, request.tool_choice)),
        tools_grammar(tools, request.tool_choice),
        "tool list",
        parser="hermes",
        tool_names=names,
    )


def tool_prompt(tools: Sequence[ToolSpec], choice: str) -> str:
    """The Hermes tool prompt, plus what ``choice`` asks of the model."""
    if choice == "auto":
        rule = "Call a function when it helps; otherwise answer in plain text."
    elif choice == "required":
        rule = "You must call one or more of the functions."
    else:
        rule = f"You must call the function {choice}."
    return f"{hermes_tool_prompt(tools)}\n\n{rule}"


def with_tool_prompt(messages: tuple[Message, ...], prompt: str) -> tuple[Message, ...]:
    """``messages`` with ``prompt`` at the start of the system message (added if there is none)."""
    if messages and messages[0].role == "system":
        first = messages[0]
        merged = Message("system", (TextPart(f"{prompt}\n\n"), *first.parts))
        return (merged, *messages[1:])
    return (Message.system(prompt), *messages)


class ToolEvents:
    """Parses tool calls out of a generation's text events; ends it with ``tool_use`` if any."""

    def __init__(self, family: ToolFamily, tool_names: Sequence[str]) -> None:
        self._parser = ToolCallParser(family, tool_names)
        self._called = False

    def __call__(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, TextDelta):
            return self._note(self._parser.feed(event.text))
        if isinstance(event, Done):
            out = self._note(self._parser.finish())
            if self._called and event.stop_reason in ("end_turn", "stop_sequence"):
                event = replace(event, stop_reason="tool_use", stop_sequence=None)
            return [*out, event]
        return [event]

    def _note(self, events: list[StreamEvent]) -> list[StreamEvent]:
        if any(isinstance(e, ToolCallEvent) for e in events):
            self._called = True
        return events
