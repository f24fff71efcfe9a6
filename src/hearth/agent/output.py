"""The agent's declared answer shape (``Agent(..., output_type=...)``).

Every model request of a turn carries the output format as its ``response_format``. An answer
in words is validated against it; so are the ``finish`` tool's arguments (with
``finish_tool=True`` the finish tool takes the output schema as its arguments: an object schema
as it is, any other shape wrapped as ``{"answer": ...}``). An answer that does not validate is
sent back to the model with what was wrong (:func:`feedback`), up to ``output_retries`` times a
turn: in words, as a user message marked as the agent's (:func:`retry_message`), so that it is
never taken for the user's own input (:func:`is_retry_message`), also once stored and reloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.errors import InvalidRequestError, OutputValidationError
from hearth.messages import JsonObject, JsonValue, Message, TextPart
from hearth.request import OutputFormat, ToolSpec

if TYPE_CHECKING:
    from hearth.events import StopReason
    from hearth.output import OutputSpec, StructuredOutput

RETRY_PREFIX = "Your answer did not match the required format"
RETRY_META = "hearth_agent_output_retry"
"""The key in the retry message's TextPart ``meta`` that marks it as the agent's, not the user's
(``meta`` round-trips through the history JSON and the store; wire translators ignore it)."""
FINISH_DESCRIPTION = (
    "Call this when the task is done, with your final answer for the user as the arguments, "
    "in the required format."
)


@dataclass(frozen=True, slots=True)
class AgentOutput:
    """An ``output_type`` ready for the loop: the format every request carries, and how to read
    an answer (text, or the finish tool's arguments) back."""

    structured: StructuredOutput
    wrapped: bool  # the finish tool's arguments are {"answer": <value>}

    @classmethod
    def build(cls, spec: OutputSpec, *, finish_tool: bool) -> AgentOutput:
        from hearth.output import structured_output

        structured = structured_output(spec)
        fmt = structured.format
        if fmt.kind in ("gbnf", "regex") and finish_tool:
            raise InvalidRequestError(
                f"output_type with a {fmt.kind} grammar cannot be the finish tool's arguments; "
                "use a pydantic class or a JSON schema, or finish_tool=False"
            )
        return cls(structured, wrapped=not _is_object_schema(fmt))

    @property
    def format(self) -> OutputFormat:
        return self.structured.format

    def parse_answer(self, text: str, stop_reason: StopReason | None = None) -> object:
        """The validated value of an answer in words; OutputValidationError if it is not."""
        return self.structured.parse(text, stop_reason=stop_reason)

    def finish_spec(self) -> ToolSpec:
        """The finish tool whose arguments are the answer in the output format."""
        fmt = self.format
        schema: JsonObject = dict(fmt.schema) if fmt.schema is not None else {"type": "object"}
        if self.wrapped:
            defs = schema.pop("$defs", None)  # "$ref"s point at the root: keep them there
            schema = {
                "type": "object",
                "properties": {"answer": schema},
                "required": ["answer"],
                **({"$defs": defs} if defs is not None else {}),
            }
        return ToolSpec("finish", FINISH_DESCRIPTION, schema)

    def parse_finish(self, arguments: str) -> tuple[object, str]:
        """The validated value of the finish tool's ``arguments`` and the answer's JSON text;
        OutputValidationError if they do not match."""
        if not self.wrapped:
            return self.structured.parse(arguments), arguments
        try:
            args: JsonValue = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise OutputValidationError(
                f"the finish call's arguments are not valid JSON ({exc})", raw=arguments
            ) from None
        if not isinstance(args, dict) or "answer" not in args:
            raise OutputValidationError(
                "the finish call's arguments must be an object with an 'answer' field",
                raw=arguments,
            )
        text = json.dumps(args["answer"], ensure_ascii=False)
        return self.structured.parse(text), text

    def feedback(self, error: OutputValidationError, *, cut: bool, finish: bool) -> str:
        """What the model is told when its answer did not validate."""
        what = "a JSON object" if self.format.kind == "json" else "JSON that matches the schema"
        if finish:
            again = "Call finish again with arguments that match its schema."
        elif cut:
            again = f"Answer again, more briefly, with only {what} and no other text."
        else:
            again = f"Answer again with only {what} and no other text."
        # a cut answer's error names max_tokens, a setting the model cannot change
        why = "it was cut off at the token limit before it was complete" if cut else str(error)
        return f"{RETRY_PREFIX}: {why}. {again}"


def retry_message(feedback: str) -> Message:
    """The user message that sends an invalid answer's ``feedback`` back to the model."""
    return Message("user", (TextPart(feedback, meta={RETRY_META: True}),))


def is_retry_message(message: Message) -> bool:
    """True for a message made by :func:`retry_message` (not the user's own words)."""
    return message.role == "user" and any(
        isinstance(p, TextPart) and p.meta is not None and p.meta.get(RETRY_META) is True
        for p in message.parts
    )


def exhausted(
    error: OutputValidationError, *, failures: int, no_rounds_left: bool
) -> OutputValidationError:
    """The error that ends a turn whose answers kept failing to validate."""
    if no_rounds_left:
        why = "max_rounds leaves no round to ask again"
    else:
        answers = "answer" if failures == 1 else "answers"
        why = f"after {failures} {answers}; raise output_retries to give the model more tries"
    return OutputValidationError(f"{error} ({why})", raw=error.raw, errors=error.errors)


def _is_object_schema(fmt: OutputFormat) -> bool:
    if fmt.kind == "json":
        return True
    return fmt.schema is not None and fmt.schema.get("type") == "object"
