"""Models already in the Hugging Face hub cache, used in place (never copied).

The cache directory is ``$HF_HUB_CACHE``, else ``$HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``,
else ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub`` (the order
huggingface_hub itself uses). Its layout::

    models--ORG--NAME/
        refs/main                        the commit that "main" pointed at when last fetched
        snapshots/<commit>/<path/in/repo> a symlink to ../../blobs/<etag>
        blobs/<etag>                     the content; for LFS files (every GGUF) the etag is the
                                         file's SHA-256, which :func:`blob_sha256` reads back

A model string names a file as ``hf:ORG/NAME/path/in/repo.gguf``, optionally pinned with
``hf:ORG/NAME@REVISION/path.gguf``. Reading the cache needs no third-party library;
downloading into it does (:mod:`hearth.catalog.hf_download`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hearth.catalog.entries import SHA256_RE, CatalogEntry, HFSource
from hearth.errors import ModelNotFoundError

HF_PREFIX = "hf:"
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")
SPEC_HELP = "write it as hf:ORG/REPO/FILE.gguf (or hf:ORG/REPO@REVISION/FILE.gguf)"


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache directory, from the environment as huggingface_hub reads it."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return Path(os.path.expandvars(value)).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(home)).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def is_hf_spec(spec: str) -> bool:
    return spec.strip().lower().startswith(HF_PREFIX)


def parse_hf_spec(spec: str) -> HFSource:
    """``hf:ORG/REPO[@REVISION]/PATH`` → :class:`HFSource`.

    Raises :class:`ModelNotFoundError` saying what is wrong with a malformed spec.
    """
    body = spec.strip()[len(HF_PREFIX) :]
    pieces = body.split("/")
    if len(pieces) < 3 or not all(pieces):
        raise _bad_spec(spec, "it needs an organisation, a repository and a file")
    org, repo, revision = pieces[0], pieces[1], None
    if "@" in repo:
        repo, _, revision = repo.partition("@")
    return make_hf_source(f"{org}/{repo}", "/".join(pieces[2:]), revision, spec=spec)


def make_hf_source(repo: str, file: str, revision: str | None, *, spec: str) -> HFSource:
    """A checked :class:`HFSource`: safe repo and file names, so no path escapes the cache."""
    org, _, name = repo.partition("/")
    if not (_REPO_PART.fullmatch(org) and _REPO_PART.fullmatch(name)) or (
        "--" in repo or ".." in repo
    ):
        raise _bad_spec(spec, f"{repo!r} is not a Hugging Face repository id (ORG/NAME)")
    if any(p in ("", ".", "..") for p in file.split("/")):
        raise _bad_spec(spec, f"{file!r} is not a file path inside the repository")
    if "\\" in file or "\0" in file:
        raise _bad_spec(spec, f"{file!r} is not a file path inside the repository")
    if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision.split("/")):
        raise _bad_spec(spec, f"{revision!r} is not a revision (a branch, tag or commit)")
    return HFSource(repo=repo, file=file, revision=revision or None)


def _bad_spec(spec: str, reason: str) -> ModelNotFoundError:
    return ModelNotFoundError(f"bad Hugging Face model {spec!r}: {reason}; {SPEC_HELP}", model=spec)


def hf_entry(source: HFSource, sha256: str | None = None) -> CatalogEntry:
    """A catalogue entry for a bare ``hf:`` model string (no expected hash but the blob's)."""
    return CatalogEntry(name=source.spec, source=source, sha256=sha256, origin="hf-cache")


def repo_dir(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def _commit_for(folder: Path, revision: str) -> str | None:
    if _COMMIT.fullmatch(revision):
        return revision
    try:
        commit = (folder / "refs" / revision).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if _COMMIT.fullmatch(commit) else None


def find_cached(source: HFSource, cache: Path | None = None) -> Path | None:
    """The snapshot path of ``source`` in the cache (a symlink into blobs/), or None.

    With no revision pinned, the snapshot ``refs/main`` names is preferred; failing that, the most
    recently fetched snapshot holding the file. A dangling link (an unfinished download) is not
    a hit.
    """
    folder = repo_dir(cache or hub_cache_dir(), source.repo)
    commit = _commit_for(folder, source.revision or "main")
    if commit is not None:
        candidate = folder / "snapshots" / commit / source.file
        if candidate.is_file():
            return candidate
    if source.revision is not None:
        return None
    try:
        snapshots = [p for p in (folder / "snapshots").iterdir() if p.is_dir()]
    except OSError:
        return None
    found = [s / source.file for s in snapshots if (s / source.file).is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def blob_sha256(path: Path) -> str | None:
    """The SHA-256 the cache names ``path``'s blob by (LFS files), or None if ``path`` is not a
    link into ``blobs/`` named by a SHA-256 (e.g. a cache made without symlinks)."""
    try:
        target = Path(os.readlink(path))
    except OSError:
        return None
    name = target.name
    return name if target.parent.name == "blobs" and SHA256_RE.fullmatch(name) else None


@dataclass(frozen=True)
class CachedFile:
    """A GGUF file found in the cache."""

    source: HFSource
    commit: str
    path: Path
    size: int


def scan_cache(cache: Path | None = None) -> list[CachedFile]:
    """Every GGUF file in the cache, one per (repository, file): the ``refs/main`` snapshot's,
    else the newest. Sorted by repository and file."""
    root = cache or hub_cache_dir()
    try:
        folders = sorted(p for p in root.iterdir() if p.name.startswith("models--"))
    except OSError:
        return []
    found: list[CachedFile] = []
    for folder in folders:
        found.extend(_scan_repo(folder))
    return found


def _scan_repo(folder: Path) -> list[CachedFile]:
    repo = folder.name.removeprefix("models--").replace("--", "/", 1)
    main = _commit_for(folder, "main")
    best: dict[str, CachedFile] = {}
    try:
        snapshots = sorted(p for p in (folder / "snapshots").iterdir() if p.is_dir())
    except OSError:
        return []
    for snapshot in snapshots:
        for path in snapshot.rglob("*"):
            if path.suffix.lower() != ".gguf" or not path.is_file():
                continue
            file = path.relative_to(snapshot).as_posix()
            try:
                source = make_hf_source(repo, file, None, spec=f"hf:{repo}/{file}")
            except ModelNotFoundError:
                continue  # a name hearth could not address again: leave it out
            stat = path.stat()
            found = CachedFile(source, snapshot.name, path, stat.st_size)
            current = best.get(file)
            if current is None or _prefer(found, current, main):
                best[file] = found
    return [best[file] for file in sorted(best)]


def _prefer(new: CachedFile, old: CachedFile, main: str | None) -> bool:
    if old.commit == main:
        return False
    if new.commit == main:
        return True
    return new.path.stat().st_mtime_ns > old.path.stat().st_mtime_ns
