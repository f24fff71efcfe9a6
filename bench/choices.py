"""Several answers to one prompt, and the cost of log-probabilities, on one local model.

Prints, for the same GGUF file and thread count, in one run:

1. the time to get ``n`` answers to one long prompt: one request with ``n=N`` (the prompt read
   once, its KV shared by reference with the other answers) against ``N`` concurrent requests
   of one answer each with the prefix cache off (each reads the prompt), and their ratio;
2. decode speed with ``logprobs=True, top_logprobs=5`` against without (the copy and
   log-softmax of each vocabulary row), and their ratio.

No peer has ``n`` on a local CPU model (llama-cpp-python's ``create_completion`` gives one
choice; llama-server's ``/completion`` has no ``n``), so the comparison is with hearth's own
one-answer requests, measured in the same run. Figures are meaningful on a quiet machine only.

    .venv/bin/python bench/choices.py                      # defaults: n=4, 64 tokens, 5 runs
    .venv/bin/python bench/choices.py --runs 1 --tokens 8  # a quick smoke run
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import hearth

PROMPT = "Here are the notes of a long meeting about the city's new library. " * 40


def _n_answers(m: hearth.Model, n: int, tokens: int, seed: int) -> float:
    started = time.perf_counter()
    r = m.complete(PROMPT, n=n, max_tokens=tokens, temperature=0.8, seed=seed)
    assert len(r.choices) == n
    return time.perf_counter() - started


def _separate(m: hearth.Model, n: int, tokens: int, seed: int) -> float:
    barrier = threading.Barrier(n + 1)

    def one(i: int) -> None:
        barrier.wait()
        m.complete(PROMPT, max_tokens=tokens, temperature=0.8, seed=seed + i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _decode(m: hearth.Model, tokens: int, logprobs: bool) -> float:
    extra = {"logprobs": True, "top_logprobs": 5} if logprobs else {}
    started = time.perf_counter()
    r = m.complete("Once upon a time", max_tokens=tokens, temperature=0.8, seed=1, **extra)  # type: ignore[arg-type]
    return r.usage.output_tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="local:smollm2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with hearth.model(args.model, n_threads=args.threads, prefix_cache=0) as m:
        prompt_tokens = len(m.tokenize(PROMPT))
        _n_answers(m, args.n, 4, 0)  # warm-up
        shared = [_n_answers(m, args.n, args.tokens, r) for r in range(args.runs)]
        apart = [_separate(m, args.n, args.tokens, r) for r in range(args.runs)]
        plain = [_decode(m, args.tokens, False) for _ in range(args.runs)]
        with_lp = [_decode(m, args.tokens, True) for _ in range(args.runs)]
    s, a = statistics.median(shared), statistics.median(apart)
    p, w = statistics.median(plain), statistics.median(with_lp)
    print(f"prompt: {prompt_tokens} tokens; {args.n} answers of {args.tokens} tokens; "
          f"{args.threads} threads; medians of {args.runs} runs")  # fmt: skip
    print(f"n={args.n} in one request (prefill shared): {s:.2f} s")
    print(f"{args.n} concurrent one-answer requests:     {a:.2f} s")
    print(f"ratio (separate / shared, higher is better): {a / s:.2f}x")
    print(f"decode without logprobs: {p:.1f} tok/s; with logprobs + top 5: {w:.1f} tok/s")
    print(f"ratio (with / without): {w / p:.3f}x")


if __name__ == "__main__":
    main()
