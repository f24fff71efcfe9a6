"""The accelerator flags of ``hearth run``, ``chat``, ``agent`` and ``serve`` (llama-server's
names): ``--gpu-layers``, ``--main-gpu``, ``--split-mode``, ``--tensor-split``, ``--flash-attn``,
``--kv-offload/--no-kv-offload``, ``--mmap/--no-mmap``, ``--mlock``, ``--cache-type-k``,
``--cache-type-v``. The command receives them together as one ``accelerator`` argument,
checked by :class:`~hearth.accelerator.AcceleratorOptions` (so a bad one fails with the same
message as in Python).

>>> @accelerator_flags
... def run(prompt: str, accelerator: AcceleratorOptions = NO_ACCELERATOR) -> None: ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from hearth.accelerator import (
    CACHE_TYPES,
    AcceleratorOptions,
    parse_flash_attn,
    parse_gpu_layers,
    parse_tensor_split,
)

R = TypeVar("R")

NO_ACCELERATOR = AcceleratorOptions()
"""The default of a command's ``accelerator`` parameter (typer never sees that parameter)."""

_TYPES = ", ".join(CACHE_TYPES)
_FLAGS: tuple[tuple[str, type, typer.models.OptionInfo], ...] = (
    ("gpu_layers", str, typer.Option(
        "--gpu-layers", metavar="auto|all|N", show_default=False,
        help="Layers of a local model offloaded to the GPU (default auto: what fits; "
        "needs a GPU build of llama-cpp-python).")),
    ("main_gpu", int, typer.Option(
        "--main-gpu", show_default=False, help="The GPU used when --split-mode is none.")),
    ("split_mode", str, typer.Option(
        "--split-mode", metavar="none|layer|row", show_default=False,
        help="How several GPUs share the model (default layer).")),
    ("tensor_split", str, typer.Option(
        "--tensor-split", metavar="3,1", show_default=False,
        help="Each GPU's share of the model.")),
    ("flash_attn", str, typer.Option(
        "--flash-attn", metavar="auto|on|off", show_default=False,
        help="Flash attention (default auto; a quantized V cache turns it on).")),
    ("offload_kqv", bool, typer.Option(
        "--kv-offload/--no-kv-offload", show_default=False,
        help="Keep the KV cache on the GPU with its layers (default on).")),
    ("use_mmap", bool, typer.Option(
        "--mmap/--no-mmap", show_default=False,
        help="Map the model file instead of reading it into memory (default on).")),
    ("use_mlock", bool, typer.Option(
        "--mlock/--no-mlock", show_default=False,
        help="Lock the weights in RAM so they are never swapped out.")),
    ("cache_type_k", str, typer.Option(
        "--cache-type-k", metavar="TYPE", show_default=False,
        help=f"The KV cache's K type: {_TYPES} (default f16).")),
    ("cache_type_v", str, typer.Option(
        "--cache-type-v", metavar="TYPE", show_default=False,
        help="The KV cache's V type (default f16; quantized needs flash attention).")),
)  # fmt: skip
_PARSERS: dict[str, Callable[[Any], object]] = {
    "gpu_layers": parse_gpu_layers,
    "tensor_split": parse_tensor_split,
    "flash_attn": parse_flash_attn,
}


def _parameter(name: str, kind: type, option: typer.models.OptionInfo) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation=Annotated[kind | None, option],
    )


def options_from_flags(values: dict[str, object]) -> AcceleratorOptions:
    """The options of the flags given (None: not given)."""
    given: dict[str, object] = {}
    for name, value in values.items():
        if value is not None:
            parse = _PARSERS.get(name)
            given[name] = parse(value) if parse is not None else value
    return AcceleratorOptions(**given)  # type: ignore[arg-type]


def accelerator_flags(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` as typer sees it: its ``accelerator`` parameter replaced by the flags; called,
    it gets them back as one :class:`AcceleratorOptions`."""
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("accelerator")
    flags = [_parameter(*flag) for flag in _FLAGS]

    @functools.wraps(command)
    def with_accelerator(*args: Any, **kwargs: Any) -> R:
        values = {name: kwargs.pop(name, None) for name, _, _ in _FLAGS}
        return command(*args, accelerator=options_from_flags(values), **kwargs)

    with_accelerator.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params[:at], *flags, *params[at + 1 :]]
    )
    return with_accelerator
