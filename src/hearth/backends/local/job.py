"""One request for the local engine's worker: what it asks for (:class:`GenerationJob`) and,
once it runs in a slot, its decoding state (:class:`Sequence`).

A :class:`Sequence` holds the part of its prompt still to evaluate, the token it sampled last,
its own sampler chain, constraint and stop-string state. The scheduler puts every running
sequence into one :class:`~hearth.backends.local.batch.TokenBatch` per step; after the decode
each sequence whose logits were computed samples its next token from its own row of the output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hearth.backends.local.channel import Channel
from hearth.backends.local.textstream import TextStream
from hearth.backends.local.thinking_budget import ThinkingGate
from hearth.errors import RequestTimeoutError
from hearth.events import Done, StopReason, TextDelta, Usage
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.backends.local.constraints import Constraint
    from hearth.backends.local.engine import LlamaEngine


@dataclass(eq=False)
class GenerationJob:
    """One request for the worker: prompt tokens in, events out through ``channel``."""

    prompt: list[int]
    settings: GenerationSettings
    channel: Channel
    hidden_stop: tuple[str, ...] = ()
    deadline: float | None = None
    model_name: str | None = None
    gguf_name: str | None = None  # the file's general.name, reported beside model_name
    constraint: Constraint | None = None
    """Grammar hook (contract D): masks the logits before each sample, accepts the token after."""
    shown: Mapping[int, bytes] = field(default_factory=dict)
    """Control tokens whose text the output shows (a reasoning model's thinking markers where
    they are control tokens, which llama.cpp renders as nothing)."""
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


class Sequence:
    """One request being decoded in sequence ``slot``; its first ``cached`` prompt tokens were
    already in the KV cache."""

    def __init__(self, job: GenerationJob, slot: int, cached: int, engine: LlamaEngine) -> None:
        self.job = job
        self.slot = slot
        self.cached = cached
        self.fed = cached  # prompt tokens whose KV is computed
        self.pending: int | None = None  # the last sampled token, not yet decoded
        self.produced = 0
        settings = job.settings
        self.text = TextStream(settings.stop, hidden_stop=job.hidden_stop)
        self.max_new = settings.max_tokens if settings.max_tokens is not None else engine.n_ctx
        self.n_ctx = engine.n_ctx
        self.constraint = job.constraint
        self.sampler = engine.new_sampler(settings)

    @property
    def prefilling(self) -> bool:
        return self.fed < len(self.job.prompt)

    @property
    def position(self) -> int:
        """The position of the next token to decode."""
        return len(self.job.prompt) + self.produced - 1 if self.pending is not None else self.fed

    def next_tokens(self, budget: int) -> list[int]:
        """What this sequence puts in the next batch: its pending token, or up to ``budget``
        prompt tokens."""
        if self.pending is not None:
            return [self.pending]
        return self.job.prompt[self.fed : self.fed + budget]

    def advance(self, n: int) -> bool:
        """``n`` of :meth:`next_tokens` were decoded; True if logits are due (sample now)."""
        if self.pending is not None:
            self.pending = None
            return True
        self.fed += n
        return not self.prefilling

    def sample(self, engine: LlamaEngine, index: int) -> StopReason | None:
        """Sample from output ``index`` and emit its text; the stop reason if the request ended."""
        job = self.job
        constraint = self.constraint
        if constraint is not None:
            constraint.mask(engine.logits(index))
        token = engine.sample(self.sampler, index)
        if constraint is not None:
            constraint.accept(token)
        self.produced += 1
        if engine.is_eog(token):
            return "end_turn"
        shown = job.shown.get(token)
        delta = self.text.feed(engine.piece(token) if shown is None else shown)
        if delta:
            job.channel.put(TextDelta(delta))
        if self.text.stopped:
            return "stop_sequence" if self.text.matched_stop is not None else "end_turn"
        if constraint is not None and constraint.is_finished():
            return "end_turn"
        if self.produced >= self.max_new or len(job.prompt) + self.produced - 1 >= self.n_ctx:
            return "max_tokens"
        if job.cancelled.is_set():
            return "cancelled"
        self.check_deadline()
        self.pending = token
        return None

    def check_deadline(self) -> None:
        if not self.job.expired():
            return
        if self.prefilling:
            raise RequestTimeoutError("the request's deadline passed during prompt processing")
        raise RequestTimeoutError(
            f"the request's deadline passed after {self.produced} generated tokens"
        )

    def finish(self, reason: StopReason) -> None:
        """Emit the held-back text and the final :class:`Done`."""
        text = self.text
        tail = "" if text.stopped else text.finish()
        if tail:
            self.job.channel.put(TextDelta(tail))
        gate = self.constraint
        thinking = gate.thinking_tokens if isinstance(gate, ThinkingGate) else 0
        usage = Usage(
            len(self.job.prompt), self.produced, cached_tokens=self.cached, thinking_tokens=thinking
        )
        self.job.channel.put(
            Done(
                reason,
                usage,
                stop_sequence=text.matched_stop,
                model=self.job.model_name,
                model_name=self.job.gguf_name,
            )
        )

    def close(self) -> None:
        self.sampler.close()
        if self.constraint is not None:
            self.constraint.close()
            self.constraint = None
