"""Models in the Hugging Face hub cache, used in place; hf: model strings; the download path's
fast failures (there is no Hub access from the test machines)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run

import hearth
from hearth.backends.local.backend import LocalBackend
from hearth.catalog import hf_download
from hearth.catalog.entries import CatalogEntry, HFSource
from hearth.catalog.hf_cache import (
    blob_sha256,
    find_cached,
    hf_entry,
    hub_cache_dir,
    parse_hf_spec,
    scan_cache,
)
from hearth.catalog.progress import Progress
from hearth.catalog.resolve import resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import (
    ChecksumMismatchError,
    InvalidRequestError,
    ModelFetchError,
    ModelNotFoundError,
)

TinyGGUF = Callable[..., Path]
COMMIT = "a" * 40
OLD_COMMIT = "b" * 40
REPO = "acme/tiny-GGUF"


def add_to_cache(
    cache: Path,
    repo: str,
    file: str,
    content: bytes,
    *,
    commit: str = COMMIT,
    ref: str | None = "main",
) -> Path:
    """Lay out ``content`` as huggingface_hub does: a blob named by its SHA-256, a relative
    symlink to it in the snapshot, and ``refs/<ref>`` naming the commit."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob = folder / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    link = folder / "snapshots" / commit / file
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    if ref is not None:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / ref).write_text(commit)
    return link


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    hub = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    return hub


@pytest.fixture
def cached_tiny(cache: Path, tiny_gguf: TinyGGUF) -> Path:
    return add_to_cache(cache, REPO, "tiny-Q4_0.gguf", tiny_gguf().read_bytes())


# ---- the cache directory and model strings ---------------------------------------------------


def test_hub_cache_dir_follows_huggingface_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", "~/hfhome")
    assert hub_cache_dir() == tmp_path / "hfhome" / "hub"
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(tmp_path / "legacy"))
    assert hub_cache_dir() == tmp_path / "legacy"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "new"))
    assert hub_cache_dir() == tmp_path / "new"


