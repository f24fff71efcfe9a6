"""Turn what a user typed into a local model: a catalogue name, ``hf:ORG/REPO/FILE``, or a path.

The order: a catalogue name or alias; an ``hf:`` model string (used from the Hugging Face cache,
downloaded into it on first use); a path to an existing file. The catalogue is the caller's: the
built-in entries, plus the config's ``[[models]]`` when the caller read a config
(:meth:`hearth.config.Config.catalog`). Nothing here reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearth.catalog.entries import DEFAULT_CHAT_MODEL, Catalog, CatalogEntry, builtin_catalog
from hearth.catalog.hf_cache import hf_entry, is_hf_spec, parse_hf_spec
from hearth.catalog.store import ModelStore
from hearth.errors import ModelNotFoundError


@dataclass(frozen=True)
class LocalModelRef:
    """A local model: its file and, unless it is a bare path, its entry.

    A catalogue or Hugging Face model's file may not be fetched yet: :meth:`ModelStore.ensure`
    fetches it (and ``path`` is then where it will be, or the repository's cache folder).
    """

    path: Path
    entry: CatalogEntry | None


def resolve_local(spec: str, store: ModelStore, catalog: Catalog | None = None) -> LocalModelRef:
    """A catalogue name or alias, an ``hf:`` model string, else a path to an existing file.

    ``catalog`` defaults to the built-in entries. Raises :class:`ModelNotFoundError` for a path
    that does not exist or a name nobody knows.
    """
    catalog = builtin_catalog() if catalog is None else catalog
    entry = catalog.lookup(spec)
    if entry is None and is_hf_spec(spec):
        entry = hf_entry(parse_hf_spec(spec))
    if entry is not None:
        return LocalModelRef(store.path_for(entry), entry)
    path = Path(spec).expanduser()
    if path.is_file():
        return LocalModelRef(path, None)
    if spec.lower().endswith(".gguf") or path.exists():
        reason = "is a directory" if path.is_dir() else "does not exist"
        raise ModelNotFoundError(
            f"model file {str(path)!r} {reason}. Get a model with `hearth pull "
            f"{DEFAULT_CHAT_MODEL}` or give the path to a .gguf file.",
            model=spec,
            known=catalog.names(),
        )
    known = catalog.names()
    raise ModelNotFoundError(
        f"unknown local model {spec!r}: {catalog.did_you_mean(spec)}not a catalogue name "
        f"({', '.join(known)}), not hf:ORG/REPO/FILE.gguf and not a path to a .gguf file.",
        model=spec,
        known=known,
    )
