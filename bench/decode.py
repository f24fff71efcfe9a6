"""Single-stream decode speed: hearth's local backend against its peers, measured in one run.

    .venv/bin/python bench/decode.py [--runs 5] [--tokens 128] [--threads 2] [--json]
                                     [--llama-bench PATH] [--llama-cpp-python-fa on|off]

hearth and llama-cpp-python each run in a process of their own, load the same GGUF file with the
same thread count and context size, and get the same prompt text (rendered once by hearth's chat
template; the token ids are checked to be identical), the same sampler chain and seed, and the
same token budget. Each repetition runs both (and llama-bench, if any), reversing the order every
other repetition to cancel drift. Reported, as medians over the repetitions:

* decode tok/s: (tokens generated - 1) / (time from the first to the last piece of text);
* TTFT: from the call to the first piece of text (prompt processing included).

llama.cpp's own ``llama-bench`` (tg at the prompt's depth), when it is on PATH or given, is the
native reference. The share of the CPU that other processes took is measured and reported.
This is a benchmark, not a test: it asserts nothing about speed, it prints ratios and targets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from same_weights import llama_bench_flags, llama_cpp_python_as_hearth

import hearth
from hearth.backends.local.backend import LocalBackend
from hearth.catalog.entries import find_entry
from hearth.catalog.store import ModelStore
from hearth.events import Done, TextDelta
from hearth.messages import Message
from hearth.settings import GenerationSettings

PROMPT = (
    "Write a long, detailed story about a young girl who finds a secret door in her "
    "grandmother's house and the magical world behind it. Describe every room and every "
    "character she meets."
)
DECODE_TARGET = 1.0  # hearth / llama-cpp-python
NATIVE_GOAL = 0.97  # hearth / llama.cpp llama-bench tg at the prompt's depth (issue 24)
BUSY_WARNING = 0.05  # share of the machine's CPU used by other processes that voids a figure
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sampling:
    """One sampler chain, spelled for both sides (both build llama.cpp's native chain:
    penalties(last 64) → top-k → top-p → min-p → temperature → dist(seed))."""

    temperature: float = 0.2
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int = 42

    def hearth(self, max_tokens: int) -> GenerationSettings:
        return GenerationSettings(**asdict(self), max_tokens=max_tokens)

    def llama_cpp(self, max_tokens: int) -> dict[str, Any]:
        return {**asdict(self), "max_tokens": max_tokens}


@dataclass
class Sample:
    """One timed generation."""

    side: str
    ttft_s: float
    decode_s: float  # first to last piece of text
    tokens: int  # generated tokens that carry text (an end-of-generation token is not counted)
    stop: str
    text: str = field(repr=False)
    others: float | None = None  # share of the machine's CPU other processes used meanwhile

    @property
    def tok_s(self) -> float | None:
        if self.tokens < 2 or self.decode_s <= 0:
            return None
        return (self.tokens - 1) / self.decode_s


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    total = sum(ticks)
    return (total - ticks[3] - ticks[4]) / _TICK, total / _TICK  # less idle and iowait


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadMeter:
    """How busy other processes kept the machine since this meter was made.

    llama.cpp's threads wait for each other at every operation, so when another process takes a
    core from one of them, decoding slows down by large and erratic factors."""

    def __init__(self) -> None:
        self._machine = _machine_cpu()
        self._own = _own_cpu()

    def others(self) -> float | None:
        """The share (0-1) of the machine's CPU capacity used by other processes; None if
        unknown."""
        now = _machine_cpu()
        if now is None or self._machine is None or now[1] <= self._machine[1]:
            return None
        busy = now[0] - self._machine[0] - (_own_cpu() - self._own)
        return max(0.0, busy / (now[1] - self._machine[1]))


class _Clock:
    """Times the text pieces of one stream."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last = self.start
        self.parts: list[str] = []

    def text(self, piece: str) -> None:
        if not piece:
            return
        self.last = time.perf_counter()
        if self.first is None:
            self.first = self.last
        self.parts.append(piece)

    def sample(self, side: str, tokens: int, stop: str) -> Sample:
        first = self.first if self.first is not None else self.last
        text = "".join(self.parts)
        return Sample(side, first - self.start, self.last - first, tokens, stop, text)


