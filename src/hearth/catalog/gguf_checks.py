"""Checks on a parsed GGUF header that llama.cpp would otherwise trip over.

:func:`check_metadata`: llama.cpp reads a few keys without checking their type first, through
accessors that abort the process (``GGML_ASSERT``) or read past an array when the type or length
is not the expected one: ``general.alignment`` (u32), the tokenizer's token list (strings), its
scores (f32) and token types (i32), one per token, its merges (strings) and precompiled charsmap
(bytes). Those keys must have those types, and the per-token arrays the vocabulary's length.

:func:`check_tensors`: tensors are unique and laid out in order at aligned offsets, each inside
the file, as llama.cpp's own loader requires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from hearth.catalog.gguf_values import MetadataValue, TensorInfo
from hearth.errors import InvalidModelFileError

Fail = Callable[[str], InvalidModelFileError]

DEFAULT_ALIGNMENT = 32
TOKENS = "tokenizer.ggml.tokens"

# key → the GGUF types it may have
KEY_TYPES: dict[str, tuple[str, ...]] = {
    "general.alignment": ("u32",),
    "general.architecture": ("string",),
    "tokenizer.chat_template": ("string",),
    TOKENS: ("array[string]",),
    "tokenizer.ggml.merges": ("array[string]",),
    "tokenizer.ggml.scores": ("array[f32]",),
    "tokenizer.ggml.token_type": ("array[i32]",),
    "tokenizer.ggml.precompiled_charsmap": ("array[u8]", "array[i8]"),
}
PER_TOKEN = ("tokenizer.ggml.scores", "tokenizer.ggml.token_type")


def array_length(value: MetadataValue) -> int | None:
    """The length of an array value (kept or summarized), else None."""
    if isinstance(value, tuple):
        return len(value)
    length = getattr(value, "length", None)
    return length if isinstance(length, int) else None


def check_metadata(
    metadata: Mapping[str, MetadataValue], types: Mapping[str, str], fail: Fail
) -> int:
    """Check the well-known keys' types and lengths; the alignment."""
    for key, allowed in KEY_TYPES.items():
        found = types.get(key)
        if found is not None and found not in allowed:
            raise fail(f"metadata {key!r} has type {found}, but llama.cpp reads it as {allowed[0]}")
    if TOKENS in metadata:
        n_tokens = array_length(metadata[TOKENS])
        for key in PER_TOKEN:
            if key in metadata and array_length(metadata[key]) != n_tokens:
                raise fail(
                    f"metadata {key!r} has {array_length(metadata[key])} items but the "
                    f"vocabulary has {n_tokens} tokens; llama.cpp would read past its end"
                )
    value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value & (value - 1):
        raise fail(f"general.alignment is {value!r}, not a power of two")
    return value


def check_tensors(
    tensors: Sequence[TensorInfo], alignment: int, data_offset: int, size: int, fail: Fail
) -> None:
    """Tensors must be unique, laid out in order at aligned offsets, and inside the file."""
    seen: set[str] = set()
    expected = 0
    for tensor in tensors:
        if tensor.name in seen:
            raise fail(f"tensor {tensor.name!r} appears twice")
        seen.add(tensor.name)
        if tensor.offset % alignment:
            raise fail(
                f"tensor {tensor.name!r} has offset {tensor.offset}, not a multiple of the "
                f"alignment {alignment}"
            )
        if tensor.offset != expected:
            raise fail(f"tensor {tensor.name!r} has offset {tensor.offset}, expected {expected}")
        end = data_offset + tensor.offset + tensor.nbytes
        if end > size:
            raise fail(
                f"truncated: the data of tensor {tensor.name!r} ends at byte {end}, but the "
                f"file has {size} bytes"
            )
        expected += -(-tensor.nbytes // alignment) * alignment
