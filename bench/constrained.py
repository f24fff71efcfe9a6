"""Constrained decoding: speed against free decoding, and strictness, for hearth and its peer.

    .venv/bin/python bench/constrained.py [--runs 5] [--tokens 160] [--threads 2]
                                          [--strict-runs 12] [--json]

Each side runs in a process of its own (hearth; llama-cpp-python with its ``LlamaGrammar`` path),
loads the same GGUF file (SmolLM2 from hearth's store) with the same threads, context size and
flash-attention setting, and gets the same prompt text (hearth's chat template, rendered once),
the same sampler settings and seed, and the same token budget. Within a side, every repetition
runs the free and the constrained generation back to back, reversing their order every other
repetition. Reported, as medians over the repetitions:

* decode tok/s: (tokens generated - 1) / (time from the first to the last piece of text), for
  free and for constrained generation, and their ratio (the constraint's cost);
* the strictness check: ``--strict-runs`` sampled answers to a prompt that invites values out of
  range, for a schema with numeric bounds (minimum/maximum, exclusive bounds, multipleOf), each
  checked with ``jsonschema``: the share of valid answers.

The constrained workload is a JSON schema of objects with bounded integers, an enum, a patterned
string and an email, so masks are computed in every kind of lexical state, not only inside one
long string. This is a benchmark, not a test: it asserts nothing, it prints ratios and targets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RATIO_TARGET = 0.95  # constrained tok/s / free tok/s

PROMPT = (
    "Write a long, detailed story about a young girl who finds a secret door in her "
    "grandmother's house and the magical world behind it. Then list six employees of the "
    "company she finds there as JSON: name, age, department, employee code and email."
)
"""Long enough that free decoding also runs to the token budget, so both decode the same
positions (per-token cost grows with the KV length)."""
WORKLOAD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "employees": {
            "type": "array",
            "minItems": 6,
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 24},
                    "age": {"type": "integer", "minimum": 18, "maximum": 70},
                    "department": {"enum": ["sales", "engineering", "support", "finance"]},
                    "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4}$"},
                    "email": {"type": "string", "format": "email"},
                },
                "required": ["name", "age", "department", "code", "email"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["employees"],
    "additionalProperties": False,
}
STRICT_PROMPT = (
    "Describe a 3 year old child as JSON: the age, a happiness score of 7 out of 10, and a "
    "rating of 3 points."
)
STRICT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "age": {"type": "integer", "minimum": 18, "maximum": 65},
        "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "rating": {"type": "integer", "minimum": 10, "maximum": 100, "multipleOf": 5},
    },
    "required": ["age", "score", "rating"],
    "additionalProperties": False,
}
SAMPLING: dict[str, Any] = {
    "temperature": 0.7,
    "top_k": 40,
    "top_p": 0.95,
    "min_p": 0.05,
    "seed": 42,
}


@dataclass
class Run:
    mode: str  # "free" | "constrained"
    tokens: int
    seconds: float  # first to last piece of text

    @property
    def tok_s(self) -> float:
        return (self.tokens - 1) / self.seconds if self.seconds > 0 and self.tokens > 1 else 0.0


@dataclass
class SideResult:
    side: str
    prompt_tokens: int
    runs: list[Run]
    strict_valid: int
    strict_total: int
    strict_examples: list[str]
    hook_ms: float | None = None  # hearth: time in the constraint hook per constrained token

    def median(self, mode: str) -> float:
        return statistics.median(r.tok_s for r in self.runs if r.mode == mode)

    def ratio(self) -> float:
        pairs = zip(
            (r for r in self.runs if r.mode == "free"),
            (r for r in self.runs if r.mode == "constrained"),
            strict=True,
        )
        return statistics.median(c.tok_s / f.tok_s for f, c in pairs if f.tok_s > 0)


class _Timer:
    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0

    def piece(self, text: str) -> None:
        if text:
            now = time.perf_counter()
            self.first = self.first if self.first is not None else now
            self.last = now

    @property
    def seconds(self) -> float:
        return self.last - self.first if self.first is not None else 0.0


def _valid(text: str, schema: dict[str, Any]) -> bool:
    import jsonschema

    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


# --- hearth -------------------------------------------------------------------------------------


def hearth_side(path: str, threads: int, n_ctx: int, args: dict[str, Any]) -> SideResult:
    import hearth
    from hearth.messages import Message
    from hearth.request import ChatRequest, OutputFormat
    from hearth.settings import GenerationSettings

    model = hearth.model(f"local:{path}", n_threads=threads, n_ctx=n_ctx, slots=1)
    backend = model.backend
    hook = _time_hook()

    def run(
        prompt: str, schema: dict[str, Any] | None, max_tokens: int, seed: int
    ) -> tuple[Run, str]:
        settings = GenerationSettings(**{**SAMPLING, "seed": seed}, max_tokens=max_tokens)
        fmt = OutputFormat("json_schema", schema=schema) if schema is not None else None
        request = ChatRequest((Message.user(prompt),), settings, response_format=fmt)
        timer, text, tokens = _Timer(), [], 0
        for event in backend.stream(request):
            if event.kind == "text":
                timer.piece(event.text)
                text.append(event.text)
            elif event.kind == "done":
                tokens = event.usage.output_tokens - (event.stop_reason == "end_turn")
        mode = "constrained" if schema is not None else "free"
        return Run(mode, tokens, timer.seconds), "".join(text)

    prompt_tokens = len(backend.prompt_tokens(ChatRequest((Message.user(PROMPT),))))
    runs = _timed_runs(lambda s, seed: run(PROMPT, s, args["tokens"], seed)[0], args["runs"])
    hook_ms = 1e3 * hook["seconds"] / max(hook["tokens"], 1)
    outputs = [run(STRICT_PROMPT, STRICT, 64, seed)[1] for seed in range(args["strict_runs"])]
    model.close()
    result = _result("hearth", prompt_tokens, runs, outputs)
    result.hook_ms = hook_ms
    return result


def _time_hook() -> dict[str, float]:
    """Time spent in the constraint hook on the worker's critical path (mask + accept)."""
    from hearth.backends.local import constraints

    totals = {"seconds": 0.0, "tokens": 0.0}
    cls = constraints.GrammarConstraint
    mask, accept = cls.mask, cls.accept

    def timed_mask(self: Any, logits: Any) -> None:
        started = time.perf_counter()
        mask(self, logits)
        totals["seconds"] += time.perf_counter() - started
        totals["tokens"] += 1

    def timed_accept(self: Any, token: int) -> None:
        started = time.perf_counter()
        accept(self, token)
        totals["seconds"] += time.perf_counter() - started

    cls.mask = timed_mask  # type: ignore[method-assign]
    cls.accept = timed_accept  # type: ignore[method-assign]
    return totals