class HearthSide:
    """hearth.model("local:<path>") streamed through the public API."""

    name = "hearth"

    def __init__(self, path: Path, threads: int, gpu_layers: int = 0) -> None:
        layers = "all" if gpu_layers < 0 else gpu_layers
        self.model = hearth.model(f"local:{path}", n_threads=threads, gpu_layers=layers)
        backend = self.model.backend
        assert isinstance(backend, LocalBackend)
        backend.load()
        assert backend._template is not None
        self.backend = backend
        self.n_ctx = backend.engine.n_ctx
        self.prompt_text = backend._template.render([Message.user(PROMPT)])
        self.prompt_tokens = backend.prompt_tokens(self.model.request(PROMPT))

    def run(self, sampling: Sampling, max_tokens: int) -> Sample:
        clock = _Clock()
        done: Done | None = None
        with self.model.stream(PROMPT, sampling.hearth(max_tokens)) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    clock.text(event.text)
                elif isinstance(event, Done):
                    done = event
        assert done is not None
        # output_tokens counts every sampled token, the end-of-turn one included.
        eog = 1 if done.stop_reason == "end_turn" else 0
        return clock.sample(self.name, done.usage.output_tokens - eog, done.stop_reason)

    def close(self) -> None:
        self.model.close()


class LlamaCppSide:
    """llama_cpp.Llama(...).create_completion(prompt, stream=True)."""

    name = "llama-cpp-python"

    def __init__(
        self,
        path: Path,
        threads: int,
        n_ctx: int,
        prompt_text: str,
        *,
        flash_attn: bool,
        gpu_layers: int = 0,
    ) -> None:
        from llama_cpp import Llama

        llama_cpp_python_as_hearth()
        self.llm: Any = Llama(
            str(path),
            n_gpu_layers=gpu_layers,
            n_threads=threads,
            n_threads_batch=threads,
            n_ctx=n_ctx,
            flash_attn=flash_attn,
            verbose=False,
        )
        self.n_ctx = n_ctx
        self.prompt_text = prompt_text
        # What _create_completion does to a str prompt (no suffix): BOS if the vocab adds one,
        # then the text tokenized with special tokens parsed.
        bos = [self.llm.token_bos()] if self.llm._model.add_bos_token() else []
        body = self.llm.tokenize(prompt_text.encode("utf-8"), add_bos=False, special=True)
        self.prompt_tokens: list[int] = bos + body

    def run(self, sampling: Sampling, max_tokens: int) -> Sample:
        llm = self.llm
        llm.reset()  # no reuse of the previous run's KV cache: hearth re-reads the prompt too
        clock = _Clock()
        finish = "length"
        chunks = llm.create_completion(
            self.prompt_text, stream=True, **sampling.llama_cpp(max_tokens)
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            clock.text(choice["text"])
            finish = choice["finish_reason"] or finish
        n_prompt = len(self.prompt_tokens)
        if list(llm.input_ids[:n_prompt]) != self.prompt_tokens:
            raise RuntimeError("llama-cpp-python evaluated other prompt tokens than expected")
        # Chunks are not tokens (held-back text is flushed as one chunk). Every generated token
        # but the last is evaluated into the context, except that an end-of-generation token
        # ("stop", as no stop strings are given) is neither evaluated nor part of the text.
        tokens = llm.n_tokens - n_prompt + (1 if finish == "length" else 0)
        return clock.sample(self.name, tokens, finish)

    def close(self) -> None:
        self.llm.close()


@dataclass(frozen=True)
class Native:
    """llama-bench's text-generation figures, one per repetition."""

    tool: str
    build: str
    n_gen: int
    depth: int
    runs_tok_s: list[float]
    runs_others: list[float | None]

    @property
    def tok_s(self) -> float:
        return statistics.median(self.runs_tok_s)


class NativeSide:
    """llama.cpp's own ``llama-bench`` (tg only), run once per repetition with ``-r 1``, so that
    it sees the same drift of the machine as the two Python sides. ``-d depth`` puts the prompt's
    worth of tokens in the KV cache first, so it decodes at the same positions as they do."""

    def __init__(
        self, tool: str, path: Path, threads: int, n_gen: int, depth: int, gpu_layers: int = 0
    ) -> None:
        self.tool = tool
        self.n_gen = n_gen
        self.depth = depth
        self.cmd = [tool, "-m", str(path), "-t", str(threads), "-p", "0", "-n", str(n_gen)]
        self.cmd += ["-d", str(depth), "-r", "1", "-o", "json"]
        self.cmd += ["-ngl", str(999 if gpu_layers < 0 else gpu_layers), *llama_bench_flags()]
        self.build = "?"
        self.runs: list[float] = []
        self.others: list[float | None] = []

    def run(self) -> None:
        meter = LoadMeter()
        out = subprocess.run(self.cmd, capture_output=True, text=True, check=True, timeout=600)
        rows = [r for r in json.loads(out.stdout) if int(r.get("n_gen", 0)) > 0]
        if not rows:
            raise RuntimeError(f"llama-bench printed no text-generation row: {out.stdout[:200]}")
        self.others.append(meter.others())
        self.runs.append(float(rows[0]["avg_ts"]))
        self.build = f"{rows[0].get('build_commit', '?')} ({rows[0].get('build_number', '?')})"

    def result(self) -> Native:
        return Native(self.tool, self.build, self.n_gen, self.depth, self.runs, self.others)


@dataclass(frozen=True)
class SideSpec:
    """What a child process needs to build one side."""

    kind: str  # "hearth" or "llama-cpp-python"
    path: Path
    threads: int
    n_ctx: int = 0  # llama-cpp-python: hearth's context size
    prompt_text: str = ""  # llama-cpp-python: the prompt hearth's template rendered
    flash_attn: bool = True
    gpu_layers: int = 0  # -1: every layer

    def build(self) -> HearthSide | LlamaCppSide:
        if self.kind == "hearth":
            return HearthSide(self.path, self.threads, self.gpu_layers)
        return LlamaCppSide(
            self.path, self.threads, self.n_ctx, self.prompt_text, flash_attn=self.flash_attn,
            gpu_layers=self.gpu_layers,
        )  # fmt: skip


@dataclass(frozen=True)
class SideInfo:
    n_ctx: int
    prompt_text: str
    prompt_tokens: list[int]


def _serve(conn: Connection, spec: SideSpec) -> None:
    """A child process: build one side, then time one generation per request."""
    try:
        side = spec.build()
        conn.send(SideInfo(side.n_ctx, side.prompt_text, side.prompt_tokens))
        while (request := conn.recv()) is not None:
            meter = LoadMeter()  # in the child: its own threads are not "other processes"
            sample = side.run(*request)
            sample.others = meter.others()
            conn.send(sample)
        side.close()
    except BaseException as exc:  # handed to the parent, which raises it
        conn.send(RuntimeError(f"{spec.kind}: {exc!r}"))


class RemoteSide:
    """One side in a process of its own.

    Each library runs as it would in a user's process. In one process, two llama.cpp contexts
    computing from two threads make libgomp (ggml's OpenMP build, as llama-cpp-python's is)
    manage more threads than there are cores; it then cuts its spin-waits short and sleeps in
    futex calls at every barrier, which slowed both sides by 10-20% on 2 cores."""

    def __init__(self, name: str, spec: SideSpec) -> None:
        self.name = name
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, spec), daemon=True)
        self._process.start()
        info = self._receive()
        assert isinstance(info, SideInfo)
        self.info = info

    def _receive(self) -> object:
        item = self._conn.recv()
        if isinstance(item, BaseException):
            raise item
        return item

    def run(self, sampling: Sampling, max_tokens: int) -> Sample:
        self._conn.send((sampling, max_tokens))
        sample = self._receive()
        assert isinstance(sample, Sample)
        return sample

    def close(self) -> None:
        if self._process.is_alive():
            self._conn.send(None)
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()


