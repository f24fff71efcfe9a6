"""Structured output on Anthropic: a forced tool named after the format
(:func:`anthropic_output_tool`), whose call :class:`OutputToolAnswer` turns back into the answer
text, so ``Response.text`` / ``parsed`` work as on every backend."""

from __future__ import annotations

from dataclasses import replace

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import Done, StopReason, StreamEvent, TextDelta, ToolCallEvent
from hearth.messages import JsonObject, Message, Part, TextPart, ToolCallPart
from hearth.request import OutputFormat, ToolChoice
from hearth.response import Response
from hearth.wire._output import refuse_grammar

ANTHROPIC_OUTPUT_HINT = "Respond by calling this tool: its input is your final answer."


def anthropic_output_tool(
    fmt: OutputFormat, *, tool_names: list[str], choice: ToolChoice, thinking: bool
) -> tuple[JsonObject, JsonObject | None]:
    """The tool that carries the answer on Anthropic, and the ``tool_choice`` to send with it
    (None: leave the caller's choice as it is).

    Without other tools (or with tool_choice ``none``) the output tool is forced; with tools
    and ``auto`` / ``required`` the model must call one of them (``any``): a real tool, or the
    output tool to answer; a named choice stays. Anthropic does not allow a forced choice
    together with extended thinking, so with ``thinking`` the choice is ``auto`` and the tool's
    description asks for it."""
    refuse_grammar(fmt, "Anthropic")
    if fmt.name in tool_names:
        raise InvalidRequestError(
            f"response_format is named {fmt.name!r}, like one of the tools; Anthropic answers "
            "through a tool of that name, so give the OutputFormat another name"
        )
    schema: JsonObject = {"type": "object"}
    if fmt.kind == "json_schema" and fmt.schema is not None:
        schema = fmt.schema
        if schema.get("type") != "object":
            raise UnsupportedFeatureError(
                "Anthropic answers structured output through a tool, whose input must be a "
                "JSON object: give response_format an object schema (e.g. a pydantic model "
                "with your value as a field)"
            )
    description = " ".join(p for p in (fmt.description, ANTHROPIC_OUTPUT_HINT) if p)
    tool: JsonObject = {"name": fmt.name, "description": description, "input_schema": schema}
    wire_choice: JsonObject | None
    if thinking:
        wire_choice = {"type": "auto"}
    elif not tool_names or choice == "none":
        wire_choice = {"type": "tool", "name": fmt.name}
    elif choice in ("auto", "required"):
        wire_choice = {"type": "any"}
    else:
        wire_choice = None
    return tool, wire_choice


class OutputToolAnswer:
    """Inbound half of Anthropic's forced-tool structured output: the output tool's call
    becomes the answer's text (its input, JSON), so ``Response.text`` / ``parsed`` work as on
    every backend, streamed or not.

    For a stream, text before the output tool's call is held back and dropped when the call
    comes (the answer is the call), released otherwise; a ``tool_use`` stop becomes
    ``end_turn`` when the output tool was the only call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._held: list[StreamEvent] = []
        self._answered = False
        self._other_calls = False

    def events(self, events: list[StreamEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in events:
            if isinstance(event, TextDelta):
                self._held.append(event)
            elif isinstance(event, ToolCallEvent) and event.call.name == self.name:
                self._held.clear()
                self._answered = True
                out.append(TextDelta(event.call.arguments or "{}"))
            elif isinstance(event, ToolCallEvent):
                self._other_calls = True
                out += self._release()
                out.append(event)
            elif isinstance(event, Done):
                out += self._release()
                out.append(replace(event, stop_reason=self._stop(event.stop_reason)))
            else:
                out.append(event)
        return out

    def response(self, response: Response) -> Response:
        calls = [p for p in response.message.parts if isinstance(p, ToolCallPart)]
        if not any(c.name == self.name for c in calls):
            return response
        self._answered = True
        self._other_calls = any(c.name != self.name for c in calls)
        parts: list[Part] = [
            TextPart(p.arguments or "{}") if isinstance(p, ToolCallPart) and p.name == self.name
            else p
            for p in response.message.parts
            if not isinstance(p, TextPart)
        ]  # fmt: skip
        return replace(
            response,
            message=Message("assistant", tuple(parts)),
            stop_reason=self._stop(response.stop_reason),
        )

    def _release(self) -> list[StreamEvent]:
        held, self._held = self._held, []
        return held

    def _stop(self, reason: StopReason) -> StopReason:
        if reason == "tool_use" and self._answered and not self._other_calls:
            return "end_turn"
        return reason
