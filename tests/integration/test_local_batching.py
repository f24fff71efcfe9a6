"""Continuous batching and the prefix cache on the real SmolLM2 model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

import hearth
from hearth import Done, GenerationSettings
from hearth.backends.local.backend import LocalBackend
from hearth.backends.local.channel import SyncChannel
from hearth.backends.local.job import GenerationJob
from hearth.backends.local.scheduler import Scheduler
from hearth.messages import Message

pytestmark = pytest.mark.integration

SETTINGS = GenerationSettings(temperature=0.8, seed=42, max_tokens=40)
PROMPTS = [f"Write a short poem about the number {i}." for i in range(6)]


@pytest.fixture(scope="module")
def fresh() -> Iterator[hearth.Model]:
    """SmolLM2 without a prefix cache: every request computes its whole prompt."""
    with hearth.model("local:smollm2", n_threads=2, prefix_cache=0) as m:
        yield m


@pytest.fixture
def cached() -> Iterator[hearth.Model]:
    """SmolLM2 with the default prefix cache and an empty KV cache, so a request's KV cells are
    in position order (see docs/local-engine.md, "When outputs can differ")."""
    with hearth.model("local:smollm2", n_threads=2) as m:
        yield m


def _scheduler(m: hearth.Model) -> Scheduler:
    assert isinstance(m.backend, LocalBackend)
    return m.backend._running()


def _concurrently(*calls: Callable[[], str]) -> list[str]:
    results: list[str | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert errors == []
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_concurrent_requests_give_what_each_gives_alone(
    fresh: hearth.Model, cached: hearth.Model
) -> None:
    alone = [fresh.chat(p, SETTINGS).text for p in PROMPTS]
    batched = _concurrently(*(lambda p=p: cached.chat(p, SETTINGS).text for p in PROMPTS))
    assert batched == alone
    assert len(set(alone)) == len(alone)  # six different answers, not one repeated


def test_requests_really_run_together(smollm2: hearth.Model) -> None:
    scheduler = _scheduler(smollm2)
    seen: list[int] = []
    streams = [smollm2.stream(p, SETTINGS) for p in PROMPTS[:4]]
    try:
        for event in streams[0]:
            seen.append(len(scheduler.running))
            if isinstance(event, Done):
                break
    finally:
        for s in streams:
            s.close()
    assert max(seen) >= 2


def test_cancelling_one_stream_leaves_the_others_untouched(
    fresh: hearth.Model, cached: hearth.Model
) -> None:
    alone = [fresh.chat(p, SETTINGS).text for p in PROMPTS[:2]]

    def cancelled() -> str:
        with cached.stream("Write a very long story about the sea.", max_tokens=500) as s:
            for i, _ in enumerate(s.text_stream):
                if i == 3:
                    break
        return "cancelled"

    got = _concurrently(
        lambda: cached.chat(PROMPTS[0], SETTINGS).text,
        cancelled,
        lambda: cached.chat(PROMPTS[1], SETTINGS).text,
    )
    assert got == [alone[0], "cancelled", alone[1]]


def test_a_long_prompt_does_not_stall_a_running_stream(fresh: hearth.Model) -> None:
    """While a 1,500-token prompt is read in chunks, the running stream keeps getting a token
    every step (tokens counted, not timed)."""
    long_prompt = "Here is a list of animals: " + ", ".join(["cat", "dog", "horse"] * 250)
    scheduler = _scheduler(fresh)
    story = GenerationSettings(temperature=0.8, seed=4, max_tokens=400)
    with fresh.stream("Write a very long story about the sea.", story) as running:
        next(iter(running))  # generating now
        before = scheduler.tokens_generated
        with fresh.stream(long_prompt, max_tokens=2) as late:
            next(iter(late))
            during = scheduler.tokens_generated - before
    # ~25 steps of prompt chunks, each with one token for the running stream
    assert during >= 20


def test_the_second_turn_reuses_the_first_and_answers_the_same(
    cached: hearth.Model, fresh: hearth.Model
) -> None:
    settings = GenerationSettings(temperature=0.7, seed=3, max_tokens=30)
    history = [Message.user("My cat is called Tom. Say something about cats.")]
    first = cached.chat(history, settings)
    history += [Message.assistant(first.text), Message.user("What is my cat called?")]
    second = cached.chat(history, settings)
    assert second.usage.cached_tokens > 0
    assert second.usage.cached_tokens < second.usage.input_tokens
    recomputed = fresh.chat(history, settings)
    assert recomputed.usage.cached_tokens == 0
    assert second.text == recomputed.text
    assert second.usage.output_tokens == recomputed.usage.output_tokens


def test_a_shared_system_prompt_is_computed_once(smollm2: hearth.Model) -> None:
    system = "You are a terse assistant for a bakery. " * 20
    smollm2.chat("Do you sell bread?", system=system, max_tokens=4, seed=1)
    other = smollm2.chat("Do you sell cakes?", system=system, max_tokens=4, seed=1)
    assert other.usage.cached_tokens >= 150


def test_the_queue_bound_counts_requests_waiting_for_a_slot() -> None:
    with hearth.model("local:smollm2", n_threads=2, slots=2, max_queue=1) as m:
        streams = []
        for running in (1, 2):  # one at a time: the queue holds only one waiting request
            streams.append(m.stream("Tell me a long story.", max_tokens=300))
            deadline = time.monotonic() + 30
            while len(_scheduler(m).running) < running and time.monotonic() < deadline:
                time.sleep(0.01)
        assert len(_scheduler(m).running) == 2
        streams.append(m.stream("Tell me a long story.", max_tokens=300))  # waits for a slot
        with pytest.raises(hearth.OverloadedError, match="queue is full"):
            m.stream("Tell me a long story.", max_tokens=300)
        for s in streams:
            s.close()


def test_a_deadline_ends_only_its_own_sequence(fresh: hearth.Model, cached: hearth.Model) -> None:
    backend = cached.backend
    assert isinstance(backend, LocalBackend)
    expected = fresh.chat(PROMPTS[2], SETTINGS).text
    request = cached.request("Write a very long story about the sea.", max_tokens=2000)
    channel = SyncChannel()
    job = GenerationJob(
        prompt=backend.prompt_tokens(request),
        settings=request.settings,
        channel=channel,
        deadline=time.monotonic() + 1.0,
    )

    def doomed() -> str:
        _scheduler(cached).submit(job)
        while True:
            item = channel.get()
            if isinstance(item, BaseException):
                return type(item).__name__
            if isinstance(item, Done):
                return "done"

    got = _concurrently(doomed, lambda: cached.chat(PROMPTS[2], SETTINGS).text)
    assert got == ["RequestTimeoutError", expected]


def test_a_full_kv_cache_refuses_the_newest_request_only() -> None:
    with hearth.model("local:smollm2", n_threads=2, n_ctx=128, slots=4, prefix_cache=0) as m:
        story = GenerationSettings(temperature=0.8, seed=1, max_tokens=80)

        def one(i: int) -> str:
            try:
                r = m.chat(f"Write a very long story about {PROMPTS[i]}", story)
            except hearth.OverloadedError as exc:
                assert "KV cache" in str(exc)
                return "refused"
            return r.stop_reason or ""

        outcomes = _concurrently(*(lambda i=i: one(i) for i in range(4)))
        assert "refused" in outcomes  # 4 x ~120 tokens cannot share 128 cells
        assert any(o != "refused" for o in outcomes)  # the oldest ran to its end
        assert m.chat("Hi", max_tokens=2).usage.output_tokens >= 1  # the engine lives on


def test_an_empty_prompt_is_refused_and_the_worker_lives_on(fresh: hearth.Model) -> None:
    channel = SyncChannel()
    _scheduler(fresh).submit(GenerationJob(prompt=[], settings=SETTINGS, channel=channel))
    item = channel.get()
    assert isinstance(item, hearth.InvalidRequestError)
    assert "no tokens" in str(item)
    assert fresh.chat("Hi", max_tokens=2).usage.output_tokens >= 1


def test_an_idle_model_moves_its_cached_prefixes_out_of_the_kv_cache(cached: hearth.Model) -> None:
    """Idle cells would make every later decode step attend over them; the prefix is still
    reused, from host memory, and gives the same answer."""
    import llama_cpp.llama_cpp as lib

    first = cached.chat(PROMPTS[0], SETTINGS)
    engine = _scheduler(cached).engine
    highest: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the worker offloads just after delivering Done
        highest = [lib.llama_memory_seq_pos_max(engine._memory, s) for s in range(engine.slots)]
        if highest == [-1] * engine.slots:
            break
        time.sleep(0.01)
    assert highest == [-1] * engine.slots
    assert _scheduler(cached).cached_tokens > 0
    again = cached.chat(PROMPTS[0], SETTINGS)
    assert again.usage.cached_tokens == again.usage.input_tokens - 1
    assert again.text == first.text
