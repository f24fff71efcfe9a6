"""Turn what a user typed into a local model: a catalogue name, ``hf:ORG/REPO/FILE``, or a path.

The order: a built-in catalogue name or alias; an ``hf:`` model string (used from the Hugging
Face cache, downloaded into it on first use); a path to an existing file; a name from the user's
config file (``[[models]]``; the file is read only when the name is none of the above).
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


def configured_catalog() -> Catalog:
    """The built-in entries plus the ``[[models]]`` of the user's config file."""
    from hearth.config import load_config

    return Catalog(builtin_catalog().entries + load_config().models)


def resolve_local(spec: str, store: ModelStore, catalog: Catalog | None = None) -> LocalModelRef:
    """A catalogue name or alias, an ``hf:`` model string, else a path to an existing file.

    ``catalog`` defaults to the built-in entries, plus the config file's when the name is not a
    built-in one, an ``hf:`` string or a path. Raises :class:`ModelNotFoundError` for a path that
    does not exist or a name nobody knows (and :class:`ConfigFileError` for a bad config file).
    """
    entry = (catalog or builtin_catalog()).lookup(spec)
    if entry is None and is_hf_spec(spec):
        entry = hf_entry(parse_hf_spec(spec))
    if entry is not None:
        return LocalModelRef(store.path_for(entry), entry)
    path = Path(spec).expanduser()
    if path.is_file():
        return LocalModelRef(path, None)
    if spec.lower().endswith(".gguf") or path.exists():
        reason = _not_a_file(path)
        raise ModelNotFoundError(
            f"model file {str(path)!r} {reason}. Get a model with `hearth pull "
            f"{DEFAULT_CHAT_MODEL}` or give the path to a .gguf file.",
            model=spec,
            known=(catalog or builtin_catalog()).names(),
        )
    if catalog is None:
        catalog = configured_catalog()
        entry = catalog.lookup(spec)
        if entry is not None:
            return LocalModelRef(store.path_for(entry), entry)
    known = catalog.names()
    raise ModelNotFoundError(
        f"unknown local model {spec!r}: not a catalogue name ({', '.join(known)}), not "
        "hf:ORG/REPO/FILE.gguf and not a path to a .gguf file.",
        model=spec,
        known=known,
    )


def _not_a_file(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be a model file."""
    if path.is_dir():
        return "is a directory"
    if path.exists():
        return "is not a regular file (a FIFO, socket or device)"
    return "does not exist"
