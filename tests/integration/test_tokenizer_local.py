"""Tokenizer access on the real SmolLM2 and Gemma 3: ``Model.tokenize`` / ``detokenize`` /
``count_tokens`` in Python, and llama-server's ``/tokenize``, ``/detokenize`` and
``/apply-template`` on a loopback ``hearth serve``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.support.served import served

import hearth
from hearth.errors import InvalidRequestError
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

TEXT = "The quick brown fox jumps over the lazy dog. Ünïcødé 🦊!"


def test_tokenize_and_detokenize_round_trip(smollm2: hearth.Model) -> None:
    tokens = smollm2.tokenize(TEXT)
    assert all(isinstance(t, int) for t in tokens) and len(tokens) > 10
    assert smollm2.detokenize(tokens) == TEXT
    special = smollm2.tokenize("<|im_start|>user")
    plain = smollm2.tokenize("<|im_start|>user", parse_special=False)
    assert len(special) < len(plain)  # one special token vs its characters
    assert smollm2.detokenize(special) == smollm2.detokenize(plain) == "<|im_start|>user"
    with pytest.raises(InvalidRequestError, match="not in this model's vocabulary"):
        smollm2.detokenize([10**9])


def test_add_special_adds_gemmas_bos(gemma: hearth.Model) -> None:
    plain = gemma.tokenize("Hello")
    with_bos = gemma.tokenize("Hello", add_special=True)
    assert with_bos[1:] == plain and len(with_bos) == len(plain) + 1
    assert gemma.detokenize(with_bos[:1]) == "<bos>"


def test_count_tokens_is_what_the_model_reads(smollm2: hearth.Model) -> None:
    for kwargs in ({}, {"system": "Answer in French."}):
        counted = smollm2.count_tokens("What is the capital of France?", **kwargs)  # type: ignore[arg-type]
        r = smollm2.chat("What is the capital of France?", max_tokens=1, **kwargs)  # type: ignore[arg-type]
        assert counted == r.usage.input_tokens


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ServerSettings(models=("local:smollm2",), backend_options={"n_threads": 2})
    with served(settings) as base:
        yield base


def test_llama_server_tokenizer_routes(url: str, smollm2: hearth.Model) -> None:
    client = httpx.Client(base_url=url, timeout=60)
    tokens = client.post("/tokenize", json={"content": TEXT}).json()["tokens"]
    assert tokens == smollm2.tokenize(TEXT)
    assert client.post("/detokenize", json={"tokens": tokens}).json() == {"content": TEXT}
    pieces = client.post(
        "/tokenize", json={"content": "a🦊", "with_pieces": True, "model": "smollm2"}
    ).json()["tokens"]
    assert [p["id"] for p in pieces] == smollm2.tokenize("a🦊")
    assert b"".join(p["piece"].encode() if isinstance(p["piece"], str) else bytes(p["piece"])
                    for p in pieces) == "a🦊".encode()  # fmt: skip
    messages = [{"role": "user", "content": "Hi there"}]
    prompt = client.post("/apply-template", json={"messages": messages}).json()["prompt"]
    assert prompt.endswith("<|im_start|>assistant\n") and "Hi there" in prompt
    assert len(smollm2.tokenize(prompt)) == smollm2.count_tokens("Hi there")
    bad = client.post("/detokenize", json={"tokens": [-1]})
    assert bad.status_code == 400 and "vocabulary" in bad.json()["error"]["message"]
