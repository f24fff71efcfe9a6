"""What ``hearth info`` and ``hearth models list`` say about a model, from its catalogue entry
and its GGUF header: one size and one path per model (for a converted model, the GGUF file
that runs), parameter count, capabilities, template family, licence, quantization."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hearth.catalog.entries import CatalogEntry
    from hearth.catalog.gguf_file import GGUFInfo
    from hearth.catalog.store import ModelStore

TEMPLATE_MARKERS = (
    ("<|im_start|>", "chatml"),
    ("<start_of_turn>", "gemma"),
    ("<|start_header_id|>", "llama3"),
    ("[INST]", "mistral"),
)


def running_file(entry: CatalogEntry, store: ModelStore) -> tuple[Path, int | None]:
    """The file that runs for ``entry`` (a converted model's GGUF conversion) and its size:
    the file's own once it is on disk, else the catalogue's (None for a conversion not made
    yet)."""
    if entry.convert is not None:
        path = store.converted_path(entry)
        return path, path.stat().st_size if path.is_file() else None
    located = store.locate(entry)
    if located is not None:
        return located, located.stat().st_size
    return store.path_for(entry), entry.size


def parameter_count(gguf: GGUFInfo) -> int:
    """The file's ``general.parameter_count``, else the elements of its tensors added up."""
    stated = gguf.metadata.get("general.parameter_count")
    if isinstance(stated, int) and not isinstance(stated, bool) and stated > 0:
        return stated
    return sum(math.prod(t.shape) for t in gguf.tensors)


def human_count(n: int) -> str:
    """``135_000_000`` → ``135.0M``."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def template_family(gguf: GGUFInfo, entry: CatalogEntry | None) -> str | None:
    """The catalogue's template family, else the one the file's template is written in
    ("custom" when none of the known ones), else None (no template at all)."""
    if entry is not None and entry.template is not None:
        return entry.template
    template = gguf.chat_template
    if template is None:
        return None
    return next((name for marker, name in TEMPLATE_MARKERS if marker in template), "custom")


def reasoning(gguf: GGUFInfo, entry: CatalogEntry | None) -> str | None:
    """How the model shows its thinking (its tags, or harmony's channels); None when it does
    not reason. See :mod:`hearth.backends.local.reasoning`."""
    from hearth.backends.local.reasoning import HARMONY, detect_thinking

    source = entry.chat_template if entry is not None and entry.chat_template else None
    syntax = detect_thinking(
        source or gguf.chat_template,
        f"{entry.name if entry else ''} {gguf.name or ''}",
        tags=entry.thinking_tags if entry is not None else None,
        capability=entry is not None and "thinking" in entry.capabilities,
    )
    if syntax is None:
        return None
    if syntax == HARMONY:
        return "harmony channels (analysis, then final); cannot be switched off"
    switch = "enable_thinking" if syntax.off_switch == "enable_thinking" else "an empty block"
    return f"{syntax.open} … {syntax.close} (off: {switch})"


def info_json(gguf: GGUFInfo, entry: CatalogEntry | None) -> dict[str, object]:
    """What ``hearth info`` shows, as plain JSON values. ``context_length`` is the window
    hearth uses (the catalogue's, when it sets one below what the file was trained for);
    ``trained_context_length`` is the file's."""
    license_ = entry.license if entry is not None and entry.license else None
    stated = gguf.metadata.get("general.license")
    return {
        "path": str(Path(gguf.path)),
        "catalog_name": entry.name if entry is not None else None,
        "kind": entry.kind if entry is not None else None,
        "source": entry.source.describe() if entry is not None else f"path:{gguf.path}",
        "name": gguf.name,
        "architecture": gguf.architecture,
        "parameters": parameter_count(gguf),
        "capabilities": list(entry.capabilities) if entry is not None else None,
        "template": template_family(gguf, entry),
        "chat_template": gguf.chat_template is not None,
        "reasoning": reasoning(gguf, entry),
        "license": license_ or (stated if isinstance(stated, str) else None),
        "context_length": _window(gguf, entry),
        "trained_context_length": gguf.context_length,
        "file_size": gguf.size,
        "quantization": gguf.quantization,
        "tensor_count": gguf.tensor_count,
        "gguf_version": gguf.version,
    }


def _window(gguf: GGUFInfo, entry: CatalogEntry | None) -> int | None:
    trained = gguf.context_length
    wanted = entry.context_length if entry is not None else None
    if wanted is None or trained is None:
        return trained if wanted is None else wanted
    return min(wanted, trained)


def kv_bytes_per_token(gguf: GGUFInfo) -> int | None:
    """Bytes of f16 KV cache one token takes in every layer (K and V), from the header: layers
    x KV heads x (key + value head size) x 2; None when the header does not say. A quantized
    cache takes a fraction of it (q8_0: 34/64, q4_0: 18/64)."""
    arch = gguf.architecture or ""
    meta = gguf.metadata

    def number(key: str) -> int | None:
        value = meta.get(f"{arch}.{key}")
        if isinstance(value, list):  # per-layer counts: the largest
            value = max((v for v in value if isinstance(v, int)), default=None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    layers, heads = number("block_count"), number("attention.head_count")
    kv_heads = number("attention.head_count_kv") or heads
    width = number("embedding_length")
    head = width // heads if width and heads else None
    key, value = number("attention.key_length") or head, number("attention.value_length") or head
    if not (layers and kv_heads and key and value):
        return None
    return layers * kv_heads * (key + value) * 2
