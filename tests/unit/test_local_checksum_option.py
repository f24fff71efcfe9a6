"""hearth.model("local:/path.gguf", sha256=…) checks a bare path's checksum, with no config entry;
and the embedding options a local model takes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from tests.unit.conftest import TinyGGUF

import hearth
from hearth.backends.local.backend import LocalBackend, create_backend
from hearth.catalog.entries import find_entry
from hearth.errors import ChecksumMismatchError, InvalidRequestError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_bare_path_with_the_wrong_sha256_is_refused_before_loading(tiny_gguf: TinyGGUF) -> None:
    path = tiny_gguf()
    model = hearth.model(f"local:{path}", sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match=f"has SHA-256 {digest(path)}, expected 0000"):
        model.chat("hi")


def test_a_bare_path_with_its_sha256_is_checked_and_the_verdict_cached(
    tiny_gguf: TinyGGUF,
) -> None:
    path = tiny_gguf()
    good = digest(path).upper()  # any case
    backend = create_backend(str(path), sha256=good)
    assert backend.fetch() == path
    # the verdict is cached by size and mtime: a change of content means hashing again
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(ChecksumMismatchError):
        create_backend(str(path), sha256=good).fetch()


def test_a_bad_sha256_option_is_refused(tiny_gguf: TinyGGUF) -> None:
    with pytest.raises(InvalidRequestError, match="sha256 must be 64 hex digits, got 'abc'"):
        create_backend(str(tiny_gguf()), sha256="abc")


def test_a_named_model_s_sha256_must_agree_with_the_catalogue() -> None:
    with pytest.raises(
        InvalidRequestError, match="disagrees with the SHA-256 'smollm2' is known by"
    ):
        create_backend("smollm2", sha256="1" * 64)
    known = create_backend("smollm2", sha256=find_entry("smollm2").sha256)
    assert isinstance(known, LocalBackend)


def test_pooling_and_prefixes_are_options_of_a_local_model(tiny_gguf: TinyGGUF) -> None:
    backend = create_backend(str(tiny_gguf()), pooling="cls", embed_prefixes={"query": "q: "})
    assert backend.options.pooling == "cls"
    assert backend.options.embed_prefixes == {"query": "q: "}
    with pytest.raises(InvalidRequestError, match="pooling must be one of mean, cls, last"):
        create_backend(str(tiny_gguf()), pooling="max")
