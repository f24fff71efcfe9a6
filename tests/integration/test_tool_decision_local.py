"""Tools under ``tool_choice="auto"`` on the real SmolLM2 (no tool syntax of its own): the
decision step makes the README's agent call its tool and answer from the result."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import hearth
from hearth.agent import Agent, ToolCallStep, ToolResultStep
from hearth.request import ChatRequest
from hearth.settings import GenerationSettings

pytestmark = pytest.mark.integration


@hearth.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_the_readme_agent_calls_its_tool_and_answers_5(smollm2: hearth.Model) -> None:
    # README: hearth.Agent(m, [add], max_rounds=4).run("What is 2 + 3?"), greedy here
    agent = Agent(smollm2, [add], max_rounds=4, settings=GenerationSettings(temperature=0))
    steps = list(agent.iter("What is 2 + 3?"))
    calls = [s.call for s in steps if isinstance(s, ToolCallStep)]
    results = [s.result.content for s in steps if isinstance(s, ToolResultStep)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("add", {"a": 2, "b": 3})]
    assert results == ["5"]
    result = agent.messages[-1]
    assert result.role == "assistant" and "5" in result.text, result.text
    assert "<tool" not in result.text


def test_auto_calls_then_answers_in_words_through_chat(smollm2: hearth.Model) -> None:
    first = smollm2.chat("What is 2 + 3?", tools=[add], temperature=0)
    assert first.stop_reason == "tool_use" and [c.name for c in first.tool_calls] == ["add"]
    call = first.tool_calls[0]
    history = [
        hearth.Message.user("What is 2 + 3?"),
        first.message,
        hearth.Message.tool(hearth.ToolResultPart(call.id, add.run(call.arguments).content)),
    ]
    second = smollm2.chat(history, tools=[add], temperature=0, max_tokens=40)
    assert second.stop_reason in ("end_turn", "max_tokens") and not second.tool_calls
    assert "5" in second.text and "<tool_call>" not in second.text, second.text


def test_the_decision_step_is_counted_in_the_usage(smollm2: hearth.Model) -> None:
    request = ChatRequest((hearth.Message.user("What is 2 + 3?"),), tools=(add.spec,))
    prompt = len(smollm2.backend.prompt_tokens(request))  # type: ignore[attr-defined]
    response = smollm2.chat("What is 2 + 3?", tools=[add], temperature=0)
    # the decision's prompt (the reply's, plus the question) and the reply's own
    assert response.usage.input_tokens > 2 * prompt
    assert response.usage.cached_tokens >= prompt - 8  # the reply reuses the decision's tokens


def test_the_async_path_decides_too(smollm2: hearth.Model) -> None:
    async def main() -> hearth.Response:
        return await smollm2.achat("What is 2 + 3?", tools=[add], temperature=0)

    response = asyncio.run(main())
    assert [c.name for c in response.tool_calls] == ["add"]


def test_fs_tools_get_relative_paths_only(smollm2: hearth.Model, tmp_path: Path) -> None:
    """``hearth agent "List the files here" --tools fs --tool-choice required`` wrote /Users/…
    paths: the schemas now admit only relative ones."""
    from hearth.agent.fs_tools import fs_tools

    (tmp_path / "notes.txt").write_text("hello\n")
    for seed in range(2):  # one forced round each: the calls are what is checked
        settings = GenerationSettings(seed=seed, max_tokens=48)
        tools = fs_tools(tmp_path)
        agent = Agent(smollm2, tools, tool_choice="required", max_rounds=1, settings=settings)
        steps = list(agent.iter("List the files here"))
        paths = [
            json.loads(s.call.arguments).get("path", ".")
            for s in steps
            if isinstance(s, ToolCallStep)
        ]
        assert paths and not [p for p in paths if p.startswith(("/", "\\"))], paths
