"""The engine's single owner: a worker thread that decodes every running request together.

llama.cpp contexts are not thread-safe, so every decode happens on one worker thread. Callers
(sync threads or asyncio tasks) submit a :class:`GenerationJob` and read its events from the job's
channel. A full queue is refused with :class:`OverloadedError`: at once, or, when the caller
chose to wait (``submit(job, wait=seconds)``), once no slot opened in that time (a bounded
channel's backpressure).

Continuous batching: the context holds ``slots`` sequences. Jobs wait in a bounded FIFO queue
until a slot is free; between two decode steps the worker admits as many as there are free slots.
Each step is one ``llama_decode`` of a single batch of at most ``step_tokens`` tokens: one for
every sequence that is generating, the rest filled with prompt tokens of sequences still reading
their prompt (the oldest first), so a long prompt never stalls the streams already running. Every
generating sequence gets exactly one token per step: nobody starves. A sequence leaves the batch
as soon as it ends (end of turn, stop string, max_tokens, cancelled, deadline passed). Its KV
stays for the prefix cache (:mod:`hearth.backends.local.prefix`): in its cells while other
sequences run, then, once nothing runs, copied out to host memory with its cells freed, because
every decode step attends over the whole used range of the unified cache and idle cells would
slow every later request down. A request that reuses it gets it copied back (a memcpy).

A cancelled job stops before its next token; a job whose deadline passes (queued or running) ends
with :class:`RequestTimeoutError`. An exception inside one job is delivered to that job's consumer
and never kills the worker or disturbs the other sequences.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from dataclasses import replace

from hearth.backends.local.batch import TokenBatch
from hearth.backends.local.channel import held_wakeups
from hearth.backends.local.choices import ChoiceGroup
from hearth.backends.local.draft_model import DraftModel
from hearth.backends.local.engine import LlamaEngine, Snapshot
from hearth.backends.local.job import GenerationJob, Sequence
from hearth.backends.local.logprobs import RowLogprobs
from hearth.backends.local.prefix import SlotTable
from hearth.backends.local.speculation import SpeculativeMode
from hearth.backends.local.vision import ImageSpan, Projector
from hearth.errors import InvalidRequestError, OverloadedError, RequestTimeoutError
from hearth.events import Done, StopReason, Usage

DRAFT_WHILE_AT_MOST = 2
"""Sequences drafting is worth it beside: one or two streams leave a CPU decode bound by reading
the weights, so verifying drafts in the same step is nearly free; with more, the step is bound by
compute and rejected drafts cost what accepted ones save (measured: 8 sampled streams lost 17%
of their aggregate tok/s with drafting on)."""

DEFAULT_MAX_QUEUE = 64

# ggml's CPU kernels compute a row the same whatever else is in the batch only while the batch
# has fewer than 64 tokens (measured on SmolLM2 Q4_1; see docs/local-engine.md). Keeping every
# step below that makes a request's output independent of what else runs and of the prefix cache.
DEFAULT_STEP_TOKENS = 63


_STOP = object()


class Scheduler:
    """Runs jobs on ``engine``, all running ones decoded together, admitted in FIFO order.

    ``prefix_cache`` is the number of tokens idle slots may keep for reuse (0: off; None: half
    the context if the model's kernels are batch-invariant, so reuse cannot change an output,
    else off). ``step_tokens`` caps the tokens of one decode step (generating sequences
    first, then prompt chunks). ``speculative``: ``"ngram"`` drafts by prompt lookup
    (:mod:`hearth.backends.local.speculation`), or with ``draft_model`` when one is given
    (:mod:`hearth.backends.local.draft_model`, closed with the scheduler); ``"off"`` does not."""

    def __init__(
        self,
        engine: LlamaEngine,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        prefix_cache: int | None = None,
        step_tokens: int = DEFAULT_STEP_TOKENS,
        speculative: SpeculativeMode = "ngram",
        projector: Projector | None = None,
        draft_model: DraftModel | None = None,
    ) -> None:
        self.engine = engine
        self.projector = projector  # a vision model's: feeds the images of prompts
        self.speculative = speculative
        self.draft_model = draft_model
        self._queue: queue.Queue[GenerationJob | object] = queue.Queue(maxsize=max_queue)
        self._max_queue = max_queue
        self._slots = SlotTable(engine.slots, prefix_cache or 0)
        if step_tokens <= engine.slots:
            raise InvalidRequestError(
                f"step_tokens ({step_tokens}) must be larger than slots ({engine.slots})"
            )
        self._batch = TokenBatch(min(step_tokens, engine.n_batch))
        self._running: list[Sequence] = []
        self._held: GenerationJob | None = None  # the next job, waiting for enough free slots
        self._saved: dict[int, Snapshot] = {}  # idle slot -> its KV, held in host memory
        self._closed = False
        self.tokens_generated = 0
        # Every llama_decode runs on the worker thread, the batch-invariance probe included:
        # ggml's OpenMP build keeps a team of threads per calling thread, and a second team
        # (idle, but counted) makes libgomp cut its spin-waits short, so every decode step sleeps
        # in futex calls at its barriers. Probing on the caller's thread slowed decoding ~10%.
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(prefix_cache is None,), name="hearth-engine", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._batch.close()
            if projector is not None:
                projector.close()
            if draft_model is not None:
                draft_model.close()
            raise self._startup_error
        # Stop decoding before the interpreter tears down what the worker thread uses.
        atexit.register(self.close)

    # -- the caller's side ---------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a free slot."""
        return self._queue.qsize()

    @property
    def running(self) -> tuple[GenerationJob, ...]:
        """The jobs being decoded, oldest first (a job with several answers once)."""
        return tuple(dict.fromkeys(seq.job for seq in list(self._running)))

    @property
    def active(self) -> GenerationJob | None:
        """The oldest running job; None when the engine is idle."""
        running = self.running
        return running[0] if running else None

    @property
    def cached_tokens(self) -> int:
        """Tokens kept in idle slots for the prefix cache."""
        return self._slots.cached

    def submit(self, job: GenerationJob, *, wait: float = 0.0) -> None:
        """Queue ``job``. A full queue raises OverloadedError at once, or after ``wait``
        seconds without a free place (capped by the job's deadline); this blocks the calling
        thread while it waits."""
        if self._closed:
            raise RuntimeError("the model has been closed")
        if job.deadline is not None:
            wait = min(wait, max(job.deadline - time.monotonic(), 0.0))
        try:
            if wait > 0:
                self._queue.put(job, timeout=wait)
            else:
                self._queue.put_nowait(job)
        except queue.Full:
            state = f"stayed full for {wait:g} s" if wait > 0 else "is full"
            raise OverloadedError(
                f"the local model's request queue {state} ({self._max_queue} waiting); retry "
                "later, raise max_queue, or let requests wait for a place (queue_timeout=)",
                retry_after=1.0,
            ) from None

    def close(self, timeout: float = 10.0) -> None:
        """Cancel the running jobs, stop the worker, then free the engine."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for job in self.running:
            job.cancel()
        held = self._held
        if held is not None:
            held.cancel()
        self._drain_pending()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._batch.close()
            if self.projector is not None:
                self.projector.close()
            self.engine.close()
            if self.draft_model is not None:
                self.draft_model.close()

    def _drain_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, GenerationJob):
                item.channel.put(RuntimeError("the model was closed before this request ran"))

    # -- the worker ----------------------------------------------------------------------------

    def _run(self, probe: bool) -> None:
        try:
            if probe:  # automatic prefix cache: only when reuse cannot change an output
                invariant = self.engine.batch_invariant()
                self._slots.budget = self.engine.n_ctx // 2 if invariant else 0
        except BaseException as exc:  # raised by the constructor, on the caller's thread
            self._startup_error = exc
            return
        finally:
            self._ready.set()
        while self._admit():
            with held_wakeups():  # one wake-up per event loop per step, once all have sampled
                self._sweep()
                if self._running:
                    try:
                        self._step()
                    except BaseException as exc:  # the engine failed: every running job gets it
                        self._fail_all(exc)
        for seq in list(self._running):
            self._end(seq, "cancelled")

    def _admit(self) -> bool:
        """Move queued jobs into free slots (waiting for one if nothing runs); False on stop.
        A job asking for several answers waits, first in line, until it has a slot for each."""
        while self._slots.idle:
            item: GenerationJob | object | None = self._held
            if item is None:
                try:
                    item = self._queue.get(block=not self._running)
                except queue.Empty:
                    return True
            self._held = None
            if not isinstance(item, GenerationJob):
                return False
            ready = item.cancelled.is_set() or item.expired()
            if item.choices > self._slots.idle and not ready:
                self._held = item
                return True
            if item.cancelled.is_set():
                item.channel.put(
                    Done(
                        "cancelled",
                        Usage(len(item.prompt), 0),
                        model=item.model_name,
                        model_name=item.gguf_name,
                    )
                )
            elif item.expired():
                item.channel.put(
                    RequestTimeoutError(
                        "the request's deadline passed while it waited in the queue"
                    )
                )
            else:
                try:
                    self._start(item)
                except BaseException as exc:  # delivered to the caller; the worker lives on
                    item.channel.put(exc)
        return True

    def _start(self, job: GenerationJob) -> None:
        if not job.prompt:
            raise InvalidRequestError("the prompt has no tokens; a local model needs at least one")
        plan = self._slots.plan(job.prompt)
        assert plan is not None  # _admit only starts jobs when a slot is idle
        if job.settings.prompt_logprobs:  # every prompt token's logits are needed
            plan = replace(plan, reuse=0)
        if job.images is not None:  # an image's KV is reused whole or not at all
            plan = replace(plan, reuse=job.images.clamp(plan.reuse))
        if not self._place(plan.slot, plan.source, plan.reuse):
            plan = replace(plan, reuse=0)
        group = ChoiceGroup(job.choices, job.channel) if job.choices > 1 else None
        seq = Sequence(job, plan.slot, plan.reuse, self.engine, group=group)
        if self.speculative == "ngram":
            seq.speculate(lookup=self.draft_model is None)
        self._slots.start(plan, job.prompt)
        self._running.append(seq)
        for choice in range(1, job.choices):  # they take the prompt's KV from seq (_fork)
            other = self._slots.plan(())
            assert other is not None  # _admit made sure there is a slot for each
            self._place(other.slot, None, 0)
            self._slots.start(other, ())
            sibling = Sequence(job, other.slot, 0, self.engine, choice=choice, group=group)
            seq.siblings.append(sibling)
            self._running.append(sibling)

    def _fork(self, seq: Sequence, index: int) -> RowLogprobs | None:
        """``seq`` has read its prompt: the answers waiting for it take that prompt's KV and
        sample their first token from output ``index``, as ``seq`` will. Returns that output's
        log-probabilities when they are asked for (read before any answer's grammar masks it)."""
        siblings, seq.siblings = seq.siblings, []
        if not siblings:
            return None
        engine = self.engine
        row = None if seq.logprobs is None else RowLogprobs(engine.logits(index), engine.n_vocab)
        prompt = seq.job.prompt
        for sibling in siblings:
            if sibling in self._running:
                engine.seq_copy(seq.slot, sibling.slot, len(prompt))  # the same cells, tagged
                self._slots.extend(sibling.slot, prompt)
                self._sample(sibling, index, row)
        return row

    def _place(self, slot: int, source: int | None, reuse: int) -> bool:
        """Make sequence ``slot`` hold the first ``reuse`` tokens of ``source`` (None: of what
        ``slot`` itself holds), from cells in the cache or from a saved copy. False if that
        failed (``slot`` is left empty)."""
        engine = self.engine
        own = self._saved.pop(slot, None)
        if source is not None or own is not None or reuse == 0:
            engine.seq_remove(slot)  # what it held is not reused in place
        if reuse == 0:
            return True
        snapshot = own if source is None else self._saved.get(source)
        if snapshot is None:  # the tokens are in cells
            if source is None:
                return engine.seq_remove(slot, reuse) or not engine.seq_remove(slot)
            engine.seq_copy(source, slot, reuse)  # shares the cells, copies nothing
            return True
        if engine.seq_restore(slot, snapshot) and engine.seq_remove(slot, reuse):
            return True
        engine.seq_remove(slot)
        return False

    def _sweep(self) -> None:
        """End the sequences whose job was cancelled or whose deadline passed."""
        for seq in list(self._running):
            if seq.job.cancelled.is_set():
                self._end(seq, "cancelled")
                continue
            try:
                seq.check_deadline()
            except RequestTimeoutError as exc:
                self._fail(seq, exc)

    def _step(self) -> None:
        """One decode of every running sequence, then one sample for each that is due."""
        batch = self._batch
        batch.clear()
        plan: list[tuple[Sequence, int, int]] = []  # (sequence, tokens, its last one's index)
        drafts: dict[Sequence, list[int]] = {}  # the drafted tokens verified in this step
        generating = [seq for seq in self._running if seq.pending is not None]
        if len(self._running) <= DRAFT_WHILE_AT_MOST:  # a token is kept for each generating
            drafts = self._propose(generating, batch.room - len(generating))
        for seq in generating:
            draft = drafts.get(seq, [])
            tokens = seq.next_tokens(1) + draft
            index = batch.add(tokens, seq.position, seq.slot, logits=True, every=bool(draft))
            plan.append((seq, len(tokens), index))
        budget = batch.room
        image: tuple[Sequence, ImageSpan] | None = None  # one image a step: others wait less
        for seq in self._running:
            if budget <= 0:
                break
            span = seq.image_due()
            if span is not None:
                image = image or (seq, span)
                continue
            if seq.pending is None and seq.prefilling:
                tokens = seq.next_tokens(budget)
                last = seq.fed + len(tokens) == len(seq.job.prompt)
                every = seq.wants_prompt_logprobs
                index = batch.add(tokens, seq.position, seq.slot, logits=last, every=every)
                plan.append((seq, len(tokens), index))  # sampled from only when last
                budget -= len(tokens)
        if image is not None:
            self._feed_image(*image)
        if not len(batch) or not self._decode(batch):
            return
        for seq, n, index in plan:
            verified = drafts.get(seq)
            if verified:
                self._verify(seq, verified, index - len(verified))
                continue
            if seq.pending is None and seq.wants_prompt_logprobs:
                seq.read_prompt_logprobs(self.engine, index - n + 1, n)
            self._slots.extend(seq.slot, seq.next_tokens(n))
            if seq.advance(n):
                self._sample(seq, index, self._fork(seq, index))

    def _feed_image(self, seq: Sequence, span: ImageSpan) -> None:
        """Encode the image ``seq`` has reached and decode it into its KV, freeing cached
        prefixes if the cache is full; a failure ends ``seq`` only."""
        assert self.projector is not None  # a job has images only on a vision model
        try:
            while not self.projector.feed(span, seq.slot):
                if not (self._offload() or self.engine.free_scratch()):
                    raise OverloadedError(
                        f"the local model's KV cache ({self.engine.n_ctx} tokens) has no room "
                        f"for an image of {span.n} tokens; retry later, or load the model "
                        "with a larger n_ctx",
                        retry_after=1.0,
                    )
        except BaseException as exc:  # delivered to that caller; the others go on
            self._fail(seq, exc, keep=False)
            return
        self._slots.extend(seq.slot, seq.job.prompt[span.start : span.end])
        seq.advance(span.n)

    def _propose(self, generating: list[Sequence], room: int) -> dict[Sequence, list[int]]:
        """The drafts of the ``generating`` sequences that speculate, ``room`` tokens in all:
        by the draft model, else each by prompt lookup."""
        if self.draft_model is not None:
            return self.draft_model.propose(generating, room)
        drafts: dict[Sequence, list[int]] = {}
        for seq in generating:
            draft = seq.draft(room)
            if draft:
                drafts[seq] = draft
                room -= len(draft)
        return drafts

    def _decode(self, batch: TokenBatch) -> bool:
        """Decode ``batch``. When the KV cache is full, the cached prefixes still in it move to
        host memory; if there are none, the newest running sequence is refused and False
        returned (the step is rebuilt without it)."""
        while not self.engine.decode(batch):
            if self._offload() or self.engine.free_scratch():
                continue
            newest = self._running[-1]
            self._fail(
                newest,
                keep=False,
                exc=OverloadedError(
                    f"the local model's KV cache ({self.engine.n_ctx} tokens) is full with "
                    f"{len(self._running)} requests running; retry later, or load the model with "
                    "a larger n_ctx",
                    retry_after=1.0,
                ),
            )
            return False
        return True

    def _sample(self, seq: Sequence, index: int, row: RowLogprobs | None = None) -> None:
        try:
            reason = seq.sample(self.engine, index, row)
        except BaseException as exc:  # delivered to that caller; the others go on
            self.tokens_generated += 1
            self._fail(seq, exc)
            return
        self.tokens_generated += 1
        if reason is not None:
            self._end(seq, reason)

    def _verify(self, seq: Sequence, draft: list[int], first: int) -> None:
        """``seq``'s pending token and ``draft`` were decoded, outputs ``first…``: sample each
        position with the sequence's own chain, keeping drafted tokens while the sampled token
        equals them; the first that differs is the next pending token. The rejected drafts'
        KV is removed, and the text only ever sees sampled tokens."""
        start = seq.position  # the pending token's
        self._slots.extend(seq.slot, seq.next_tokens(1))
        seq.advance(1)
        accepted = 0
        reason: StopReason | None = None
        error: BaseException | None = None
        try:
            for i in range(len(draft) + 1):
                self.tokens_generated += 1
                reason = seq.sample(self.engine, first + i)
                if reason is not None or i == len(draft) or seq.pending != draft[i]:
                    break
                accepted += 1  # its KV is in place: the next position's logits follow it
                self._slots.extend(seq.slot, draft[i : i + 1])
                seq.pending = None
        except BaseException as exc:  # delivered to that caller; the others go on
            error = exc
        if accepted < len(draft):
            self.engine.seq_discard(seq.slot, start + 1 + accepted)
        if seq.spec is not None:
            seq.spec.control.record(len(draft), accepted)
        if error is not None:
            self._fail(seq, error)
        elif reason is not None:
            self._end(seq, reason)

    def _end(self, seq: Sequence, reason: StopReason) -> None:
        """Finish ``seq`` normally; its KV is kept for the prefix cache."""
        self._running.remove(seq)
        try:
            seq.finish(reason)
        finally:
            self._leave(seq, keep=True)

    def _fail(self, seq: Sequence, exc: BaseException, *, keep: bool = True) -> None:
        """End ``seq`` with ``exc``. Its KV (all of it computed, so valid) stays cached unless
        ``keep`` is False."""
        self._running.remove(seq)
        self._leave(seq, keep=keep)
        seq.job.channel.put(exc)
        if seq.group is not None:  # the request failed: its other answers stop too
            seq.job.cancel()

    def _leave(self, seq: Sequence, *, keep: bool) -> None:
        """``seq`` is done: its KV stays for the prefix cache (unless ``keep`` is False); when
        nothing runs any more, the cached KV moves out of the cache (:meth:`_offload`)."""
        seq.close()
        self._slots.release(seq.slot, keep=keep)
        for slot in self._slots.over_budget():
            self._drop(slot)
        if not self._slots.tokens(seq.slot):
            self._drop(seq.slot)
        if not self._running:
            self._offload()
            self.engine.free_scratch()  # rejected drafts' cells: the cache is empty again

    def _drop(self, slot: int) -> None:
        self._saved.pop(slot, None)
        self.engine.seq_remove(slot)

    def _offload(self) -> bool:
        """Copy the idle slots' KV to host memory and free their cells; True if any were freed.

        Every decode step attends over the cache's whole used range, so idle prefixes left in it
        slow down every request that runs later (SmolLM2: about 20% at 4,096 idle tokens);
        copying one back costs a memcpy. Done when nothing runs (the cache is then empty) and
        when the cache is full, not otherwise: freeing cells under running sequences leaves
        holes that later tokens fill out of position order, which can change their outputs
        (docs/local-engine.md)."""
        freed = False
        for slot in range(len(self._slots)):
            if not self._slots.busy(slot) and self._slots.tokens(slot) and slot not in self._saved:
                freed = True
                snapshot = self.engine.seq_save(slot)
                if snapshot is None:
                    self._slots.clear(slot)
                else:
                    self._saved[slot] = snapshot
                self.engine.seq_remove(slot)
        return freed

    def _fail_all(self, exc: BaseException) -> None:
        for seq in list(self._running):
            self._running.remove(seq)
            seq.close()
            self._slots.release(seq.slot, keep=False)
            seq.job.channel.put(exc)
        for slot in range(len(self._slots)):
            self._slots.clear(slot)
        self._saved.clear()
        self.engine.clear()
