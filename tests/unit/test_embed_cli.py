"""``hearth embed``: lines in, JSON lines or .npy out, errors as one line (FakeBackend-style
embedding backend behind hearth.model)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from tests.support.cli import run_cli

import hearth
from hearth.backends.base import BackendBase, Capabilities
from hearth.embeddings import Embeddings, check_dimensions, finish_vector
from hearth.events import Usage
from hearth.request import EmbedRequest


class LengthBackend(BackendBase):
    """Embeds a text as [len(text), 1.0]; remembers each batch."""

    name = "test:length"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.options: dict[str, object] = {}

    def capabilities(self) -> Capabilities:
        return Capabilities(embeddings=True)

    def embed(self, request: EmbedRequest) -> Embeddings:
        check_dimensions(request.dimensions, 2)
        texts = request.texts
        self.batches.append(list(texts))
        self.options = {
            "task": request.task,
            "truncate": request.truncate,
            "normalize": request.normalize,
        }
        vectors = [
            finish_vector([float(len(t)), 1.0], request.dimensions, request.normalize)
            for t in texts
        ]
        return Embeddings(vectors, Usage(input_tokens=len(texts)), self.name)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> LengthBackend:
    fake = LengthBackend()
    opened: list[str] = []

    def model(spec: str | None = None, /, **options: object) -> hearth.Model:
        opened.append(str(spec))
        return hearth.Model(fake)

    monkeypatch.setattr(hearth, "model", model)
    fake.opened = opened  # type: ignore[attr-defined]
    return fake


def test_lines_from_files_become_json_lines_in_order(
    tmp_path: Path, backend: LengthBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("one\n\nthree\r\n")
    (tmp_path / "b.txt").write_text("four")
    code, out, err = run_cli(
        ["embed", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--no-normalize",
         "--batch-size", "2", "--task", "document", "--truncate"],
        capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert [r["embedding"][0] for r in rows] == [3.0, 0.0, 5.0, 4.0]  # the empty line embeds
    assert backend.batches == [["one", ""], ["three", "four"]]
    assert backend.options == {"task": "document", "truncate": True, "normalize": False}
    assert backend.opened == ["local:minilm"]  # type: ignore[attr-defined]


def test_stdin_to_npy(
    tmp_path: Path,
    backend: LengthBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("ab\nabcd\n"))
    target = tmp_path / "v.npy"
    code, out, _ = run_cli(["embed", "-m", "ollama:x", "-o", str(target), "-d", "1"], capsys)
    assert code == 0 and out == ""
    matrix = np.load(target)
    assert matrix.shape == (2, 1) and matrix.dtype == np.float32
    assert matrix.tolist() == [[1.0], [1.0]]
    assert backend.opened == ["ollama:x"]  # type: ignore[attr-defined]


def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, backend: LengthBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["embed", "-f", str(tmp_path / "missing.txt")], capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: cannot read") and err.count("\n") == 1
    (tmp_path / "a.txt").write_text("x\n")
    code, _, err = run_cli(["embed", str(tmp_path / "a.txt"), "-d", "9"], capsys)
    assert code == 1 and "dimensions=9 is more than the model's 2" in err
    (tmp_path / "empty.txt").write_text("")
    code, _, err = run_cli(["embed", str(tmp_path / "empty.txt")], capsys)
    assert code == 1 and "no input lines" in err


def test_text_arguments_files_and_csv(
    tmp_path: Path, backend: LengthBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["embed", "some text", "--no-normalize"], capsys)
    assert code == 0
    assert json.loads(out) == {"index": 0, "embedding": [9.0, 1.0]}
    notes = tmp_path / "notes.txt"
    notes.write_text("ab\nabc\n")
    target = tmp_path / "out.csv"
    argv = ["embed", "x", str(notes), "-f", str(notes), "--no-normalize", "-o", str(target)]
    assert run_cli(argv, capsys)[0] == 0
    assert target.read_text() == "1.0,1.0\n2.0,1.0\n3.0,1.0\n2.0,1.0\n3.0,1.0\n"


def test_output_extension_must_be_one_of_three(
    tmp_path: Path, backend: LengthBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["embed", "text", "-o", str(tmp_path / "out.json")], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("error: -o ") and ".jsonl (JSON lines), .csv" in err
    assert backend.batches == []
    assert not (tmp_path / "out.json").exists()
