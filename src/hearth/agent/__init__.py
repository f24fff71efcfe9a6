"""The agent loop: a model with tools, hooks, cancellation, triggers and a conversation store.

>>> agent = Agent("local:smollm2", [read_file], system="You are terse.", max_rounds=5)
>>> result = agent.run("What is in notes.txt?")
>>> result.text, result.stop_reason
"""

from hearth.agent.hooks import Allow, Ask, Deny, Hooks, Rewrite
from hearth.agent.loop import Agent
from hearth.agent.setup import FINISH_TOOL
from hearth.agent.steps import (
    AgentResult,
    AgentStopReason,
    CompactedStep,
    OutputRetryStep,
    Step,
    TextStep,
    ThinkingStep,
    ToolCallStep,
    ToolProgressStep,
    ToolResultStep,
    ToolRetryStep,
    TurnComplete,
    TurnError,
)
from hearth.agent.stream import AgentStream, AsyncAgentStream
from hearth.agent.subscription import SubscriberLaggedError, Subscription
from hearth.tool_progress import report_progress

__all__ = [
    "FINISH_TOOL",
    "Agent",
    "AgentResult",
    "AgentStopReason",
    "AgentStream",
    "Allow",
    "Ask",
    "AsyncAgentStream",
    "CompactedStep",
    "Deny",
    "Hooks",
    "OutputRetryStep",
    "Rewrite",
    "Step",
    "SubscriberLaggedError",
    "Subscription",
    "TextStep",
    "ThinkingStep",
    "ToolCallStep",
    "ToolProgressStep",
    "ToolResultStep",
    "ToolRetryStep",
    "TurnComplete",
    "TurnError",
    "report_progress",
]
