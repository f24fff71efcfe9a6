"""The thinking budget's cost and its bound, on a local reasoning model.

    .venv/bin/python bench/reasoning_budget.py [--model SPEC] [--budget 64] [--tokens 160]
                                               [--runs 5] [--seeds 20] [--threads 2] [--json]

``--model``: a local reasoning model (a catalogue name, ``hf:…`` or a ``.gguf`` path, e.g. the
DeepSeek-R1 distill the issue names); by default ``smollm2-think``: SmolLM2-135M-Instruct made
to think in tags by tests/fixtures/reasoning/smollm2-think.jinja (what CI runs, not a real
reasoning model). Reported:

* decode tok/s with ``thinking_budget=--budget`` against without a budget (thinking on both
  times), medians over ``--runs`` repetitions run back to back, their order reversed every other
  repetition; tok/s is (tokens - 1) / (time from the first to the last piece of output), and
  the ratio's goal is >= 0.97;
* the bound: over ``--seeds`` seeds (temperature 1), the thinking tokens the engine counted
  (``usage.thinking_tokens``) and the thinking text re-tokenized, each never above the budget
  + 1.

This is a benchmark, not a test: it asserts nothing; it prints figures and the goals.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import hearth
from hearth.backends.local.backend import LocalBackend, LocalOptions
from hearth.catalog.entries import Catalog, builtin_catalog

RATIO_GOAL = 0.97
TEMPLATE = Path(__file__).parent.parent / "tests" / "fixtures" / "reasoning" / "smollm2-think.jinja"
PROMPT = (
    "A train leaves at 9:40 and arrives at 13:05. How long is the journey? Think it through "
    "carefully, step by step, checking each step, before you answer."
)


def open_model(spec: str, threads: int) -> hearth.Model:
    options = LocalOptions(n_threads=threads, slots=1, prefix_cache=0)
    if spec != "smollm2-think":
        return hearth.Model(LocalBackend(spec, options))
    base = builtin_catalog().entries
    smol = next(e for e in base if e.name == "smollm2")
    entry = replace(smol, name="smollm2-think", aliases=(), chat_template=TEMPLATE.read_text())
    return hearth.Model(LocalBackend(spec, options, catalog=Catalog((*base, entry))))


def decode_rate(m: hearth.Model, tokens: int, budget: int | None) -> float:
    """tok/s of one generation of ``tokens`` tokens (thinking on; ``budget`` or none)."""
    times: list[float] = []
    with m.stream(PROMPT, max_tokens=tokens, seed=7, thinking_budget=budget) as stream:
        for event in stream:
            if event.kind in ("text", "thinking"):
                times.append(time.perf_counter())
        produced = stream.response.usage.output_tokens
    if len(times) < 2 or produced < 2:
        return float("nan")
    return (produced - 1) / (times[-1] - times[0])


def speed(m: hearth.Model, args: argparse.Namespace) -> dict[str, float]:
    free: list[float] = []
    budgeted: list[float] = []
    decode_rate(m, 8, None)  # warm up
    for run in range(args.runs):
        pair = [(free, None), (budgeted, args.budget)]
        for into, budget in pair if run % 2 == 0 else reversed(pair):
            into.append(decode_rate(m, args.tokens, budget))
    f, b = statistics.median(free), statistics.median(budgeted)
    return {"free_tok_s": f, "budget_tok_s": b, "ratio": b / f}


def bound(m: hearth.Model, args: argparse.Namespace) -> dict[str, Any]:
    backend = m.backend
    assert isinstance(backend, LocalBackend)
    counted: list[int] = []
    retokenized: list[int] = []
    for seed in range(args.seeds):
        r = m.chat(
            PROMPT,
            seed=seed,
            temperature=1.0,
            max_tokens=args.budget + 48,
            thinking_budget=args.budget,
        )
        counted.append(r.usage.thinking_tokens)
        retokenized.append(len(backend.engine.tokenize(r.thinking, add_special=False)))
    limit = args.budget + 1
    return {
        "budget": args.budget,
        "seeds": args.seeds,
        "max_counted": max(counted),
        "max_retokenized": max(retokenized),
        "held": max(counted) <= limit and max(retokenized) <= limit,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-think")
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with open_model(args.model, args.threads) as m:
        if not m.capabilities().thinking:
            sys.exit(f"{args.model} is not a reasoning model")
        result = {"model": args.model, **speed(m, args), "bound": bound(m, args)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {result['model']}, budget {args.budget}, {args.tokens} tokens, {args.runs} runs")
    print(f"  decode tok/s without a budget {result['free_tok_s']:.1f}")
    print(f"  decode tok/s with a budget    {result['budget_tok_s']:.1f}")
    print(f"  ratio {result['ratio']:.3f} (goal >= {RATIO_GOAL})")
    b = result["bound"]
    print(
        f"  thinking tokens over {b['seeds']} seeds: at most {b['max_counted']} counted, "
        f"{b['max_retokenized']} re-tokenized (goal <= {args.budget + 1}): "
        f"{'held' if b['held'] else 'NOT held'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
