"""Run a batch: every request on its model, as many at once as the model decodes together.

The lines are decoded first (a bad one gets its error line at once). Their requests are then
grouped by model and each model is opened in turn, run, and closed (a local model's memory is
freed before the next one loads). A model takes as many requests at once as it has slots (a
local model's ``slots``, the engine's continuous batch; :data:`DEFAULT_CONCURRENCY` for a
remote one) unless ``concurrency`` says otherwise, so every slot stays busy. Results are
written in order of completion, each line flushed as soon as it is known.

Ctrl-C (KeyboardInterrupt) stops the run: the results that were finished are written, the
model is closed (stopping what it was generating), and the interruption is raised again; a
re-run skips what the output file holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from hearth.backends.base import Backend, raw_completion_unsupported
from hearth.batch.lines import (
    InputLine,
    Job,
    LineError,
    answer_body,
    decode,
    error_line,
    failure_line,
    output_tokens,
    result_line,
)
from hearth.batch.output import OutputFile, finished
from hearth.errors import HearthError, InvalidRequestError, OverloadedError
from hearth.messages import JsonObject
from hearth.request import EmbedRequest

DEFAULT_CONCURRENCY = 8
OVERLOAD_TRIES = 50


@dataclass(slots=True)
class Progress:
    """Where a run stands: ``total`` lines, ``skipped`` (answered by an earlier run), ``done``
    in this run (``failed`` of them with an error), and the tokens generated."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def tokens_per_second(self) -> float:
        elapsed = self.elapsed
        return self.tokens / elapsed if elapsed > 0 else 0.0

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.done


@dataclass(frozen=True, slots=True)
class _Result:
    line: JsonObject
    tokens: int
    ok: bool


OpenModel = Callable[[str], Backend]
Report = Callable[[Progress], None]


def _quiet(progress: Progress) -> None:
    """No progress report."""


@dataclass
class BatchRun:
    """One run over ``lines``, skipping the custom_ids in ``skip``. ``model`` (``--model``)
    replaces the bodies' models; ``default_model`` serves bodies that name none.
    ``open_model`` builds a model's backend; ``report`` is called with the progress at least
    every ``interval`` seconds while requests run, and after each model."""

    lines: Sequence[InputLine]
    out: OutputFile
    open_model: OpenModel
    default_model: str
    model: str | None = None
    skip: frozenset[str] = frozenset()
    concurrency: int | None = None
    report: Report = _quiet
    interval: float = 0.5
    progress: Progress = field(init=False)

    def run(self) -> Progress:
        todo = [line for line in self.lines if line.custom_id not in self.skip]
        progress = self.progress = Progress(
            total=len(self.lines), skipped=len(self.lines) - len(todo)
        )
        groups: dict[str, list[Job]] = {}
        for line in todo:
            try:
                job = decode(line, model=self.model, default_model=self.default_model)
            except LineError as exc:
                self._write(_Result(error_line(line.custom_id, exc.code, str(exc)), 0, False))
                continue
            except HearthError as exc:
                self._write(_Result(failure_line(line.custom_id, exc), 0, False))
                continue
            groups.setdefault(job.model, []).append(job)
        self.report(progress)
        for name, jobs in groups.items():
            self._run_model(name, jobs)
            self.report(progress)
        return progress

    def _write(self, result: _Result) -> None:
        self.out.write(result.line)
        self.progress.done += 1
        self.progress.failed += not result.ok
        self.progress.tokens += result.tokens

    def _run_model(self, name: str, jobs: list[Job]) -> None:
        try:
            backend = self.open_model(name)
        except HearthError as exc:
            for job in jobs:
                self._write(_Result(failure_line(job.custom_id, exc), 0, False))
            return
        width = self.concurrency or _slots(backend)
        pool = ThreadPoolExecutor(width, thread_name_prefix="hearth-batch")
        pending: set[Future[_Result]] = set()
        try:
            self._drive(pool, backend, iter(jobs), pending, width)
        except BaseException:
            self._salvage(pending)
            backend.close()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        backend.close()

    def _drive(
        self,
        pool: ThreadPoolExecutor,
        backend: Backend,
        jobs: Iterator[Job],
        pending: set[Future[_Result]],
        width: int,
    ) -> None:
        last = time.monotonic()
        while True:
            while len(pending) < 2 * width and (job := next(jobs, None)) is not None:
                pending.add(pool.submit(answer, backend, job))
            if not pending:
                return
            finished, still = wait(pending, timeout=self.interval, return_when=FIRST_COMPLETED)
            pending.clear()
            pending.update(still)
            for future in finished:
                self._write(future.result())
            if time.monotonic() - last >= self.interval:
                self.report(self.progress)
                last = time.monotonic()

    def _salvage(self, pending: set[Future[_Result]]) -> None:
        """Write the results that were finished when the run was stopped."""
        for future in list(pending):
            if future.done() and not future.cancelled() and future.exception() is None:
                self._write(future.result())
                pending.discard(future)


