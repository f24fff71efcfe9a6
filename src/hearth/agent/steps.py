"""What an agent run reports: step events (discriminated by ``kind``) and the turn's result.

Every step carries ``index`` (its position in the agent's whole life, counting from 0, never
reused), ``turn`` (which turn it belongs to) and ``round`` (which model call in that turn, from
1; 0 before the first call). A turn ends with exactly one :class:`TurnComplete` or
:class:`TurnError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeAlias

from typing_extensions import TypeVar

from hearth.errors import OutputValidationError
from hearth.events import Usage
from hearth.messages import JsonValue, Message, ToolCallPart, ToolResultPart

AgentStopReason: TypeAlias = Literal[
    "end_turn",  # the model answered without calling a tool
    "finish",  # the model called the finish tool
    "max_rounds",  # the round limit was reached; the history is kept
    "max_tokens",  # the model's answer hit its token limit
    "cancelled",  # cancel() was called
    "denied",  # the pre_turn hook refused the input; nothing reached the model
    "error",  # the model call failed, or the answer never matched output_type (see .error)
]


OutputT = TypeVar("OutputT", default=Any)
"""The agent's answer type: ``Agent(..., output_type=City)`` is an ``Agent[City]`` and its
results ``AgentResult[City]`` (``parsed: City | None``); Any for a JSON schema or no output_type."""


@dataclass(frozen=True, slots=True)
class AgentResult(Generic[OutputT]):
    """The outcome of one turn.

    ``messages`` is the whole working history after the turn (system prompt first);
    ``new_messages`` the ones this turn added. ``finish_arguments`` holds the finish tool's
    arguments when the turn ended through it. With an ``output_type``, ``parsed`` holds the
    validated answer (a pydantic instance, or the JSON value for a JSON schema); it is None
    without one, or when the turn did not end with an answer.
    """

    text: str
    stop_reason: AgentStopReason
    messages: tuple[Message, ...]
    new_messages: tuple[Message, ...]
    usage: Usage
    rounds: int
    turn: int
    finish_arguments: JsonValue = None
    error: BaseException | None = field(default=None, compare=False)
    parsed: OutputT | None = None

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(c for m in self.new_messages for c in m.tool_calls)


@dataclass(frozen=True, slots=True)
class TextStep:
    """A piece of the model's answer text."""

    index: int
    turn: int
    round: int
    text: str
    kind: Literal["text"] = field(default="text", repr=False)


@dataclass(frozen=True, slots=True)
class ThinkingStep:
    """A piece of the model's reasoning."""

    index: int
    turn: int
    round: int
    text: str
    kind: Literal["thinking"] = field(default="thinking", repr=False)


@dataclass(frozen=True, slots=True)
class ToolCallStep:
    """The model called a tool (arguments as it wrote them, before any hook)."""

    index: int
    turn: int
    round: int
    call: ToolCallPart
    kind: Literal["tool_call"] = field(default="tool_call", repr=False)


ToolOutcome: TypeAlias = Literal[
    "ok", "error", "denied", "timeout", "cancelled", "unknown_tool", "finish"
]


@dataclass(frozen=True, slots=True)
class ToolResultStep:
    """A call's result as the model will see it. ``arguments`` are the ones the tool ran with
    (after a pre_tool rewrite); ``truncated`` says the output was cut (a marker in the text says
    so too); ``seconds`` is how long the tool ran."""

    index: int
    turn: int
    round: int
    call: ToolCallPart
    result: ToolResultPart
    outcome: ToolOutcome
    arguments: str
    truncated: bool = False
    seconds: float = 0.0
    kind: Literal["tool_result"] = field(default="tool_result", repr=False)


@dataclass(frozen=True, slots=True)
class ToolProgressStep:
    """A running call reported progress (an MCP server's ``notifications/progress``, or
    :func:`hearth.tool_progress.report_progress`): ``progress`` so far, of ``total`` when
    known, and the tool's ``message`` if it gave one."""

    index: int
    turn: int
    round: int
    call: ToolCallPart
    progress: float
    total: float | None
    message: str | None
    kind: Literal["tool_progress"] = field(default="tool_progress", repr=False)


@dataclass(frozen=True, slots=True)
class CompactedStep:
    """The history was shortened to fit the context window. ``strategy`` says how
    (``drop_tool_outputs`` or ``summarize``), ``detail`` says what went, and the token counts are
    the estimates before and after (None when the backend cannot count)."""

    index: int
    turn: int
    round: int
    strategy: Literal["drop_tool_outputs", "summarize"]
    detail: str
    tokens_before: int | None
    tokens_after: int | None
    kind: Literal["compacted"] = field(default="compacted", repr=False)


@dataclass(frozen=True, slots=True)
class OutputRetryStep:
    """The answer did not match ``output_type``: ``error`` says why (``error.raw`` is the
    answer), and ``feedback`` is what the model is told before it tries again (a user message,
    or the finish call's error result)."""

    index: int
    turn: int
    round: int
    error: OutputValidationError
    feedback: str
    kind: Literal["output_retry"] = field(default="output_retry", repr=False)


@dataclass(frozen=True, slots=True)
class ToolRetryStep:
    """The provider rejected the model's tool call before it reached the agent (stop reason
    ``tool_error``; ``detail`` is the provider's reason, e.g. Gemini's
    ``MALFORMED_FUNCTION_CALL``): the model is told ``feedback`` and tries again next round."""

    index: int
    turn: int
    round: int
    detail: str | None
    feedback: str
    kind: Literal["tool_retry"] = field(default="tool_retry", repr=False)


@dataclass(frozen=True, slots=True)
class TurnComplete:
    index: int
    turn: int
    round: int
    result: AgentResult
    kind: Literal["turn_complete"] = field(default="turn_complete", repr=False)


@dataclass(frozen=True, slots=True)
class TurnError:
    """The turn could not complete: a pre_turn denial (``error`` is None), a failed model
    call, or an answer that never matched ``output_type`` (``error`` is the
    OutputValidationError, with the last answer as ``raw``). ``result`` holds the consistent
    history as it stands."""

    index: int
    turn: int
    round: int
    message: str
    result: AgentResult
    error: BaseException | None = field(default=None, compare=False)
    kind: Literal["turn_error"] = field(default="turn_error", repr=False)


Step: TypeAlias = (
    TextStep
    | ThinkingStep
    | ToolCallStep
    | ToolProgressStep
    | ToolResultStep
    | CompactedStep
    | OutputRetryStep
    | ToolRetryStep
    | TurnComplete
    | TurnError
)