def _timed_runs(run: Any, repetitions: int) -> list[Run]:
    run(None, 0)  # warm-up: page the weights in, build the grammar tokenizer
    run(WORKLOAD, 0)
    out: list[Run] = []
    for i in range(repetitions):
        order = (None, WORKLOAD) if i % 2 == 0 else (WORKLOAD, None)
        out.extend(run(schema, SAMPLING["seed"] + i) for schema in order)
    return out


def _result(side: str, prompt_tokens: int, runs: list[Run], outputs: list[str]) -> SideResult:
    valid = sum(_valid(o, STRICT) for o in outputs)
    bad = [o for o in outputs if not _valid(o, STRICT)][:2]
    return SideResult(side, prompt_tokens, runs, valid, len(outputs), bad)


# --- llama-cpp-python ---------------------------------------------------------------------------


def llama_cpp_side(
    path: str, threads: int, n_ctx: int, args: dict[str, Any], texts: dict[str, str]
) -> SideResult:
    from llama_cpp import Llama, LlamaGrammar

    llm: Any = Llama(
        path,
        n_threads=threads,
        n_threads_batch=threads,
        n_ctx=n_ctx,
        flash_attn=True,
        verbose=False,
    )
    grammars = {
        "workload": LlamaGrammar.from_json_schema(json.dumps(WORKLOAD), verbose=False),
        "strict": LlamaGrammar.from_json_schema(json.dumps(STRICT), verbose=False),
    }

    def run(prompt: str, grammar: Any, max_tokens: int, seed: int) -> tuple[Run, str]:
        llm.reset()
        n_prompt = len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
        timer, text, finish = _Timer(), [], "length"
        for chunk in llm.create_completion(
            prompt,
            stream=True,
            grammar=grammar,
            max_tokens=max_tokens,
            **{**SAMPLING, "seed": seed},
        ):
            choice = chunk["choices"][0]
            timer.piece(choice["text"])
            text.append(choice["text"])
            finish = choice["finish_reason"] or finish
        tokens = llm.n_tokens - n_prompt + (1 if finish == "length" else 0)
        mode = "constrained" if grammar is not None else "free"
        return Run(mode, tokens, timer.seconds), "".join(text)

    prompt = texts["workload"]

    def timed(schema: dict[str, Any] | None, seed: int) -> Run:
        grammar = grammars["workload"] if schema is not None else None
        return run(prompt, grammar, args["tokens"], seed)[0]

    runs = _timed_runs(timed, args["runs"])
    outputs = [
        run(texts["strict"], grammars["strict"], 64, seed)[1] for seed in range(args["strict_runs"])
    ]
    prompt_tokens = len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
    llm.close()
    return _result("llama-cpp-python", prompt_tokens, runs, outputs)