def measure(
    sides: tuple[RemoteSide, RemoteSide],
    native: NativeSide | None,
    sampling: Sampling,
    max_tokens: int,
    runs: int,
    warmup: int,
) -> dict[str, list[Sample]]:
    """Warm the Python sides up, then ``runs`` repetitions of hearth, llama-cpp-python and
    llama-bench, reversing the order every other repetition."""
    for _ in range(warmup):
        for side in sides:
            side.run(sampling, min(16, max_tokens))
    samples: dict[str, list[Sample]] = {side.name: [] for side in sides}
    for rep in range(runs):
        order: list[RemoteSide | NativeSide] = [*sides, *([native] if native else [])]
        for runner in order if rep % 2 == 0 else order[::-1]:
            if isinstance(runner, NativeSide):
                runner.run()
            else:
                samples[runner.name].append(runner.run(sampling, max_tokens))
    return samples


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


@dataclass(frozen=True)
class SideResult:
    """Medians over the repetitions of one side, and each repetition's figures."""

    decode_tok_s: float | None
    ttft_ms: float | None
    tokens: list[int]
    stops: list[str]
    runs_tok_s: list[float | None]
    runs_ttft_ms: list[float]
    runs_others: list[float | None]  # share of the CPU other processes used during each run

    @classmethod
    def of(cls, samples: list[Sample]) -> SideResult:
        ttft = [s.ttft_s * 1000 for s in samples]
        rates = [s.tok_s for s in samples]
        return cls(
            _median(rates),
            _median(ttft),
            [s.tokens for s in samples],
            [s.stop for s in samples],
            rates,
            ttft,
            [s.others for s in samples],
        )


