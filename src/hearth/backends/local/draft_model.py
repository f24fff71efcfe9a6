"""Speculative decoding with a draft model: a small model with the target's vocabulary drafts.

``hearth.model("local:qwen2.5-7b", draft_model="qwen2.5-0.5b")`` loads the draft model beside
the target, with its own llama.cpp context (the target's threads and slots, a window of the
target's size or the draft's trained length if that is shorter) after checking that the two
share a vocabulary (:mod:`hearth.backends.local.draft_pairing`).

The draft context holds each drafting sequence's tokens under the target's sequence id for it
(its slot), so a sequence's next draft only evaluates what is new since the last. At each step,
for the sequences that draft (each given its length by its own
:class:`~hearth.backends.local.speculation.DraftController`), :class:`DraftModel` first brings
their draft KV up to their tokens (dropping what the target rejected, evaluating what the target
accepted and the token it sampled in place of a rejected one), then drafts greedily: one small
decode per drafted token, batched across the sequences. A sequence sampled with repetition
penalties (SmolLM2's catalogue entry sets ``repeat_penalty``) drafts under the same penalties,
over the same tokens (its last generated ones), since the target's choice is made under them.
The drafts then go through the same verification as prompt lookup's
(:meth:`~hearth.backends.local.scheduler.Scheduler._verify`): the emitted tokens are the
target's own, so greedy output is unchanged and sampling keeps the target's distribution
whatever the draft model proposes.

What the draft KV holds is tracked per slot as a token list; before each draft it is cut to the
longest common prefix with the sequence's tokens. This also reuses a previous request's draft KV
when a new one in the same slot starts with the same tokens (a conversation's next turn), as the
target's prefix cache does. A finished request's draft KV stays until the cache is full; then
the KV of sequences not drafting is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import llama_cpp.llama_cpp as lib

from hearth.backends.local.batch import TokenBatch
from hearth.backends.local.draft_pairing import check_pairing
from hearth.backends.local.engine import EngineConfig, LlamaEngine
from hearth.backends.local.prefix import common_prefix
from hearth.backends.local.sampler import PENALTY_LAST_N, Sampler
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.accelerator import AcceleratorOptions
    from hearth.backends.local.job import Sequence


BATCH_TOKENS = 63
"""The most tokens of one draft decode: below 64, as the target's steps are (the scheduler's
``DEFAULT_STEP_TOKENS``), where ggml's CPU kernels compute a row the same whatever else is in
the batch. A prompt read in larger batches takes another kernel whose logits differ by up to
about one unit (measured on SmolLM2 Q4_1), enough to flip a close choice: SmolLM2 drafting for
itself then had a draft in seven rejected, against none in chunks of 63."""


class DraftCacheFullError(Exception):
    """The draft context has no room for a step's drafts (internal: that step drafts none)."""


@dataclass(eq=False)
class _Wanted:
    """One sequence's draft this step: ``k`` tokens after ``tokens`` (its last one pending)."""

    slot: int
    tokens: list[int]
    k: int
    sampler: Sampler | None  # None: plain greedy
    draft: list[int] = field(default_factory=list)
    done: bool = False


class _EngineVocabulary:
    """A loaded engine's vocabulary, as :func:`~hearth.backends.local.draft_pairing.check_pairing`
    reads it."""

    def __init__(self, engine: LlamaEngine) -> None:
        self._engine = engine
        self.n_vocab = engine.n_vocab
        self.vocab_type = int(lib.llama_vocab_type(engine.vocab_handle))
        self.bos_id = engine.bos_id
        self.eos_id = engine.eos_id
        self.add_bos = engine.add_bos

    def token_text(self, token: int) -> str:
        return self._engine.token_text(token)


