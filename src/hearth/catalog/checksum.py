"""SHA-256 of model files, streamed with progress, with a cached verdict beside the file.

Hashing a 250 MB file takes a noticeable fraction of a second, so a successful check is recorded
in a sidecar ``<file>.verified`` (JSON: sha256, size, mtime_ns). The record is trusted only while
the file's size and modification time are unchanged; any change means the file is hashed again.
Every function takes an optional ``record`` path, for files whose directory is not hearth's to
write in (the Hugging Face cache, a user's own files): the model store then keeps the record.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from hearth.catalog.progress import NullProgress, Progress
from hearth.errors import ChecksumMismatchError

BLOCK_SIZE = 1 << 20
SIDECAR_SUFFIX = ".verified"


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sha256_stream(
    stream: BinaryIO, progress: Progress | None = None, *, out: BinaryIO | None = None
) -> str:
    """Hash ``stream`` in 1 MiB blocks, copying them to ``out`` when given; the hex digest."""
    progress = progress or NullProgress()
    digest = hashlib.sha256()
    while block := stream.read(BLOCK_SIZE):
        digest.update(block)
        if out is not None:
            out.write(block)
        progress.advance(len(block))
    return digest.hexdigest()


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """The hex SHA-256 of the file at ``path``, reporting one "verifying" phase."""
    progress = progress or NullProgress()
    progress.start(f"verifying {path.name}", path.stat().st_size)
    try:
        with path.open("rb") as stream:
            return sha256_stream(stream, progress)
    finally:
        progress.finish()


def cached_verification(path: Path, expected: str, record: Path | None = None) -> bool:
    """True if the record (default: the sidecar) holds ``expected`` for the file as it is now
    (size and mtime)."""
    try:
        saved = json.loads((record or sidecar_path(path)).read_text(encoding="utf-8"))
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(saved, dict)
        and saved.get("sha256") == expected.lower()
        and saved.get("size") == stat.st_size
        and saved.get("mtime_ns") == stat.st_mtime_ns
    )


def record_verification(path: Path, sha256: str, record: Path | None = None) -> None:
    """Write the record (default: the sidecar) for ``path`` as it is now, atomically.

    The record only saves time, so a store that cannot be written (read-only) just goes without.
    """
    stat = path.stat()
    saved = {"sha256": sha256.lower(), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    target = record or sidecar_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(saved, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def forget_verification(path: Path, record: Path | None = None) -> None:
    (record or sidecar_path(path)).unlink(missing_ok=True)


def verify_file(
    path: Path,
    expected: str,
    progress: Progress | None = None,
    *,
    record: Path | None = None,
    force: bool = False,
) -> str:
    """Check that ``path`` has SHA-256 ``expected``; the digest.

    The record (default: the sidecar) is trusted unless ``force``; a fresh match is recorded.
    Raises :class:`ChecksumMismatchError` (and drops the record) when the digest differs.
    """
    if not force and cached_verification(path, expected, record):
        return expected.lower()
    actual = sha256_file(path, progress)
    if actual != expected.lower():
        forget_verification(path, record)
        raise ChecksumMismatchError(str(path), expected.lower(), actual)
    record_verification(path, actual, record)
    return actual
