"""The agent loop end to end on the real SmolLM2 with constrained tool calling: the model calls
a tool, the agent runs it, and the model's answer uses the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

import hearth
from hearth.agent import Agent, ToolCallStep, ToolResultStep, TurnComplete
from hearth.settings import GenerationSettings
from hearth.tools import tool

pytestmark = pytest.mark.integration

GREEDY = GenerationSettings(temperature=0, max_tokens=96)


def test_smollm2_calls_a_tool_and_uses_its_result(smollm2: hearth.Model) -> None:
    cities: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        cities.append(city)
        return f"It is 23 degrees and sunny in {city}."

    # round 1 must call a tool; round 2 must answer in words
    agent = Agent(
        smollm2,
        [get_weather],
        settings=GREEDY,
        tool_choice="required",
        followup_tool_choice="none",
        max_rounds=3,
    )
    steps = list(agent.iter("What is the weather in Paris?"))
    kinds = [s.kind for s in steps if not isinstance(s, TurnComplete)]
    assert kinds[:2] == ["tool_call", "tool_result"], kinds
    call = next(s for s in steps if isinstance(s, ToolCallStep)).call
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "ok", result.result.content
    assert cities and "paris" in cities[0].lower(), call.arguments
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert (end.result.stop_reason, end.result.rounds) == ("end_turn", 2)
    answer = end.result.text
    assert "23" in answer or "sunny" in answer.lower(), answer


def test_smollm2_stays_inside_the_fs_tools_root(smollm2: hearth.Model, tmp_path: Path) -> None:
    """Whatever paths the real model writes (the tools' schemas admit only relative ones, but
    ``..`` and symlinks remain), every call is either answered from inside the root or refused
    with an error it can read."""
    from hearth.agent.fs_tools import fs_tools

    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE")
    root = tmp_path / "root"
    root.mkdir()
    (root / "code.txt").write_text("The launch code is 7391.\n")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    agent = Agent(
        smollm2,
        fs_tools(root),
        settings=GREEDY,
        tool_choice="required",
        followup_tool_choice=None,
        max_rounds=3,
    )
    steps = list(agent.iter("Read the file code.txt, then the file escape, then ../secret.txt."))
    results = [s for s in steps if isinstance(s, ToolResultStep)]
    assert len(results) >= 3  # at least one forced call per round
    for r in results:
        assert "SECRET-OUTSIDE" not in r.result.content
        if r.outcome != "ok":
            assert r.result.is_error and r.result.content, r
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root", "secret.txt"]
    assert (tmp_path / "secret.txt").read_text() == "SECRET-OUTSIDE"


class Weather(BaseModel):
    city: str
    temperature: int


def test_smollm2_with_a_tool_gives_a_validated_output_type(smollm2: hearth.Model) -> None:
    """One tool round, then the answer constrained to the output type's schema: a pydantic
    instance built from what the tool said."""
    cities: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Get the current temperature (degrees Celsius) for a city."""
        cities.append(city)
        return f"It is 23 degrees in {city}."

    agent = Agent(
        smollm2,
        [get_weather],
        settings=GenerationSettings(temperature=0, max_tokens=128),
        tool_choice="required",
        followup_tool_choice="none",
        output_type=Weather,
        output_retries=0,  # constrained decoding: the first answer must already be valid
        max_rounds=3,
    )
    result = agent.run("What is the temperature in Paris?")
    assert cities and "paris" in cities[0].lower()
    assert result.stop_reason == "end_turn", result.text
    assert isinstance(result.parsed, Weather), result.text
    assert result.parsed == Weather.model_validate_json(result.text)
    assert result.parsed.temperature == 23, result.text  # the tool's answer, not a guess
    assert result.rounds == 2
