"""``hearth models list | info | verify | pull | rm``: the model catalogue, store and HF cache.

``hearth models`` alone lists; ``hearth pull`` and ``hearth info`` are the same commands at the
top level. A NAME is a catalogue name or alias (built-in or from the config file), an alias from
the config's ``[aliases]`` naming a local model, ``hf:ORG/REPO/FILE.gguf``, or a path.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Annotated

import typer

from hearth.backends.registry import split_model_string
from hearth.catalog import entries
from hearth.catalog.entries import Catalog, CatalogEntry, PathSource
from hearth.catalog.gguf_file import read_gguf
from hearth.catalog.hf_cache import hf_entry, scan_cache
from hearth.catalog.progress import Progress
from hearth.catalog.resolve import LocalModelRef, resolve_local
from hearth.catalog.store import ModelStore, VerifyResult
from hearth.config import Config, load_config
from hearth.errors import InvalidRequestError, ModelUnavailableError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NameArg = Annotated[
    str, typer.Argument(help="A catalogue name or alias, hf:ORG/REPO/FILE.gguf, or a path.")
]
NamesArg = Annotated[
    list[str], typer.Argument(help="Catalogue names or aliases, or hf:ORG/REPO/FILE.gguf.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Fetch again even if the model is already here.")
]
EXIT_FAILED = 1


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
    app.command("info")(info)
    group = typer.Typer(
        help="The models hearth knows: list, info, verify, pull, rm. Alone: list.",
        invoke_without_command=True,
    )
    group.callback(invoke_without_command=True)(_models_callback)
    group.command("list")(list_models)
    group.command("info")(info)
    group.command("verify")(verify)
    group.command("pull")(pull)
    group.command("rm")(rm)
    app.add_typer(group, name="models")


def _models_callback(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    if ctx.invoked_subcommand is None:
        list_models(as_json)


# -- shared --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What one command invocation reads once: the config, the catalogue, the store."""

    config: Config
    catalog: Catalog
    store: ModelStore

    @classmethod
    def load(cls) -> _Context:
        config = load_config()
        return cls(config, config.catalog(), ModelStore())

    def resolve(self, name: str) -> LocalModelRef:
        """``name`` (after the config's aliases and a ``local:`` prefix) as a local model."""
        spec = name.strip()
        target = self.config.alias_target(spec)
        if target is not None:
            if split_model_string(target)[0] not in ("local", "hf"):
                raise InvalidRequestError(
                    f"{name!r} is an alias for {target}, a remote model; `hearth models` manages "
                    "local model files only"
                )
            spec = target
        return resolve_local(spec.removeprefix("local:"), self.store, self.catalog)

    def entry(self, name: str) -> CatalogEntry:
        """The entry for ``name``; a bare path becomes an entry named by the path."""
        ref = self.resolve(name)
        if ref.entry is not None:
            return ref.entry
        return CatalogEntry(str(ref.path), PathSource(ref.path), origin="the command line")


