"""Accelerator options on the real SmolLM2: they reach llama.cpp (read back through its getters
and its parameter structs), asking for GPU layers on this CPU build warns once with the way to a
GPU build, and each KV cache type gives the cache size its element type implies."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import llama_cpp.llama_cpp as lib
import pytest

import hearth
from hearth.accelerator import AcceleratorOptions
from hearth.backends.local.batch import TokenBatch
from hearth.backends.local.engine import LlamaEngine
from hearth.backends.local.offload import (
    GpuUnavailableWarning,
    gpu_offload_supported,
    model_params,
)
from hearth.catalog.gguf_file import read_gguf
from hearth.cli.model_info import kv_bytes_per_token

pytestmark = pytest.mark.integration

THREADS = 2
N_CTX = 256
# Bytes per 32 elements: f16 64, q8_0 34 (32 int8 + an f16 scale), q4_0 18 (16 + scale).
BLOCK_BYTES = {"f16": 64, "q8_0": 34, "q4_0": 18}


def _model(**options: object) -> hearth.Model:
    return hearth.model(
        "local:smollm2", n_threads=THREADS, n_ctx=N_CTX, slots=1, n_batch=64, **options
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def by_type() -> Iterator[dict[str, hearth.Model]]:
    models = {
        kind: _model(cache_type_k=kind, cache_type_v=kind) for kind in ("f16", "q8_0", "q4_0")
    }
    try:
        yield models
    finally:
        for m in models.values():
            m.close()


def _engine(m: hearth.Model) -> LlamaEngine:
    engine = getattr(m.backend, "engine")  # noqa: B009 - LocalBackend's, loading it
    assert isinstance(engine, LlamaEngine)
    return engine


def test_context_options_reach_llama_cpp(by_type: dict[str, hearth.Model]) -> None:
    engine = _engine(by_type["f16"])
    assert lib.llama_n_ctx(engine._ctx) == N_CTX
    assert lib.llama_n_seq_max(engine._ctx) == 2  # the one slot, and speculation's scratch sequence
    n_layer = int(lib.llama_model_n_layer(engine._model))
    assert n_layer == 30  # SmolLM2-135M
    where = engine.placement
    assert where.layers == n_layer + 1  # llama.cpp counts the output layer too
    assert where.weights_bytes == lib.llama_model_size(engine._model)
    assert 50 * 2**20 < where.weights_bytes <= engine.path.stat().st_size


def test_model_options_fill_llama_cpps_params() -> None:
    options = AcceleratorOptions(
        gpu_layers=0, main_gpu=1, split_mode="row", tensor_split=(3, 1), use_mmap=False,
        use_mlock=True,
    )  # fmt: skip
    params = model_params(options, n_layer=30, file_bytes=100).native
    assert params.n_gpu_layers == 0
    assert params.main_gpu == 1
    assert params.split_mode == lib.LLAMA_SPLIT_MODE_ROW
    assert [params.tensor_split[0], params.tensor_split[1]] == [3.0, 1.0]
    assert params.load_mode == lib.LLAMA_LOAD_MODE_MLOCK
    default = model_params(AcceleratorOptions(), n_layer=30, file_bytes=100).native
    assert default.load_mode == lib.LLAMA_LOAD_MODE_AUTO
    assert default.split_mode == lib.LLAMA_SPLIT_MODE_LAYER


@pytest.mark.skipif(gpu_offload_supported(), reason="this llama.cpp build has a GPU backend")
def test_gpu_layers_on_a_cpu_build_warn_once_and_run_on_the_cpu() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _model(gpu_layers="all") as m:
            text = m.chat("Say hi", max_tokens=4, temperature=0).text
            where = m.capabilities().placement
    gpu = [w for w in caught if issubclass(w.category, GpuUnavailableWarning)]
    assert len(gpu) == 1
    message = str(gpu[0].message)
    assert "no GPU backend" in message and 'CMAKE_ARGS="-DGGML_CUDA=on"' in message
    assert text
    assert where is not None and where.backend == "CPU" and where.layers_offloaded == 0
    assert m.capabilities().accelerator == "cpu"


def test_auto_layers_say_nothing_on_a_cpu_build() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GpuUnavailableWarning)
        with _model() as m:
            m.backend.load()  # type: ignore[attr-defined]


def _kv_row_elements(engine: LlamaEngine) -> int:
    """Elements of K (or V) per token and layer: KV heads times head size."""
    model = engine._model
    head = int(lib.llama_model_n_embd(model)) // int(lib.llama_model_n_head(model))
    return int(lib.llama_model_n_head_kv(model)) * head


def test_kv_cache_types_give_the_expected_sizes(by_type: dict[str, hearth.Model]) -> None:
    for kind, m in by_type.items():
        engine = _engine(m)
        where = engine.placement
        assert (where.kv_type_k, where.kv_type_v) == (kind, kind)
        n_layer = int(lib.llama_model_n_layer(engine._model))
        elements = N_CTX * n_layer * _kv_row_elements(engine) * 2  # K and V
        expected = elements // 32 * BLOCK_BYTES[kind]
        assert abs(where.kv_bytes - expected) <= 0.01 * 2**20, kind  # llama.cpp logs 0.01 MiB
    assert by_type["q8_0"].capabilities().placement.flash_attn  # type: ignore[union-attr]


def test_hearth_infos_kv_estimate_is_llama_cpps_figure(by_type: dict[str, hearth.Model]) -> None:
    engine = _engine(by_type["f16"])
    per_token = kv_bytes_per_token(read_gguf(engine.path))
    assert per_token is not None
    assert abs(per_token * N_CTX - engine.placement.kv_bytes) <= 0.01 * 2**20


def _sequence_state(m: hearth.Model, tokens: int) -> int:
    """llama.cpp's size of one sequence's saved state after ``tokens`` tokens."""
    engine = _engine(m)
    batch = TokenBatch(tokens)
    try:
        ids = engine.tokenize("word " * tokens, add_special=False)[:tokens]
        batch.add(ids, 0, 0, logits=True)
        assert engine.decode(batch)
        return int(lib.llama_state_seq_get_size(engine._ctx, 0))
    finally:
        engine.seq_remove(0)
        batch.close()


def test_a_quantized_cache_saves_a_sequence_in_less(by_type: dict[str, hearth.Model]) -> None:
    grow = {kind: _sequence_state(m, 64) - _sequence_state(m, 32) for kind, m in by_type.items()}
    for kind in ("q8_0", "q4_0"):
        assert grow[kind] / grow["f16"] == pytest.approx(BLOCK_BYTES[kind] / 64, rel=0.02)


def test_every_cache_type_still_answers(by_type: dict[str, hearth.Model]) -> None:
    for m in by_type.values():
        assert m.chat("What is 2+2?", max_tokens=6, temperature=0).text.strip()