class DraftModel:
    """A loaded draft model drafting for a target's sequences (on the target's worker thread).

    ``limit``: the target's vocabulary size; a drafted id at or past it ends the draft."""

    def __init__(self, engine: LlamaEngine, name: str, limit: int) -> None:
        self.engine = engine
        self.name = name
        self._limit = min(limit, engine.n_vocab)
        self._batch = TokenBatch(min(engine.n_batch, BATCH_TOKENS))
        self._greedy = engine.new_sampler(GenerationSettings(temperature=0.0))
        self._held: dict[int, list[int]] = {}  # slot -> the tokens its draft KV holds

    def propose(self, seqs: Iterable[Sequence], room: int) -> dict[Sequence, list[int]]:
        """Drafts for ``seqs`` (those that generate this step), within ``room`` batch tokens in
        all; each sequence's controller sizes its draft and counts a step without one."""
        wanted = self._wanted(seqs, room)
        if wanted:
            try:
                self._draft(list(wanted.values()))
            except DraftCacheFullError:
                for want in wanted.values():
                    want.draft = []
            except BaseException:  # what the KV holds is unknown: start again from nothing
                self._forget_all()
                raise
            finally:
                for want in wanted.values():
                    if want.sampler is not None:
                        want.sampler.close()
        drafts: dict[Sequence, list[int]] = {}
        for seq, want in wanted.items():
            assert seq.spec is not None
            if seq.spec.taken(want.draft):
                drafts[seq] = want.draft
        return drafts

    def _wanted(self, seqs: Iterable[Sequence], room: int) -> dict[Sequence, _Wanted]:
        """The sequences that draft now, each with its draft length (``room`` in all, and within
        the draft model's window)."""
        wanted: dict[Sequence, _Wanted] = {}
        for seq in seqs:
            spec = seq.spec
            k = seq.draft_room(room)
            if spec is None or k <= 0:
                continue
            tokens = spec.tokens
            k = min(spec.budget(k), self.engine.n_ctx + 1 - len(tokens))
            if k > 0:
                wanted[seq] = _Wanted(seq.slot, tokens, k, self._penalized(seq))
                room -= k
            else:
                spec.taken([])
        return wanted

    def _penalized(self, seq: Sequence) -> Sampler | None:
        """A greedy chain under ``seq``'s repetition penalties, having seen the tokens its own
        chain has (its last generated ones); None when it has no penalties."""
        s = seq.job.settings
        repeat = 1.0 if s.repeat_penalty is None else s.repeat_penalty
        if repeat == 1.0 and not s.frequency_penalty and not s.presence_penalty:
            return None
        penalties = GenerationSettings(
            temperature=0.0,
            repeat_penalty=s.repeat_penalty,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
        )
        sampler = Sampler(penalties, self.engine.n_vocab)
        assert seq.spec is not None
        generated = seq.spec.tokens[len(seq.job.prompt) :]
        for token in generated[-PENALTY_LAST_N:]:
            lib.llama_sampler_accept(sampler.handle, token)
        return sampler

    def _draft(self, wanted: list[_Wanted]) -> None:
        """Fill each ``want.draft`` with up to ``want.k`` greedy tokens."""
        live = {want.slot for want in wanted}
        feeds = [(want, self._sync(want)) for want in wanted]
        batch = self._batch
        while any(feed for _, feed in feeds):  # the new tokens, in as many decodes as needed
            batch.clear()
            due: list[tuple[_Wanted, int]] = []
            for i, (want, feed) in enumerate(feeds):
                if not feed or batch.room == 0:
                    continue
                chunk, rest = feed[: batch.room], feed[batch.room :]
                held = self._held[want.slot]
                index = batch.add(chunk, len(held), want.slot, logits=not rest)
                held.extend(chunk)
                feeds[i] = (want, rest)
                if not rest:
                    due.append((want, index))
            self._decode(live)
            self._take(due)
        while True:  # one more token for each draft that is not done
            going = [want for want in wanted if not want.done]
            if not going:
                return
            batch.clear()
            due = []
            for want in going:
                last = want.draft[-1]
                held = self._held[want.slot]
                due.append((want, batch.add([last], len(held), want.slot, logits=True)))
                held.append(last)
            self._decode(live)
            self._take(due)

    def _sync(self, want: _Wanted) -> list[int]:
        """Cut ``want``'s slot's draft KV to what it shares with the sequence's tokens (keeping
        at least the pending token to evaluate); the tokens to evaluate next."""
        held = self._held.setdefault(want.slot, [])
        keep = min(common_prefix(held, want.tokens), len(want.tokens) - 1)
        if keep < len(held):
            if not self.engine.seq_remove(want.slot, keep):
                self.engine.seq_remove(want.slot)
                keep = 0
            del held[keep:]
        return want.tokens[keep:]

    def _take(self, due: list[tuple[_Wanted, int]]) -> None:
        """Each ``want`` drafts the greedy token of output ``index``; done when it has ``k``,
        or drafted an end of generation (the target would stop there)."""
        engine = self.engine
        for want, index in due:
            token = engine.sample(want.sampler or self._greedy, index)
            if token >= self._limit:
                want.done = True
                continue
            want.draft.append(token)
            want.done = len(want.draft) >= want.k or engine.is_eog(token)

    def _decode(self, live: set[int]) -> None:
        """Decode the batch; when the draft cache is full, drop the KV of the slots not drafting
        and retry once, else raise :class:`DraftCacheFullError` (with every slot's KV dropped, since
        the batch's tokens are counted as held)."""
        if self.engine.decode(self._batch):
            return
        stale = [slot for slot in self._held if slot not in live]
        for slot in stale:
            self._forget(slot)
        if stale and self.engine.decode(self._batch):
            return
        self._forget_all()
        raise DraftCacheFullError

    def _forget(self, slot: int) -> None:
        self.engine.seq_remove(slot)
        del self._held[slot]

    def _forget_all(self) -> None:
        for slot in list(self._held):
            self._forget(slot)

    def close(self) -> None:
        self._greedy.close()
        self._batch.close()
        self.engine.close()


def trained_length(path: Path) -> int:
    """The context length a GGUF file's model was trained for (0 when its header does not say)."""
    from hearth.catalog.gguf_file import read_gguf

    info = read_gguf(path)
    length = info.metadata.get(f"{info.architecture or ''}.context_length")
    return length if isinstance(length, int) else 0


def load_draft(
    path: Path,
    name: str,
    target: LlamaEngine,
    target_name: str,
    *,
    accelerator: AcceleratorOptions,
    verbose: bool = False,
) -> DraftModel:
    """Load the draft model at ``path`` for ``target``: its own context of the target's slots
    and threads; refused (InvalidRequestError naming both) unless the vocabularies match."""
    trained = trained_length(path)
    n_ctx = min(target.n_ctx, trained) if trained > 0 else target.n_ctx
    engine = LlamaEngine(
        path,
        EngineConfig(
            n_ctx=n_ctx,
            n_threads=target.n_threads,
            n_batch=BATCH_TOKENS,  # what a draft decode takes at most (smaller buffers)
            slots=target.slots,
            verbose=verbose,
            accelerator=accelerator,
        ),
    )
    try:
        check_pairing(_EngineVocabulary(target), _EngineVocabulary(engine), target_name, name)
    except BaseException:
        engine.close()
        raise
    return DraftModel(engine, name, target.n_vocab)
