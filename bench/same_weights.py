"""llama.cpp's own tools and llama-cpp-python, loaded as hearth loads the model.

On a CPU with Intel AMX, hearth loads weights without llama.cpp's repacked buffers (their AMX
matrix product crashes on the first prompt: ``hearth.backends.local.offload.cpu_has_amx``), so
the peers get the same setting there: the same weight layout on both sides of a ratio, and no
crash of llama-server, llama-bench or llama-cpp-python mid-benchmark. Elsewhere nothing changes.
"""

from __future__ import annotations


def _amx() -> bool:
    from hearth.backends.local.offload import cpu_has_amx

    return cpu_has_amx()


def llama_server_flags() -> list[str]:
    return ["--no-repack"] if _amx() else []


def llama_bench_flags() -> list[str]:
    return ["--repack", "0"] if _amx() else []


def llama_cpp_python_as_hearth() -> None:
    """Make ``llama_cpp.Llama`` load models as hearth does here (its constructor has no
    argument for repacking: the default model parameters it starts from are changed)."""
    if not _amx():
        return
    import llama_cpp.llama_cpp as lib

    defaults = lib.llama_model_default_params

    def without_repack():  # type: ignore[no-untyped-def]
        params = defaults()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repack
