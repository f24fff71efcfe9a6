"""Every history the agent itself produces renders on every template a local model can have.

A turn that stopped at ``max_rounds`` or was cancelled while tools ran ends on tool results; a
turn cancelled (or failed) before the model wrote anything leaves the user message alone. The
next ``run()`` must still reach the model: each template below renders the follow-up request
(hearth's ChatML and Gemma templates, and the real Jinja templates of the tool-call fixtures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls

from hearth import Model
from hearth.agent import Agent, Hooks
from hearth.backends.local.templates import (
    ChatMLTemplate,
    ChatTemplate,
    GemmaTemplate,
    JinjaChatTemplate,
)
from hearth.backends.testing import FakeBackend, Script
from hearth.errors import ServerError
from hearth.events import StreamEvent
from hearth.request import ChatRequest
from hearth.tools import Tool, tool

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "toolcalls" / "templates"


TEMPLATE_NAMES = ["chatml", "gemma", *sorted(p.stem for p in TEMPLATES.glob("*.jinja"))]


def template_named(name: str) -> ChatTemplate:
    if name == "chatml":
        return ChatMLTemplate()
    if name == "gemma":
        return GemmaTemplate()
    source = (TEMPLATES / f"{name}.jinja").read_text()
    return JinjaChatTemplate(source, bos_token="<s>", eos_token="</s>")


class RenderingBackend(FakeBackend):
    """Renders every request with a chat template first, as the local backend does."""

    def __init__(self, template: ChatTemplate, scripts: list[Script]) -> None:
        super().__init__(scripts)
        self.template = template
        self.prompts: list[str] = []

    def _render(self, request: ChatRequest) -> None:
        self.prompts.append(self.template.render(request.messages, tools=request.tools))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self._render(request)
        return super().stream(request)

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self._render(request)
        return super().astream(request)


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


WEATHER_CALL = call("get_weather", '{"city": "Paris"}', id="call_weather_1")


def after_max_rounds(template: ChatTemplate) -> Agent:
    backend = RenderingBackend(template, [calls(WEATHER_CALL), answer("It is sunny.")])
    agent = Agent(Model(backend), [get_weather], system="Be brief.", max_rounds=1)
    assert agent.run("Weather in Paris?").stop_reason == "max_rounds"
    return agent


def after_cancel_during_tools(template: ChatTemplate) -> Agent:
    holder: list[Agent] = []

    async def slow(city: str) -> str:
        holder[0].cancel()
        await asyncio.sleep(5)
        return "never"

    weather = Tool.from_function(slow, name="get_weather")
    backend = RenderingBackend(template, [calls(WEATHER_CALL), answer("It is sunny.")])
    agent = Agent(Model(backend), [weather], system="Be brief.")
    holder.append(agent)
    result = agent.run("Weather in Paris?")
    assert result.stop_reason == "cancelled"
    assert agent.messages[-1].role == "tool"
    return agent


def after_cancel_before_output(template: ChatTemplate) -> Agent:
    holder: list[Agent] = []
    hooks = Hooks(pre_turn=lambda message: holder[0].cancel() if len(holder) == 1 else None)
    backend = RenderingBackend(template, [answer("It is sunny.")])
    agent = Agent(Model(backend), [get_weather], system="Be brief.", hooks=hooks)
    holder.append(agent)
    assert agent.run("Weather in Paris?").stop_reason == "cancelled"
    holder.append(agent)  # the next turn is not cancelled
    assert agent.messages[-1].role == "user"
    return agent


def after_a_failed_call(template: ChatTemplate) -> Agent:
    backend = RenderingBackend(template, [[ServerError("boom")], answer("It is sunny.")])
    agent = Agent(Model(backend), [get_weather], system="Be brief.")
    with pytest.raises(ServerError):
        agent.run("Weather in Paris?")
    assert agent.messages[-1].role == "user"
    return agent


HISTORIES: dict[str, Callable[[ChatTemplate], Agent]] = {
    "max_rounds": after_max_rounds,
    "cancel_during_tools": after_cancel_during_tools,
    "cancel_before_output": after_cancel_before_output,
    "failed_call": after_a_failed_call,
}


@pytest.mark.parametrize("history", sorted(HISTORIES))
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_the_agent_continues_on_every_template(name: str, history: str) -> None:
    template = template_named(name)
    agent = HISTORIES[history](template)
    result = agent.run("Go on.")
    assert (result.stop_reason, result.text) == ("end_turn", "It is sunny.")
    backend = agent.model.backend
    assert isinstance(backend, RenderingBackend)
    assert "Go on." in backend.prompts[-1]
    assert "Weather in Paris?" in backend.prompts[-1]
