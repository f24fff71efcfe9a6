"""What llama.cpp says it did while loading a model and creating its context, read from its log.

llama.cpp prints its own figures as it loads (``load_tensors: offloaded 31/31 layers to GPU``,
``load_tensors: CUDA0 model buffer size = 256.00 MiB``, ``llama_kv_cache: CPU KV buffer size =
48.00 MiB``, ``llama_kv_cache: size = 48.00 MiB (…), K (q8_0): …``); the C API has no getter for
most of them. :func:`read_load_log` gathers them from the lines captured during one load
(:meth:`hearth.backends.local.engine._LlamaLog.capture`). Pure: no llama.cpp here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MIB = 1024 * 1024
_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_MODEL_BUFFER = re.compile(r"(\S+) model buffer size =\s*([\d.]+) MiB")
_KV_BUFFER = re.compile(r"(\S+) KV buffer size =\s*([\d.]+) MiB")
_KV_TYPES = re.compile(r"K \((\w+)\):\s*[\d.]+ MiB, V \((\w+)\)")
_FLASH = re.compile(r"flash attention (enabled|not supported)|flash_attn\s*=\s*(\w+)", re.I)


@dataclass
class LoadLog:
    """llama.cpp's figures from one load: each missing one stays at its default."""

    layers_offloaded: int = 0
    layers_total: int = 0
    model_buffers: dict[str, int] = field(default_factory=dict)
    kv_buffers: dict[str, int] = field(default_factory=dict)
    kv_type_k: str | None = None
    kv_type_v: str | None = None
    flash_attn: bool | None = None

    @property
    def kv_bytes(self) -> int:
        return sum(self.kv_buffers.values())

    @property
    def gpu_model_bytes(self) -> int:
        return sum(size for name, size in self.model_buffers.items() if is_gpu_buffer(name))

    @property
    def gpu_kv_bytes(self) -> int:
        return sum(size for name, size in self.kv_buffers.items() if is_gpu_buffer(name))


def is_gpu_buffer(name: str) -> bool:
    """Whether a ggml buffer name (``CUDA0``, ``Metal``, ``CPU_Mapped``, ``CUDA_Host``) is
    device memory: host and pinned-host buffers are not."""
    upper = name.upper()
    return not (upper.startswith("CPU") or upper.endswith("_HOST"))


def read_load_log(lines: Iterable[str]) -> LoadLog:
    """The figures in ``lines`` (buffers of the same name add up: an iSWA model has two KV
    caches)."""
    out = LoadLog()
    for line in lines:
        if match := _OFFLOADED.search(line):
            out.layers_offloaded, out.layers_total = int(match[1]), int(match[2])
        elif match := _MODEL_BUFFER.search(line):
            _add(out.model_buffers, match[1], match[2])
        elif match := _KV_BUFFER.search(line):
            _add(out.kv_buffers, match[1], match[2])
        elif match := _KV_TYPES.search(line):
            out.kv_type_k, out.kv_type_v = match[1], match[2]
        elif match := _FLASH.search(line):
            _read_flash(out, match)
    return out


def _add(buffers: dict[str, int], name: str, mib: str) -> None:
    buffers[name] = buffers.get(name, 0) + round(float(mib) * MIB)


def _read_flash(out: LoadLog, match: re.Match[str]) -> None:
    if match[1] is not None:  # the auto setting resolved
        out.flash_attn = match[1].lower() == "enabled"
    elif match[2] is not None and match[2].lower() in ("enabled", "disabled"):
        out.flash_attn = match[2].lower() == "enabled"
