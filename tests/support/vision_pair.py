"""A tiny vision projector for tests: random weights, valid shapes, written with ``gguf``.

No small vision model can be fetched on the test machines, so the tests pair the real SmolLM2
(``local:smollm2``, ``n_embd`` 576) with a projector GGUF made here in a second: llama.cpp's
LLaVA-style ``mlp`` projector (clip.cpp ``PROJECTOR_TYPE_MLP``) over a 2-layer ViT.

The recipe (keys and tensors clip.cpp's loader asks for; numpy shapes are ggml's reversed):

* ``clip.projector_type = "mlp"``, ``clip.has_vision_encoder = true``, ``clip.use_gelu``;
* ``clip.vision.{image_size, patch_size, embedding_length, feed_forward_length, block_count,
  projection_dim, attention.head_count, attention.layer_norm_epsilon, image_mean, image_std}``;
* ``v.patch_embd.weight`` ``(n_embd, 3, patch, patch)``, ``v.position_embd.weight``
  ``(patches, n_embd)``, per block ``v.blk.N.{attn_q,attn_k,attn_v,attn_out}.{weight,bias}``,
  ``ln1``/``ln2`` ``{weight,bias}``, ``ffn_up`` ``(n_ff, n_embd)``, ``ffn_down`` ``(n_embd, n_ff)``
  (``n_ff`` must differ from ``n_embd``, or clip.cpp takes them for swapped);
* the projector ``mm.0`` ``(hidden, n_embd)`` and ``mm.2`` ``(576, hidden)``: its output width is
  the LLM's ``n_embd``, which mtmd checks.

The LLaVA graph runs the blocks up to the last but one, then the projector: an image becomes
``(image_size / patch_size)²`` embeddings (56 px, patch 14: 16 image tokens). Its output means
nothing: tests assert the mechanics (tokens counted, KV separated, errors, streaming), never text.

:func:`write_gemma3_projector` writes Gemma 3's kind (``clip.projector_type = "gemma3"``: the
same ViT blocks, then a 2x2 average pool, an RMS norm ``mm.soft_emb_norm.weight`` and
``mm.input_projection.weight`` ``(n_embd, llm_embd)``) for Gemma 3 270M (``n_embd`` 640): 112 px,
patch 14, pooled by ``clip.vision.projector.scale_factor = 2``, 16 image tokens, which mtmd
wraps in ``<start_of_image>`` … ``<end_of_image>`` and wants decoded with non-causal attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SIZE = 56
PATCH_SIZE = 14
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2
LLM_EMBD = 576  # SmolLM2-135M


GEMMA3_IMAGE_SIZE = 112
GEMMA3_EMBD = 640  # Gemma 3 270M
GEMMA3_IMAGE_TOKENS = (GEMMA3_IMAGE_SIZE // PATCH_SIZE // 2) ** 2


def write_projector(path: Path, *, llm_embd: int = LLM_EMBD, seed: int = 0) -> Path:
    """Write the tiny random ``mlp`` projector to ``path``; returns ``path``."""
    writer, weights = _vit(path, "mlp", IMAGE_SIZE, llm_embd, seed)
    hidden = 64
    writer.add_tensor("mm.0.weight", weights(hidden, 32))
    writer.add_tensor("mm.0.bias", weights(hidden))
    writer.add_tensor("mm.2.weight", weights(llm_embd, hidden))
    writer.add_tensor("mm.2.bias", weights(llm_embd))
    return _finish(writer, path)


def write_gemma3_projector(path: Path, *, llm_embd: int = GEMMA3_EMBD, seed: int = 0) -> Path:
    """Write a tiny random Gemma 3 projector (16 image tokens) to ``path``."""
    writer, weights = _vit(path, "gemma3", GEMMA3_IMAGE_SIZE, llm_embd, seed)
    writer.add_uint32("clip.vision.projector.scale_factor", 2)
    writer.add_tensor("mm.soft_emb_norm.weight", np.ones(32, dtype=np.float32))
    writer.add_tensor("mm.input_projection.weight", weights(32, llm_embd))
    return _finish(writer, path)


def _vit(path: Path, kind: str, image_size: int, llm_embd: int, seed: int) -> tuple[Any, Any]:
    """A writer holding the keys and the 2-layer ViT every projector here shares, and the
    random weights' maker."""
    import gguf

    rng = np.random.default_rng(seed)
    n_embd, n_ff, n_head, n_layer = 32, 64, 2, 2
    patches = (image_size // PATCH_SIZE) ** 2

    def weights(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_string("general.name", "hearth-test-projector")
    writer.add_string("clip.projector_type", kind)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.has_text_encoder", False)
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", image_size)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", n_embd)
    writer.add_uint32("clip.vision.feed_forward_length", n_ff)
    writer.add_uint32("clip.vision.block_count", n_layer)
    writer.add_uint32("clip.vision.projection_dim", llm_embd)
    writer.add_uint32("clip.vision.attention.head_count", n_head)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    writer.add_tensor("v.patch_embd.weight", weights(n_embd, 3, PATCH_SIZE, PATCH_SIZE))
    writer.add_tensor("v.position_embd.weight", weights(patches, n_embd))
    for il in range(n_layer):
        blk = f"v.blk.{il}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"{blk}.{name}.weight", weights(n_embd, n_embd))
            writer.add_tensor(f"{blk}.{name}.bias", weights(n_embd))
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"{blk}.{name}.weight", np.ones(n_embd, dtype=np.float32))
            writer.add_tensor(f"{blk}.{name}.bias", np.zeros(n_embd, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_up.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"{blk}.ffn_up.bias", weights(n_ff))
        writer.add_tensor(f"{blk}.ffn_down.weight", weights(n_embd, n_ff))
        writer.add_tensor(f"{blk}.ffn_down.bias", weights(n_embd))
    return writer, weights


def _finish(writer: Any, path: Path) -> Path:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    """A solid-colour PNG, made with Pillow."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()
