"""A pure-Python GGUF header reader and validator, run before llama.cpp ever sees a file.

:func:`read_gguf` maps the file once and walks its header with :func:`struct.unpack_from`: magic,
version, metadata key/values and tensor infos. It refuses, with :class:`InvalidModelFileError`
saying what is wrong, anything llama.cpp could trip over:

* the magic and the version (2 or 3; a byte-swapped version hints at a big-endian file);
* tensor and metadata counts, string and array lengths: each bounded by the bytes the file has
  left, so a huge declared count fails at once instead of allocating;
* metadata keys (non-empty, valid UTF-8, at most 65,535 bytes, unique) and value types (known
  type ids; no arrays of arrays); the well-known keys llama.cpp reads without checking their
  type must have the right one (:mod:`hearth.catalog.gguf_checks`);
* tensor names (valid UTF-8, unique, at most 63 bytes), dimension counts, each dimension and
  their product (no overflow past 2^63 - 1), ggml types and block sizes;
* tensor offsets and sizes: in order, aligned, inside the file; the alignment a power of two.

Time and memory are bounded on any input (:class:`GGUFLimits`): at most 65,536 metadata entries
and tensors, 2^24 array items and strings walked in all, 64 MiB of values kept. Large metadata
arrays (a 262,144-entry vocabulary) are walked to find their end but kept only as an
:class:`ArraySummary`; arrays of up to :data:`MAX_KEPT_ARRAY` items are kept as tuples.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hearth.catalog.ggml_types import tensor_nbytes, type_layout
from hearth.catalog.gguf_checks import check_metadata, check_tensors
from hearth.catalog.gguf_values import ArraySummary, MetadataValue, TensorInfo
from hearth.errors import InvalidModelFileError, ModelNotFoundError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME (64) including the terminating NUL
MAX_KEY = 65_535
MAX_KEPT_ARRAY = 64
INT64_MAX = (1 << 63) - 1

# GGUF value type id → (name, struct format) for the fixed-size scalar types.
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("u8", "B"),
    1: ("i8", "b"),
    2: ("u16", "H"),
    3: ("i16", "h"),
    4: ("u32", "I"),
    5: ("i32", "i"),
    6: ("f32", "f"),
    7: ("bool", "?"),
    10: ("u64", "Q"),
    11: ("i64", "q"),
    12: ("f64", "d"),
}
_SCALAR_STRUCTS = {type_id: struct.Struct("<" + code) for type_id, (_, code) in _SCALARS.items()}
_STRING = 8
_ARRAY = 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
# Smallest possible encodings, used to bound declared counts by the file size.
_MIN_KV_BYTES = 8 + 1 + 4 + 1  # key length, a one-byte key, value type, one-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 4 + 8  # name length, one byte, n_dims, type, offset
_KEPT_OVERHEAD = 64  # bytes charged per kept Python object beyond its text: a bound, not a guess


@dataclass(frozen=True)
class GGUFLimits:
    """Bounds on what a header may hold, so a hostile file costs bounded time and memory.

    Real models are far inside them: Gemma 3 has 33 metadata entries, 236 tensors and a
    262,144-token vocabulary; the largest mixture-of-experts files have a few thousand tensors.
    """

    max_tensors: int = 65_536
    max_metadata: int = 65_536
    max_items: int = 1 << 24
    """Array items, strings, metadata entries and tensors walked, in all."""
    max_kept_bytes: int = 64 << 20
    """Memory for the keys, names and small-array values kept: their bytes plus 64 per
    object, which covers a Python object's own size."""


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file's header says, after validation.

    ``types`` gives each metadata key's GGUF type: "u32", "string", "array[f32]", ….
    """

    path: Path
    size: int
    version: int
    tensor_count: int
    alignment: int
    data_offset: int
    metadata: Mapping[str, MetadataValue]
    tensors: tuple[TensorInfo, ...] = field(repr=False)
    types: Mapping[str, str] = field(default_factory=dict, repr=False)

    def _str(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    def _int(self, key: str) -> int | None:
        value = self.metadata.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def architecture(self) -> str | None:
        return self._str("general.architecture")

    @property
    def name(self) -> str | None:
        return self._str("general.name")

    @property
    def context_length(self) -> int | None:
        arch = self.architecture
        return self._int(f"{arch}.context_length") if arch else None

    @property
    def chat_template(self) -> str | None:
        return self._str("tokenizer.chat_template")

    @property
    def file_type(self) -> int | None:
        return self._int("general.file_type")

    @property
    def quantization(self) -> str | None:
        """The file type's name, e.g. "Q4_1" or "Q4_K_M"; None if the file does not say."""
        file_type = self.file_type
        return None if file_type is None else file_type_name(file_type)

    @property
    def bos_token_id(self) -> int | None:
        return self._int("tokenizer.ggml.bos_token_id")

    @property
    def eos_token_id(self) -> int | None:
        return self._int("tokenizer.ggml.eos_token_id")