def _progress() -> Progress:
    from hearth.catalog.progress_rich import RichProgress

    return RichProgress()


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def human_size(size: int) -> str:
    """``size`` bytes in binary units, e.g. "93.8 MiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# -- list ----------------------------------------------------------------------------------------


def list_models(as_json: JsonOpt = False) -> None:
    """List known models (built-in, config file, Hugging Face cache) and whether each is here."""
    ctx = _Context.load()
    known = list(ctx.catalog.entries)
    sources = {e.source for e in known}
    known += [hf_entry(f.source) for f in scan_cache(ctx.store.hf_cache) if f.source not in sources]
    rows = [entry_row(entry, ctx.store) for entry in known]
    if as_json:
        _print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models in {ctx.store.root}", title_justify="left")
    for column in ("name", "aliases", "source", "size", "pulled", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        size = row["size"]
        aliases = row["aliases"]
        table.add_row(
            str(row["name"]),
            ", ".join(aliases) if isinstance(aliases, list) else "",
            str(row["source"]).partition(":")[0],
            human_size(size) if isinstance(size, int) else "-",
            "yes" if row["pulled"] else "no",
            str(row["path"]),
        )
    Console(highlight=False).print(table)


def entry_row(entry: CatalogEntry, store: ModelStore) -> dict[str, object]:
    """One model as ``hearth models list --json`` shows it."""
    from hearth.cli.model_info import running_file

    path, size = running_file(entry, store)
    return {
        "name": entry.name,
        "aliases": list(entry.aliases),
        "description": entry.description,
        "source": entry.source.describe(),
        "origin": entry.origin,
        "kind": entry.kind,
        "capabilities": list(entry.capabilities),
        "template": entry.template,
        "context_length": entry.context_length,
        "size": size,
        "sha256": entry.sha256,
        "pulled": store.is_pulled(entry),
        "path": str(path),
    }


# -- info ----------------------------------------------------------------------------------------


def info(model: NameArg, as_json: JsonOpt = False) -> None:
    """Show a model: kind, parameters, capabilities, template, licence, context, quantization."""
    ctx = _Context.load()
    ref = ctx.resolve(model)
    path = ref.path
    if ref.entry is not None:
        found = ctx.store.locate(ref.entry)
        if found is None or not ctx.store.is_pulled(ref.entry):
            raise ModelUnavailableError(_not_here(ref.entry, ctx.store))
        path = found
        if ref.entry.convert is not None:  # the GGUF conversion hearth runs (made if missing)
            path = ctx.store.ensure(ref.entry)
    from hearth.backends.local.offload import build_backends
    from hearth.cli.model_info import info_json, kv_bytes_per_token

    gguf = read_gguf(path)
    details = info_json(gguf, ref.entry)
    blocks = gguf.metadata.get(f"{gguf.architecture or ''}.block_count")
    details["layers"] = blocks + 1 if isinstance(blocks, int) else None  # llama.cpp's count
    details["kv_bytes_per_token"] = kv_bytes_per_token(gguf)  # f16; q8_0 34/64, q4_0 18/64
    details["backend"] = build_backends()
    if ref.entry is not None and ref.entry.accelerator.given():
        details["load_options"] = {k: _plain(v) for k, v in ref.entry.accelerator.given().items()}
    if as_json:
        _print_json(details)
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


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _not_here(entry: CatalogEntry, store: ModelStore) -> str:
    if entry.origin == "hf-cache":
        return (
            f"{entry.name} is not in the Hugging Face cache ({store.hf_cache}); run "
            f"`hearth pull {entry.name}` first."
        )
    if isinstance(entry.source, PathSource):
        return f"{entry.name}: its file {entry.source.path} does not exist."
    return (
        f"{entry.name} is not pulled yet (expected at {store.path_for(entry)}); run "
        f"`hearth pull {entry.name}` first."
    )


def _shown(key: str, value: object) -> object:
    if key == "file_size" and isinstance(value, int):
        return human_size(value)
    if key == "kv_bytes_per_token" and isinstance(value, int):
        return f"{human_size(value)} per token (f16; q8_0 about half, q4_0 about a quarter)"
    if key == "parameters" and isinstance(value, int):
        from hearth.cli.model_info import human_count

        return human_count(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


# -- pull, rm, verify ----------------------------------------------------------------------------


def pull(names: NamesArg, force: ForceOpt = False, as_json: JsonOpt = False) -> None:
    """Fetch models, check their SHA-256 and print their paths.

    Catalogue models go into hearth's store; hf: models into the Hugging Face cache. A vision
    model's projector (mmproj) comes with it.
    """
    ctx = _Context.load()
    wanted = [ctx.entry(name) for name in names]
    done: list[dict[str, object]] = []
    for entry in wanted:
        for file in (entry, entry.projector):
            if file is None:
                continue
            path = ctx.store.pull(file, _progress(), force=force)
            done.append({"name": file.name, "path": str(path)})
            if not as_json:
                sys.stdout.write(f"{path}\n")
    if as_json:
        _print_json(done)


def rm(names: NamesArg, as_json: JsonOpt = False) -> None:
    """Delete pulled models from hearth's store: their files, sidecars and locks.

    Models in the Hugging Face cache and your own files are never deleted.
    """
    ctx = _Context.load()
    wanted = [ctx.entry(name) for name in names]
    for entry in wanted:  # refuse before deleting anything
        if not isinstance(entry.source, entries.PyPISource):
            ctx.store.remove(entry)  # raises, saying why and what to do instead
    done: list[dict[str, object]] = []
    for entry in wanted:
        path = ctx.store.path_for(entry)
        removed = ctx.store.remove(entry)
        done.append({"name": entry.name, "path": str(path), "removed": removed})
        if not as_json:
            sys.stdout.write(f"removed {path}\n" if removed else f"{entry.name} was not pulled\n")
    if as_json:
        _print_json(done)


def verify(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Models to check; default: every model that is here."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hash models again, ignoring cached verdicts; exit 1 if any differs or is missing."""
    ctx = _Context.load()
    if names:
        wanted = [ctx.entry(name) for name in names]
    else:
        wanted = [e for e in ctx.catalog.entries if ctx.store.locate(e) is not None]
        covered = {e.source for e in wanted}
        wanted += [
            hf_entry(f.source) for f in scan_cache(ctx.store.hf_cache) if f.source not in covered
        ]
    results = [ctx.store.verify(entry, _progress()) for entry in wanted]
    if as_json:
        _print_json([_result_json(r) for r in results])
    else:
        for result in results:
            sys.stdout.write(_result_line(result) + "\n")
        if not results:
            sys.stdout.write("no models to verify\n")
    if any(r.status in ("mismatch", "missing") for r in results):
        raise typer.Exit(EXIT_FAILED)


def _result_json(result: VerifyResult) -> dict[str, object]:
    return {
        "name": result.name,
        "status": result.status,
        "path": None if result.path is None else str(result.path),
        "expected": result.expected,
        "actual": result.actual,
    }


def _result_line(result: VerifyResult) -> str:
    detail = {
        "ok": f"{result.path}",
        "mismatch": f"{result.path}: SHA-256 {result.actual}, expected {result.expected}; "
        f"delete it and pull it again",
        "missing": "not pulled",
        "unchecked": f"{result.path}: SHA-256 {result.actual} (nothing to compare it with)",
    }[result.status]
    return f"{result.status:<9} {result.name}  {detail}"
