"""``hearth batch IN.jsonl -o OUT.jsonl``: an OpenAI Batch file, run here.

    hearth batch requests.jsonl -o results.jsonl                  # each body's model
    hearth batch requests.jsonl -o results.jsonl -m local:smollm2 # one model for every line
    hearth batch requests.jsonl -o results.jsonl --ray auto       # on a Ray cluster (Ray Data)

Each input line is ``{"custom_id", "method": "POST", "url", "body"}`` for
``/v1/chat/completions``, ``/v1/completions`` or ``/v1/embeddings``; each output line is
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``, in order
of completion. A local model runs as many requests at once as it has slots. The run is
resumable: every result is flushed as it is written, and running the same command again skips
the custom_ids the output already holds (after a crash, a kill or Ctrl-C). Progress, with
tokens per second, goes to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from hearth.batch.runner import Progress

NOT_A_TTY_EVERY = 5.0


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


class _Reporter:
    """Progress on stderr: one line redrawn in place on a terminal, else a line every few
    seconds."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = 0.0
        self.progress: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.progress = progress
        now = time.monotonic()
        if not self._tty and now - self._last < NOT_A_TTY_EVERY:
            return
        self._last = now
        end = "" if self._tty else "\n"
        sys.stderr.write(("\r" if self._tty else "") + describe(progress) + end)
        sys.stderr.flush()

    def finish(self, progress: Progress, *, interrupted: bool) -> None:
        if self._tty:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.write(describe(progress) + "\n")
        if interrupted:
            sys.stderr.write(
                f"interrupted: {progress.remaining} request(s) left; run the same command "
                "again to finish them (what is done is kept)\n"
            )
        sys.stderr.flush()


def describe(progress: Progress) -> str:
    """``batch: 120/200 done (3 failed, 40 from an earlier run), 512 tok/s, 25 s``."""
    finished = progress.skipped + progress.done
    notes = []
    if progress.failed:
        notes.append(f"{progress.failed} failed")
    if progress.skipped:
        notes.append(f"{progress.skipped} from an earlier run")
    noted = f" ({', '.join(notes)})" if notes else ""
    return (
        f"batch: {finished}/{progress.total} done{noted}, "
        f"{progress.tokens_per_second:.0f} tok/s, {progress.elapsed:.0f} s"
    )


def batch(
    input_file: Annotated[
        Path,
        typer.Argument(
            metavar="IN.jsonl",
            help="OpenAI Batch input: one request per line (custom_id, method, url, body).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT.jsonl",
            help="Results, one line per request, appended; a re-run skips what it holds.",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Run every line on this model (default: each body's model)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Requests at once per model. Default: a local model's slots, 8 for remote.",
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run on a Ray cluster with Ray Data: its address (auto: the cluster this "
            "machine is in; local: start one here). Needs the ray extra.",
        ),
    ] = None,
    actors: Annotated[
        int, typer.Option(min=1, help="With --ray: engines (Ray actors) at once.")
    ] = 2,
    actor_cpus: Annotated[
        float,
        typer.Option(help="With --ray: CPUs each actor reserves (its engine's threads)."),
    ] = 1.0,
) -> None:
    """Run an OpenAI Batch file (chat, completions, embeddings); resumable."""
    reporter = _Reporter()
    try:
        progress = _run(input_file, output, model, concurrency, reporter, ray, actors, actor_cpus)
    except KeyboardInterrupt:
        if reporter.progress is not None:
            reporter.finish(reporter.progress, interrupted=True)
        raise
    reporter.finish(progress, interrupted=False)


def _run(
    input_file: Path,
    output: Path,
    model: str | None,
    concurrency: int | None,
    reporter: _Reporter,
    ray: str | None,
    actors: int,
    actor_cpus: float,
) -> Progress:
    if ray is None:
        from hearth.batch.runner import run_file

        return run_file(input_file, output, model=model, concurrency=concurrency, report=reporter)
    from hearth.cli.ray_extra import require_ray

    require_ray("hearth batch --ray")
    from hearth.cluster.batch import RayBatchOptions, run_file_on_ray

    options = RayBatchOptions(
        address=ray, actors=actors, actor_cpus=actor_cpus, slots=concurrency or 8
    )
    return run_file_on_ray(input_file, output, options, model=model, report=reporter)
