"""The local engine on the real SmolLM2 and Gemma 3 models."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import hearth
from hearth import Done, GenerationSettings, TextDelta
from hearth.backends.local.backend import LocalBackend

pytestmark = pytest.mark.integration

CAPITAL = "What is the capital of France?"


def _backend(m: hearth.Model) -> LocalBackend:
    assert isinstance(m.backend, LocalBackend)
    return m.backend


def test_answers_the_readme_question(smollm2: hearth.Model) -> None:
    r = smollm2.chat(CAPITAL, temperature=0, max_tokens=32)
    assert "Paris" in r.text
    assert r.stop_reason == "end_turn"
    assert r.model == "local:smollm2"


def test_stream_equals_chat_under_a_fixed_seed(smollm2: hearth.Model) -> None:
    settings = GenerationSettings(temperature=0.9, seed=1234, max_tokens=40)
    with smollm2.stream("Write a sentence about cats.", settings) as s:
        events = list(s)
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert isinstance(events[-1], Done)
    assert sum(isinstance(e, TextDelta) for e in events) > 1  # really token by token
    again = smollm2.chat("Write a sentence about cats.", settings)
    assert streamed == again.text
    first = events[-1].usage
    assert (again.usage.input_tokens, again.usage.output_tokens) == (
        first.input_tokens,
        first.output_tokens,
    )
    assert again.usage.cached_tokens > first.cached_tokens  # the prefix cache served the rerun


def test_seed_changes_the_sample(smollm2: hearth.Model) -> None:
    texts = {
        smollm2.chat("Invent a name for a dog.", temperature=1.2, seed=s, max_tokens=12).text
        for s in (1, 2, 3, 4)
    }
    assert len(texts) > 1


def test_usage_counts_real_tokens(smollm2: hearth.Model) -> None:
    request = smollm2.request(CAPITAL, max_tokens=5, temperature=0)
    r = smollm2.chat(CAPITAL, max_tokens=5, temperature=0, stop=["zzz-never"])
    assert r.usage.input_tokens == len(_backend(smollm2).prompt_tokens(request))
    if r.stop_reason == "max_tokens":
        assert r.usage.output_tokens == 5
    assert 1 <= r.usage.output_tokens <= 5


def test_max_tokens_stops_with_max_tokens(smollm2: hearth.Model) -> None:
    r = smollm2.chat("Write a long story about a dragon.", max_tokens=8, seed=3)
    assert r.stop_reason == "max_tokens"
    assert r.usage.output_tokens == 8


def test_stop_sequence_is_never_in_the_output(smollm2: hearth.Model) -> None:
    prompt = "Count from 1 to 10, separated by commas."
    free = smollm2.chat(prompt, temperature=0, max_tokens=48).text
    assert "5" in free, free
    with smollm2.stream(prompt, temperature=0, max_tokens=48, stop=["5"]) as s:
        deltas = list(s.text_stream)
        r = s.response
    assert r.stop_reason == "stop_sequence"
    assert r.stop_sequence == "5"
    assert "5" not in "".join(deltas)
    assert r.text == free[: free.index("5")]


def test_cancelling_a_stream_stops_generation(smollm2: hearth.Model) -> None:
    scheduler = _backend(smollm2)._running()
    before = scheduler.tokens_generated
    with smollm2.stream("Write a very long story about the sea.", seed=5) as s:
        got = 0
        for _ in s.text_stream:
            got += 1
            if got == 3:
                break
    deadline = time.monotonic() + 5
    while scheduler.active is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert scheduler.active is None
    # The three deltas we read, plus at most one token sampled while we were closing.
    assert scheduler.tokens_generated - before <= got + 2
    assert "Paris" in smollm2.chat(CAPITAL, temperature=0, max_tokens=16).text


def test_cancelling_an_async_task_stops_generation(smollm2: hearth.Model) -> None:
    scheduler = _backend(smollm2)._running()

    async def consume(seen: asyncio.Event) -> None:
        async with smollm2.astream("Tell me a long story about a fox.", seed=2) as s:
            async for _ in s:
                seen.set()

    async def go() -> None:
        seen = asyncio.Event()
        task = asyncio.create_task(consume(seen))
        await asyncio.wait_for(seen.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = scheduler.tokens_generated
    asyncio.run(go())
    deadline = time.monotonic() + 5
    while scheduler.active is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert scheduler.active is None
    assert scheduler.tokens_generated - before < 50


def test_async_chat_matches_sync(smollm2: hearth.Model) -> None:
    settings = GenerationSettings(temperature=0.7, seed=9, max_tokens=20)
    sync = smollm2.chat("Name a color.", settings)
    assert asyncio.run(smollm2.achat("Name a color.", settings)).text == sync.text


def test_prompt_over_the_context_raises_with_counts(smollm2_small_ctx: hearth.Model) -> None:
    long_prompt = "The quick brown fox jumps over the lazy dog. " * 40
    with pytest.raises(hearth.ContextLengthExceededError) as info:
        smollm2_small_ctx.chat(long_prompt)
    assert info.value.context_length == 128
    assert info.value.prompt_tokens > 128
    assert "128" in str(info.value)
    with pytest.raises(hearth.ContextLengthExceededError):
        smollm2_small_ctx.stream(long_prompt)  # raised before any event, not mid-stream


def test_generation_that_fills_the_window_stops_with_max_tokens(
    smollm2_small_ctx: hearth.Model,
) -> None:
    r = smollm2_small_ctx.chat(
        "Write a very long story about a dragon and a knight.", temperature=1.0, seed=11
    )
    if r.stop_reason == "end_turn":  # the model finished early: nothing to check
        pytest.skip("the model ended its answer before the window was full")
    assert r.stop_reason == "max_tokens"
    assert r.usage.input_tokens + r.usage.output_tokens <= 128 + 1


def test_eight_threads_at_once_all_succeed(smollm2: hearth.Model) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results.append(smollm2.chat(f"Say the number {i}.", max_tokens=12, seed=i).text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(results) == 8
    assert all(results)


def test_full_queue_is_refused_at_once() -> None:
    with hearth.model("local:smollm2", n_threads=2, max_queue=1, slots=1) as m:
        streams = []
        with pytest.raises(hearth.OverloadedError, match="queue is full"):
            for _ in range(4):
                streams.append(m.stream("Tell me a long story.", max_tokens=200))
        for s in streams:
            s.close()


def test_deadline_ends_a_request_with_a_timeout() -> None:
    with hearth.model("local:smollm2", n_threads=2, timeout=0.3) as m:
        with pytest.raises(hearth.RequestTimeoutError, match="deadline"):
            m.chat("Write a very long story about the sea.", max_tokens=2000, seed=1)
        # The worker survived: a short request still works.
        assert m.chat("Hi", max_tokens=2).usage.output_tokens >= 1


def test_gemma_answers_with_its_builtin_template(gemma: hearth.Model) -> None:
    settings = GenerationSettings(temperature=0.5, seed=7, max_tokens=24)
    with gemma.stream(CAPITAL, settings, system="Answer briefly.") as s:
        streamed = "".join(s.text_stream)
        r = s.response
    assert streamed.strip()
    assert r.usage.output_tokens >= 1
    assert gemma.chat(CAPITAL, settings, system="Answer briefly.").text == streamed


def test_a_stream_dropped_unread_is_cancelled(smollm2: hearth.Model) -> None:
    scheduler = _backend(smollm2)._running()
    before = scheduler.tokens_generated
    stream = smollm2.stream("Write a very long story about a mountain.", max_tokens=2000, seed=8)
    time.sleep(0.05)
    del stream
    deadline = time.monotonic() + 5
    while scheduler.active is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert scheduler.active is None
    assert scheduler.tokens_generated - before < 200


def test_n_ctx_beyond_the_trained_length_is_refused() -> None:
    with (
        hearth.model("local:smollm2", n_ctx=100_000) as m,
        pytest.raises(hearth.InvalidRequestError, match="trained on; use at most 8192"),
    ):
        m.chat("hi")


def test_capabilities_report_the_context_window(smollm2: hearth.Model) -> None:
    smollm2.chat("hi", max_tokens=1)
    caps = smollm2.capabilities()
    assert caps.context_length == 8192
    assert caps.streaming
    assert caps.accelerator == "cpu"
    # tools and structured output through constrained decoding; embeddings in their own context
    assert caps.tools and caps.structured_output and caps.embeddings
