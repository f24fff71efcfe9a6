"""Where a local model runs: GPU offload, attention and KV-cache options, and what llama.cpp did.

:class:`AcceleratorOptions` holds the options of a local model that decide where its weights and
KV cache live (``hearth.model("local:…", gpu_layers="all")``, a ``[[models]]`` entry, the CLI's
``--gpu-layers`` …). Every field is None when not given, so a catalogue entry's options and a
caller's can be layered (:meth:`AcceleratorOptions.over`); the ``effective_*`` properties say
what an unset field means.

:class:`Placement` is what llama.cpp reports once a model is loaded: its backend, how many layers
it offloaded, and the memory of its weights and KV cache, read from llama.cpp's own figures.

Pure: no llama.cpp here (``hearth.backends.local.offload`` applies these to llama.cpp).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, TypeAlias

from hearth.errors import InvalidRequestError

GpuLayers: TypeAlias = int | Literal["auto", "all"]
SplitMode = Literal["none", "layer", "row"]
SPLIT_MODES: tuple[SplitMode, ...] = ("none", "layer", "row")
FlashAttn = Literal["auto", "on", "off"]
FLASH_ATTN: tuple[FlashAttn, ...] = ("auto", "on", "off")
CacheType = Literal["f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"]
CACHE_TYPES: tuple[CacheType, ...] = (
    "f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl",
)  # fmt: skip
UNQUANTIZED: frozenset[str] = frozenset({"f32", "f16", "bf16"})
OPTION_NAMES: tuple[str, ...] = (
    "gpu_layers", "main_gpu", "split_mode", "tensor_split", "flash_attn", "offload_kqv",
    "use_mmap", "use_mlock", "cache_type_k", "cache_type_v",
)  # fmt: skip
GPU_BUILD_HINT = (
    'reinstall llama-cpp-python with a GPU backend, e.g. CMAKE_ARGS="-DGGML_CUDA=on" '
    "pip install --force-reinstall --no-cache-dir llama-cpp-python (Metal: -DGGML_METAL=on, "
    "Vulkan: -DGGML_VULKAN=on, ROCm: -DGGML_HIP=on); see README.md, 'GPU builds'"
)


def parse_gpu_layers(value: object) -> GpuLayers:
    """``auto``, ``all`` or a number of layers ≥ 0 (a string of digits is a number)."""
    if isinstance(value, bool):
        raise _bad_layers(value)
    if isinstance(value, int):
        if value < 0:
            return "all"  # llama.cpp's own spelling of "every layer"
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "all"):
            return "auto" if text == "auto" else "all"
        if text.lstrip("-").isdigit():
            return parse_gpu_layers(int(text))
    raise _bad_layers(value)


def _bad_layers(value: object) -> InvalidRequestError:
    return InvalidRequestError(
        f"gpu_layers must be auto, all or a number of layers (0: none), got {value!r}"
    )


def parse_tensor_split(value: object) -> tuple[float, ...]:
    """Proportions of the model per GPU: ``"3,1"`` or a list of numbers ≥ 0, not all 0."""
    items: list[object]
    if isinstance(value, str):
        items = [part for part in value.replace("/", ",").split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _bad_split(value)
    try:
        numbers = tuple(float(item) for item in items)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _bad_split(value) from None
    if not numbers or any(n < 0 for n in numbers) or not any(n > 0 for n in numbers):
        raise _bad_split(value)
    return numbers


def _bad_split(value: object) -> InvalidRequestError:
    return InvalidRequestError(
        "tensor_split must be the share of each GPU, such as 3,1 (numbers >= 0, not all 0), "
        f"got {value!r}"
    )


def parse_flash_attn(value: object) -> FlashAttn:
    """``auto``, ``on`` or ``off`` (true/false too)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value).strip().lower()
    aliases: dict[str, FlashAttn] = {
        "auto": "auto", "on": "on", "off": "off", "true": "on", "false": "off",
        "1": "on", "0": "off", "yes": "on", "no": "off", "enabled": "on", "disabled": "off",
    }  # fmt: skip
    if text in aliases:
        return aliases[text]
    raise InvalidRequestError(f"flash_attn must be auto, on or off, got {value!r}")


