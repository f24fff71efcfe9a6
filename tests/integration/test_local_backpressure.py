"""Backpressure by choice on the real SmolLM2: with one slot and a queue of one, a third request
is refused at once by default, and waits for a place with queue_timeout=."""

from __future__ import annotations

import threading
import time

import pytest

import hearth
from hearth.errors import OverloadedError
from hearth.settings import GenerationSettings

pytestmark = pytest.mark.integration

LONG = GenerationSettings(temperature=0, max_tokens=1500)  # ended by the test, not by its length
SHORT = GenerationSettings(temperature=0, max_tokens=2)


def fill(model: hearth.Model, release: threading.Event) -> list[threading.Thread]:
    """One request running (its first token seen) until ``release`` is set, whatever the
    machine's speed, and one waiting in the queue."""
    started = threading.Event()

    def first() -> None:
        with model.stream("Count from one to fifty.", settings=LONG) as stream:
            for _ in stream:
                started.set()
                if release.is_set():
                    break  # leaving the stream cancels the generation

    runner = threading.Thread(target=first)
    runner.start()
    assert started.wait(60)
    queued = threading.Thread(target=lambda: model.chat("Say hi.", settings=SHORT))
    queued.start()
    scheduler = model.backend._scheduler  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while scheduler.queue_depth < 1:  # it renders and tokenizes on its own thread first
        assert time.monotonic() < deadline, "the second request never reached the queue"
        time.sleep(0.01)
    return [runner, queued]


def test_a_full_queue_refuses_at_once_or_waits_by_choice() -> None:
    with hearth.model("local:smollm2", slots=1, max_queue=1, n_threads=2) as model:
        release = threading.Event()
        threads = fill(model, release)
        began = time.monotonic()
        try:
            with pytest.raises(OverloadedError, match="queue is full"):
                model.chat("Say hi.", settings=SHORT)
            assert time.monotonic() - began < 1.0
        finally:
            release.set()
            for t in threads:
                t.join(120)
    with hearth.model(
        "local:smollm2", slots=1, max_queue=1, n_threads=2, queue_timeout=120
    ) as waiting:
        release = threading.Event()
        threads = fill(waiting, release)
        threading.Timer(1.0, release.set).start()  # the running request ends a second from now
        answer = waiting.chat("Say hi.", settings=SHORT)  # waits for a place, then runs
        assert answer.stop_reason in ("max_tokens", "end_turn")
        for t in threads:
            t.join(120)
