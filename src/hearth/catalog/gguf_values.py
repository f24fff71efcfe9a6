"""What a GGUF header holds, as :mod:`hearth.catalog.gguf_file` reads it: metadata values and
tensor infos. Both the reader and its checks (:mod:`hearth.catalog.gguf_checks`) use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class ArraySummary:
    """A metadata array too long to keep: its item type and length."""

    item_type: str
    length: int


Scalar = Union[int, float, bool, str]  # noqa: UP007 (a runtime alias)
MetadataValue = Union[Scalar, tuple[Scalar, ...], ArraySummary]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int
    """Offset from the start of the data section."""
    nbytes: int
