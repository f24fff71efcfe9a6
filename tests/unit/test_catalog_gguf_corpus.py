"""Hostile GGUF input: the crafted corpus in tests/fixtures/gguf_bad, the reader's bounds on
time and memory, and a hypothesis fuzzer over mutated real headers from the pulled models.

The fuzzer's budget is ``HEARTH_FUZZ_EXAMPLES`` examples per model (default 150 for SmolLM2 and
40 for Gemma: about ten seconds in all); raise it for a longer run.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import time
import tomllib
import tracemalloc
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth.catalog.gguf_file import GGUFInfo, GGUFLimits, read_gguf
from hearth.errors import InvalidModelFileError

CORPUS = Path(__file__).parents[1] / "fixtures" / "gguf_bad"
MODELS = Path.home() / ".cache" / "hearth" / "models"
REAL = {
    "smollm2": MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma": MODELS / "gemma-3-270m-q4_k_m.gguf",
}
EXAMPLES = {"smollm2": 150, "gemma": 40}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected() -> dict[str, str]:
    table = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
    return {name: str(text) for name, text in table.items()}


# ---- the crafted corpus ------------------------------------------------------------------------


def test_the_corpus_and_its_expectations_match() -> None:
    files = {p.name for p in CORPUS.glob("*.gguf")}
    assert files == set(_expected())
    assert len(files) >= 40
    assert all((CORPUS / name).stat().st_size <= 70_000 for name in files)


@pytest.mark.parametrize("name", sorted(_expected()))
def test_every_crafted_file_is_refused_saying_what_is_wrong(name: str) -> None:
    path = CORPUS / name
    start = time.perf_counter()
    with pytest.raises(InvalidModelFileError) as caught:
        read_gguf(path)
    assert time.perf_counter() - start < 1.0
    assert caught.value.path == str(path)
    assert _expected()[name] in caught.value.reason


def test_the_generator_reproduces_the_corpus(tmp_path: Path) -> None:
    _generator().write_corpus(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".gguf", ".toml"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


# ---- bounds ------------------------------------------------------------------------------------


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("limits", "needle"),
    [
        (GGUFLimits(max_tensors=1), "declares 2 tensors; hearth reads at most 1"),
        (GGUFLimits(max_metadata=2), "declares 3 metadata entries; hearth reads at most 2"),
        (GGUFLimits(max_items=100), "past 100 array items, strings and entries"),
        (GGUFLimits(max_kept_bytes=800), "header's strings past 800 bytes"),
    ],
)
def test_limits_are_enforced(tmp_path: Path, limits: GGUFLimits, needle: str) -> None:
    gen = _generator()
    kvs = [
        gen.ARCH,
        gen.kv_strings("tokenizer.ggml.tokens", [f"t{i}" for i in range(200)]),
        gen.kv_str("tokenizer.chat_template", "x" * 400),
    ]
    path = _write(tmp_path, gen.gguf(kvs, gen.TWO, bytes(64)))
    assert read_gguf(path).tensor_count == 2  # fine under the default limits
    with pytest.raises(InvalidModelFileError) as caught:
        read_gguf(path, limits)
    assert needle in caught.value.reason


def test_kept_values_cost_memory_in_proportion_to_the_budget(tmp_path: Path) -> None:
    """20,000 entries of 64 two-byte strings would keep 1.28M Python strings (~80 MB); the
    budget stops the walk once it has kept its worth."""
    gen = _generator()
    one = gen.gstr("ab") * 64
    kvs = [gen.kv_array(f"k{i}", gen.STRING, one, 64) for i in range(20_000)]
    path = _write(tmp_path, gen.gguf(kvs))
    budget = 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(InvalidModelFileError, match="header's strings past 4194304 bytes"):
            read_gguf(path, GGUFLimits(max_kept_bytes=budget))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * budget, peak


def test_a_huge_skipped_vocabulary_is_walked_quickly(tmp_path: Path) -> None:
    gen = _generator()
    count = 1 << 20  # four times Gemma's vocabulary
    items = gen.gstr("tok") * count
    path = _write(
        tmp_path, gen.gguf([gen.kv_array("tokenizer.ggml.tokens", gen.STRING, items, count)])
    )
    start = time.perf_counter()
    info = read_gguf(path)
    assert time.perf_counter() - start < 2.0
    assert info.types["tokenizer.ggml.tokens"] == "array[string]"


# ---- fuzzing mutated real headers ---------------------------------------------------------------


Fields = dict[str, list[tuple[int, int]]]


def _field_offsets(header: bytes) -> Fields:
    """(offset, width) of every count, length, type and offset field of a trusted header, by
    region, so that mutations reach the tensor infos as often as the 100,000 vocabulary
    strings before them."""
    out: Fields = {"header": [(4, 4), (8, 8), (16, 8)], "kv": [], "items": [], "tensor": []}
    n_tensors, n_kv = struct.unpack_from("<QQ", header, 8)
    pos = 24

    def string(region: str) -> None:
        nonlocal pos
        out[region].append((pos, 8))
        pos += 8 + struct.unpack_from("<Q", header, pos)[0]

    widths = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    for _ in range(n_kv):
        string("kv")
        out["kv"].append((pos, 4))
        value_type = struct.unpack_from("<I", header, pos)[0]
        pos += 4
        if value_type == 8:
            string("kv")
        elif value_type == 9:
            item_type, count = struct.unpack_from("<IQ", header, pos)
            out["kv"] += [(pos, 4), (pos + 4, 8)]
            pos += 12
            for _ in range(count):
                if item_type == 8:
                    string("items")
                else:
                    pos += widths[item_type]
        else:
            pos += widths[value_type]
    for _ in range(n_tensors):
        string("tensor")
        n_dims = struct.unpack_from("<I", header, pos)[0]
        out["tensor"] += [(pos, 4), *((pos + 4 + 8 * d, 8) for d in range(n_dims))]
        pos += 4 + 8 * n_dims
        out["tensor"] += [(pos, 4), (pos + 4, 8)]
        pos += 12
    return out


INTERESTING = [0, 1, 2, 3, 31, 32, 33, 63, 64, 255, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32]
INTERESTING += [(1 << 62), (1 << 63) - 1, 1 << 63, (1 << 64) - 1, (1 << 64) - 32]


Op = tuple[str, int, int, bytes]
"""A mutation: (kind, where, value, inserted bytes). Small, so that hypothesis, which keeps
every example it generates, never holds a copy of a multi-megabyte header per example."""


def _ops(header_size: int, fields: Fields) -> st.SearchStrategy[list[Op]]:
    where = st.integers(0, header_size - 1)
    value = st.sampled_from(INTERESTING) | st.integers(0, (1 << 64) - 1)
    field = st.one_of(
        *(
            st.tuples(
                st.just(f"field:{region}"), st.integers(0, len(found) - 1), value, st.just(b"")
            )
            for region, found in fields.items()
        )
    )
    op = st.one_of(
        field,
        field,
        st.tuples(st.just("byte"), where, st.integers(0, 255), st.just(b"")),
        st.tuples(st.just("cut"), where, st.just(0), st.just(b"")),
        st.tuples(st.just("splice"), where, st.just(0), st.binary(min_size=1, max_size=16)),
    )
    return st.lists(op, min_size=1, max_size=4)


def _apply(header: bytes, fields: Fields, ops: list[Op]) -> bytes:
    data = bytearray(header)
    for kind, where, value, inserted in ops:
        if kind.startswith("field:"):
            offset, width = fields[kind.removeprefix("field:")][where]
            data[offset : offset + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "byte":
            data[where % len(data)] = value
        elif kind == "cut":
            del data[max(1, where % len(data)) :]
        else:
            data[where % (len(data) + 1) : where % (len(data) + 1)] = inserted
    return bytes(data)


def _check_one(path: Path, data: bytes, real_size: int) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.truncate(real_size if len(data) <= real_size else len(data))  # sparse zeros after
    start = time.perf_counter()
    try:
        info: GGUFInfo | None = read_gguf(path)
    except InvalidModelFileError as exc:
        assert exc.reason
        info = None
    assert time.perf_counter() - start < 5.0
    if info is not None:
        for tensor in info.tensors:
            assert tensor.offset % info.alignment == 0
            assert info.data_offset + tensor.offset + tensor.nbytes <= info.size


@pytest.mark.parametrize("model", sorted(REAL))
def test_fuzz_mutated_real_headers(model: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    source = REAL[model]
    if not source.exists():
        pytest.skip(f"{source} is not pulled (make models)")
    data_offset = read_gguf(source).data_offset
    with source.open("rb") as handle:
        header = handle.read(data_offset)  # the first few MB: the header only
    real_size = source.stat().st_size
    fields = _field_offsets(header)
    path = tmp_path_factory.mktemp("fuzz") / f"{model}.gguf"
    _check_one(path, header, real_size)  # the unmutated header over zeros is valid
    assert read_gguf(path).tensor_count > 200
    examples = int(os.environ.get("HEARTH_FUZZ_EXAMPLES", EXAMPLES[model]))

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_ops(len(header), fields))
    def fuzz(ops: list[Op]) -> None:
        _check_one(path, _apply(header, fields, ops), real_size)

    fuzz()
