"""Turn what a user typed into a local model: a catalogue name, ``hf:ORG/REPO/FILE``, or a path.

The order: a catalogue name or alias; an ``hf:`` model string (used from the Hugging Face cache,
downloaded into it on first use); a path to an existing file. The catalogue is the caller's: the
built-in entries, plus the config's ``[[models]]`` when the caller read a config
(:meth:`hearth.config.Config.catalog`). Nothing here reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hearth.catalog.entries import (
    DEFAULT_CHAT_MODEL,
    SHA256_RE,
    Catalog,
    CatalogEntry,
    PathSource,
    builtin_catalog,
)
from hearth.catalog.hf_cache import hf_entry, is_hf_spec, parse_hf_spec
from hearth.catalog.store import ModelStore
from hearth.errors import InvalidRequestError, ModelNotFoundError


@dataclass(frozen=True)
class LocalModelRef:
    """A local model: its file and, unless it is a bare path, its entry.

    A catalogue or Hugging Face model's file may not be fetched yet: :meth:`ModelStore.ensure`
    fetches it (and ``path`` is then where it will be, or the repository's cache folder).
    """

    path: Path
    entry: CatalogEntry | None


def resolve_local(
    spec: str, store: ModelStore, catalog: Catalog | None = None, sha256: str | None = None
) -> LocalModelRef:
    """A catalogue name or alias, an ``hf:`` model string, else a path to an existing file.

    ``catalog`` defaults to the built-in entries. ``sha256`` is the checksum the caller expects
    (``hearth.model("local:/path.gguf", sha256=…)``): a bare path with one gets an entry of its
    own, so the store checks it (and caches the verdict) like a configured path model's; for a
    named model it must agree with the entry's. Raises :class:`ModelNotFoundError` for a path
    that does not exist or a name nobody knows.
    """
    expected = _checked_sha256(sha256)
    catalog = builtin_catalog() if catalog is None else catalog
    entry = catalog.lookup(spec)
    if entry is None and is_hf_spec(spec):
        entry = hf_entry(parse_hf_spec(spec))
    if entry is not None:
        entry = _expecting(entry, expected)
        return LocalModelRef(store.path_for(entry), entry)
    path = Path(spec).expanduser()
    if path.is_file():
        if expected is None:
            return LocalModelRef(path, None)
        own = CatalogEntry(path.name, PathSource(path), sha256=expected, origin="sha256= option")
        return LocalModelRef(path, own)
    if spec.lower().endswith(".gguf") or path.exists():
        reason = _not_a_file(path)
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


def _checked_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    lowered = sha256.strip().lower()
    if not SHA256_RE.fullmatch(lowered):
        raise InvalidRequestError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return lowered


def _expecting(entry: CatalogEntry, sha256: str | None) -> CatalogEntry:
    """``entry`` checked against ``sha256`` too: the entry's own checksum must agree."""
    if sha256 is None or entry.sha256 == sha256:
        return entry
    if entry.sha256 is not None:
        raise InvalidRequestError(
            f"sha256={sha256} disagrees with the SHA-256 {entry.name!r} is known by "
            f"({entry.sha256}, {entry.origin}); leave sha256 out for a catalogue model"
        )
    return replace(entry, sha256=sha256)


def _not_a_file(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be a model file."""
    if path.is_dir():
        return "is a directory"
    if path.exists():
        return "is not a regular file (a FIFO, socket or device)"
    return "does not exist"