# --- driver -------------------------------------------------------------------------------------


def _prompt_texts(path: str) -> dict[str, str]:
    """The prompts as hearth's chat template renders them (what llama-cpp-python gets too)."""
    import hearth
    from hearth.messages import Message

    with hearth.model(f"local:{path}", n_threads=1, n_ctx=512, slots=1) as model:
        model.backend.load()  # type: ignore[attr-defined]
        template = model.backend._template  # type: ignore[attr-defined]
        return {
            name: template.render([Message.user(p)], add_generation_prompt=True)
            for name, p in (("workload", PROMPT), ("strict", STRICT_PROMPT))
        }


def _in_process(fn: Any, *fn_args: Any) -> SideResult:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, fn_args)  # type: ignore[no-any-return]


def _model_path(arg: str | None) -> str:
    if arg:
        return str(Path(arg).resolve())
    from hearth.catalog.entries import find_entry
    from hearth.catalog.store import ModelStore

    entry = find_entry("smollm2")
    assert entry is not None
    return str(ModelStore().ensure(entry))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a GGUF file (default: smollm2 from hearth's store)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--strict-runs", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    path = _model_path(ns.model)
    args = {"runs": ns.runs, "tokens": ns.tokens, "strict_runs": ns.strict_runs}
    texts = _prompt_texts(path)
    hearth_res = _in_process(hearth_side, path, ns.threads, ns.n_ctx, args)
    peer_res = _in_process(llama_cpp_side, path, ns.threads, ns.n_ctx, args, texts)
    if ns.json:
        print(json.dumps([_as_dict(r) for r in (hearth_res, peer_res)], indent=2))
        return 0
    _report(hearth_res, peer_res, ns)
    return 0


def _as_dict(r: SideResult) -> dict[str, Any]:
    return {
        **asdict(r),
        "free_tok_s": r.median("free"),
        "constrained_tok_s": r.median("constrained"),
        "ratio": r.ratio(),
    }


def _report(hearth_res: SideResult, peer: SideResult, ns: argparse.Namespace) -> None:
    print(f"model: {Path(_model_path(ns.model)).name}  threads: {ns.threads}  runs: {ns.runs}")
    print(
        f"prompt tokens: hearth {hearth_res.prompt_tokens}, llama-cpp-python {peer.prompt_tokens}"
    )
    print(f"{'side':<18}{'free tok/s':>12}{'constrained':>13}{'ratio':>8}{'strict valid':>15}")
    for r in (hearth_res, peer):
        free = statistics.median(x.tokens for x in r.runs if x.mode == "free")
        constrained = statistics.median(x.tokens for x in r.runs if x.mode == "constrained")
        print(
            f"{r.side:<18}{r.median('free'):>12.1f}{r.median('constrained'):>13.1f}"
            f"{r.ratio():>8.2f}{f'{r.strict_valid}/{r.strict_total}':>15}"
            f"   (tokens: free {free:.0f}, constrained {constrained:.0f})"
        )
    print(
        f"hearth constrained / llama-cpp-python constrained: "
        f"{hearth_res.median('constrained') / peer.median('constrained'):.2f}x"
    )
    if hearth_res.hook_ms is not None:
        per_token = 1e3 / hearth_res.median("constrained")
        share = hearth_res.hook_ms / per_token
        print(
            f"hearth constraint hook: {hearth_res.hook_ms:.3f} ms per token = {share:.1%} of a "
            f"constrained token's time (implied ratio {1 - share:.2f}, free of load noise)"
        )
    print(f"target: hearth ratio >= {RATIO_TARGET} and strict valid = all")
    for r in (hearth_res, peer):
        for example in r.strict_examples:
            print(f"  {r.side} invalid: {example[:100]}")


if __name__ == "__main__":
    sys.exit(main())
