"""Turn what a user typed (a catalogue name or a .gguf path) into a local model file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearth.catalog.entries import DEFAULT_CHAT_MODEL, CatalogEntry, catalog_names, lookup_entry
from hearth.catalog.store import ModelStore
from hearth.errors import ModelNotFoundError


@dataclass(frozen=True)
class LocalModelRef:
    """A local model: its file and, for catalogue models, the entry (None for a bare path).

    A catalogue model's file may not be pulled yet; :meth:`ModelStore.ensure` fetches it.
    """

    path: Path
    entry: CatalogEntry | None


def resolve_local(spec: str, store: ModelStore) -> LocalModelRef:
    """A catalogue name or alias, else a path to an existing GGUF file.

    Raises :class:`ModelNotFoundError` for a path that does not exist or a name nobody knows.
    """
    entry = lookup_entry(spec)
    if entry is not None:
        return LocalModelRef(store.path_for(entry), entry)
    path = Path(spec).expanduser()
    if path.is_file():
        return LocalModelRef(path, None)
    known = catalog_names()
    if spec.lower().endswith(".gguf") or path.exists():
        reason = "is a directory" if path.is_dir() else "does not exist"
        raise ModelNotFoundError(
            f"model file {str(path)!r} {reason}. Get a model with `hearth pull "
            f"{DEFAULT_CHAT_MODEL}` or give the path to a .gguf file.",
            model=spec,
            known=known,
        )
    raise ModelNotFoundError(
        f"unknown local model {spec!r}: not a catalogue name ({', '.join(known)}) and not a "
        "path to a .gguf file.",
        model=spec,
        known=known,
    )
