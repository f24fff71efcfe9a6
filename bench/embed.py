"""Embedding throughput: hearth's default embedding model against sentence-transformers.

    .venv/bin/python bench/embed.py [-n 1000] [--runs 3] [--threads T]
                                    [--st-python /tmp/stvenv/bin/python] [--json]

Both sides embed the same ``-n`` sentences (generated from a fixed seed, 4 to 60 words) with
all-MiniLM-L6-v2 on the same CPU, with the same thread count, one after the other:

* **hearth**: ``hearth.model("local:minilm", n_threads=T).embed(sentences)`` — the GGUF
  conversion in hearth's store, run by llama.cpp;
* **sentence-transformers**: ``SentenceTransformer(<the same PyPI package's files>).encode(
  sentences, normalize_embeddings=True)`` with its default batch size (32), in a subprocess of a
  Python that has it (``--st-python``; default ``/tmp/stvenv/bin/python``, see
  bench/README.md). Without one, its figure is reported as not measured.

Each side loads its model and embeds a few sentences untimed first, then embeds all of them
``--runs`` times; sentence-transformers runs first (in its own process, which has exited before
hearth starts). The report gives the median sentences/s of each and their ratio (target:
hearth >= 1.5 times sentence-transformers), and checks that the two agree (mean cosine of the
first vectors). It also reports sentences per CPU-second (process CPU time, all threads): on a
busy machine wall-clock figures swing with other load, CPU time much less (with ``--threads 1``
it is pure compute; with more threads it includes spin-waiting). A benchmark asserts nothing.

The **ceiling** puts both figures against what this CPU can do at all. It counts the floating-point
work of the encoder's dense layers alone (per token and layer: Q, K, V and output projections,
and the two feed-forward matrices; ``2 * (4 d^2 + 2 d f)`` FLOPs), leaving out attention, GELU,
layer norms and pooling, so it is a lower bound on the work. It measures the CPU's float32
matrix-multiply peak with numpy's BLAS (OpenBLAS) on one thread, at the model's own shapes, best
of several, and multiplies it by the thread count (perfect scaling). The ceiling, dense work /
peak, is then an upper bound on sentences/s for any engine doing float32 arithmetic, and the
report gives each side's GFLOP/s and hearth's fraction of the ceiling (``--no-ceiling`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGET = 1.5
DEFAULT_ST_PYTHON = "/tmp/stvenv/bin/python"
REPO = Path(__file__).resolve().parent.parent

VOCABULARY = (
    "the a river mountain city quick brown fox data model learns weather spring night music "
    "plays guitar market price rises falls engineer builds bridge child reads book about ocean "
    "storm quantum particle light energy plant grows garden coffee morning train station late "
    "password reset account email server database query index search result language translate"
)
WORDS = VOCABULARY.split(" ")

ST_SCRIPT = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import torch
from make_minilm_reference import model_files
from sentence_transformers import SentenceTransformer
request = json.loads(sys.stdin.read())
torch.set_num_threads(request["threads"])
with tempfile.TemporaryDirectory() as tmp:
    model = SentenceTransformer(str(model_files(Path(tmp))), device="cpu")
model.encode(request["sentences"][:8], normalize_embeddings=True)
times, cpu, vectors = [], [], None
for _ in range(request["runs"]):
    start, start_cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(request["sentences"], normalize_embeddings=True)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
print(json.dumps({"times": times, "cpu": cpu, "vectors": vectors[:16].tolist()}))
"""


def sentences(n: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(4, 60))
        out.append(" ".join(words).capitalize() + rng.choice(".?!"))
    return out


