"""``hearth pull``, ``hearth models`` and ``hearth info``: the model catalogue and store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hearth.catalog.entries import CATALOG, CatalogEntry, find_entry
from hearth.catalog.gguf_file import GGUFInfo, read_gguf
from hearth.catalog.resolve import resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import ModelUnavailableError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
    app.command("models")(models)
    app.command("info")(info)


def human_size(size: int) -> str:
    """``size`` bytes in binary units, e.g. "93.8 MiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def pull(
    name: Annotated[str, typer.Argument(help="A catalogue model name, e.g. smollm2.")],
    force: Annotated[
        bool, typer.Option("--force", help="Fetch again even if the model is already here.")
    ] = False,
) -> None:
    """Fetch a catalogue model into the model store, check its SHA-256 and print its path."""
    from hearth.catalog.progress_rich import RichProgress

    entry = find_entry(name)
    path = ModelStore().pull(entry, RichProgress(), force=force)
    sys.stdout.write(f"{path}\n")


def models(as_json: JsonOpt = False) -> None:
    """List the catalogue's models and whether each is pulled."""
    store = ModelStore()
    rows = [_entry_json(entry, store) for entry in CATALOG]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models in {store.root}", title_justify="left")
    for column in ("name", "aliases", "size", "pulled", "path"):
        table.add_column(column, overflow="fold")
    for row, entry in zip(rows, CATALOG, strict=True):
        table.add_row(
            entry.name,
            ", ".join(entry.aliases),
            human_size(entry.size),
            "yes" if row["pulled"] else "no",
            str(row["path"]),
        )
    Console(highlight=False).print(table)


def _entry_json(entry: CatalogEntry, store: ModelStore) -> dict[str, object]:
    return {
        "name": entry.name,
        "aliases": list(entry.aliases),
        "description": entry.description,
        "kind": entry.kind,
        "size": entry.size,
        "sha256": entry.sha256,
        "pulled": store.is_pulled(entry),
        "path": str(store.path_for(entry)),
    }


def info(
    model: Annotated[str, typer.Argument(help="A catalogue model name or a .gguf path.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a model's GGUF metadata: architecture, context length, template, quantization."""
    store = ModelStore()
    ref = resolve_local(model, store)
    if ref.entry is not None and not store.is_pulled(ref.entry):
        raise ModelUnavailableError(
            f"{ref.entry.name} is not pulled yet (expected at {ref.path}); run "
            f"`hearth pull {ref.entry.name}` first."
        )
    details = info_json(read_gguf(ref.path), ref.entry.name if ref.entry else None)
    if as_json:
        sys.stdout.write(json.dumps(details, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in details.items():
        shown = _shown(key, value)
        table.add_row(key.replace("_", " "), "-" if shown is None else str(shown))
    Console(highlight=False).print(table)


def info_json(gguf: GGUFInfo, catalog_name: str | None) -> dict[str, object]:
    """What ``hearth info`` shows, as plain JSON values."""
    return {
        "path": str(Path(gguf.path)),
        "catalog_name": catalog_name,
        "name": gguf.name,
        "architecture": gguf.architecture,
        "context_length": gguf.context_length,
        "chat_template": gguf.chat_template is not None,
        "file_size": gguf.size,
        "quantization": gguf.quantization,
        "tensor_count": gguf.tensor_count,
        "gguf_version": gguf.version,
    }


def _shown(key: str, value: object) -> object:
    if key == "file_size" and isinstance(value, int):
        return human_size(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value