@dataclass(frozen=True)
class Result:
    hearth: SideResult
    llama_cpp_python: SideResult
    native: Native | None
    same_text: bool  # run 1 of both sides: same seed and sampler chain, so usually identical

    @property
    def decode_ratio(self) -> float | None:
        """hearth / llama-cpp-python decode tok/s (> 1: hearth is faster)."""
        return _ratio(self.hearth.decode_tok_s, self.llama_cpp_python.decode_tok_s)

    @property
    def paired_decode_ratio(self) -> float | None:
        """The median of the per-repetition ratios (less sensitive to drift between runs)."""
        pairs = zip(self.hearth.runs_tok_s, self.llama_cpp_python.runs_tok_s, strict=True)
        return _median(_ratio(h, p) for h, p in pairs)

    @property
    def busiest_others(self) -> float | None:
        """The largest share of the CPU other processes took during any measurement."""
        native = self.native.runs_others if self.native else []
        return max(
            (
                x
                for x in [*self.hearth.runs_others, *self.llama_cpp_python.runs_others, *native]
                if x is not None
            ),
            default=None,
        )

    @property
    def ttft_ratio(self) -> float | None:
        """llama-cpp-python / hearth TTFT (> 1: hearth answers sooner)."""
        return _ratio(self.llama_cpp_python.ttft_ms, self.hearth.ttft_ms)

    @property
    def native_ratio(self) -> float | None:
        """hearth decode tok/s / llama-bench tg tok/s."""
        return _ratio(self.hearth.decode_tok_s, self.native.tok_s if self.native else None)

    def as_json(self) -> dict[str, Any]:
        ratios = {
            "decode_hearth_over_llama_cpp_python": self.decode_ratio,
            "decode_paired_median": self.paired_decode_ratio,
            "ttft_llama_cpp_python_over_hearth": self.ttft_ratio,
            "decode_hearth_over_native": self.native_ratio,
        }
        return {**asdict(self), "ratios": ratios, "busiest_others": self.busiest_others}


def _fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + unit


def _tokens(counts: list[int]) -> str:
    if len(set(counts)) == 1:
        return f"{counts[0]} x{len(counts)}"
    return ",".join(str(c) for c in counts)


def _print_table(result: Result) -> None:
    print(f"{'':20}{'decode tok/s':>13}{'TTFT ms':>9}{'tokens':>9}   decode tok/s per run")
    for name, side in (("hearth", result.hearth), ("llama-cpp-python", result.llama_cpp_python)):
        runs = " ".join(_fmt(x, ".0f") for x in side.runs_tok_s)
        print(
            f"{name:20}{_fmt(side.decode_tok_s):>13}{_fmt(side.ttft_ms):>9}"
            f"{_tokens(side.tokens):>9}   {runs}"
        )
    native = result.native
    if native is None:
        print(f"{'llama.cpp native':20}{'not measured':>13}   (no llama-bench: --llama-bench PATH)")
        return
    runs = " ".join(f"{x:.0f}" for x in native.runs_tok_s)
    label = f"llama.cpp tg{native.n_gen}@d{native.depth}"
    tokens = f"{native.n_gen} x{len(native.runs_tok_s)}"
    print(f"{label:20}{native.tok_s:>13.1f}{'-':>9}{tokens:>9}   {runs}")
    print(f"{'':20}(llama-bench, build {native.build})")


def print_report(config: dict[str, Any], result: Result) -> None:
    print(f"model    {config['model']}")
    print(
        f"threads  {config['threads']}   n_ctx {config['n_ctx']}   runs {config['runs']}   "
        f"max tokens {config['tokens']}"
    )
    print(f"prompt   {config['prompt_tokens']} tokens, identical ids on both sides")
    print(f"sampling {config['sampling']}")
    print(f"flash attention  {config['flash_attn']}")
    print(f"outputs  {'identical' if result.same_text else 'different'} text in run 1\n")
    _print_table(result)
    print("\nmedians; decode = (tokens - 1) / (first to last text); TTFT = call to first text")
    paired = _fmt(result.paired_decode_ratio, ".3f", "x")
    rows = [
        ("decode  hearth / llama-cpp-python", result.decode_ratio,
         _target(result.decode_ratio, DECODE_TARGET, "target") + f"  (paired runs: {paired})"),
        ("TTFT    llama-cpp-python / hearth", result.ttft_ratio, "(> 1: hearth answers sooner)"),
        ("decode  hearth / llama.cpp native", result.native_ratio,
         _target(result.native_ratio, NATIVE_GOAL, "goal")),
    ]  # fmt: skip
    for label, ratio, note in rows:
        print(f"{label}  {_fmt(ratio, '.3f', 'x'):>7}   {note}")
    _print_load(result.busiest_others)


