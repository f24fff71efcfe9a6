"""Convert a BERT sentence encoder (Hugging Face ``model.safetensors``, ``config.json`` and a
WordPiece ``vocab.txt``) into a GGUF file llama.cpp runs, with the ``gguf`` library.

What llama.cpp's BERT loader expects, and this writes:

* architecture ``bert``: block count, embedding and feed-forward sizes, heads, layer-norm
  epsilon, ``causal_attention = false``, the pooling type (``mean`` for sentence-transformers
  models such as all-MiniLM-L6-v2) and the token-type count;
* the tensors renamed by ``gguf``'s own map for BERT (``embeddings.word_embeddings`` →
  ``token_embd``, ``encoder.layer.N.attention.self.query`` → ``blk.N.attn_q``, …), matrices in
  float16 and vectors in float32; ``position_ids`` and the unused pooler head are dropped;
* the vocabulary as ``tokenizer.ggml.model = "bert"`` in llama.cpp's "phantom space" form: a
  word-initial piece gets a leading ``▁``, a ``##`` continuation loses its ``##``, special tokens
  (``[PAD] [UNK] [CLS] [SEP] [MASK]``) stay as they are, typed CONTROL; ``[CLS]`` is the BOS
  token and ``[SEP]`` the separator, both added around every input.

:func:`ensure_gguf` runs the conversion once and re-uses the result; the file records a key made
of the sources' identity and :data:`CONVERTER_VERSION`, so a changed source (or converter) makes
it convert again. The file is written to ``<dest>.partial`` and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hearth.errors import InvalidModelFileError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np

CONVERTER_VERSION = 1
KEY_FIELD = "hearth.converted_from"
PoolingName = Literal["mean", "cls", "last"]
WeightType = Literal["f32", "f16", "q8_0"]
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_DROPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


@dataclass(frozen=True, slots=True)
class BertSources:
    """The files of a BERT checkpoint. ``weights_sha256``, when known (a verified store file),
    identifies the weights without hashing them again."""

    weights: Path
    config: Path
    vocab: Path
    tokenizer_config: Path | None = None
    weights_sha256: str | None = None
    pooling: PoolingName = "mean"
    weight_type: WeightType = "f16"

    def key(self) -> str:
        """Identifies these sources and this converter: the small files' contents, the
        weights' SHA-256 (else their size and modification time)."""
        digest = hashlib.sha256(f"v{CONVERTER_VERSION}:{self.pooling}:{self.weight_type}:".encode())
        if self.weights_sha256 is not None:
            digest.update(self.weights_sha256.encode())
        else:
            stat = self.weights.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        for path in (self.config, self.vocab, self.tokenizer_config):
            digest.update(b"\0" + (path.read_bytes() if path is not None else b""))
        return digest.hexdigest()


def ensure_gguf(sources: BertSources, dest: Path) -> Path:
    """``dest``, converted from ``sources`` unless it already holds their conversion."""
    key = sources.key()
    if _converted_key(dest) == key:
        return dest
    partial = dest.with_name(dest.name + ".partial")
    try:
        convert(sources, partial, key)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


def _converted_key(path: Path) -> str | None:
    from hearth.catalog.gguf_file import read_gguf

    if not path.is_file():
        return None
    try:
        value = read_gguf(path).metadata.get(KEY_FIELD)
    except InvalidModelFileError:
        return None
    return value if isinstance(value, str) else None


