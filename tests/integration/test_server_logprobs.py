"""Log-probabilities through a loopback ``hearth serve`` with the real SmolLM2, read by the
official openai and ollama clients: a loglikelihood request as lm-evaluation-harness's
local-completions sends it, and chat logprobs equal to the Python API's."""

from __future__ import annotations

import math

import ollama
import openai
import pytest
from tests.integration.test_server_sdks import base_url, oai

import hearth
from hearth.backends.local.backend import LocalBackend

pytestmark = pytest.mark.integration

__all__ = ["base_url", "oai"]  # the module-scoped server and client fixtures

CONTEXT = "The capital of France is"
CONTINUATION = " Paris"


def test_loglikelihood_request_through_completions_with_echo(
    oai: openai.OpenAI, smollm2: hearth.Model
) -> None:
    """``echo=true, max_tokens=0, logprobs=1``: the text back with each token's logprob; the
    continuation's sum is its log-likelihood, equal to the Python API's prompt_logprobs."""
    text = CONTEXT + CONTINUATION
    r = oai.completions.create(
        model="smollm2", prompt=text, echo=True, max_tokens=0, logprobs=1, temperature=0
    )
    choice = r.choices[0]
    assert choice.text == text
    logprobs = choice.logprobs
    assert logprobs is not None and logprobs.tokens and logprobs.token_logprobs
    assert "".join(logprobs.tokens) == text
    assert logprobs.token_logprobs[0] is None
    offsets = zip(logprobs.tokens, logprobs.text_offset or [], strict=True)
    assert all(text.startswith(t, o) for t, o in offsets)
    assert isinstance(smollm2.backend, LocalBackend)
    ctxlen = len(smollm2.backend.raw_tokens(CONTEXT))
    continuation = logprobs.token_logprobs[ctxlen:]
    assert continuation and all(v is not None and v <= 0 for v in continuation)
    is_greedy = all(
        v == max((logprobs.top_logprobs or [])[i + ctxlen].values())  # type: ignore[union-attr]
        for i, v in enumerate(continuation)
    )
    assert is_greedy  # " Paris" is what SmolLM2 would say
    local = smollm2.complete(text, max_tokens=1, temperature=0, prompt_logprobs=True)
    assert local.prompt_logprobs is not None
    expected = [e.logprob for e in local.prompt_logprobs]
    assert all(
        (a is None and b is None) or math.isclose(a, b, abs_tol=1e-6)  # type: ignore[arg-type]
        for a, b in zip(logprobs.token_logprobs, expected, strict=True)
    )


def test_chat_logprobs_through_the_openai_sdk(oai: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Say hello."}]
    r = oai.chat.completions.create(
        model="smollm2",
        messages=messages,
        max_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=3,
    )  # type: ignore[call-overload]
    content = r.choices[0].logprobs.content
    assert "".join(c.token for c in content) == r.choices[0].message.content
    for c in content:
        # the model's raw distribution: the likeliest first, the chosen one no likelier (the
        # catalogue's repeat penalty may have made greedy pick another)
        tops = [t.logprob for t in c.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True) and tops[0] >= c.logprob
    chunks = list(
        oai.chat.completions.create(
            model="smollm2",
            messages=messages,
            max_tokens=6,
            temperature=0,
            logprobs=True,
            stream=True,
        )  # type: ignore[call-overload]
    )
    streamed = [e.logprob for c in chunks if c.choices and c.choices[0].logprobs
                for e in c.choices[0].logprobs.content or []]  # fmt: skip
    assert streamed == pytest.approx([c.logprob for c in content], abs=1e-6)


def test_ollama_client_logprobs(base_url: str) -> None:
    client = ollama.Client(host=base_url, headers={"Authorization": "Bearer test-key-for-the-sdks"})
    r = client.generate(
        model="smollm2", prompt="1, 2, 3,", raw=True, logprobs=True, top_logprobs=2,
        options={"temperature": 0, "num_predict": 4},
    )  # fmt: skip
    assert r.logprobs and "".join(e.token for e in r.logprobs) == r.response
    assert all(len(e.top_logprobs or []) == 2 for e in r.logprobs)


def test_n_choices_through_the_openai_sdk(oai: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Name a colour."}]
    r = oai.chat.completions.create(
        model="smollm2", messages=messages, n=3, max_tokens=8, temperature=1.0, seed=5
    )  # type: ignore[call-overload]
    assert [c.index for c in r.choices] == [0, 1, 2]
    texts = [c.message.content for c in r.choices]
    assert all(texts) and len(set(texts)) > 1
    assert r.usage.completion_tokens <= 3 * 8
    chunks = list(
        oai.chat.completions.create(
            model="smollm2",
            messages=messages,
            n=3,
            max_tokens=8,
            temperature=1.0,
            seed=5,
            stream=True,
        )  # type: ignore[call-overload]
    )
    streamed = ["", "", ""]
    finished = set()
    for chunk in chunks:
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert streamed == texts  # the same seed: the same three answers, each on its own index
    assert finished == {0, 1, 2}
    c = oai.completions.create(model="smollm2", prompt="1, 2, 3,", n=3, max_tokens=4,
                               temperature=0)  # fmt: skip
    assert [x.index for x in c.choices] == [0, 1, 2]
    assert len({x.text for x in c.choices}) == 1  # greedy: three times the same
    with pytest.raises(openai.BadRequestError, match="at most 8"):
        oai.chat.completions.create(model="smollm2", messages=messages, n=9)  # type: ignore[call-overload]
