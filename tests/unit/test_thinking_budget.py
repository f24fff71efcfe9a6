"""The thinking budget's gate on the constraint hook: it counts thinking tokens, forces the
closing text when the budget is spent, and hands over to the request's own constraint after."""

from __future__ import annotations

import ctypes
import math
import random
from typing import Any

from hearth.backends.local.thinking_budget import ThinkingGate

VOCAB = {0: b"</think>", 1: b"\n\n", 2: b"hmm", 3: b" ok", 4: b"</", 5: b"think>", 6: b"A"}
N = len(VOCAB)


class Recorder:
    """A request constraint that allows only token 6 and records what reaches it."""

    def __init__(self) -> None:
        self.masked = 0
        self.accepted: list[int] = []
        self.closed = False

    def mask(self, logits: Any) -> None:
        self.masked += 1
        for t in range(N):
            if t != 6:
                logits[t] = -math.inf

    def accept(self, token: int) -> None:
        self.accepted.append(token)

    def is_finished(self) -> bool:
        return len(self.accepted) >= 2

    def close(self) -> None:
        self.closed = True


def _gate(budget: int | None, inner: Recorder | None = None) -> ThinkingGate:
    return ThinkingGate(
        close="</think>",
        close_tokens=(0, 1),
        piece=VOCAB.__getitem__,
        n_vocab=N,
        budget=budget,
        inner=inner,
    )


def _step(gate: ThinkingGate, rng: random.Random) -> int:
    """Mask a random logits row, then take its best token (a greedy sampler)."""
    row = (ctypes.c_float * N)(*(rng.uniform(-1, 1) for _ in range(N)))
    row[0] = row[4] = row[5] = -5.0  # the model never wants to stop thinking by itself
    gate.mask(row)
    token = max(range(N), key=lambda t: row[t])
    gate.accept(token)
    return token


def test_the_budget_forces_the_closing_text_then_the_answer_follows() -> None:
    for seed in range(20):
        rng = random.Random(seed)
        gate = _gate(budget=5)
        tokens = [_step(gate, rng) for _ in range(9)]
        assert gate.thinking_tokens == 5
        assert 0 not in tokens[:5] and tokens[5:7] == [0, 1]  # "</think>", a blank line
        assert not gate.thinking and 0 not in tokens[7:]  # the answer: sampled freely


def test_the_model_may_close_its_thinking_itself() -> None:
    gate = _gate(budget=50)
    for token in (2, 3, 4, 5):  # "hmm ok</" "think>" split over two tokens
        assert gate.thinking
        gate.accept(token)
    assert not gate.thinking and gate.thinking_tokens == 4


def test_no_budget_never_forces() -> None:
    gate = _gate(budget=None)
    rng = random.Random(0)
    tokens = [_step(gate, rng) for _ in range(100)]
    assert 0 not in tokens and gate.thinking and gate.thinking_tokens == 100


def test_a_zero_budget_closes_at_once() -> None:
    gate = _gate(budget=0)
    rng = random.Random(1)
    assert [_step(gate, rng), _step(gate, rng)] == [0, 1]
    assert gate.thinking_tokens == 0 and not gate.thinking


def test_the_request_constraint_starts_after_the_thinking() -> None:
    inner = Recorder()
    gate = _gate(budget=2, inner=inner)
    rng = random.Random(2)
    tokens = [_step(gate, rng) for _ in range(6)]
    assert tokens[2:4] == [0, 1] and tokens[4:] == [6, 6]
    assert inner.accepted == [6, 6] and inner.masked == 2  # never saw the thinking
    assert gate.is_finished()
    gate.close()
    assert inner.closed


def test_with_a_request_constraint_the_turn_cannot_end_inside_the_thinking() -> None:
    eog = 3  # " ok" stands for the end-of-generation token here
    gate = ThinkingGate(
        close="</think>", close_tokens=(0, 1), piece=VOCAB.__getitem__, n_vocab=N,
        inner=Recorder(), eog=(eog,),
    )  # fmt: skip
    row = (ctypes.c_float * N)(*([0.0] * N))
    gate.mask(row)
    assert row[eog] == -math.inf and row[2] == 0.0
    free = _gate(budget=None)
    row = (ctypes.c_float * N)(*([0.0] * N))
    free.mask(row)
    assert row[eog] == 0.0  # without one, a model may stop while it thinks