def convert(sources: BertSources, out: Path, key: str = "") -> None:
    """Write the GGUF conversion of ``sources`` to ``out``."""
    import gguf

    config = _read_json(sources.config)
    tokens = read_vocab(sources.vocab)
    writer = gguf.GGUFWriter(str(out), "bert")
    try:
        _write_hparams(writer, config, sources.pooling, sources.weight_type)
        writer.add_string(KEY_FIELD, key)
        _write_vocab(writer, tokens, _special_names(sources.tokenizer_config), config)
        blocks = int(config["num_hidden_layers"])
        for name, array, qtype in _tensors(sources.weights, blocks, sources.weight_type):
            writer.add_tensor(name, array, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelLoadError(
            f"cannot convert {sources.weights} to GGUF: {exc!r}; is it a BERT checkpoint with "
            "its config.json and vocab.txt?"
        ) from exc
    finally:
        writer.close()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return data


def read_vocab(path: Path) -> list[str]:
    """A WordPiece ``vocab.txt``: one token per line, the line number is the id."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read the vocabulary {path}: {exc}") from exc
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _special_names(tokenizer_config: Path | None) -> dict[str, str]:
    """``cls``/``sep``/``unk``/``pad``/``mask`` → token text, from tokenizer_config.json."""
    names = {"cls": "[CLS]", "sep": "[SEP]", "unk": "[UNK]", "pad": "[PAD]", "mask": "[MASK]"}
    if tokenizer_config is not None:
        data = _read_json(tokenizer_config)
        for role in names:
            value = data.get(f"{role}_token")
            if isinstance(value, str):
                names[role] = value
            elif isinstance(value, dict) and isinstance(value.get("content"), str):
                names[role] = value["content"]
    return names


def phantom_tokens(tokens: list[str], special: set[str]) -> list[str]:
    """llama.cpp's WordPiece form: ``▁word`` for a word start, ``piece`` for ``##piece``."""
    out = []
    for token in tokens:
        if token in special:
            out.append(token)
        elif token.startswith("##"):
            out.append(token[2:])
        else:
            out.append("\u2581" + token)
    return out


def _write_vocab(
    writer: Any, tokens: list[str], names: dict[str, str], config: dict[str, Any]
) -> None:
    import gguf

    n_vocab = int(config.get("vocab_size", len(tokens)))
    if len(tokens) > n_vocab:
        raise ModelLoadError(f"vocab.txt has {len(tokens)} tokens, config.json says {n_vocab}")
    tokens = tokens + [f"[PAD{i}]" for i in range(len(tokens), n_vocab)]
    ids = {token: i for i, token in enumerate(tokens)}
    missing = [text for text in names.values() if text not in ids]
    if missing:
        raise ModelLoadError(f"the vocabulary lacks the special tokens {missing}")
    special = set(names.values())
    types = [
        gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL for token in tokens
    ]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(phantom_tokens(tokens, special))
    writer.add_token_types(types)
    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    writer.add_bos_token_id(ids[names["cls"]])
    writer.add_sep_token_id(ids[names["sep"]])
    writer.add_unk_token_id(ids[names["unk"]])
    writer.add_pad_token_id(ids[names["pad"]])
    writer.add_mask_token_id(ids[names["mask"]])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)


def _write_hparams(
    writer: Any, config: dict[str, Any], pooling: PoolingName, weight_type: WeightType
) -> None:
    import gguf

    if config.get("model_type", "bert") != "bert":
        raise ModelLoadError(
            f"only BERT checkpoints convert; this one is {config.get('model_type')!r}"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ModelLoadError("only BERT with absolute position embeddings converts")
    pooling_types = {
        "mean": gguf.PoolingType.MEAN,
        "cls": gguf.PoolingType.CLS,
        "last": gguf.PoolingType.LAST,
    }
    writer.add_name(str(config.get("_name_or_path", "bert")))
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling_types[pooling])
    file_types = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }
    writer.add_file_type(file_types[weight_type])


def _tensors(
    weights: Path, n_blocks: int, weight_type: WeightType
) -> Iterator[tuple[str, np.ndarray[Any, Any], Any]]:
    """(GGUF name, array, quantization type or None) for each tensor the BERT graph uses.

    Vectors and the token-type table stay float32. With ``f16`` every other matrix is float16;
    with ``q8_0`` the layers' matrices are Q8_0 and the embedding tables float16."""
    import gguf
    import numpy as np
    from safetensors import SafetensorError, safe_open

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_blocks)
    try:
        with safe_open(str(weights), framework="numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                short = name.removeprefix("bert.")
                if short in _DROPPED or short.startswith("cls."):
                    continue
                mapped = names.get_name(short, try_suffixes=(".weight", ".bias"))
                if mapped is None:
                    raise ModelLoadError(f"{weights}: no GGUF name for the tensor {name!r}")
                array = handle.get_tensor(name)
                wide = array.ndim == 2 and mapped != "token_types.weight"
                if wide and weight_type == "q8_0" and mapped.startswith("blk."):
                    quantized = gguf.quants.quantize(
                        array.astype(np.float32), gguf.GGMLQuantizationType.Q8_0
                    )
                    yield mapped, quantized, gguf.GGMLQuantizationType.Q8_0
                    continue
                dtype = np.float16 if wide and weight_type != "f32" else np.float32
                yield mapped, np.ascontiguousarray(array.astype(dtype)), None
    except SafetensorError as exc:
        raise ModelLoadError(f"cannot read {weights}: {exc}") from exc
