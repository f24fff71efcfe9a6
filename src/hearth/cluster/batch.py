"""``hearth batch IN.jsonl -o OUT.jsonl --ray ADDRESS``: the OpenAI Batch file on Ray Data.

The lines are read and checked here, as :func:`hearth.batch.runner.run_file` does (a line whose
envelope is wrong gets its error line at once, without reaching the cluster), and the custom_ids
already in OUT are skipped. The rest become a Ray dataset that ``map_batches`` sends through a
pool of :class:`Answerer` actors: each owns one engine per model its lines name (a local
model's engine decodes as many lines at once as it has slots, and each batch is that many
lines), so ``actors`` engines run in parallel across the cluster. Ray Data streams: it keeps a
bounded number of batches in flight (back-pressure), and this process writes each result to
OUT the moment it comes back, flushed, so a crash, a kill or Ctrl-C loses nothing finished and
a re-run skips it. Progress, with tokens per second, is reported as the local run reports it.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.backends.base import Backend
from hearth.backends.registry import split_model_string
from hearth.batch.lines import InputLine, LineError, decode, error_line, failure_line
from hearth.batch.output import OutputFile, finished
from hearth.batch.runner import Progress, Report, answer
from hearth.errors import HearthError, InvalidRequestError

LOCAL_SLOTS = 8  # a local engine's default slots (hearth.backends.local.engine.DEFAULT_SLOTS)


@dataclass(frozen=True, slots=True)
class RayBatchOptions:
    """``address``: the cluster (``auto``: the one this machine belongs to; ``local``: start
    one here); ``actors``: engines at once; ``actor_cpus``: CPUs each reserves, and its
    local engine's threads; ``slots``: lines each local engine decodes together."""

    address: str = "auto"
    actors: int = 2
    actor_cpus: float = 1.0
    slots: int = LOCAL_SLOTS

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise InvalidRequestError(f"--actors: at least 1, got {self.actors}")
        if not self.actor_cpus > 0:
            raise InvalidRequestError(f"--actor-cpus: more than 0, got {self.actor_cpus}")
        if self.slots < 1:
            raise InvalidRequestError(f"slots: at least 1, got {self.slots}")


class Answerer:
    """A Ray Data actor: answers batches of lines, one engine per model (opened on first use,
    kept for the actor's life)."""

    def __init__(
        self, model: str | None, default_model: str, threads: int, slots: int, config: Any
    ) -> None:
        self.model = model
        self.default_model = default_model
        self.threads = threads
        self.slots = slots
        self.config = config
        self.backends: dict[str, Backend] = {}
        self.pool = ThreadPoolExecutor(slots, thread_name_prefix="hearth-batch")

    def _backend(self, name: str) -> Backend:
        if name not in self.backends:
            from hearth.backends.registry import create_backend

            spec = self.config.resolve_model(name)
            local = split_model_string(spec)[0] in ("local", "hf")
            options: dict[str, object] = {"n_threads": self.threads} if local else {}
            backend = create_backend(spec, config=self.config, **options)
            load = getattr(backend, "load", None)
            if callable(load):
                load()
            self.backends[name] = backend
        return self.backends[name]

    def _one(self, raw: str) -> tuple[str, int, bool]:
        data = json.loads(raw)
        line = InputLine(0, str(data["custom_id"]), data)
        try:
            job = decode(line, model=self.model, default_model=self.default_model)
            result = answer(self._backend(job.model), job)
        except LineError as exc:
            return json.dumps(error_line(line.custom_id, exc.code, str(exc))), 0, False
        except HearthError as exc:
            return json.dumps(failure_line(line.custom_id, exc)), 0, False
        return json.dumps(result.line), result.tokens, result.ok

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        done = list(self.pool.map(self._one, list(batch["line"])))
        return {
            "result": [d[0] for d in done],
            "tokens": [d[1] for d in done],
            "ok": [d[2] for d in done],
        }


def _checked(
    lines: list[InputLine], out: OutputFile, progress: Progress, model: str | None, default: str
) -> list[str]:
    """The lines to send to the cluster; those that cannot run get their error line now."""
    rows = []
    for line in lines:
        try:
            decode(line, model=model, default_model=default)
        except LineError as exc:
            out.write(error_line(line.custom_id, exc.code, str(exc)))
        except HearthError as exc:
            out.write(failure_line(line.custom_id, exc))
        else:
            rows.append(json.dumps(line.data))
            continue
        progress.done += 1
        progress.failed += 1
    return rows


def run_file_on_ray(
    source: Path | str,
    output: Path | str,
    options: RayBatchOptions,
    *,
    model: str | None = None,
    report: Report | None = None,
) -> Progress:
    """Run the OpenAI Batch file ``source`` on the Ray cluster ``options.address``, appending
    results to ``output`` and skipping the custom_ids it already holds."""
    from hearth.batch.lines import read_input
    from hearth.cluster.connection import check_portable, connect
    from hearth.config import load_config

    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise InvalidRequestError("the output must be another file than the input")
    try:
        text = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"cannot read {source} as UTF-8 text: {exc}") from None
    lines = read_input(text, name=str(source))
    config = load_config()
    check_portable(config)
    default_model = config.resolve_model(None)
    skip = finished(output)
    todo = [line for line in lines if line.custom_id not in skip]
    progress = Progress(total=len(lines), skipped=len(lines) - len(todo))
    with OutputFile(output) as out:
        rows = _checked(todo, out, progress, model, default_model)
        if rows:
            connect(options.address, quiet=True)
            _stream(rows, out, progress, options, model, default_model, config, report)
    if report is not None:
        report(progress)
    return progress


def _stream(
    rows: list[str],
    out: OutputFile,
    progress: Progress,
    options: RayBatchOptions,
    model: str | None,
    default_model: str,
    config: Any,
    report: Report | None,
) -> None:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the report below says it, with tokens per second
    dataset = ray.data.from_items(
        [{"line": row} for row in rows],
        override_num_blocks=max(1, math.ceil(len(rows) / options.slots)),
    )
    threads = max(1, int(options.actor_cpus))
    answered = dataset.map_batches(
        Answerer,
        fn_constructor_args=(model, default_model, threads, options.slots, config),
        batch_size=options.slots,
        concurrency=options.actors,
        num_cpus=options.actor_cpus,
    )
    for row in answered.iter_rows():
        out.write(json.loads(row["result"]))
        progress.done += 1
        progress.failed += not row["ok"]
        progress.tokens += int(row["tokens"])
        if report is not None:
            report(progress)