def file_type_name(file_type: int) -> str:
    """The llama.cpp name of ``general.file_type`` without its ``MOSTLY_`` prefix."""
    from gguf import LlamaFileType  # slow import (~0.2 s): only when asked

    try:
        name = str(LlamaFileType(file_type).name)
    except ValueError:
        return f"file type {file_type}"
    return name.removeprefix("MOSTLY_")


def read_gguf(path: Path | str, limits: GGUFLimits | None = None) -> GGUFInfo:
    """Parse and validate the GGUF header of ``path``.

    Raises :class:`InvalidModelFileError` for anything that is not a well-formed GGUF file
    whose tensors all lie inside it, and :class:`ModelNotFoundError` if there is no such file.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block open(); refuse first
            raise InvalidModelFileError(str(path), "it is not a regular file")
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise InvalidModelFileError(str(path), "truncated: the file is empty")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _Reader(path, buf, size, limits or GGUFLimits()).read()
    except FileNotFoundError:
        raise ModelNotFoundError(
            f"no such model file: {path}. Run `hearth pull smollm2` or pass the path of a .gguf "
            "file.",
            model=str(path),
        ) from None
    except OSError as exc:
        raise InvalidModelFileError(str(path), f"cannot read it: {exc}") from exc


class _Reader:
    """One pass over a mapped GGUF header; ``pos`` is the read offset."""

    def __init__(self, path: Path, buf: mmap.mmap, size: int, limits: GGUFLimits) -> None:
        self.path = path
        self.buf = buf
        self.size = size
        self.limits = limits
        self.pos = 0
        self.items = 0
        self.kept = 0

    def fail(self, reason: str) -> InvalidModelFileError:
        return InvalidModelFileError(str(self.path), reason)

    def need(self, n: int, what: str) -> None:
        if n > self.size - self.pos:
            raise self.fail(
                f"truncated: {what} needs {n} bytes at offset {self.pos}, but the file has "
                f"{self.size} bytes"
            )

    def count(self, n: int, what: str) -> None:
        """Charge ``n`` items walked against the budget."""
        self.items += n
        if self.items > self.limits.max_items:
            raise self.fail(
                f"{what} takes the header past {self.limits.max_items} array items, strings "
                "and entries in all, more than any real model has; the file is corrupt or "
                "hostile"
            )

    def keep(self, n: int, what: str) -> None:
        """Charge ``n`` decoded bytes against the budget."""
        self.kept += n
        if self.kept > self.limits.max_kept_bytes:
            raise self.fail(
                f"{what} takes the header's strings past {self.limits.max_kept_bytes} bytes, "
                "more than any real model has; the file is corrupt or hostile"
            )

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, what: str) -> int:
        self.need(8, what)
        (value,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def raw_string(self, what: str) -> bytes:
        length = self.u64(f"the length of {what}")
        self.need(length, f"{what} ({length} bytes)")
        self.keep(length + _KEPT_OVERHEAD, what)
        start = self.pos
        self.pos += length
        return self.buf[start : self.pos]

    def string(self, what: str) -> str:
        return self.raw_string(what).decode("utf-8", errors="replace")

    def utf8(self, raw: bytes, what: str) -> str:
        """``raw`` decoded as UTF-8, which GGUF requires of keys and tensor names: llama.cpp
        looks them up by their bytes, so a key that does not decode can never be the one it
        reads, and shown replaced it would pass for another."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", errors="backslashreplace")
            raise self.fail(
                f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position "
                f"{exc.start} of '{shown}'); GGUF keys and names must be UTF-8"
            ) from None

    def read(self) -> GGUFInfo:
        version, tensor_count, kv_count = self.header()
        metadata: dict[str, MetadataValue] = {}
        types: dict[str, str] = {}
        for index in range(kv_count):
            key = self.key(index, metadata)
            value_type = self.u32(f"the type of metadata {key!r}")
            metadata[key], types[key] = self.value(value_type, f"metadata {key!r}")
        alignment = check_metadata(metadata, types, self.fail)
        tensors = [self.tensor_info(index) for index in range(tensor_count)]
        data_offset = -(-self.pos // alignment) * alignment
        check_tensors(tensors, alignment, data_offset, self.size, self.fail)
        return GGUFInfo(
            path=self.path,
            size=self.size,
            version=version,
            tensor_count=tensor_count,
            alignment=alignment,
            data_offset=data_offset,
            metadata=metadata,
            tensors=tuple(tensors),
            types=types,
        )

    def header(self) -> tuple[int, int, int]:
        self.need(4, "the magic number")
        magic = bytes(self.buf[0:4])
        if magic != MAGIC:
            raise self.fail(f"not a GGUF file: it starts with {magic!r}, not {MAGIC!r}")
        self.pos = 4
        version = self.u32("the version")
        if version not in SUPPORTED_VERSIONS:
            swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
            hint = " (a big-endian file?)" if swapped in SUPPORTED_VERSIONS else ""
            raise self.fail(
                f"unsupported GGUF version {version}{hint}; hearth reads versions 2 and 3"
            )
        tensor_count = self.u64("the tensor count")
        kv_count = self.u64("the metadata count")
        for count, limit, what in (
            (tensor_count, self.limits.max_tensors, "tensors"),
            (kv_count, self.limits.max_metadata, "metadata entries"),
        ):
            if count > limit:
                raise self.fail(
                    f"the header declares {count} {what}; hearth reads at most {limit}, more "
                    "than any real model has"
                )
        room = self.size - self.pos
        if tensor_count * _MIN_TENSOR_INFO_BYTES + kv_count * _MIN_KV_BYTES > room:
            raise self.fail(
                f"truncated or corrupt: the header declares {tensor_count} tensors and "
                f"{kv_count} metadata entries, more than the {room} bytes left can hold"
            )
        self.count(tensor_count + kv_count, "the tensor and metadata counts")
        return version, tensor_count, kv_count

    def key(self, index: int, seen: Mapping[str, object]) -> str:
        raw = self.raw_string(f"metadata key #{index}")
        if not raw:
            raise self.fail(f"metadata key #{index} is empty")
        if len(raw) > MAX_KEY:
            raise self.fail(f"metadata key #{index} is {len(raw)} bytes long; at most {MAX_KEY}")
        key = self.utf8(raw, f"metadata key #{index}")
        if key in seen:
            raise self.fail(f"metadata key {key!r} appears twice")
        return key

    def value(self, value_type: int, what: str) -> tuple[MetadataValue, str]:
        """The value and its type name."""
        scalar = _SCALARS.get(value_type)
        if scalar is not None:
            packer = _SCALAR_STRUCTS[value_type]
            self.need(packer.size, what)
            (value,) = packer.unpack_from(self.buf, self.pos)
            self.pos += packer.size
            return value, scalar[0]
        if value_type == _STRING:
            return self.string(what), "string"
        if value_type == _ARRAY:
            return self.array(what)
        raise self.fail(f"{what} has unknown value type {value_type}")

    def array(self, what: str) -> tuple[MetadataValue, str]:
        item_type = self.u32(f"the item type of {what}")
        count = self.u64(f"the length of {what}")
        scalar = _SCALARS.get(item_type)
        if scalar is not None:
            return self.scalar_array(what, scalar, count), f"array[{scalar[0]}]"
        if item_type == _ARRAY:
            raise self.fail(f"{what} is an array of arrays, which llama.cpp does not read")
        if item_type != _STRING:
            raise self.fail(f"{what} is an array of unknown value type {item_type}")
        if count * 8 > self.size - self.pos:
            raise self.fail(
                f"truncated or corrupt: {what} declares {count} strings, more than the "
                f"{self.size - self.pos} bytes left can hold"
            )
        self.count(count, what)
        if count <= MAX_KEPT_ARRAY:
            return tuple(self.string(f"{what}[{i}]") for i in range(count)), "array[string]"
        self.skip_strings(what, count)
        return ArraySummary("string", count), "array[string]"

    def scalar_array(self, what: str, scalar: tuple[str, str], count: int) -> MetadataValue:
        name, code = scalar
        width = struct.calcsize("<" + code)
        if count * width > self.size - self.pos:
            raise self.fail(
                f"truncated or corrupt: {what} declares {count} {name} items "
                f"({count * width} bytes), more than the {self.size - self.pos} bytes left"
            )
        self.count(1, what)
        start = self.pos
        self.pos += count * width
        if count <= MAX_KEPT_ARRAY:
            self.keep(count * _KEPT_OVERHEAD, what)
            return tuple(struct.unpack_from(f"<{count}{code}", self.buf, start))
        return ArraySummary(name, count)

    def skip_strings(self, what: str, count: int) -> None:
        """Walk ``count`` length-prefixed strings without decoding them (the hot loop)."""
        buf, pos, unpack = self.buf, self.pos, _U64.unpack_from
        limit = self.size - 8
        for index in range(count):
            if pos > limit:
                self.pos = pos
                self.need(8, f"the length of {what}[{index}]")
            (length,) = unpack(buf, pos)
            pos += 8 + length
        if pos > self.size:
            raise self.fail(
                f"truncated: the strings of {what} end at byte {pos}, but the file has "
                f"{self.size} bytes"
            )
        self.pos = pos

    def tensor_info(self, index: int) -> TensorInfo:
        raw = self.raw_string(f"the name of tensor #{index}")
        if len(raw) > MAX_TENSOR_NAME:
            raise self.fail(f"tensor #{index} has a name longer than {MAX_TENSOR_NAME} bytes")
        name = self.utf8(raw, f"the name of tensor #{index}")
        n_dims = self.u32(f"the dimension count of tensor {name!r}")
        if n_dims > MAX_DIMS:
            raise self.fail(f"tensor {name!r} has {n_dims} dimensions; at most {MAX_DIMS}")
        shape = tuple(self.u64(f"dimension {d} of tensor {name!r}") for d in range(n_dims))
        type_id = self.u32(f"the type of tensor {name!r}")
        offset = self.u64(f"the data offset of tensor {name!r}")
        layout = type_layout(type_id)
        if layout is None:
            raise self.fail(f"tensor {name!r} has unknown ggml type {type_id}")
        elements = 1
        for dim in shape:
            if dim > INT64_MAX:
                raise self.fail(f"tensor {name!r} has shape {shape}: a dimension past 2^63 - 1")
            elements *= dim
        if elements > INT64_MAX:
            raise self.fail(f"tensor {name!r} has shape {shape}, too many elements")
        first = shape[0] if shape else 1
        if first % layout[0]:
            raise self.fail(
                f"tensor {name!r} has a first dimension {first} that is not a multiple of "
                f"its type's block size {layout[0]}"
            )
        return TensorInfo(name, shape, type_id, offset, tensor_nbytes(shape, layout))