def _slots(backend: Backend) -> int:
    options = getattr(backend, "options", None)
    slots = getattr(options, "slots", None)
    return slots if isinstance(slots, int) and slots > 0 else DEFAULT_CONCURRENCY


def answer(backend: Backend, job: Job) -> _Result:
    """``job`` answered on ``backend``: its output line (an error line if it failed)."""
    for attempt in range(OVERLOAD_TRIES):
        try:
            return _answer(backend, job)
        except OverloadedError as exc:  # a queue shared with other users: wait for room
            if attempt == OVERLOAD_TRIES - 1:
                return _Result(failure_line(job.custom_id, exc), 0, False)
            time.sleep(min(exc.retry_after or 0.2, 5.0))
        except HearthError as exc:
            return _Result(failure_line(job.custom_id, exc), 0, False)
        except Exception as exc:  # a defect, not the line's fault: this line's error, not the run's
            message = f"the model failed on this request ({type(exc).__name__}: {exc})"
            return _Result(error_line(job.custom_id, "server_error", message), 0, False)
    raise AssertionError("unreachable")


def _answer(backend: Backend, job: Job) -> _Result:
    if isinstance(job.request, EmbedRequest):
        result: object = backend.embed(job.request)
    else:
        if job.kind == "completion" and not backend.capabilities().raw_completion:
            raise raw_completion_unsupported(
                backend.name,
                "use /v1/chat/completions, which sends messages through the chat template",
            )
        result = backend.chat(job.request)
    from hearth.embeddings import Embeddings
    from hearth.response import Response

    assert isinstance(result, Embeddings | Response)
    line = result_line(job.custom_id, 200, answer_body(job, result))
    return _Result(line, output_tokens(result), True)


def _open(spec: str) -> Backend:
    import hearth

    return hearth.model(spec).backend


def run_file(
    source: Path | str,
    output: Path | str,
    *,
    model: str | None = None,
    concurrency: int | None = None,
    report: Report = _quiet,
    open_model: OpenModel = _open,
) -> Progress:
    """Run the OpenAI Batch file ``source``, appending results to ``output`` and skipping the
    custom_ids it already holds; what ``hearth batch SOURCE -o OUTPUT`` does. ``model``
    replaces each body's model; bodies that name none get the configured default model.
    ``report`` is called with the run's :class:`Progress` (one object, updated in place) as it
    goes. Raises :class:`~hearth.errors.InvalidRequestError` for a file that cannot be run
    (lines without a unique custom_id), before anything runs."""
    from hearth.batch.lines import read_input
    from hearth.config import load_config

    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise InvalidRequestError("the output must be another file than the input")
    lines = read_input(_read(source), name=str(source))
    default_model = load_config().resolve_model(None)
    skip = frozenset(finished(output))
    with OutputFile(output) as out:
        run = BatchRun(
            lines, out, open_model, default_model=default_model, model=model, skip=skip,
            concurrency=concurrency, report=report,
        )  # fmt: skip
        return run.run()


def _read(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{path} is not UTF-8 text") from None
