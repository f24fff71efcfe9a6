"""The engine's single owner: a worker thread with a bounded request queue.

llama.cpp contexts are not thread-safe, so every decode happens on one worker thread. Callers
(sync threads or asyncio tasks) submit a :class:`GenerationJob` and read its events from the job's
channel. A full queue is refused at once with :class:`OverloadedError`; a job whose deadline passes
(queued or running) ends with :class:`RequestTimeoutError`; a cancelled job stops before its next
token. An exception inside one job is delivered to that job's consumer and never kills the worker.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from dataclasses import dataclass, field

from hearth.backends.local.channel import Channel
from hearth.backends.local.engine import LlamaEngine
from hearth.backends.local.textstream import TextStream
from hearth.errors import OverloadedError, RequestTimeoutError
from hearth.events import Done, StopReason, TextDelta, Usage
from hearth.settings import GenerationSettings

DEFAULT_MAX_QUEUE = 64


@dataclass(eq=False)
class GenerationJob:
    """One request for the worker: prompt tokens in, events out through ``channel``."""

    prompt: list[int]
    settings: GenerationSettings
    channel: Channel
    hidden_stop: tuple[str, ...] = ()
    deadline: float | None = None
    model_name: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


_STOP = object()


class Scheduler:
    """Runs jobs on ``engine``, one at a time, in submission order."""

    def __init__(self, engine: LlamaEngine, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.engine = engine
        self._queue: queue.Queue[GenerationJob | object] = queue.Queue(maxsize=max_queue)
        self._max_queue = max_queue
        self._thread = threading.Thread(target=self._run, name="hearth-engine", daemon=True)
        self._closed = False
        self.active: GenerationJob | None = None
        self.tokens_generated = 0
        self._thread.start()
        # Stop decoding before the interpreter tears down what the worker thread uses.
        atexit.register(self.close)

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def submit(self, job: GenerationJob) -> None:
        if self._closed:
            raise RuntimeError("the model has been closed")
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise OverloadedError(
                f"the local model's request queue is full ({self._max_queue} waiting); "
                "retry later or raise max_queue",
                retry_after=1.0,
            ) from None

    def close(self, timeout: float = 10.0) -> None:
        """Cancel the running job, stop the worker, then free the engine."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self.active is not None:
            self.active.cancel()
        self._drain_pending()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.engine.close()

    def _drain_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, GenerationJob):
                item.channel.put(RuntimeError("the model was closed before this request ran"))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, GenerationJob):
                return
            self.active = item
            try:
                self._run_job(item)
            except BaseException as exc:  # delivered to the caller; the worker lives on
                item.channel.put(exc)
            finally:
                self.active = None

    def _run_job(self, job: GenerationJob) -> None:
        if job.cancelled.is_set():
            job.channel.put(Done("cancelled", Usage(len(job.prompt), 0), model=job.model_name))
            return
        if job.expired():
            raise RequestTimeoutError("the request's deadline passed while it waited in the queue")
        self.tokens_generated += generate(self.engine, job)


def _prefill(engine: LlamaEngine, job: GenerationJob) -> bool:
    """Evaluate the prompt in chunks; False if the job was cancelled in between."""
    engine.clear()
    tokens = job.prompt
    step = engine.n_batch
    for start in range(0, len(tokens), step):
        if job.cancelled.is_set():
            return False
        if job.expired():
            raise RequestTimeoutError("the request's deadline passed during prompt processing")
        engine.decode(tokens[start : start + step], start)
    return True


def generate(engine: LlamaEngine, job: GenerationJob) -> int:
    """Prefill, then sample token by token, emitting each text delta as soon as it is safe.
    Returns how many tokens were sampled."""
    n_prompt = len(job.prompt)
    if not _prefill(engine, job):
        job.channel.put(Done("cancelled", Usage(n_prompt, 0), model=job.model_name))
        return 0
    settings = job.settings
    text = TextStream(settings.stop, hidden_stop=job.hidden_stop)
    sampler = engine.new_sampler(settings)
    max_new = settings.max_tokens if settings.max_tokens is not None else engine.n_ctx
    put = job.channel.put
    pos = n_prompt
    produced = 0
    reason: StopReason = "max_tokens"
    try:
        while True:
            token = engine.sample(sampler)
            produced += 1
            if engine.is_eog(token):
                reason = "end_turn"
                break
            delta = text.feed(engine.piece(token))
            if delta:
                put(TextDelta(delta))
            if text.stopped:
                reason = "stop_sequence" if text.matched_stop is not None else "end_turn"
                break
            if produced >= max_new or pos >= engine.n_ctx:
                break
            if job.cancelled.is_set():
                reason = "cancelled"
                break
            if job.expired():
                raise RequestTimeoutError(
                    f"the request's deadline passed after {produced} generated tokens"
                )
            engine.decode_one(token, pos)
            pos += 1
    finally:
        sampler.close()
    tail = "" if text.stopped else text.finish()
    if tail:
        put(TextDelta(tail))
    put(
        Done(
            reason, Usage(n_prompt, produced), stop_sequence=text.matched_stop, model=job.model_name
        )
    )
    return produced
