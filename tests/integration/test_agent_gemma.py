"""The agent continues a conversation on the real Gemma 3 270M after a turn that ended on tool
results (Gemma's turns must alternate user / model; tool results are user turns)."""

from __future__ import annotations

import asyncio

import pytest

import hearth
from hearth.agent import Agent
from hearth.settings import GenerationSettings
from hearth.tools import Tool, tool

pytestmark = pytest.mark.integration

GREEDY = GenerationSettings(temperature=0, max_tokens=32)


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"It is 23 degrees and sunny in {city}."


def test_gemma_continues_after_max_rounds(gemma: hearth.Model) -> None:
    agent = Agent(gemma, [get_weather], settings=GREEDY, tool_choice="required", max_rounds=1)
    first = agent.run("What is the weather in Paris?")
    assert first.stop_reason == "max_rounds"
    assert agent.messages[-1].role == "tool"
    agent.tool_choice = "none"
    second = agent.run("Thanks. Say it in one sentence.")
    assert second.stop_reason in ("end_turn", "max_tokens"), second
    assert second.text.strip()


def test_gemma_continues_after_a_cancel_while_tools_ran(gemma: hearth.Model) -> None:
    holder: list[Agent] = []

    async def get_weather(city: str) -> str:
        holder[0].cancel()
        await asyncio.sleep(30)
        return "never"

    weather = Tool.from_function(get_weather, name="get_weather")
    agent = Agent(gemma, [weather], settings=GREEDY, tool_choice="required")
    holder.append(agent)
    first = agent.run("What is the weather in Paris?")
    assert first.stop_reason == "cancelled"
    result = agent.messages[-1].tool_results[0]
    assert result.is_error and "cancelled" in result.content
    agent.tool_choice = "none"
    second = agent.run("Never mind. Say hello.")
    assert second.stop_reason in ("end_turn", "max_tokens"), second
    assert second.text.strip()
