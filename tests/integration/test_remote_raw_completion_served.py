"""Raw text completion through the REMOTE path: a loopback ``hearth serve`` with the real SmolLM2
is the OpenAI-compatible endpoint of ``hearth:``, ``vllm:`` and ``llama-server:`` models, whose
``complete`` goes to its ``/v1/completions`` and continues the text as the local model does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from tests.support.served import served

import hearth
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

COUNT = "1, 2, 3, 4,"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",), max_queue=4, timeout=120, backend_options={"n_threads": 2}
    )
    with served(settings) as url:
        yield f"{url}/v1"


@pytest.mark.parametrize("provider", ["hearth", "vllm", "llama-server"])
def test_remote_complete_continues_the_text_as_local_does(base_url: str, provider: str) -> None:
    with hearth.model(f"{provider}:smollm2", base_url=base_url) as m:
        assert m.capabilities().raw_completion
        r = m.complete(COUNT, max_tokens=9, temperature=0)
    assert r.text.startswith(" 5, 6, 7")  # a continuation, not an assistant's reply
    assert r.stop_reason == "max_tokens" and r.usage.output_tokens == 9
    assert 0 < r.usage.input_tokens < 15  # the raw prompt's tokens, no chat template


def test_remote_stream_complete_with_a_stop_string(base_url: str) -> None:
    with (
        hearth.model("hearth:smollm2", base_url=base_url) as m,
        m.stream_complete(COUNT, max_tokens=40, temperature=0, stop=[" 8"]) as s,
    ):
        text = "".join(s.text_stream)
    assert text == " 5, 6, 7,"
    # hearth serve names the matched string in vLLM's stop_reason, as a local model does
    assert s.response.stop_reason == "stop_sequence" and s.response.stop_sequence == " 8"
    assert s.response.usage.output_tokens > 0


def test_remote_async_complete_and_schema(base_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }

    async def go(m: hearth.Model) -> tuple[str, object]:
        r = await m.acomplete(COUNT, max_tokens=9, temperature=0)
        typed = await m.acomplete(
            'The capital of France as JSON: {"city": "', response_format=schema, max_tokens=32
        )
        return r.text, typed.parsed

    with hearth.model("hearth:smollm2", base_url=base_url) as m:
        text, parsed = asyncio.run(go(m))
    assert text.startswith(" 5, 6, 7")
    assert isinstance(parsed, dict) and set(parsed) == {"city"}


@pytest.mark.parametrize("provider", ["hearth", "vllm"])
def test_hearth_serve_fronting_a_remote_model_proxies_v1_completions(
    base_url: str, provider: str
) -> None:
    """Two hops: an OpenAI SDK-style request to an outer ``hearth serve`` whose model is
    ``hearth:``/``vllm:`` pointing at the inner one (local SmolLM2) continues the raw text and
    names the matched stop string."""
    outer = ServerSettings(
        models=(f"{provider}:smollm2",), timeout=120, backend_options={"base_url": base_url}
    )
    with served(outer) as url:
        body = {
            "model": f"{provider}:smollm2", "prompt": COUNT, "max_tokens": 40,
            "temperature": 0, "stop": [" 8"],
        }  # fmt: skip
        plain = httpx.post(f"{url}/v1/completions", json=body, timeout=120)
        streamed = httpx.post(f"{url}/v1/completions", json={**body, "stream": True}, timeout=120)
    assert plain.status_code == 200, plain.text
    (choice,) = plain.json()["choices"]
    assert choice["text"] == " 5, 6, 7,"
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == " 8"
    assert streamed.status_code == 200, streamed.text
    chunks = [json.loads(x[6:]) for x in streamed.text.splitlines() if x.startswith("data: {")]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == " 5, 6, 7,"
    assert chunks[-1]["choices"][0]["stop_reason"] == " 8"
