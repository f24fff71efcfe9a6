"""llama.cpp's own tools, loaded as hearth loads the model.

On a CPU with Intel AMX, hearth loads weights without llama.cpp's repacked buffers (their AMX
matrix product crashes on the first prompt: ``hearth.backends.local.offload.cpu_has_amx``), so
the peers get the same flag there: the same weight layout on both sides of a ratio, and no
crash of llama-server or llama-bench mid-benchmark. Elsewhere nothing is added.
"""

from __future__ import annotations

from hearth.backends.local.offload import cpu_has_amx


def llama_server_flags() -> list[str]:
    return ["--no-repack"] if cpu_has_amx() else []


def llama_bench_flags() -> list[str]:
    return ["--repack", "0"] if cpu_has_amx() else []
