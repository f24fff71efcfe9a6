"""Shared fixtures for the unit tests."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

TinyGGUF = Callable[..., Path]


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads the developer's config file, Hugging Face cache, conversation store or
    saved keys, or their overrides; stdin is an empty pipe (``hearth run`` joins piped stdin to
    its prompt), unless a test pipes something in."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path_factory.getbasetemp() / "hearth-home"))
    monkeypatch.setenv("HEARTH_CONFIG", os.devnull)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.getbasetemp() / "no-hf-cache"))
    for variable in ("HEARTH_MODEL", "HEARTH_SERVER_HOST", "HEARTH_SERVER_PORT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(autouse=True)
def _test_client_is_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette's TestClient names its host ``testserver``; hearth serve answers only the
    loopback names unless told otherwise, and the test client stands for a local client."""
    from starlette.testclient import TestClient

    defaults = TestClient.__init__.__defaults__ or ()
    monkeypatch.setattr(TestClient.__init__, "__defaults__", ("http://localhost", *defaults[1:]))


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> TinyGGUF:
    """Write a small valid GGUF (arch "llama", three tensors incl. a Q4_0 one); its path."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter

    def write(
        name: str = "tiny.gguf", *, chat_template: str | None = "{{ messages }}", vocab: int = 100
    ) -> Path:
        path = tmp_path / name
        writer = GGUFWriter(str(path), "llama")
        writer.add_name("tiny test model")
        writer.add_context_length(128)
        writer.add_file_type(2)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
        if chat_template is not None:
            writer.add_chat_template(chat_template)
        writer.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(vocab)])
        writer.add_array("tokenizer.ggml.scores", [float(i) for i in range(vocab)])
        writer.add_array("hearth.small", [1, 2, 3])
        writer.add_tensor("a.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
        writer.add_tensor(
            "q.weight", np.zeros((2, 18), np.uint8), raw_dtype=GGMLQuantizationType.Q4_0
        )
        writer.add_tensor("h.bias", np.ones(7, np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path

    return write