def parse_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text is None or text not in choices:
        raise InvalidRequestError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class AcceleratorOptions:
    """Where a local model's weights and KV cache go. None: not given (see the defaults).

    * ``gpu_layers``: layers offloaded to the GPU: ``auto`` (the default: every layer that fits
      the GPU's free memory, none on a build without a GPU backend), ``all``, or a number;
    * ``main_gpu``: the GPU used when ``split_mode`` is ``none`` (default 0);
    * ``split_mode``: how several GPUs share the model: ``layer`` (default), ``row`` or ``none``;
    * ``tensor_split``: each GPU's share of the model, such as ``(3, 1)``;
    * ``flash_attn``: ``auto`` (default), ``on`` or ``off``; a quantized V cache needs it;
    * ``offload_kqv``: keep the KV cache on the GPU with its layers (default true);
    * ``use_mmap``: map the file instead of reading it (default true);
    * ``use_mlock``: lock the weights in RAM so they are never swapped out (default false);
    * ``cache_type_k``, ``cache_type_v``: the KV cache's element type: ``f16`` (default),
      ``q8_0`` (about half the memory), ``q4_0`` (about a quarter) …
    """

    gpu_layers: GpuLayers | None = None
    main_gpu: int | None = None
    split_mode: SplitMode | None = None
    tensor_split: tuple[float, ...] | None = None
    flash_attn: FlashAttn | None = None
    offload_kqv: bool | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    cache_type_k: CacheType | None = None
    cache_type_v: CacheType | None = None

    def __post_init__(self) -> None:
        if self.gpu_layers is not None:
            object.__setattr__(self, "gpu_layers", parse_gpu_layers(self.gpu_layers))
        if self.main_gpu is not None and (
            isinstance(self.main_gpu, bool) or not isinstance(self.main_gpu, int)
            or self.main_gpu < 0
        ):  # fmt: skip
            raise InvalidRequestError(f"main_gpu must be a GPU index >= 0, got {self.main_gpu!r}")
        if self.split_mode is not None:
            parse_choice("split_mode", self.split_mode, SPLIT_MODES)
        if self.tensor_split is not None:
            object.__setattr__(self, "tensor_split", parse_tensor_split(self.tensor_split))
        if self.flash_attn is not None:
            object.__setattr__(self, "flash_attn", parse_flash_attn(self.flash_attn))
        for name in ("offload_kqv", "use_mmap", "use_mlock"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise InvalidRequestError(f"{name} must be true or false, got {value!r}")
        for name in ("cache_type_k", "cache_type_v"):
            value = getattr(self, name)
            if value is not None:
                parse_choice(name, value, CACHE_TYPES)
        if self.effective_cache_type_v not in UNQUANTIZED and self.flash_attn == "off":
            raise InvalidRequestError(
                f"cache_type_v={self.cache_type_v} needs flash attention, which llama.cpp "
                "requires for a quantized V cache: leave flash_attn at auto or set it on, or "
                "use cache_type_v=f16"
            )

    def over(self, base: AcceleratorOptions) -> AcceleratorOptions:
        """These options, with ``base``'s where these are not given."""
        values = {
            f.name: getattr(self, f.name) if getattr(self, f.name) is not None
            else getattr(base, f.name)
            for f in fields(self)
        }  # fmt: skip
        return AcceleratorOptions(**values)

    def given(self) -> dict[str, object]:
        """The options that were given, by name."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def effective_gpu_layers(self) -> GpuLayers:
        return "auto" if self.gpu_layers is None else self.gpu_layers

    @property
    def wants_gpu(self) -> bool:
        """Whether layers were asked for explicitly (``all`` or a number > 0), not ``auto``."""
        layers = self.effective_gpu_layers
        return layers == "all" or (isinstance(layers, int) and layers > 0)

    @property
    def effective_flash_attn(self) -> FlashAttn:
        """``on`` where a quantized V cache needs it and the caller left it at auto."""
        given = self.flash_attn or "auto"
        if given == "auto" and self.effective_cache_type_v not in UNQUANTIZED:
            return "on"
        return given

    @property
    def effective_cache_type_k(self) -> CacheType:
        return self.cache_type_k or "f16"

    @property
    def effective_cache_type_v(self) -> CacheType:
        return self.cache_type_v or "f16"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a loaded model ended up, by llama.cpp's own figures.

    * ``backend``: the device kind that holds its offloaded layers: ``CPU``, ``CUDA``,
      ``Metal``, ``Vulkan``, ``ROCm``, … (``CPU`` when no layer is offloaded);
    * ``devices``: the GPU devices llama.cpp found (names such as ``CUDA0``), in order;
    * ``layers_offloaded`` of ``layers``: as llama.cpp counts them (the output layer included);
    * ``weights_bytes``: the model's tensors (``llama_model_size``); ``weights_gpu_bytes``: the
      part of them in GPU buffers;
    * ``kv_bytes``: the KV cache's buffers (both K and V, every layer, every cell);
      ``kv_gpu_bytes``: the part of them in GPU buffers;
    * ``kv_type_k``, ``kv_type_v``: its element types; ``flash_attn``: whether it is used.
    """

    backend: str
    devices: tuple[str, ...]
    layers_offloaded: int
    layers: int
    weights_bytes: int
    weights_gpu_bytes: int
    kv_bytes: int
    kv_gpu_bytes: int
    kv_type_k: str
    kv_type_v: str
    flash_attn: bool

    @property
    def memory_bytes(self) -> int:
        """Weights plus KV cache: what loading the model costs (compute buffers aside)."""
        return self.weights_bytes + self.kv_bytes

    @property
    def gpu_bytes(self) -> int:
        """The part of :attr:`memory_bytes` in GPU memory."""
        return self.weights_gpu_bytes + self.kv_gpu_bytes

    @property
    def accelerator(self) -> Literal["cpu", "gpu"]:
        return "gpu" if self.layers_offloaded > 0 else "cpu"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures (``hearth ps --json``, ``/api/ps``)."""
        return {
            "backend": self.backend,
            "devices": list(self.devices),
            "layers_offloaded": self.layers_offloaded,
            "layers": self.layers,
            "weights_bytes": self.weights_bytes,
            "weights_gpu_bytes": self.weights_gpu_bytes,
            "kv_bytes": self.kv_bytes,
            "kv_gpu_bytes": self.kv_gpu_bytes,
            "kv_type_k": self.kv_type_k,
            "kv_type_v": self.kv_type_v,
            "flash_attn": self.flash_attn,
            "memory_bytes": self.memory_bytes,
            "gpu_bytes": self.gpu_bytes,
        }
