"""Accelerator options (:class:`hearth.accelerator.AcceleratorOptions`) applied to llama.cpp's
model and context parameters, the GPU devices this build of llama.cpp has, and the
:class:`~hearth.accelerator.Placement` of a loaded model.

On a llama.cpp build without a GPU backend (``llama_supports_gpu_offload()`` is false), asking
for GPU layers explicitly (``all`` or a number) gives one :class:`GpuUnavailableWarning` that says
how to install a GPU build, and the model loads on the CPU; ``auto`` quietly means the CPU there.
"""

from __future__ import annotations

import ctypes
import functools
import warnings
from dataclasses import dataclass
from typing import Any

import llama_cpp.llama_cpp as lib

from hearth.accelerator import GPU_BUILD_HINT, AcceleratorOptions, CacheType, Placement
from hearth.backends.local.load_report import LoadLog

SPLIT_CODES = {
    "none": lib.LLAMA_SPLIT_MODE_NONE,
    "layer": lib.LLAMA_SPLIT_MODE_LAYER,
    "row": lib.LLAMA_SPLIT_MODE_ROW,
}
FLASH_CODES = {
    "auto": lib.LLAMA_FLASH_ATTN_TYPE_AUTO,
    "on": lib.LLAMA_FLASH_ATTN_TYPE_ENABLED,
    "off": lib.LLAMA_FLASH_ATTN_TYPE_DISABLED,
}
CACHE_CODES: dict[CacheType, int] = {
    "f32": lib.GGML_TYPE_F32,
    "f16": lib.GGML_TYPE_F16,
    "bf16": 30,  # GGML_TYPE_BF16 (ggml.h; llama_cpp.py does not name it)
    "q8_0": lib.GGML_TYPE_Q8_0,
    "q5_1": lib.GGML_TYPE_Q5_1,
    "q5_0": lib.GGML_TYPE_Q5_0,
    "q4_1": lib.GGML_TYPE_Q4_1,
    "q4_0": lib.GGML_TYPE_Q4_0,
    "iq4_nl": lib.GGML_TYPE_IQ4_NL,
}
_DEVICE_GPU_TYPES = (1, 2)  # GGML_BACKEND_DEVICE_TYPE_GPU, _IGPU


class GpuUnavailableWarning(UserWarning):
    """GPU layers were asked for, but this llama.cpp build has no GPU backend."""


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """A GPU llama.cpp can use: its name (``CUDA0``), backend (``CUDA``), description and
    memory in bytes."""

    name: str
    backend: str
    description: str
    free_bytes: int
    total_bytes: int


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build has a GPU backend (CUDA, Metal, Vulkan, ROCm, …)."""
    return bool(lib.llama_supports_gpu_offload())


def gpu_devices() -> tuple[GpuDevice, ...]:
    """The GPUs llama.cpp's ggml backends report (none on a CPU build)."""
    ggml = _ggml()
    if ggml is None:
        return ()
    devices: list[GpuDevice] = []
    for index in range(int(ggml.ggml_backend_dev_count())):
        dev = ggml.ggml_backend_dev_get(index)
        if int(ggml.ggml_backend_dev_type(dev)) not in _DEVICE_GPU_TYPES:
            continue
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        ggml.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        reg = ggml.ggml_backend_dev_backend_reg(dev)
        devices.append(
            GpuDevice(
                name=_text(ggml.ggml_backend_dev_name(dev)),
                backend=_text(ggml.ggml_backend_reg_name(reg)) if reg else "GPU",
                description=_text(ggml.ggml_backend_dev_description(dev)),
                free_bytes=int(free.value),
                total_bytes=int(total.value),
            )
        )
    return tuple(devices)


def build_backends() -> str:
    """What this llama.cpp build runs on, for ``hearth info``: ``CPU`` or e.g. ``CUDA (CUDA0:
    NVIDIA H100, 79.1 GiB free)``."""
    devices = gpu_devices()
    if not devices:
        return "CPU (no GPU backend in this llama.cpp build)"
    shown = ", ".join(
        f"{d.name}: {d.description}, {d.free_bytes / 2**30:.1f} GiB free" for d in devices
    )
    return f"{devices[0].backend} ({shown})"


def _text(raw: object) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw or "")


@functools.cache
def _ggml() -> Any | None:
    """ggml's shared library with the device functions declared (None if it cannot be found)."""
    try:
        from llama_cpp._ggml import libggml
    except (ImportError, OSError):  # pragma: no cover - every wheel ships it
        return None
    p, size = ctypes.c_void_p, ctypes.c_size_t
    for name, args, res in (
        ("ggml_backend_dev_count", [], size),
        ("ggml_backend_dev_get", [size], p),
        ("ggml_backend_dev_type", [p], ctypes.c_int),
        ("ggml_backend_dev_name", [p], ctypes.c_char_p),
        ("ggml_backend_dev_description", [p], ctypes.c_char_p),
        ("ggml_backend_dev_memory", [p, ctypes.POINTER(size), ctypes.POINTER(size)], None),
        ("ggml_backend_dev_backend_reg", [p], p),
        ("ggml_backend_reg_name", [p], ctypes.c_char_p),
    ):
        fn = getattr(libggml, name)
        fn.argtypes, fn.restype = args, res
    return libggml