@pytest.mark.parametrize(
    ("spec", "repo", "file", "revision"),
    [
        ("hf:org/repo/model.gguf", "org/repo", "model.gguf", None),
        ("HF:org/repo/sub/dir/m-Q4_K_M.gguf", "org/repo", "sub/dir/m-Q4_K_M.gguf", None),
        ("hf:org/repo@v1.0/model.gguf", "org/repo", "model.gguf", "v1.0"),
        (f"hf:org/repo@{COMMIT}/m.gguf", "org/repo", "m.gguf", COMMIT),
    ],
)
def test_parse_hf_spec(spec: str, repo: str, file: str, revision: str | None) -> None:
    source = parse_hf_spec(spec)
    assert (source.repo, source.file, source.revision) == (repo, file, revision)
    assert parse_hf_spec(source.spec) == source


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("hf:org/model.gguf", "needs an organisation, a repository and a file"),
        ("hf:org//repo/model.gguf", "needs an organisation"),
        ("hf:org/repo/../../etc/passwd", "not a file path inside the repository"),
        ("hf:org/repo/./m.gguf", "not a file path inside the repository"),
        ("hf:../repo/m.gguf", "not a Hugging Face repository id"),
        ("hf:org/re--po/m.gguf", "not a Hugging Face repository id"),
        ("hf:org/repo@../m.gguf", "not a revision"),
        ("hf:org/repo@/m.gguf", "not a revision"),
    ],
)
def test_bad_hf_specs_say_what_is_wrong(spec: str, needle: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        parse_hf_spec(spec)
    assert needle in str(caught.value)
    assert "hf:ORG/REPO/FILE.gguf" in str(caught.value)


# ---- finding files -----------------------------------------------------------------------------


def test_find_prefers_the_snapshot_main_names(cache: Path) -> None:
    old = add_to_cache(cache, REPO, "m.gguf", b"old", commit=OLD_COMMIT, ref=None)
    new = add_to_cache(cache, REPO, "m.gguf", b"new", commit=COMMIT)
    os.utime(old, (time.time() + 100, time.time() + 100), follow_symlinks=False)
    assert find_cached(HFSource(REPO, "m.gguf"), cache) == new
    assert find_cached(HFSource(REPO, "m.gguf", OLD_COMMIT), cache) == old
    assert find_cached(HFSource(REPO, "m.gguf", "main"), cache) == new
    assert find_cached(HFSource(REPO, "m.gguf", "v2"), cache) is None


def test_find_without_refs_takes_the_newest_snapshot(cache: Path) -> None:
    add_to_cache(cache, REPO, "m.gguf", b"one", commit=OLD_COMMIT, ref=None)
    second = add_to_cache(cache, REPO, "m.gguf", b"two", commit=COMMIT, ref=None)
    stamp = time.time() + 100
    os.utime(second.resolve(), (stamp, stamp))
    assert find_cached(HFSource(REPO, "m.gguf"), cache) == second


def test_find_misses(cache: Path) -> None:
    link = add_to_cache(cache, REPO, "m.gguf", b"x")
    assert find_cached(HFSource(REPO, "other.gguf"), cache) is None
    assert find_cached(HFSource("acme/absent", "m.gguf"), cache) is None
    link.resolve().unlink()  # an unfinished download: the link dangles
    assert find_cached(HFSource(REPO, "m.gguf"), cache) is None


def test_blob_sha256(cache: Path, tmp_path: Path) -> None:
    link = add_to_cache(cache, REPO, "m.gguf", b"content")
    assert blob_sha256(link) == hashlib.sha256(b"content").hexdigest()
    plain = tmp_path / "plain.gguf"
    plain.write_bytes(b"content")
    assert blob_sha256(plain) is None


def test_scan_lists_each_gguf_once(cache: Path) -> None:
    add_to_cache(cache, REPO, "m.gguf", b"old", commit=OLD_COMMIT, ref=None)
    main_link = add_to_cache(cache, REPO, "m.gguf", b"new")
    add_to_cache(cache, REPO, "sub/b.GGUF", b"b")
    add_to_cache(cache, REPO, "README.md", b"# hi")
    add_to_cache(cache, "acme/other", "z.gguf", b"z")
    found = scan_cache(cache)
    assert [(f.source.spec, f.size) for f in found] == [
        ("hf:acme/other/z.gguf", 1),
        (f"hf:{REPO}/m.gguf", 3),
        (f"hf:{REPO}/sub/b.GGUF", 1),
    ]
    assert found[1].path == main_link and found[1].commit == COMMIT
    assert scan_cache(cache / "nowhere") == []


# ---- using cached files in place ---------------------------------------------------------------


def test_an_hf_spec_resolves_to_the_cached_file(cached_tiny: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    ref = resolve_local(f"hf:{REPO}/tiny-Q4_0.gguf", store)
    assert ref.path == cached_tiny
    assert ref.entry is not None and ref.entry.origin == "hf-cache"
    assert store.ensure(ref.entry) == cached_tiny  # used in place: nothing copied
    assert not any(p.suffix == ".gguf" for p in store.root.rglob("*"))
    assert len(list((store.root / "verified").iterdir())) == 1  # the record is hearth's


def test_a_changed_blob_is_refused(cached_tiny: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    entry = hf_entry(parse_hf_spec(f"hf:{REPO}/tiny-Q4_0.gguf"))
    store.ensure(entry)
    blob = cached_tiny.resolve()
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(ChecksumMismatchError):
        store.ensure(entry)


def test_hearth_model_uses_the_cache_in_place(cached_tiny: Path) -> None:
    m = hearth.model(f"local:hf:{REPO}/tiny-Q4_0.gguf")
    assert isinstance(m.backend, LocalBackend)
    assert m.backend.path == cached_tiny
    assert m.backend.fetch() == cached_tiny


def test_a_missing_file_is_downloaded_into_the_cache(cache: Path, tmp_path: Path) -> None:
    calls: list[tuple[HFSource, Path, bool]] = []

    def fake(source: HFSource, into: Path, force: bool, progress: Progress) -> Path:
        calls.append((source, into, force))
        return add_to_cache(into, source.repo, source.file, b"downloaded")

    store = ModelStore(tmp_path / "store", hf_downloader=fake)
    entry = hf_entry(parse_hf_spec(f"hf:{REPO}/new.gguf"))
    assert not store.is_pulled(entry)
    assert store.path_for(entry) == cache / "models--acme--tiny-GGUF"
    path = store.ensure(entry)
    assert path.read_bytes() == b"downloaded" and path.is_relative_to(cache)
    assert store.pull(entry) == path and len(calls) == 1
    store.pull(entry, force=True)
    assert calls[-1][2] is True
    assert store.is_pulled(entry)


def test_a_catalogue_entry_with_an_hf_source_and_sha(cache: Path, tmp_path: Path) -> None:
    link = add_to_cache(cache, REPO, "m.gguf", b"weights")
    good = CatalogEntry(
        "mine", HFSource(REPO, "m.gguf"), sha256=hashlib.sha256(b"weights").hexdigest()
    )
    store = ModelStore(tmp_path / "store")
    assert store.ensure(good) == link
    bad = CatalogEntry("bad", HFSource(REPO, "m.gguf"), sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        store.ensure(bad)


def test_remove_never_touches_the_hf_cache(cached_tiny: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    with pytest.raises(InvalidRequestError, match="never deletes from") as caught:
        store.remove(hf_entry(parse_hf_spec(f"hf:{REPO}/tiny-Q4_0.gguf")))
    assert "hf cache delete" in str(caught.value)
    assert cached_tiny.is_file()


# ---- downloading: every failure is quick and clear ----------------------------------------------


def test_offline_switch_refuses_at_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelFetchError) as caught:
        hf_download.download(HFSource(REPO, "x.gguf"), cache)
    assert time.perf_counter() - start < 0.5
    message = str(caught.value)
    assert f"hf:{REPO}/x.gguf is not in the Hugging Face cache ({cache})" in message
    assert "HF_HUB_OFFLINE is set" in message and "Unset HF_HUB_OFFLINE" in message


def test_an_unreachable_endpoint_fails_fast(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    start = time.perf_counter()
    with pytest.raises(ModelFetchError, match=r"cannot reach http://127\.0\.0\.1:9 \("):
        hf_download.download(HFSource(REPO, "x.gguf"), cache)
    assert time.perf_counter() - start < 2.0


def test_a_hanging_connection_is_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(host: str, port: int, timeout: float) -> None:
        time.sleep(5)

    start = time.perf_counter()
    with pytest.raises(ModelFetchError, match=r"no answer within 0\.2 s"):
        hf_download.check_reachable("https://huggingface.co", timeout=0.2, connect=hang)
    assert time.perf_counter() - start < 1.5


def test_the_probe_goes_to_the_proxy_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert hf_download.probe_target("https://huggingface.co") == (
        "proxy.internal",
        3128,
        "the proxy http://proxy.internal:3128",
    )
    monkeypatch.delenv("HTTPS_PROXY")
    assert hf_download.probe_target("https://hub.example:8443/x")[:2] == ("hub.example", 8443)


def test_missing_huggingface_hub_says_how_to_install_it(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ModelFetchError, match=r"pip install 'hearthlm\[hf\]'"):
        hf_download.download(HFSource(REPO, "x.gguf"), cache, connect=lambda *a: None)


def test_hub_errors_become_one_line_with_advice(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("huggingface_hub")
    import huggingface_hub

    class GatedRepoError(Exception):
        pass

    def gated(*args: object, **kwargs: object) -> str:
        raise GatedRepoError("401 Client Error\nmore lines")

    def other(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom\ntrace")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated)
    source = HFSource(REPO, "x.gguf")
    with pytest.raises(ModelFetchError, match="is gated: accept its terms"):
        hf_download.download(source, cache, connect=lambda *a: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", other)
    with pytest.raises(ModelFetchError, match=r"could not download hf:acme/tiny-GGUF/x\.gguf: "):
        hf_download.download(source, cache, connect=lambda *a: None)


# ---- the CLI -----------------------------------------------------------------------------------


def test_cli_pull_info_list_verify_rm(
    cached_tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"hf:{REPO}/tiny-Q4_0.gguf"
    code, out, err = run(["pull", spec], capsys)
    assert (code, out) == (0, f"{cached_tiny}\n"), err
    code, out, _ = run(["info", spec, "--json"], capsys)
    assert code == 0 and json.loads(out)["architecture"] == "llama"
    assert json.loads(out)["source"] == spec
    code, out, _ = run(["models", "list", "--json"], capsys)
    row = next(r for r in json.loads(out) if r["name"] == spec)
    assert row["pulled"] is True and row["path"] == str(cached_tiny)
    assert row["origin"] == "hf-cache" and row["source"] == spec
    code, out, _ = run(["models", "verify", spec], capsys)
    assert code == 0 and out.startswith(f"ok        {spec}")
    code, out, err = run(["models", "rm", spec], capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "never deletes from" in err
    assert len(err.strip().splitlines()) == 1
    assert cached_tiny.is_file()


def test_cli_pull_offline_is_one_quick_error(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    code, out, err = run(["pull", f"hf:{REPO}/absent.gguf"], capsys)
    assert time.perf_counter() - start < 2.0
    assert (code, out) == (1, "")
    assert err.count("error:") == 1 and "HF_HUB_OFFLINE is set" in err


def test_cli_info_on_an_hf_model_not_cached(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["info", f"hf:{REPO}/absent.gguf"], capsys)
    assert code == 1
    assert f"is not in the Hugging Face cache ({cache})" in err
    assert f"`hearth pull hf:{REPO}/absent.gguf`" in err


# ---- a real model, run from a Hugging Face cache layout ----------------------------------------


@pytest.mark.integration
def test_the_real_default_model_runs_from_the_hf_cache(cache: Path) -> None:
    real = Path.home() / ".cache" / "hearth" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not real.exists():
        pytest.skip("smollm2 is not pulled")
    sha = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    folder = cache / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / sha).symlink_to(real)  # no copy of the 98 MB file, even here
    link = folder / "snapshots" / COMMIT / "smollm2-q4_1.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(f"../../blobs/{sha}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    spec = "local:hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-q4_1.gguf"
    with hearth.model(spec, n_threads=2) as m:
        assert isinstance(m.backend, LocalBackend) and m.backend.fetch() == link
        # no catalogue entry, so no sampling defaults: give the default model's penalty
        answer = m.chat(
            "What is the capital of France?", temperature=0, repeat_penalty=1.1, max_tokens=24
        )
    assert "Paris" in answer.text
