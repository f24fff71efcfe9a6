"""The GGUF header reader: valid files, every kind of damage, and the real models if pulled."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth.catalog.entries import find_entry
from hearth.catalog.ggml_types import GGML_TYPE_LAYOUTS, tensor_nbytes, type_layout
from hearth.catalog.gguf_file import ArraySummary, file_type_name, read_gguf
from hearth.catalog.store import ModelStore
from hearth.errors import InvalidModelFileError, ModelNotFoundError

TinyGGUF = Callable[..., Path]

# ---- a raw GGUF builder, for damage at exact places -------------------------------------------


def gstr(text: str | bytes, length: int | None = None) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw) if length is None else length) + raw


def kv_str(key: str, value: str, length: int | None = None) -> bytes:
    return gstr(key) + struct.pack("<I", 8) + gstr(value, length)


def kv_u32(key: str, value: int) -> bytes:
    return gstr(key) + struct.pack("<II", 4, value)


def kv_array_u8(key: str, values: bytes, length: int | None = None) -> bytes:
    count = len(values) if length is None else length
    return gstr(key) + struct.pack("<IIQ", 9, 0, count) + values


def tensor_info(name: str, shape: tuple[int, ...], type_id: int = 0, offset: int = 0) -> bytes:
    dims = b"".join(struct.pack("<Q", d) for d in shape)
    return gstr(name) + struct.pack("<I", len(shape)) + dims + struct.pack("<IQ", type_id, offset)


def build(
    kvs: list[bytes],
    tensors: list[bytes],
    data: bytes = b"",
    *,
    version: int = 3,
    alignment: int = 32,
    magic: bytes = b"GGUF",
) -> bytes:
    head = magic + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs)
    head += b"".join(tensors)
    head += b"\0" * (-len(head) % alignment)
    return head + data


def valid_raw(**changes: object) -> bytes:
    """Two F32 tensors of 8 floats (32 bytes each), alignment 32."""
    kvs = [kv_str("general.architecture", "llama"), kv_u32("llama.context_length", 64)]
    tensors = [tensor_info("x", (8,), 0, 0), tensor_info("y", (8,), 0, 32)]
    return build(kvs, tensors, bytes(64), **changes)  # type: ignore[arg-type]


def write(tmp_path: Path, data: bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def reason_of(path: Path) -> str:
    with pytest.raises(InvalidModelFileError) as caught:
        read_gguf(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    return caught.value.reason


# ---- valid files -------------------------------------------------------------------------------


def test_reads_metadata_and_tensors_written_by_gguf_writer(tiny_gguf: TinyGGUF) -> None:
    path = tiny_gguf()
    info = read_gguf(path)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "tiny test model"
    assert info.context_length == 128
    assert info.chat_template == "{{ messages }}"
    assert info.file_type == 2
    assert info.quantization == "Q4_0"
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.size == path.stat().st_size
    assert info.metadata["tokenizer.ggml.tokens"] == ArraySummary("string", 100)
    assert info.metadata["tokenizer.ggml.scores"] == ArraySummary("f32", 100)
    assert info.metadata["hearth.small"] == (1, 2, 3)
    assert info.tensor_count == 3
    assert [(t.name, t.shape, t.nbytes) for t in info.tensors] == [
        ("a.weight", (8, 4), 128),
        ("q.weight", (32, 2), 36),
        ("h.bias", (7,), 14),
    ]


def test_agrees_with_the_gguf_library_reader(tiny_gguf: TinyGGUF) -> None:
    from gguf import GGUFReader

    path = tiny_gguf(vocab=70)
    ours = read_gguf(path)
    theirs = GGUFReader(str(path))
    assert [ours.data_offset + t.offset for t in ours.tensors] == [
        t.data_offset for t in theirs.tensors
    ]
    assert [t.nbytes for t in ours.tensors] == [int(t.n_bytes) for t in theirs.tensors]
    assert set(ours.metadata) == {k for k in theirs.fields if not k.startswith("GGUF.")}


def test_metadata_types_are_reported(tiny_gguf: TinyGGUF) -> None:
    types = read_gguf(tiny_gguf()).types
    assert types["general.architecture"] == "string"
    assert types["llama.context_length"] == "u32"
    assert types["tokenizer.ggml.tokens"] == "array[string]"
    assert types["tokenizer.ggml.scores"] == "array[f32]"
    assert types["hearth.small"] == "array[i32]"


def test_small_arrays_are_kept_and_large_ones_summarized(tiny_gguf: TinyGGUF) -> None:
    assert read_gguf(tiny_gguf("a.gguf", vocab=64)).metadata["tokenizer.ggml.tokens"] == tuple(
        f"tok{i}" for i in range(64)
    )
    summary = read_gguf(tiny_gguf("b.gguf", vocab=65)).metadata["tokenizer.ggml.tokens"]
    assert summary == ArraySummary("string", 65)


def test_no_chat_template_is_none(tiny_gguf: TinyGGUF) -> None:
    assert read_gguf(tiny_gguf(chat_template=None)).chat_template is None


def test_raw_builder_file_is_valid(tmp_path: Path) -> None:
    info = read_gguf(write(tmp_path, valid_raw()))
    assert info.context_length == 64
    assert info.alignment == 32
    assert info.quantization is None


def test_version_2_is_accepted(tmp_path: Path) -> None:
    assert read_gguf(write(tmp_path, valid_raw(version=2))).version == 2


def test_custom_power_of_two_alignment(tmp_path: Path) -> None:
    kvs = [kv_u32("general.alignment", 64)]
    data = build(
        kvs, [tensor_info("x", (8,)), tensor_info("y", (8,), 0, 64)], bytes(96), alignment=64
    )
    info = read_gguf(write(tmp_path, data))
    assert info.alignment == 64
    assert info.data_offset % 64 == 0


# ---- damaged files -----------------------------------------------------------------------------


def test_bad_magic(tmp_path: Path) -> None:
    assert "not a GGUF file" in reason_of(write(tmp_path, valid_raw(magic=b"GGML")))


def test_text_file(tmp_path: Path) -> None:
    assert "not a GGUF file" in reason_of(write(tmp_path, b"hello, this is not a model\n"))


@pytest.mark.parametrize("version", [0, 1, 4, 0xFFFFFFFF])
def test_bad_version(tmp_path: Path, version: int) -> None:
    reason = reason_of(write(tmp_path, valid_raw(version=version)))
    assert f"unsupported GGUF version {version}" in reason


def test_big_endian_version_gets_a_hint(tmp_path: Path) -> None:
    assert "big-endian" in reason_of(write(tmp_path, valid_raw(version=3 << 24)))


def test_empty_file(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path, b"")).startswith("truncated")


def test_every_truncation_before_the_last_tensor_ends_is_refused(tiny_gguf: TinyGGUF) -> None:
    path = tiny_gguf()
    size = path.stat().st_size
    info = read_gguf(path)
    last = info.tensors[-1]
    needed = info.data_offset + last.offset + last.nbytes
    assert needed <= size
    for cut in range(size, -1, -1):  # shrinking in place is much faster than rewriting
        os.truncate(path, cut)
        if cut >= needed:  # only the trailing padding is missing
            assert read_gguf(path).tensor_count == 3
        else:
            reason = reason_of(path)
            assert reason.startswith("truncated"), (cut, reason)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_damage_never_escapes_as_another_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    original = valid_raw()
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(0, len(damaged) - 1))
        damaged[index] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("fuzz") / "m.gguf"
    path.write_bytes(bytes(damaged))
    try:
        info = read_gguf(path)
    except InvalidModelFileError:
        return
    for tensor in info.tensors:
        assert info.data_offset + tensor.offset + tensor.nbytes <= len(damaged)


def test_huge_string_length(tmp_path: Path) -> None:
    data = build([kv_str("general.name", "abc", length=1 << 62)], [])
    reason = reason_of(write(tmp_path, data))
    assert reason.startswith("truncated")
    assert "general.name" in reason


def test_huge_array_length(tmp_path: Path) -> None:
    data = build([kv_array_u8("tokenizer.ggml.token_type", b"\1\2", length=1 << 60)], [])
    reason = reason_of(write(tmp_path, data))
    assert "tokenizer.ggml.token_type" in reason
    assert "declares 1152921504606846976" in reason


def test_huge_string_array_length(tmp_path: Path) -> None:
    kv = gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1 << 40) + gstr("a")
    assert "tokenizer.ggml.tokens" in reason_of(write(tmp_path, build([kv], [])))


def test_huge_counts_in_header(tmp_path: Path) -> None:
    data = b"GGUF" + struct.pack("<IQQ", 3, 1 << 50, 1 << 50) + bytes(100)
    assert "declares" in reason_of(write(tmp_path, data))


def test_unknown_value_type(tmp_path: Path) -> None:
    kv = gstr("weird") + struct.pack("<I", 13) + bytes(8)
    assert "unknown value type 13" in reason_of(write(tmp_path, build([kv], [])))


def test_tensor_offset_past_the_end(tmp_path: Path) -> None:
    tensors = [tensor_info("x", (8,)), tensor_info("y", (8,), 0, 32)]
    data = build([], tensors, bytes(40))  # 64 bytes of tensor data needed
    reason = reason_of(write(tmp_path, data))
    assert reason.startswith("truncated")
    assert "'y'" in reason


def test_tensor_offset_out_of_order(tmp_path: Path) -> None:
    tensors = [tensor_info("x", (8,)), tensor_info("y", (8,), 0, 1 << 40)]
    assert "expected 32" in reason_of(write(tmp_path, build([], tensors, bytes(64))))


def test_misaligned_tensor_offset(tmp_path: Path) -> None:
    tensors = [tensor_info("x", (4,)), tensor_info("y", (8,), 0, 16)]
    assert "not a multiple of the alignment" in reason_of(
        write(tmp_path, build([], tensors, bytes(64)))
    )


@pytest.mark.parametrize("alignment", [0, 3, 48])
def test_alignment_not_a_power_of_two(tmp_path: Path, alignment: int) -> None:
    data = build([kv_u32("general.alignment", alignment)], [], alignment=1)
    assert "not a power of two" in reason_of(write(tmp_path, data))


def test_alignment_of_the_wrong_type(tmp_path: Path) -> None:
    data = build([kv_str("general.alignment", "32")], [])
    assert "'general.alignment' has type string, but llama.cpp reads it as u32" in reason_of(
        write(tmp_path, data)
    )


def test_too_many_dimensions(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (1, 1, 1, 1, 1))], bytes(32))
    assert "5 dimensions" in reason_of(write(tmp_path, data))


def test_unknown_tensor_type(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (8,), 999)], bytes(32))
    assert "unknown ggml type 999" in reason_of(write(tmp_path, data))


def test_block_size_mismatch(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (16,), 2)], bytes(32))  # Q4_0 blocks hold 32
    assert "block size 32" in reason_of(write(tmp_path, data))


def test_duplicate_tensor_names(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (8,)), tensor_info("x", (8,), 0, 32)], bytes(64))
    assert "appears twice" in reason_of(write(tmp_path, data))


def test_too_long_tensor_name(tmp_path: Path) -> None:
    data = build([], [tensor_info("n" * 64, (8,))], bytes(32))
    assert "longer than 63" in reason_of(write(tmp_path, data))


def test_element_count_overflow(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (1 << 40, 1 << 40))], bytes(32))
    assert "too many elements" in reason_of(write(tmp_path, data))


def test_arrays_of_arrays_are_refused(tmp_path: Path) -> None:
    value = struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 0, 2) + b"\1\2"
    kv = gstr("nested") + value
    assert "array of arrays" in reason_of(write(tmp_path, build([kv], [])))


def test_array_of_unknown_type(tmp_path: Path) -> None:
    kv = gstr("odd") + struct.pack("<IIQ", 9, 42, 1) + bytes(8)
    assert "unknown value type 42" in reason_of(write(tmp_path, build([kv], [])))


def test_duplicate_metadata_key(tmp_path: Path) -> None:
    data = build([kv_u32("llama.context_length", 1), kv_u32("llama.context_length", 2)], [])
    assert "'llama.context_length' appears twice" in reason_of(write(tmp_path, data))


def test_a_metadata_key_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    kv = gstr(b"general.\xffname") + struct.pack("<I", 8) + gstr("x")
    reason = reason_of(write(tmp_path, build([kv], [])))
    assert reason == (
        "metadata key #0 is not valid UTF-8 (byte 0xff at position 8 of "
        "'general.\\xffname'); GGUF keys and names must be UTF-8"
    )


def test_a_tensor_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    tensor = gstr(b"w\xc3") + struct.pack("<IQIQ", 1, 8, 0, 0)
    reason = reason_of(write(tmp_path, build([], [tensor], bytes(32))))
    assert reason.startswith("the name of tensor #0 is not valid UTF-8 (byte 0xc3 at position 1")


def test_a_dimension_past_int64_is_refused_even_when_another_is_zero(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (1 << 63, 0))], bytes(32))
    assert "a dimension past 2^63 - 1" in reason_of(write(tmp_path, data))


def test_zero_sized_tensors_are_fine(tmp_path: Path) -> None:
    data = build([], [tensor_info("x", (0, 5)), tensor_info("y", (8,), 0, 0)], bytes(32))
    info = read_gguf(write(tmp_path, data))
    assert [t.nbytes for t in info.tensors] == [0, 32]


def test_per_token_arrays_must_match_the_vocabulary(tmp_path: Path) -> None:
    tokens = gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + gstr("a") + gstr("b")
    scores = gstr("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + bytes(8)
    assert read_gguf(write(tmp_path, build([tokens, scores], []))).types["tokenizer.ggml.scores"]
    short = gstr("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 1) + bytes(4)
    reason = reason_of(write(tmp_path, build([tokens, short], []), "short.gguf"))
    assert "has 1 items but the vocabulary has 2 tokens" in reason


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    start = time.perf_counter()
    assert reason_of(fifo) == "it is not a regular file"
    assert time.perf_counter() - start < 1.0


def test_missing_file_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="hearth pull smollm2"):
        read_gguf(tmp_path / "absent.gguf")


def test_directory_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelFileError, match="not a regular file"):
        read_gguf(tmp_path)


# ---- ggml type table -------------------------------------------------------------------------


def test_type_table_matches_the_gguf_library() -> None:
    from gguf import GGML_QUANT_SIZES

    for quant_type, (block, size) in GGML_QUANT_SIZES.items():
        assert type_layout(int(quant_type)) == (block, size), quant_type.name
    for type_id, layout in GGML_TYPE_LAYOUTS.items():
        assert layout == tuple(
            GGML_QUANT_SIZES[next(t for t in GGML_QUANT_SIZES if int(t) == type_id)]
        )
    assert type_layout(12345) is None


def test_tensor_nbytes() -> None:
    assert tensor_nbytes((256, 3), (256, 144)) == 432
    assert tensor_nbytes((), (1, 4)) == 4


def test_file_type_names() -> None:
    assert file_type_name(3) == "Q4_1"
    assert file_type_name(15) == "Q4_K_M"
    assert file_type_name(0) == "ALL_F32"
    assert file_type_name(999) == "file type 999"


# ---- the real models, when they have been pulled -----------------------------------------------


def _pulled(name: str) -> Path:
    entry = find_entry(name)
    store = ModelStore(Path.home() / ".cache" / "hearth" / "models")
    if not store.is_pulled(entry):
        pytest.skip(f"{name} is not pulled into {store.root}")
    return store.path_for(entry)


def test_real_smollm2_metadata() -> None:
    path = _pulled("smollm2")
    start = time.perf_counter()
    info = read_gguf(path)
    assert time.perf_counter() - start < 1.0
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert info.quantization == "Q4_1"
    assert info.metadata["tokenizer.ggml.tokens"] == ArraySummary("string", 49152)


def test_real_gemma_metadata() -> None:
    path = _pulled("gemma3-270m")
    start = time.perf_counter()
    info = read_gguf(path)
    assert time.perf_counter() - start < 1.0
    assert info.architecture == "gemma3"
    assert info.chat_template is None
    assert info.quantization == "Q4_K_M"
    assert info.metadata["tokenizer.ggml.tokens"] == ArraySummary("string", 262144)
    last = info.tensors[-1]
    assert info.data_offset + last.offset + last.nbytes <= info.size


def test_real_smollm2_layout_agrees_with_the_gguf_library() -> None:
    from gguf import GGUFReader

    path = _pulled("smollm2")
    ours, theirs = read_gguf(path), GGUFReader(str(path))
    assert [(t.name, ours.data_offset + t.offset, t.nbytes) for t in ours.tensors] == [
        (t.name, int(t.data_offset), int(t.n_bytes)) for t in theirs.tensors
    ]
    assert set(ours.metadata) == {k for k in theirs.fields if not k.startswith("GGUF.")}
