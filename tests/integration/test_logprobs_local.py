"""Log-probabilities from the real SmolLM2: equal to llama-cpp-python's own
``Llama(logits_all=True)`` on the same tokens (the model's raw log-softmax, before any sampler),
for generated tokens, their alternatives and a raw prompt's tokens; and, under a grammar, taken
before its mask."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import pytest
from tests.support.llama_reference import reference_llama

import hearth
from hearth.backends.local.backend import LocalBackend
from hearth.events import TextDelta
from hearth.logprobs import TokenLogprob
from hearth.request import OutputFormat

pytestmark = pytest.mark.integration

TOLERANCE = 1e-3
DIGITS = OutputFormat("regex", grammar="[0-9]+")
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def reference(smollm2: hearth.Model) -> Iterator[object]:
    """llama-cpp-python's high-level Llama on the same file, with every position's logits, and
    the attention kernel hearth's context uses (llama.cpp's flash attention, chosen by its
    "auto" default on CPU; Llama() turns it off, which moves logprobs by up to ~0.02)."""
    assert isinstance(smollm2.backend, LocalBackend)
    llm = reference_llama(
        model_path=str(smollm2.backend.path), logits_all=True, n_ctx=512, n_threads=2,
        flash_attn=True, verbose=False,
    )  # fmt: skip
    yield llm
    llm.close()


def _log_softmax(llm: object, tokens: list[int]) -> np.ndarray:
    """Row i: the log-probabilities of the token after ``tokens[:i+1]``."""
    llm.reset()  # type: ignore[attr-defined]
    llm.eval(tokens)  # type: ignore[attr-defined]
    scores = np.asarray(llm.scores[: len(tokens)], dtype=np.float64)  # type: ignore[attr-defined]
    top = scores.max(axis=1, keepdims=True)
    return scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))


def _ids(entries: tuple[TokenLogprob, ...]) -> list[int]:
    ids = [e.id for e in entries]
    assert all(i is not None for i in ids)
    return [i for i in ids if i is not None]


def test_generated_logprobs_equal_llama_cpp_pythons(
    smollm2: hearth.Model, reference: object
) -> None:
    assert isinstance(smollm2.backend, LocalBackend)
    prompt = smollm2.backend.raw_tokens(PROMPT)
    r = smollm2.complete(PROMPT, max_tokens=8, temperature=0.7, seed=3, top_logprobs=5)
    entries = r.logprobs
    assert len(entries) == r.usage.output_tokens == 8
    assert "".join(e.token for e in entries) == r.text
    generated = _ids(entries)
    rows = _log_softmax(reference, prompt + generated)
    for i, entry in enumerate(entries):
        row = rows[len(prompt) - 1 + i]
        assert entry.logprob is not None
        assert abs(entry.logprob - row[generated[i]]) < TOLERANCE
        assert len(entry.top) == 5
        assert _ids(entry.top) == [int(t) for t in np.argsort(-row, kind="stable")[:5]]
        for alt in entry.top:
            assert alt.logprob is not None and alt.id is not None
            assert abs(alt.logprob - row[alt.id]) < TOLERANCE


def test_prompt_logprobs_equal_llama_cpp_pythons(smollm2: hearth.Model, reference: object) -> None:
    assert isinstance(smollm2.backend, LocalBackend)
    prompt = smollm2.backend.raw_tokens(PROMPT)
    smollm2.complete(PROMPT, max_tokens=4, temperature=0)  # cached: must not hide the prompt
    r = smollm2.complete(PROMPT, max_tokens=1, temperature=0, prompt_logprobs=True)
    assert r.prompt_logprobs is not None and len(r.prompt_logprobs) == len(prompt)
    assert r.prompt_logprobs[0].logprob is None  # nothing before the first token
    assert "".join(e.token for e in r.prompt_logprobs) == PROMPT
    rows = _log_softmax(reference, prompt)
    for i, entry in enumerate(r.prompt_logprobs[1:], 1):
        assert entry.id == prompt[i] and entry.logprob is not None
        assert abs(entry.logprob - rows[i - 1][prompt[i]]) < TOLERANCE
    assert r.logprobs == ()  # not asked for


def test_logprobs_stream_on_the_text_deltas(smollm2: hearth.Model) -> None:
    events = list(smollm2.stream("Say hello.", max_tokens=6, temperature=0, logprobs=True))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    carried = [lp for d in deltas for lp in d.logprobs]
    assert len(carried) == 6
    assert "".join(d.text for d in deltas) == "".join(lp.token for lp in carried)
    assert all(lp.logprob is not None and lp.logprob <= 0 and not lp.top for lp in carried)


def test_under_a_grammar_logprobs_are_the_models_before_the_mask(
    smollm2: hearth.Model, reference: object
) -> None:
    """The grammar allows digits only, yet each token's logprob is what the unconstrained
    model gave it, and the alternatives include tokens the grammar forbids."""
    assert isinstance(smollm2.backend, LocalBackend)
    prompt = smollm2.backend.raw_tokens(PROMPT)
    r = smollm2.complete(
        PROMPT, max_tokens=3, temperature=0, top_logprobs=3, response_format=DIGITS
    )
    assert re.fullmatch("[0-9]+", r.text)
    generated = _ids(r.logprobs)
    rows = _log_softmax(reference, prompt + generated)
    forbidden = 0
    for i, entry in enumerate(r.logprobs):
        row = rows[len(prompt) - 1 + i]
        assert entry.logprob is not None and abs(entry.logprob - row[generated[i]]) < TOLERANCE
        forbidden += sum(not re.fullmatch("[0-9]*", alt.token) for alt in entry.top)
    assert forbidden > 0
    # after the mask the chosen digits would carry all the mass; before it they do not
    assert math.exp(r.logprobs[0].logprob or 0.0) < 0.9


def test_logprobs_survive_the_tool_call_parser(smollm2: hearth.Model) -> None:
    from hearth.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return "sunny"

    r = smollm2.chat(
        "What's the weather in Paris?", tools=[get_weather], tool_choice="required",
        logprobs=True, max_tokens=40, temperature=0,
    )  # fmt: skip
    assert r.tool_calls and r.tool_calls[0].name == "get_weather"
    # every generated token, the call's included: the one-call grammar ends at </tool_call>,
    # so no end-of-turn token is sampled
    assert len(r.logprobs) == r.usage.output_tokens
    assert "".join(e.token for e in r.logprobs).endswith("</tool_call>")
    assert all(e.logprob is not None and e.logprob <= 0 for e in r.logprobs)
