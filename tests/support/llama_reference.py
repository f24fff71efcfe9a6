"""llama-cpp-python's high-level ``Llama`` as a reference, loaded as hearth loads a model.

On a CPU with Intel AMX hearth loads without llama.cpp's repacked weight buffers (their AMX
matrix product crashes: ``hearth.backends.local.offload.cpu_has_amx``). ``Llama()`` has no
argument for that, so :func:`reference_llama` builds it from default model parameters with the
same setting: the reference then computes with the same weights layout, and does not crash.
"""

from __future__ import annotations

from typing import Any

from hearth.backends.local.offload import cpu_has_amx


def reference_llama(**kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)``, without repacked weights where hearth does without."""
    import llama_cpp.llama_cpp as lib
    from llama_cpp import Llama

    if not cpu_has_amx():
        return Llama(**kwargs)
    defaults = lib.llama_model_default_params

    def without_repack() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repack
    try:
        return Llama(**kwargs)
    finally:
        lib.llama_model_default_params = defaults
