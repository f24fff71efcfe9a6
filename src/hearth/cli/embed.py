"""``hearth embed``: one vector per input, as JSON lines, CSV or a ``.npy`` matrix.

    hearth embed "some text" "more text"          # JSONL on stdout: {"index": 0, "embedding": […]}
    hearth embed notes.txt                        # an existing file: one input per line
    cat notes.txt | hearth embed -m gemini:gemini-embedding-001 --task document
    hearth embed -f a.txt -f b.txt -o vectors.npy # float32, shape (lines, dimensions)

The inputs: each argument is one text, except an argument naming an existing file (read line
by line) and ``-`` (stdin's lines); then each ``-f FILE`` (always a file); with neither, stdin's
lines. Each line (without its line ending) is one input, empty lines included, so vector *i* is
input *i*. ``-o`` picks the format by extension: ``.jsonl``, ``.csv`` (one row of numbers per
input) or ``.npy``. Inputs are sent to the model in batches of ``--batch-size``; JSON lines and
CSV rows are written as each batch finishes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated

import typer

from hearth.embeddings import DEFAULT_EMBEDDING_MODEL, Embeddings
from hearth.errors import InvalidRequestError

DEFAULT_BATCH = 256


def register(app: typer.Typer) -> None:
    app.command("embed")(embed)


FORMATS = (".jsonl", ".csv", ".npy")


def inputs(texts: list[str], files: list[Path], stdin: IO[str]) -> Iterator[str]:
    """The inputs (see the module docstring): each text argument (an existing file's lines,
    stdin's for ``-``), then each ``-f`` file's lines; stdin's lines when there are none."""
    if not texts and not files:
        yield from read_lines([], stdin)
        return
    for text in texts:
        if text == "-" or Path(text).is_file():
            yield from read_lines([Path(text)], stdin)
        else:
            yield text
    if files:
        yield from read_lines(files, stdin)


def read_lines(files: list[Path], stdin: IO[str]) -> Iterator[str]:
    """The lines of ``files`` in order (``-``: stdin; no file at all: stdin), without line
    endings."""
    sources: list[Path | None] = [None if str(f) == "-" else f for f in files] or [None]
    for source in sources:
        if source is None:
            yield from (line.rstrip("\r\n") for line in stdin)
            continue
        try:
            with source.open(encoding="utf-8") as handle:
                yield from (line.rstrip("\r\n") for line in handle)
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InvalidRequestError(f"{source} is not UTF-8 text") from None


def chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def jsonl(result: Embeddings, start: int) -> str:
    return "".join(
        json.dumps({"index": start + i, "embedding": vector}, separators=(",", ":")) + "\n"
        for i, vector in enumerate(result.vectors)
    )


def csv_rows(result: Embeddings) -> str:
    return "".join(",".join(repr(float(x)) for x in vector) + "\n" for vector in result.vectors)


def output_format(output: Path | None) -> str:
    """``.jsonl`` (also for stdout), ``.csv`` or ``.npy``; any other extension is an error."""
    if output is None:
        return ".jsonl"
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidRequestError(
            f"-o {output}: name the file .jsonl (JSON lines), .csv (one row per input) or"
            " .npy (a float32 matrix)"
        )
    return suffix


def save_npy(path: Path, vectors: list[list[float]]) -> None:
    import numpy as np

    try:
        np.save(path, np.asarray(vectors, dtype=np.float32))
    except OSError as exc:
        raise InvalidRequestError(f"cannot write {path}: {exc.strerror or exc}") from None


def embed(
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Texts to embed, one input each; an existing file's name reads it, one input"
            " per line; '-' reads stdin. None (and no -f): stdin's lines.",
            show_default=False,
        ),
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="A text file, one input per line (repeatable)."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="The embedding model, provider:name.")
    ] = DEFAULT_EMBEDDING_MODEL,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here, by extension: .jsonl, .csv or .npy (float32)."
        ),
    ] = None,
    dimensions: Annotated[
        int | None, typer.Option("--dimensions", "-d", help="Keep the first N dimensions.")
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="query, document, similarity, clustering, …")
    ] = None,
    normalize: Annotated[
        bool, typer.Option("--normalize/--no-normalize", help="Scale vectors to unit length.")
    ] = True,
    truncate: Annotated[
        bool, typer.Option("--truncate", help="Embed the start of over-long lines, no error.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Lines sent to the model at a time.", min=1)
    ] = DEFAULT_BATCH,
) -> None:
    """Embed texts, or each line of files or stdin; write JSON lines, CSV or a .npy matrix."""
    import hearth

    fmt = output_format(output)
    npy = fmt == ".npy"
    kept: list[list[float]] = []
    count = 0
    with hearth.model(model) as m, _sink(output if not npy else None) as out:
        for batch in chunks(inputs(texts or [], files or [], sys.stdin), batch_size):
            result = m.embed(
                batch, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
            )
            if npy:
                kept.extend(result.vectors)
            else:
                out.write(csv_rows(result) if fmt == ".csv" else jsonl(result, count))
                out.flush()
            count += len(batch)
    if count == 0:
        raise InvalidRequestError(
            'no input lines to embed; give text (hearth embed "some text"), a file, or pipe text in'
        )
    if npy and output is not None:
        save_npy(output, kept)


class _sink:  # noqa: N801 - used like a function, as contextlib helpers are
    """stdout, or a file opened for writing (closed at the end)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._handle: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self._path is None:
            return sys.stdout
        try:
            self._handle = self._path.open("w", encoding="utf-8")
        except OSError as exc:
            raise InvalidRequestError(f"cannot write {self._path}: {exc.strerror or exc}") from None
        return self._handle

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
