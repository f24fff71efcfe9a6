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
from hearth.backends.local.choices import ChoiceGroup, choice_settings
from hearth.backends.local.logprobs import RowLogprobs, first_token, token_logprob
from hearth.backends.local.speculation import Speculation
from hearth.backends.local.textstream import TextStream
from hearth.backends.local.thinking_budget import ThinkingGate
from hearth.errors import RequestTimeoutError
from hearth.events import Done, StopReason, TextDelta, Usage
from hearth.logprobs import TokenLogprob
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.backends.local.constraints import Constraint
    from hearth.backends.local.engine import LlamaEngine
    from hearth.backends.local.vision import ImagePrompt, ImageSpan


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
    choices: int = 1
    """How many answers to sample from the prompt (``n``), each in its own slot."""
    sibling_constraints: tuple[Constraint | None, ...] = ()
    """The constraints of answers 1 … n-1 (``constraint`` is answer 0's): one each, since a
    grammar matcher holds the state of the text it has accepted."""
    images: ImagePrompt | None = None
    """The prompt's images (a vision model's): where each sits in ``prompt``, whose positions
    there hold pseudo tokens (:mod:`hearth.backends.local.vision`)."""

    def cancel(self) -> None:
        self.cancelled.set()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


class Sequence:
    """One request being decoded in sequence ``slot``; its first ``cached`` prompt tokens were
    already in the KV cache."""

    def __init__(
        self,
        job: GenerationJob,
        slot: int,
        cached: int,
        engine: LlamaEngine,
        *,
        choice: int = 0,
        group: ChoiceGroup | None = None,
    ) -> None:
        self.job = job
        self.slot = slot
        self.cached = cached
        self.fed = cached  # prompt tokens whose KV is computed
        self.pending: int | None = None  # the last sampled token, not yet decoded
        self.produced = 0
        self.choice = choice
        self.group = group
        self.siblings: list[Sequence] = []  # choice 0's: the answers that wait for its prompt
        if choice:  # waits, neither reading the prompt nor generating, until forked
            self.fed = len(job.prompt)
        settings = choice_settings(job.settings, choice)
        self.text = TextStream(settings.stop, hidden_stop=job.hidden_stop)
        self.max_new = settings.max_tokens if settings.max_tokens is not None else engine.n_ctx
        self.n_ctx = engine.n_ctx
        self.constraint = job.sibling_constraints[choice - 1] if choice else job.constraint
        self.sampler = engine.new_sampler(settings)
        self.logprobs: list[TokenLogprob] | None = [] if settings.wants_logprobs else None
        self.top_logprobs = settings.top_logprobs or 0
        self.prompt_logprobs: list[TokenLogprob] | None = None
        if settings.prompt_logprobs and not choice:  # the whole prompt is read (cached = 0)
            self.prompt_logprobs = [first_token(engine, job.prompt[0])] if cached == 0 else []
        self.spec: Speculation | None = None  # drafting state, when this sequence speculates

    def speculate(self, *, lookup: bool = True) -> None:
        """Draft from now on (by prompt lookup; with ``lookup`` False, a draft model drafts),
        unless this sequence samples under something whose state a draft would complicate: a
        constraint, log-probabilities, several answers."""
        plain = self.constraint is None and self.logprobs is None and self.group is None
        if plain and self.prompt_logprobs is None:
            prompt = self.job.prompt
            if self.job.images is not None:  # an image's pseudo tokens are never drafted
                if not lookup:
                    return  # and a text-only draft model cannot read the image
                prompt = [token for token in prompt if token >= 0]
            self.spec = Speculation(prompt, lookup=lookup)

    def draft_room(self, room: int) -> int:
        """How many tokens may be drafted after the pending one now (at most ``room``; 0 when
        not speculating), kept within ``max_tokens`` and the context window."""
        if self.spec is None or self.pending is None:
            return 0
        return max(0, min(room, self.max_new - self.produced - 1, self.n_ctx - 1 - self.position))

    def draft(self, room: int) -> list[int]:
        """The tokens to verify after the pending one by prompt lookup (at most ``room``; none
        when not speculating)."""
        room = self.draft_room(room)
        return self.spec.propose(room) if self.spec is not None and room > 0 else []

    @property
    def wants_prompt_logprobs(self) -> bool:
        """Whether each prompt token's logits are due (for ``prompt_logprobs``)."""
        return self.prompt_logprobs is not None

    def read_prompt_logprobs(self, engine: LlamaEngine, first: int, n: int) -> None:
        """Outputs ``first…first+n-1`` hold the logits of the ``n`` prompt tokens just decoded
        (from ``fed``): each gives the next prompt token's log-probability."""
        out = self.prompt_logprobs
        assert out is not None
        prompt = self.job.prompt
        for j in range(n):
            at = self.fed + j + 1
            if at < len(prompt):
                row = RowLogprobs(engine.logits(first + j), engine.n_vocab)
                out.append(token_logprob(engine, row, prompt[at], self.top_logprobs))

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
        end = self.fed + budget
        images = self.job.images
        if images is not None:  # text stops where an image starts (fed by the projector)
            end = images.text_end(self.fed, end)
        return self.job.prompt[self.fed : end]

    def image_due(self) -> ImageSpan | None:
        """The image this sequence reads next, when its prompt is at one."""
        images = self.job.images
        if images is None or self.pending is not None or not self.prefilling:
            return None
        return images.at(self.fed)

    def advance(self, n: int) -> bool:
        """``n`` of :meth:`next_tokens` were decoded; True if logits are due (sample now)."""
        if self.pending is not None:
            self.pending = None
            return True
        self.fed += n
        return not self.prefilling

    def sample(
        self, engine: LlamaEngine, index: int, row: RowLogprobs | None = None
    ) -> StopReason | None:
        """Sample from output ``index`` and emit its text; the stop reason if the request ended.
        ``row``: that output's log-probabilities, taken before any sequence masked it (answers
        that share the prompt sample from the same row)."""
        job = self.job
        constraint = self.constraint
        # before the mask: the model's own distribution (docs/local-engine.md)
        if self.logprobs is None:
            row = None
        elif row is None:
            row = RowLogprobs(engine.logits(index), engine.n_vocab)
        if constraint is not None:
            constraint.mask(engine.logits(index))
        token = engine.sample(self.sampler, index)
        if constraint is not None:
            constraint.accept(token)
        self.produced += 1
        if self.spec is not None:
            self.spec.drafter.push(token)
        if engine.is_eog(token):
            return "end_turn"
        if row is not None and self.logprobs is not None:
            self.logprobs.append(token_logprob(engine, row, token, self.top_logprobs))
        shown = job.shown.get(token)
        delta = self.text.feed(engine.piece(token) if shown is None else shown)
        if delta:
            job.channel.put(TextDelta(delta, logprobs=self._take_logprobs(), choice=self.choice))
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
        held = self._take_logprobs()
        if text.matched_stop is not None:
            held = ()  # the tokens of the stop string, whose text is not returned
        if tail or held:
            self.job.channel.put(TextDelta(tail, logprobs=held, choice=self.choice))
        gate = self.constraint
        thinking = gate.thinking_tokens if isinstance(gate, ThinkingGate) else 0
        prompt_logprobs = self.prompt_logprobs
        spec = self.spec
        usage = Usage(
            len(self.job.prompt),
            self.produced,
            cached_tokens=self.cached,
            thinking_tokens=thinking,
            drafted_tokens=0 if spec is None else spec.drafted,
            accepted_tokens=0 if spec is None else spec.accepted,
        )
        done = Done(
            reason,
            usage,
            stop_sequence=text.matched_stop,
            model=self.job.model_name,
            model_name=self.job.gguf_name,
            prompt_logprobs=None if prompt_logprobs is None else tuple(prompt_logprobs),
        )
        if self.group is None:
            self.job.channel.put(done)
        else:
            self.group.finish(self.choice, done)

    def _take_logprobs(self) -> tuple[TokenLogprob, ...]:
        """The log-probabilities of the tokens sampled since the last delta."""
        if not self.logprobs:
            return ()
        taken = tuple(self.logprobs)
        self.logprobs.clear()
        return taken

    def close(self) -> None:
        self.sampler.close()
        if self.job.images is not None and not self.choice:
            self.job.images.close()
        if self.constraint is not None:
            self.constraint.close()
            self.constraint = None
