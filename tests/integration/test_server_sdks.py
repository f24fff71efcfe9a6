"""``hearth serve`` on loopback with the real SmolLM2, driven by the official openai, anthropic
and google-genai SDKs: chat, streaming, tools, structured output and errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from tests.support.served import served

from hearth._secret import Secret
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

KEY = "test-key-for-the-sdks"
QUESTION = "What is the capital of France? Answer in one word."


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",),
        max_queue=4,
        timeout=120,
        api_key=Secret(KEY),
        backend_options={"n_threads": 2},
    )
    with served(settings) as url:
        yield url


@pytest.fixture(scope="module")
def oai(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)


@pytest.fixture(scope="module")
def claude(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0)


@pytest.fixture(scope="module")
def gem(base_url: str) -> genai.Client:
    options = gtypes.HttpOptions(base_url=base_url, api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


# --- openai ------------------------------------------------------------------------------------


def test_openai_chat(oai: openai.OpenAI) -> None:
    r = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        temperature=0,
    )
    assert "Paris" in (r.choices[0].message.content or "")
    assert r.usage is not None and r.usage.completion_tokens > 0


def test_openai_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="local:smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_openai_legacy_completion(oai: openai.OpenAI) -> None:
    r = oai.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=16, temperature=0
    )
    assert "Paris" in r.choices[0].text  # the raw text is continued (no chat template)


def test_openai_errors(oai: openai.OpenAI) -> None:
    user = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gpt-4o", messages=user)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="n=9"):  # more than its 8 slots
        oai.chat.completions.create(model="smollm2", messages=user, n=9)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="context window"):
        oai.chat.completions.create(
            model="smollm2",
            stream=True,
            messages=[{"role": "user", "content": "word " * 9000}],
        )
    bad = openai.OpenAI(base_url=oai.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_openai_models(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["local:smollm2"]


def test_openai_tools(oai: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    r = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[tool],
        tool_choice="required",
        max_tokens=64,
        temperature=0,  # type: ignore[list-item]
    )
    calls = r.choices[0].message.tool_calls or []
    assert calls and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(calls[0].function.arguments)  # type: ignore[union-attr]


def test_openai_structured_output(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"capital": {"type": "string"}},
        "required": ["capital"],
        "additionalProperties": False,
    }
    r = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=48,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    value = json.loads(r.choices[0].message.content or "")
    assert isinstance(value["capital"], str)


# --- anthropic ---------------------------------------------------------------------------------


def test_anthropic_message(claude: anthropic.Anthropic) -> None:
    r = claude.messages.create(
        model="smollm2",
        max_tokens=16,
        extra_body={"temperature": 0},  # the SDK has no temperature argument any more
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert r.content[0].type == "text" and "Paris" in r.content[0].text
    assert r.stop_reason in ("end_turn", "max_tokens")


def test_anthropic_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="smollm2",
        max_tokens=16,
        extra_body={"temperature": 0},  # the SDK has no temperature argument any more
        messages=[{"role": "user", "content": QUESTION}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Paris" in text
    assert final.usage.output_tokens > 0


def test_anthropic_errors(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(
            model="claude-9", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        claude.messages.create(
            model="smollm2", max_tokens=8, messages=[{"role": "user", "content": "word " * 9000}]
        )


# --- google-genai ------------------------------------------------------------------------------


def test_gemini_generate(gem: genai.Client) -> None:
    r = gem.models.generate_content(
        model="smollm2",
        contents=QUESTION,
        config=gtypes.GenerateContentConfig(max_output_tokens=16, temperature=0),
    )
    assert "Paris" in (r.text or "")


def test_gemini_on_the_sdks_default_api_version(base_url: str) -> None:
    """Whatever path the installed google-genai posts to by default (/v1 in newer versions)."""
    client = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=base_url))
    r = client.models.generate_content(
        model="smollm2",
        contents=QUESTION,
        config=gtypes.GenerateContentConfig(max_output_tokens=16, temperature=0),
    )
    assert "Paris" in (r.text or "")


def test_gemini_stream(gem: genai.Client) -> None:
    chunks = list(
        gem.models.generate_content_stream(
            model="smollm2",
            contents=QUESTION,
            config=gtypes.GenerateContentConfig(max_output_tokens=16, temperature=0),
        )
    )
    assert "Paris" in "".join(c.text or "" for c in chunks)
    assert len(chunks) > 1


def test_gemini_errors(gem: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        gem.models.generate_content(model="gemini-9", contents="hi")
    assert caught.value.code == 404


# --- admission on the real engine --------------------------------------------------------------


def _active(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", headers={"authorization": f"Bearer {KEY}"}).text
    line = next(x for x in text.splitlines() if x.startswith("hearth_active_requests "))
    return float(line.split()[1])


def test_a_client_that_leaves_frees_the_engine_within_a_second(
    base_url: str, oai: openai.OpenAI
) -> None:
    stream = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Write a very long story about a dragon."}],
        max_tokens=2000,
        stream=True,
    )
    for i, _ in enumerate(stream):
        if i == 5:
            break
    stream.close()
    left = time.monotonic()
    while _active(base_url) > 0:
        assert time.monotonic() - left < 1.0, "the engine was still busy a second later"
        time.sleep(0.02)
    r = oai.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": QUESTION}], max_tokens=8
    )
    assert r.choices[0].message.content


def test_concurrent_streams_all_finish(oai: openai.OpenAI) -> None:
    def read(results: list[str]) -> None:
        stream = oai.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=16,
            temperature=0,
            stream=True,
        )
        chunks = list(stream)
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")
        results.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

    results: list[str] = []
    threads = [threading.Thread(target=read, args=(results,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 3 and all("Paris" in r for r in results)