def _print_load(busiest: float | None) -> None:
    if busiest is None:
        print("\nload     unknown (no /proc/stat): the figures assume an otherwise idle machine")
    elif busiest > BUSY_WARNING:
        print(
            f"\nWARNING  other processes used up to {busiest:.0%} of the CPU during a measurement."
            "\n         llama.cpp's threads wait for each other at every operation, so sharing"
            "\n         cores slows them by large, erratic factors: rerun on an idle machine."
        )
    else:
        print(f"\nload     other processes used at most {busiest:.0%} of the CPU meanwhile")


def _target(ratio: float | None, target: float, word: str) -> str:
    if ratio is None:
        return f"{word} >= {target:.2f}x  [not measured]"
    return f"{word} >= {target:.2f}x  [{'met' if ratio >= target else 'NOT met'}]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, help="GGUF file (default: smollm2 from the store)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="max tokens per generation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed short runs per side")
    parser.add_argument("--llama-bench", help="llama.cpp's llama-bench (default: from PATH)")
    parser.add_argument(
        "--llama-cpp-python-fa",
        choices=("on", "off"),
        default="on",
        help="flash attention for llama-cpp-python: 'on' (default) matches hearth, whose "
        "llama.cpp default 'auto' enables it on CPU, so both sides compute the same tokens; "
        "'off' is llama-cpp-python's own default",
    )
    parser.add_argument(
        "--gpu-layers", type=int, default=0,
        help="layers offloaded to the GPU on every side (-1: all; needs a GPU build)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.tokens < 2 or args.threads < 1:
        parser.error("--runs and --threads must be >= 1 and --tokens >= 2")
    return args


def _log(quiet: bool) -> Callable[[str], None]:
    return (lambda _msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr))


def run_benchmark(
    args: argparse.Namespace, log: Callable[[str], None]
) -> tuple[dict[str, Any], Result]:
    path: Path = args.model or ModelStore().ensure(find_entry("smollm2"))
    sampling = Sampling()
    flash_attn = args.llama_cpp_python_fa == "on"
    log(f"loading {path.name} in two processes ({args.threads} threads each)…")
    ours = RemoteSide("hearth", SideSpec("hearth", path, args.threads, gpu_layers=args.gpu_layers))
    try:
        spec = SideSpec(
            "llama-cpp-python", path, args.threads, ours.info.n_ctx, ours.info.prompt_text,
            flash_attn, args.gpu_layers,
        )  # fmt: skip
        peer = RemoteSide("llama-cpp-python", spec)
    except BaseException:
        ours.close()
        raise
    tool = args.llama_bench or shutil.which("llama-bench")
    depth = len(ours.info.prompt_tokens)
    native = (
        NativeSide(tool, path, args.threads, args.tokens, depth, args.gpu_layers) if tool else None
    )
    try:
        if peer.info.prompt_tokens != ours.info.prompt_tokens:
            raise SystemExit("the two sides tokenize the prompt differently: comparison void")
        log(f"measuring: {args.warmup} warm-up + {args.runs} runs per side…")
        samples = measure((ours, peer), native, sampling, args.tokens, args.runs, args.warmup)
    finally:
        ours.close()
        peer.close()
    first_h, first_p = samples[ours.name][0], samples[peer.name][0]
    result = Result(
        SideResult.of(samples[ours.name]),
        SideResult.of(samples[peer.name]),
        native.result() if native else None,
        first_h.text == first_p.text,
    )
    return _config(args, path, ours.info, sampling, flash_attn), result


def _config(
    args: argparse.Namespace, path: Path, info: SideInfo, sampling: Sampling, flash_attn: bool
) -> dict[str, Any]:
    return {
        "model": str(path),
        "threads": args.threads,
        "n_ctx": info.n_ctx,
        "runs": args.runs,
        "tokens": args.tokens,
        "prompt_tokens": len(info.prompt_tokens),
        "sampling": asdict(sampling),
        "flash_attn": {"hearth": "auto (llama.cpp default)", "llama-cpp-python": flash_attn},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config, result = run_benchmark(args, _log(args.json))
    if args.json:
        print(json.dumps({"config": config, **result.as_json()}, indent=2))
    else:
        print_report(config, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
