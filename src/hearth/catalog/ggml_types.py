"""Byte sizes of ggml tensor types, needed to check that a GGUF file holds all its tensors.

A compact copy of ``gguf.GGML_QUANT_SIZES`` (importing :mod:`gguf` costs ~0.2 s); a type id
missing here is looked up in :mod:`gguf` lazily, so newer types still work when gguf knows them.
A test keeps this table equal to gguf's.
"""

from __future__ import annotations

from collections.abc import Sequence

# ggml type id → (elements per block, bytes per block)
GGML_TYPE_LAYOUTS: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
}


def type_layout(type_id: int) -> tuple[int, int] | None:
    """(elements per block, bytes per block) of ggml type ``type_id``; None if unknown."""
    layout = GGML_TYPE_LAYOUTS.get(type_id)
    if layout is not None:
        return layout
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        found = GGML_QUANT_SIZES.get(GGMLQuantizationType(type_id))
    except (ImportError, ValueError):
        return None
    return None if found is None else (int(found[0]), int(found[1]))


def tensor_nbytes(shape: Sequence[int], layout: tuple[int, int]) -> int:
    """Bytes of a tensor of ``shape`` (ggml order: shape[0] varies fastest)."""
    block_size, type_size = layout
    first = shape[0] if shape else 1
    rows = 1
    for dim in shape[1:]:
        rows *= dim
    return first // block_size * type_size * rows