def run_st(python: str, texts: list[str], runs: int, threads: int) -> dict[str, Any] | None:
    if not Path(python).exists():
        return None
    request = json.dumps({"sentences": texts, "runs": runs, "threads": threads})
    done = subprocess.run(
        [python, "-c", ST_SCRIPT, str(REPO / "scripts")],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"sentence-transformers failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_hearth(model: str, texts: list[str], runs: int, threads: int) -> dict[str, Any]:
    import hearth

    m = hearth.model(model, n_threads=threads, progress=False)
    m.embed(texts[:8])  # loads the model (pulled and converted if needed)
    times: list[float] = []
    cpu: list[float] = []
    vectors: list[list[float]] = []
    tokens = 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = m.embed(texts)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        vectors, tokens = result.vectors, result.usage.input_tokens
    path = getattr(m.backend, "fetch", lambda: None)()
    m.close()
    return {"times": times, "cpu": cpu, "vectors": vectors[:16], "tokens": tokens, "path": path}


PEAK_SCRIPT = """
import json, sys, time
import numpy as np
shapes, best = json.loads(sys.argv[1]), 0.0
for m, k, n in shapes:
    a = np.random.rand(m, k).astype(np.float32)
    b = np.random.rand(k, n).astype(np.float32)
    a @ b
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        best = max(best, 20 * m * k * n / (time.perf_counter() - start) / 1e9)
print(best)
"""


def dense_gflop(path: Path, tokens: int) -> tuple[float, list[tuple[int, int, int]]]:
    """The dense layers' GFLOPs for ``tokens`` tokens, and their matrix shapes at 128 tokens."""
    from hearth.catalog.gguf_file import read_gguf

    info = read_gguf(path)

    def field(name: str) -> int:
        value = info.metadata[f"{info.architecture}.{name}"]
        assert isinstance(value, int), f"{name} is {value!r}"
        return value

    d, f = field("embedding_length"), field("feed_forward_length")
    layers = field("block_count")
    flops = 2 * (4 * d * d + 2 * d * f) * layers * tokens
    return flops / 1e9, [(128, d, d), (128, d, f), (128, f, d)]


def sgemm_peak(shapes: list[tuple[int, int, int]]) -> float:
    """One thread's best float32 GFLOP/s through numpy's BLAS at ``shapes``, in a process of
    its own (so that BLAS starts with one thread)."""
    env = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, json.dumps(shapes)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(done.stdout.strip())


def ceiling(ours: dict[str, Any], n: int, threads: int, st_rate: float | None) -> dict[str, Any]:
    """Each side's GFLOP/s against the float32 ceiling (see the module docstring)."""
    gflop, shapes = dense_gflop(ours["path"], ours["tokens"])
    peak = sgemm_peak(shapes) * threads
    best_rate = n / (gflop / peak)
    hearth_rate = n / statistics.median(ours["times"])
    report: dict[str, Any] = {
        "dense_gflop_per_run": round(gflop, 1),
        "sgemm_peak_gflops": f"{peak:.1f} (numpy BLAS, 1 thread x {threads})",
        "hearth_gflops": round(gflop * hearth_rate / n, 1),
        "ceiling_sentences_per_s": round(best_rate, 1),
        "hearth_fraction_of_ceiling": round(hearth_rate / best_rate, 2),
    }
    if st_rate is not None:
        report["sentence_transformers_gflops"] = round(gflop * st_rate / n, 1)
        report["ceiling_ratio_vs_sentence_transformers"] = round(best_rate / st_rate, 2)
    return report


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="sentences (default 1000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--model", default="local:minilm")
    parser.add_argument("--st-python", default=DEFAULT_ST_PYTHON)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the float32 ceiling")
    args = parser.parse_args()
    texts = sentences(args.n)

    st = run_st(args.st_python, texts, args.runs, args.threads)
    ours = run_hearth(args.model, texts, args.runs, args.threads)
    hearth_rate = args.n / statistics.median(ours["times"])
    hearth_cpu_rate = args.n / statistics.median(ours["cpu"])
    report: dict[str, Any] = {
        "sentences": args.n,
        "threads": args.threads,
        "hearth_sentences_per_s": round(hearth_rate, 1),
        "hearth_sentences_per_cpu_s": round(hearth_cpu_rate, 1),
    }
    st_rate: float | None = None
    if st is None:
        report["sentence_transformers"] = (
            f"not measured: no Python with sentence-transformers at {args.st_python} "
            "(see bench/README.md; pass --st-python)"
        )
    else:
        st_rate = args.n / statistics.median(st["times"])
        st_cpu_rate = args.n / statistics.median(st["cpu"])
        agreement = statistics.mean(
            cosine(a, b) for a, b in zip(ours["vectors"], st["vectors"], strict=True)
        )
        report |= {
            "sentence_transformers_sentences_per_s": round(st_rate, 1),
            "sentence_transformers_sentences_per_cpu_s": round(st_cpu_rate, 1),
            "ratio": round(hearth_rate / st_rate, 2),
            "cpu_time_ratio": round(hearth_cpu_rate / st_cpu_rate, 2),
            "target_ratio": TARGET,
            "mean_cosine_vs_sentence_transformers": round(agreement, 6),
        }
    if not args.no_ceiling and ours["path"] is not None:
        report |= ceiling(ours, args.n, args.threads, st_rate)
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>40}: {value}")


if __name__ == "__main__":
    main()