# -- parameters ----------------------------------------------------------------------------------


def gpu_layers_for(options: AcceleratorOptions, n_layer: int, file_bytes: int) -> int:
    """llama.cpp's ``n_gpu_layers`` for ``options`` (-1: all), warning once when GPU layers are
    asked for on a build that has no GPU backend."""
    layers = options.effective_gpu_layers
    if not gpu_offload_supported():
        if options.wants_gpu:
            warnings.warn(
                f"gpu_layers={layers} was asked for, but this llama-cpp-python build has no GPU "
                f"backend, so the model runs on the CPU; to use a GPU, {GPU_BUILD_HINT}",
                GpuUnavailableWarning,
                stacklevel=4,
            )
        return 0
    if layers == "all":
        return -1
    if layers == "auto":
        free = sum(d.free_bytes for d in gpu_devices())
        return fit_layers(n_layer, file_bytes, free)
    return layers


def fit_layers(n_layer: int, file_bytes: int, free_bytes: int, reserve: float = 0.1) -> int:
    """How many of a model's ``n_layer`` layers (plus its output layer) fit ``free_bytes`` of
    GPU memory, keeping ``reserve`` of it for the KV cache and compute buffers: -1 for all."""
    if n_layer <= 0 or file_bytes <= 0:
        return -1
    usable = free_bytes * (1.0 - reserve)
    if usable >= file_bytes:
        return -1
    per_layer = file_bytes / (n_layer + 1)
    return max(0, int(usable // per_layer))


@dataclass
class ModelParams:
    """llama.cpp's model parameters, and the arrays they point to (kept alive with them)."""

    native: Any
    keep: tuple[Any, ...] = ()


def model_params(options: AcceleratorOptions, n_layer: int, file_bytes: int) -> ModelParams:
    params = lib.llama_model_default_params()
    params.n_gpu_layers = gpu_layers_for(options, n_layer, file_bytes)
    if options.main_gpu is not None:
        params.main_gpu = options.main_gpu
    if options.split_mode is not None:
        params.split_mode = SPLIT_CODES[options.split_mode]
    keep: tuple[Any, ...] = ()
    if options.tensor_split is not None:
        n = max(int(lib.llama_max_devices()), len(options.tensor_split))
        split = (ctypes.c_float * n)(*options.tensor_split)
        params.tensor_split = ctypes.cast(split, ctypes.POINTER(ctypes.c_float))
        keep = (split,)
    mode = load_mode(options.use_mmap, options.use_mlock)
    if mode is not None:
        params.load_mode = mode
    if cpu_has_amx():
        params.use_extra_bufts = False
    return ModelParams(params, keep)


@functools.cache
def cpu_has_amx() -> bool:
    """Whether the CPU has Intel AMX. llama.cpp then repacks the weights into an AMX buffer
    whose matrix product segfaults on the first decode of a few tokens (SmolLM2 Q4_1, 24
    tokens; ggml-org/llama.cpp#20824), so hearth loads without repacked ("extra") buffers
    there, as llama-server's ``--no-repack`` does."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and " amx_int8" in line for line in info)
    except OSError:
        return False


def load_mode(use_mmap: bool | None, use_mlock: bool | None) -> int | None:
    """llama.cpp's ``load_mode`` for the mmap / mlock options (None: llama.cpp's auto)."""
    if use_mmap is None and not use_mlock:
        return None
    if use_mlock:
        return lib.LLAMA_LOAD_MODE_MLOCK if use_mmap is False else lib.LLAMA_LOAD_MODE_MMAP_MLOCK
    return lib.LLAMA_LOAD_MODE_MMAP if use_mmap else lib.LLAMA_LOAD_MODE_NONE


def apply_context(params: Any, options: AcceleratorOptions) -> None:
    """Set the context parameters the options decide: flash attention, KV offload and types."""
    params.flash_attn_type = FLASH_CODES[options.effective_flash_attn]
    if options.offload_kqv is not None:
        params.offload_kqv = options.offload_kqv
    params.type_k = CACHE_CODES[options.effective_cache_type_k]
    params.type_v = CACHE_CODES[options.effective_cache_type_v]


def placement(model: Any, log: LoadLog, options: AcceleratorOptions) -> Placement:
    """Where the loaded ``model`` is, from llama.cpp's figures (``llama_model_size`` and what it
    logged while loading)."""
    devices = gpu_devices() if log.layers_offloaded > 0 else ()
    backend = devices[0].backend if devices else "CPU"
    flash = log.flash_attn
    if flash is None:
        flash = options.effective_flash_attn == "on"
    return Placement(
        backend=backend,
        devices=tuple(d.name for d in devices),
        layers_offloaded=log.layers_offloaded,
        layers=log.layers_total or int(lib.llama_model_n_layer(model)) + 1,
        weights_bytes=int(lib.llama_model_size(model)),
        weights_gpu_bytes=log.gpu_model_bytes,
        kv_bytes=log.kv_bytes,
        kv_gpu_bytes=log.gpu_kv_bytes,
        kv_type_k=log.kv_type_k or options.effective_cache_type_k,
        kv_type_v=log.kv_type_v or options.effective_cache_type_v,
        flash_attn=flash,
    )
