"""``hearth embed``: one vector per input line, as JSON lines or a ``.npy`` matrix.

    hearth embed notes.txt                        # JSONL on stdout: {"index": 0, "embedding": […]}
    cat notes.txt | hearth embed -m gemini:gemini-embedding-001 --task document
    hearth embed a.txt b.txt -o vectors.npy       # float32, shape (lines, dimensions)

Each line (without its line ending) is one input, empty lines included, so vector *i* is line
*i* (counting across the files in order). Inputs are sent to the model in batches of
``--batch-size`` lines; JSON lines are written as each batch finishes.
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


def read_lines(files: list[Path], stdin: IO[str]) -> Iterator[str]:
    """The lines of ``files`` in order (``-`` or no file: stdin), without line endings."""
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


def save_npy(path: Path, vectors: list[list[float]]) -> None:
    import numpy as np

    try:
        np.save(path, np.asarray(vectors, dtype=np.float32))
    except OSError as exc:
        raise InvalidRequestError(f"cannot write {path}: {exc.strerror or exc}") from None


def embed(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Text files, one input per line; '-' or none reads stdin."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="The embedding model, provider:name.")
    ] = DEFAULT_EMBEDDING_MODEL,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here: .npy (float32 matrix) or JSON lines."),
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
    """Embed each input line; write JSON lines (stdout or -o FILE) or a .npy matrix."""
    import hearth

    npy = output is not None and output.suffix.lower() == ".npy"
    kept: list[list[float]] = []
    count = 0
    with hearth.model(model) as m, _sink(output if not npy else None) as out:
        for batch in chunks(read_lines(files or [], sys.stdin), batch_size):
            result = m.embed(
                batch, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
            )
            if npy:
                kept.extend(result.vectors)
            else:
                out.write(jsonl(result, count))
                out.flush()
            count += len(batch)
    if count == 0:
        raise InvalidRequestError("no input lines to embed; give a file or pipe text in")
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
