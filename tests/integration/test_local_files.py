"""Bad model files are refused with a clear error before llama.cpp sees them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hearth
from hearth.backends.local.backend import LocalBackend
from hearth.catalog.entries import find_entry
from hearth.catalog.store import ModelStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2_path() -> Path:
    store = ModelStore()
    entry = find_entry("smollm2")
    if not store.is_pulled(entry):
        store.pull(entry)
    return store.path_for(entry)


def test_missing_file_names_the_path_and_how_to_get_a_model(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(hearth.ModelNotFoundError, match=r"nope\.gguf.*hearth pull"):
        hearth.model(f"local:{missing}")


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("this is not a model\n" * 100)
    m = hearth.model(f"local:{bad}")
    with pytest.raises(hearth.InvalidModelFileError, match=r"notes\.gguf"):
        m.chat("hi")


@pytest.mark.parametrize("keep", [4, 1_000, 2_000_000, 60_000_000])
def test_a_truncated_model_is_refused(tmp_path: Path, smollm2_path: Path, keep: int) -> None:
    cut = tmp_path / "cut.gguf"
    with smollm2_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(keep))
    m = hearth.model(f"local:{cut}")
    with pytest.raises(hearth.InvalidModelFileError, match=r"truncated|too small|not"):
        m.chat("hi")


def test_a_truncated_file_never_kills_the_process(tmp_path: Path, smollm2_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with smollm2_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(50_000_000))
    code = (
        "import hearth, sys\n"
        f"m = hearth.model({str(cut)!r})\n"
        "try:\n    m.chat('hi')\nexcept hearth.InvalidModelFileError as e:\n"
        "    print('refused:', e)\n    sys.exit(0)\nsys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout


def test_a_copy_of_a_good_file_loads_by_path(
    tmp_path: Path, smollm2_path: Path, smollm2: hearth.Model
) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copy(smollm2_path, copy)
    settings = hearth.GenerationSettings(temperature=0, repeat_penalty=1.1, max_tokens=24)
    with hearth.model(str(copy), n_threads=2) as m:
        assert isinstance(m.backend, LocalBackend)
        by_path = m.chat("What is the capital of France?", settings)
    assert by_path.text == smollm2.chat("What is the capital of France?", settings).text
    assert "Paris" in by_path.text
