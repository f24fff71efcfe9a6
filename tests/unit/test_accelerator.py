"""Accelerator options: parsing and checks, layering, the CLI and config spellings, and reading
llama.cpp's own figures from its load log (recorded lines of a CPU and a CUDA load)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.cli import run_cli

import hearth
from hearth.accelerator import AcceleratorOptions, parse_gpu_layers, parse_tensor_split
from hearth.backends.local.load_report import MIB, read_load_log
from hearth.backends.local.offload import fit_layers, load_mode
from hearth.config import ConfigFileError, load_config
from hearth.errors import InvalidRequestError

CPU_LOAD = """\
load_tensors: loading model tensors, this can take a while... (load_mode = mmap)
load_tensors:   CPU_Mapped model buffer size =    92.10 MiB
llama_context: flash_attn    = auto
llama_kv_cache:        CPU KV buffer size =     5.98 MiB
llama_kv_cache: size =    5.98 MiB (   512 cells,  30 layers,  2/2 seqs), \
K (q8_0):    2.99 MiB, V (q8_0):    2.99 MiB
sched_reserve: Flash Attention enabled
""".splitlines()  # fmt: skip

CUDA_LOAD = """\
load_tensors: offloading output layer to GPU
load_tensors: offloading 29 repeating layers to GPU
load_tensors: offloaded 31/31 layers to GPU
load_tensors:        CUDA0 model buffer size =    92.10 MiB
load_tensors:   CPU_Mapped model buffer size =    18.00 MiB
llama_kv_cache:      CUDA0 KV buffer size =    11.25 MiB
llama_kv_cache: size =   11.25 MiB (   512 cells,  30 layers,  2/2 seqs), \
K (f16):    5.62 MiB, V (f16):    5.62 MiB
llama_context:  CUDA_Host  output buffer size =     0.19 MiB
""".splitlines()  # fmt: skip


def test_gpu_layers_spellings() -> None:
    assert parse_gpu_layers("auto") == "auto"
    assert parse_gpu_layers("ALL") == "all"
    assert parse_gpu_layers("12") == 12
    assert parse_gpu_layers(0) == 0
    assert parse_gpu_layers(-1) == "all"  # llama.cpp's spelling of every layer
    for bad in ("many", 1.5, True, None):
        with pytest.raises(InvalidRequestError, match="gpu_layers must be auto, all or a number"):
            parse_gpu_layers(bad)


def test_tensor_split_spellings() -> None:
    assert parse_tensor_split("3,1") == (3.0, 1.0)
    assert parse_tensor_split([1, 0]) == (1.0, 0.0)
    for bad in ("", "0,0", "a,b", "-1,2", 3):
        with pytest.raises(InvalidRequestError, match="tensor_split must be the share"):
            parse_tensor_split(bad)


def test_bad_options_say_what_was_wrong() -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"split_mode": "diagonal"}, "split_mode must be one of none, layer, row"),
        ({"cache_type_k": "q3_k"}, "cache_type_k must be one of f32, f16"),
        ({"flash_attn": "sometimes"}, "flash_attn must be auto, on or off"),
        ({"main_gpu": -1}, "main_gpu must be a GPU index"),
        ({"use_mlock": "yes"}, "use_mlock must be true or false"),
        ({"cache_type_v": "q4_0", "flash_attn": "off"}, "needs flash attention"),
    ]
    for given, message in cases:
        with pytest.raises(InvalidRequestError, match=message):
            AcceleratorOptions(**given)  # type: ignore[arg-type]


def test_a_quantized_v_cache_turns_flash_attention_on() -> None:
    assert AcceleratorOptions(cache_type_v="q8_0").effective_flash_attn == "on"
    assert AcceleratorOptions(cache_type_k="q8_0").effective_flash_attn == "auto"
    assert AcceleratorOptions().effective_flash_attn == "auto"
    assert AcceleratorOptions(flash_attn=False).effective_flash_attn == "off"  # type: ignore[arg-type]


def test_callers_options_go_over_the_entrys() -> None:
    entry = AcceleratorOptions(gpu_layers=20, cache_type_k="q8_0", use_mlock=True)
    mine = AcceleratorOptions(gpu_layers="all", use_mlock=False)
    merged = mine.over(entry)
    assert merged.gpu_layers == "all"
    assert merged.cache_type_k == "q8_0"
    assert merged.use_mlock is False
    assert merged.given() == {"gpu_layers": "all", "use_mlock": False, "cache_type_k": "q8_0"}


def test_explicit_gpu_layers_want_a_gpu_auto_does_not() -> None:
    assert AcceleratorOptions(gpu_layers="all").wants_gpu
    assert AcceleratorOptions(gpu_layers=4).wants_gpu
    assert not AcceleratorOptions(gpu_layers=0).wants_gpu
    assert not AcceleratorOptions().wants_gpu


def test_layers_that_fit_free_gpu_memory() -> None:
    assert fit_layers(30, 1000, 10_000) == -1  # all of it fits
    assert fit_layers(30, 31_000, 10_000) == 9  # 1000 bytes a layer, 9000 usable
    assert fit_layers(30, 31_000, 0) == 0
    assert fit_layers(0, 0, 0) == -1  # unknown size: llama.cpp decides


def test_mmap_and_mlock_become_llama_cpps_load_mode() -> None:
    import llama_cpp.llama_cpp as lib

    assert load_mode(None, None) is None  # llama.cpp's own auto
    assert load_mode(False, None) == lib.LLAMA_LOAD_MODE_NONE
    assert load_mode(True, None) == lib.LLAMA_LOAD_MODE_MMAP
    assert load_mode(None, True) == lib.LLAMA_LOAD_MODE_MMAP_MLOCK
    assert load_mode(False, True) == lib.LLAMA_LOAD_MODE_MLOCK


def test_reads_a_cpu_load() -> None:
    log = read_load_log(CPU_LOAD)
    assert log.layers_offloaded == 0
    assert log.model_buffers == {"CPU_Mapped": round(92.10 * MIB)}
    assert log.gpu_model_bytes == 0
    assert log.kv_bytes == round(5.98 * MIB)
    assert (log.kv_type_k, log.kv_type_v) == ("q8_0", "q8_0")
    assert log.flash_attn is True


def test_reads_a_cuda_load() -> None:
    log = read_load_log(CUDA_LOAD)
    assert (log.layers_offloaded, log.layers_total) == (31, 31)
    assert log.gpu_model_bytes == round(92.10 * MIB)  # CPU_Mapped is host memory
    assert log.gpu_kv_bytes == log.kv_bytes == round(11.25 * MIB)
    assert (log.kv_type_k, log.kv_type_v) == ("f16", "f16")
    assert log.flash_attn is None  # auto, not resolved in these lines


def test_options_are_checked_when_the_model_is_made() -> None:
    with pytest.raises(InvalidRequestError, match="cache_type_v must be one of"):
        hearth.model("local:smollm2", cache_type_v="q9")  # type: ignore[arg-type]


def test_config_models_take_accelerator_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[models]]\nname = "big"\npath = "big.gguf"\ngpu_layers = "all"\n'
        'cache_type_k = "q8_0"\ncache_type_v = "q8_0"\ntensor_split = [3, 1]\nuse_mlock = true\n'
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    entry = load_config().catalog().find("big")
    assert entry.accelerator == AcceleratorOptions(
        gpu_layers="all", cache_type_k="q8_0", cache_type_v="q8_0", tensor_split=(3.0, 1.0),
        use_mlock=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('gpu_layers = "lots"', r"models\[0\]\.gpu_layers: gpu_layers must be auto, all or a"),
        ("use_mmap = 1", r"models\[0\]\.use_mmap must be true or false"),
        ('cache_type_v = "q4_0"\nflash_attn = "off"', "needs flash attention"),
        ("gpu_layer = 3", "did you mean 'gpu_layers'"),
    ],
)
def test_bad_config_options_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[[models]]\nname = "big"\npath = "big.gguf"\n{line}\n')
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    with pytest.raises(ConfigFileError, match=message):
        load_config()


def test_cli_refuses_gpu_flags_for_a_remote_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "-m", "openai:gpt-4o", "--gpu-layers", "all", "hi"], capsys)
    assert code == 1
    assert "--gpu-layers: GPU and KV cache options apply to local models" in err


def test_cli_checks_flag_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "--cache-type-k", "q9", "hi"], capsys)
    assert code == 1
    assert "cache_type_k must be one of f32, f16" in err
    assert "Traceback" not in err
