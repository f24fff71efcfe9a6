"""Third-party clients against a live loopback ``hearth serve`` on the real SmolLM2: the openai
SDK's ``client.responses``, the OpenAI Agents SDK, pydantic-ai and simonw's ``llm`` CLI, and
hearth's own ``type = "responses"`` provider. Each test asserts what the client's user sees:
the text, the tool call, the typed object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel
from tests.support.served import served

from hearth._secret import Secret
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

KEY = "test-key-for-the-clients"
QUESTION = "What is the capital of France? Answer in one word."
WEATHER = {
    "type": "function", "name": "get_weather",
    "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",),
        max_queue=4,
        timeout=300,
        api_key=Secret(KEY),
        backend_options={"n_threads": 2},
        responses_store=tmp_path_factory.mktemp("store") / "responses.db",
    )
    with served(settings) as url:
        yield url


@pytest.fixture(scope="module")
def oai(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0, timeout=300)


# --- the openai SDK's client.responses -------------------------------------------------------


def test_responses_create_and_a_chain(oai: openai.OpenAI) -> None:
    first = oai.responses.create(model="smollm2", input=QUESTION, temperature=0,
                                 max_output_tokens=16)  # fmt: skip
    assert "Paris" in first.output_text and first.status == "completed"
    second = oai.responses.create(
        model="smollm2", input="And of Italy?", previous_response_id=first.id, temperature=0,
        max_output_tokens=16,
    )  # fmt: skip
    assert "Rome" in second.output_text  # the question only makes sense with the first turn
    usage = second.usage
    assert usage is not None and first.usage is not None
    assert usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    assert usage.input_tokens_details.cached_tokens > 0  # the first turn came from the cache
    assert oai.responses.retrieve(second.id).output_text == second.output_text


def test_responses_streamed(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="smollm2", input=QUESTION, temperature=0,
                              max_output_tokens=16) as stream:  # fmt: skip
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1 and "".join(deltas) == final.output_text
    assert "Paris" in final.output_text


def test_responses_function_tool_required(oai: openai.OpenAI) -> None:
    r = oai.responses.create(
        model="smollm2", input="What is the weather in Paris?", tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required", temperature=0, max_output_tokens=64,
    )  # fmt: skip
    calls = [item for item in r.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    assert "Paris" in json.loads(calls[0].arguments)["city"]


# --- the OpenAI Agents SDK -------------------------------------------------------------------


def test_openai_agents_runs_a_function_tool(base_url: str) -> None:
    import agents
    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool

    agents.set_tracing_disabled(True)
    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        asked.append(city)
        return f"Sunny, 22 C in {city}"

    client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)
    agent = Agent(
        name="weather",
        instructions="Answer with the get_weather tool.",
        model=OpenAIResponsesModel(model="smollm2", openai_client=client),
        tools=[get_weather],
        tool_use_behavior="stop_on_first_tool",
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=64),
    )
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert asked and "Paris" in asked[0]
    assert result.final_output == f"Sunny, 22 C in {asked[0]}"


# --- pydantic-ai through /v1/chat/completions ------------------------------------------------


class City(BaseModel):
    city: str
    country: str


def test_pydantic_ai_typed_output_with_a_tool(base_url: str) -> None:
    """A tool, then the answer as a typed object (``NativeOutput``: ``response_format``). The
    tool is offered once (its ``prepare`` hides it after a call), as a user keeps a tiny model
    from calling it forever."""
    from pydantic_ai import Agent, NativeOutput, RunContext
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.tools import ToolDefinition

    model = OpenAIChatModel("smollm2", provider=OpenAIProvider(base_url=f"{base_url}/v1",
                                                              api_key=KEY))  # fmt: skip
    agent = Agent(
        model,
        output_type=NativeOutput(City),
        instructions="Use the capital_of tool, then answer with the city it returns.",
        model_settings=ModelSettings(temperature=0, max_tokens=64),
    )
    asked: list[str] = []

    async def once(ctx: RunContext[None], tool: ToolDefinition) -> ToolDefinition | None:
        return None if asked else tool

    @agent.tool_plain(prepare=once)
    def capital_of(country: str) -> str:
        """The capital city of a country."""
        asked.append(country)
        return "Paris"

    result = agent.run_sync("What is the capital of France?")
    assert asked == ["France"]
    assert isinstance(result.output, City)
    assert result.output == City(city="Paris", country="France")


# --- simonw's llm CLI, through extra-openai-models.yaml --------------------------------------


def test_llm_cli(base_url: str, tmp_path: Path) -> None:
    (tmp_path / "extra-openai-models.yaml").write_text(
        f"- model_id: hearth-smollm2\n  model_name: smollm2\n  api_base: {base_url}/v1\n"
        "  api_key_name: hearth\n",
        encoding="utf-8",
    )
    (tmp_path / "keys.json").write_text(json.dumps({"hearth": KEY}), encoding="utf-8")
    llm = Path(sys.executable).parent / "llm"
    done = subprocess.run(
        [str(llm), "-m", "hearth-smollm2", "-o", "temperature", "0", "-o", "max_tokens", "16",
         QUESTION],
        env={**os.environ, "LLM_USER_PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout


# --- hearth's own Responses provider against hearth serve ------------------------------------


def test_a_responses_provider_on_hearth_serve(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hearth

    (tmp_path / "config.toml").write_text(
        f'[providers.box]\ntype = "responses"\nbase_url = "{base_url}/v1"\n'
        'api_key_env = "BOX_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BOX_KEY", KEY)
    with hearth.model("box:smollm2") as m:
        assert "Paris" in m.chat(QUESTION, temperature=0, max_tokens=16).text
        with m.stream(QUESTION, temperature=0, max_tokens=16) as s:
            streamed = "".join(s.text_stream)
        assert "Paris" in streamed and s.response.usage.output_tokens > 0
