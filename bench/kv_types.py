"""KV cache types: memory and decode speed of each, on one model, measured in one run.

    .venv/bin/python bench/kv_types.py [--model local:smollm2] [--types f16,q8_0,q4_0]
        [--n-ctx 4096] [--depth 1024] [--tokens 128] [--runs 3] [--threads N]
        [--gpu-layers auto|all|N] [--flash-attn auto|on|off] [--json]

Each type loads the model afresh (K and V of that type), fills ``--depth`` tokens of context
with a prompt (a quantized cache costs most on long contexts), then decodes ``--tokens`` tokens
greedily; the repetitions alternate the types' order to cancel drift. Reported per type:

* KV MiB: the KV cache's buffers, as llama.cpp logs them (``Placement.kv_bytes``), and the
  ratio to f16's;
* decode tok/s: (tokens - 1) / (time from the first to the last piece of text), median;
* prefill tok/s: prompt tokens / time to the first piece of text, median.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass, field

import hearth
from hearth.backends.local.engine import default_threads
from hearth.events import Done, TextDelta

FILLER = "The river bends past the old mill, where the miller counts his sacks of grain. "


@dataclass
class Figures:
    kind: str
    kv_mib: float = 0.0
    weights_mib: float = 0.0
    backend: str = ""
    layers: str = ""
    flash_attn: bool = False
    decode: list[float] = field(default_factory=list)
    prefill: list[float] = field(default_factory=list)


def _prompt(m: hearth.Model, depth: int) -> str:
    engine = getattr(m.backend, "engine")  # noqa: B009 - loads a local model
    text = FILLER
    while len(engine.tokenize(text, add_special=False)) < depth:
        text += FILLER
    return text + "\nContinue the story."


def _run_once(args: argparse.Namespace, kind: str, figures: Figures) -> None:
    options: dict[str, object] = {
        "cache_type_k": kind, "cache_type_v": kind, "n_ctx": args.n_ctx,
        "n_threads": args.threads, "slots": 1, "prefix_cache": 0,
    }  # fmt: skip
    if args.gpu_layers is not None:
        options["gpu_layers"] = args.gpu_layers
    if args.flash_attn is not None:
        options["flash_attn"] = args.flash_attn
    with hearth.model(args.model, **options) as m:  # type: ignore[arg-type]
        prompt = _prompt(m, args.depth)
        where = m.capabilities().placement
        assert where is not None, "a local model reports its placement once loaded"
        figures.kv_mib = where.kv_bytes / 2**20
        figures.weights_mib = where.weights_bytes / 2**20
        figures.backend = where.backend
        figures.layers = f"{where.layers_offloaded}/{where.layers}"
        figures.flash_attn = where.flash_attn
        start = time.perf_counter()
        first = last = 0.0
        prompt_tokens = output_tokens = 0
        pieces = 0
        for event in m.stream(prompt, max_tokens=args.tokens, temperature=0):
            if isinstance(event, TextDelta):
                last = time.perf_counter()
                first = first or last
                pieces += 1
            elif isinstance(event, Done):
                prompt_tokens, output_tokens = event.usage.input_tokens, event.usage.output_tokens
        if pieces > 1 and last > first:
            figures.decode.append((output_tokens - 1) / (last - first))
        if first > start:
            figures.prefill.append(prompt_tokens / (first - start))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _table(results: list[Figures]) -> str:
    base = next((r.kv_mib for r in results if r.kind == "f16"), 0.0)
    rows = [
        f"{'type':<7} {'KV MiB':>8} {'vs f16':>7} {'decode tok/s':>13} {'prefill tok/s':>14}"
        "  backend  layers  flash"
    ]
    for r in results:
        ratio = f"{r.kv_mib / base:.3f}" if base else "-"
        rows.append(
            f"{r.kind:<7} {r.kv_mib:>8.2f} {ratio:>7} {_median(r.decode):>13.1f} "
            f"{_median(r.prefill):>14.1f}  {r.backend:<7}  {r.layers:<6}  {r.flash_attn}"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:smollm2")
    parser.add_argument("--types", default="f16,q8_0,q4_0")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--depth", type=int, default=1024)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--gpu-layers", default=None)
    parser.add_argument("--flash-attn", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.types.split(",") if k.strip()]
    results = {kind: Figures(kind) for kind in kinds}
    for run in range(args.runs):
        for kind in kinds if run % 2 == 0 else reversed(kinds):
            _run_once(args, kind, results[kind])
    ordered = [results[k] for k in kinds]
    if args.json:
        print(json.dumps([asdict(r) for r in ordered], indent=2))
    else:
        print(f"{args.model}: n_ctx {args.n_ctx}, depth {args.depth}, {args.tokens} tokens, "
              f"{args.runs} runs, {args.threads} threads")  # fmt: skip
        print(_table(ordered))


if __name__ == "__main__":
    main()
