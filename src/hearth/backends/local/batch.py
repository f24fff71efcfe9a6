"""One decode step's tokens, and the decoding state of one request inside the batch.

:class:`TokenBatch` fills a native ``llama_batch`` (each token in one sequence, logits only where
asked). :class:`Sequence` is one running request: the part of its prompt still to evaluate, the
token it sampled last, its own sampler chain, constraint and stop-string state. The scheduler
puts every running sequence into one batch per step; after the decode each sequence whose
logits were computed samples its next token from its own row of the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import llama_cpp.llama_cpp as lib

from hearth.backends.local.textstream import TextStream
from hearth.errors import RequestTimeoutError
from hearth.events import Done, StopReason, TextDelta, Usage

if TYPE_CHECKING:
    from hearth.backends.local.engine import LlamaEngine
    from hearth.backends.local.scheduler import GenerationJob


class TokenBatch:
    """A reusable ``llama_batch`` of up to ``capacity`` tokens, one sequence id per token."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.native = lib.llama_batch_init(capacity, 0, 1)
        self.native.n_tokens = 0

    def __len__(self) -> int:
        return int(self.native.n_tokens)

    @property
    def room(self) -> int:
        return self.capacity - int(self.native.n_tokens)

    def clear(self) -> None:
        self.native.n_tokens = 0

    def add(self, tokens: list[int], start: int, seq: int, *, logits: bool) -> int:
        """Append ``tokens`` of sequence ``seq`` at positions ``start…``. With ``logits``, the
        last one's logits are computed; returns its index in the batch (the output index)."""
        b = self.native
        n = int(b.n_tokens)
        if n + len(tokens) > self.capacity:
            raise ValueError(f"{len(tokens)} tokens do not fit in a batch with {self.room} free")
        for i, tok in enumerate(tokens, n):
            b.token[i] = tok
            b.pos[i] = start + i - n
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 0
        last = n + len(tokens) - 1
        b.logits[last] = 1 if logits else 0
        b.n_tokens = last + 1
        return last

    def close(self) -> None:
        if self.native is not None:
            lib.llama_batch_free(self.native)
            self.native = None


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
        delta = self.text.feed(engine.piece(token))
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
        usage = Usage(len(self.job.prompt), self.produced, cached_tokens=self.cached)
        self.job.channel.put(
            Done(reason, usage, stop_sequence=text.matched_stop, model=self.job.model_name)
        )

    def close(self) -> None:
        self.sampler.close()
        if self.constraint is not None:
            self.constraint.close()
            self.constraint = None
