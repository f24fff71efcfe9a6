"""Speculative decoding by prompt lookup: hearth with and without it, and its peers, in one run.

For the same GGUF file and threads, greedy decoding of three tasks:

* ``rewrite``: rewrite a ~300-token code snippet with one change (copies its input);
* ``extract``: extract fields from a document into JSON (copies parts of its input);
* ``free``: free writing (repeats little).

Sides: hearth with ``speculative="ngram"``, hearth with ``speculative="off"``, llama-server
with its n-gram speculation (``--spec-type ngram-simple``; its path with ``--llama-server``, or
``/tmp/refvenv/bin/llama-server``, or on PATH), and llama-cpp-python's ``Llama`` with
``LlamaPromptLookupDecoding``. Prints output tok/s (output tokens over the request's wall time)
per task and side (every side keeps the prompt's KV from the warm-up run: hearth's prefix
cache, llama-server's ``cache_prompt``, ``Llama``'s own reuse; so the figures are decoding),
and the ratios the issue sets goals for: copying tasks >= 1.5x hearth without speculation and
>= 1.0x llama-server's n-gram mode; free writing >= 0.97x hearth without speculation.
A peer that is not installed is reported as not measured. With ``--draft-model MODEL`` (a
smaller model with the model's vocabulary, e.g. Qwen2.5-0.5B for Qwen2.5-7B), one more side:
hearth drafting with that model, and its ratios to hearth without speculation.

    .venv/bin/python bench/speculative.py
    .venv/bin/python bench/speculative.py --tokens 16 --runs 1 --tasks free   # a smoke run
    .venv/bin/python bench/speculative.py --model big.gguf --draft-model small.gguf
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from same_weights import llama_cpp_python_as_hearth, llama_server_flags

import hearth

SNIPPET = '''class Inventory:
    """Items in stock, with their prices and quantities."""

    def __init__(self):
        self.items = {}

    def add(self, name, price, quantity=1):
        if price < 0:
            raise ValueError("price must not be negative")
        item = self.items.setdefault(name, {"price": price, "quantity": 0})
        item["price"] = price
        item["quantity"] += quantity

    def remove(self, name, quantity=1):
        item = self.items.get(name)
        if item is None:
            raise KeyError(f"no such item: {name}")
        if item["quantity"] < quantity:
            raise ValueError(f"only {item['quantity']} of {name} in stock")
        item["quantity"] -= quantity
        if item["quantity"] == 0:
            del self.items[name]

    def total_value(self):
        return sum(item["price"] * item["quantity"] for item in self.items.values())

    def cheapest(self):
        if not self.items:
            return None
        return min(self.items, key=lambda name: self.items[name]["price"])

    def report(self):
        lines = []
        for name, item in sorted(self.items.items()):
            lines.append(f"{name}: {item['quantity']} at {item['price']:.2f}")
        return "\\n".join(lines)
'''

DOCUMENT = """Order confirmation

Customer: Margaret Hamilton
Email: margaret.hamilton@example.org
Phone: +1 617 555 0142
Shipping address: 77 Massachusetts Avenue, Cambridge, MA 02139, United States
Order number: HX-2026-004417
Order date: 2026-03-14
Items: 2 x Apollo guidance manual (hardcover), 1 x Core rope memory replica
Total: 184.50 USD
Payment: Visa ending in 4242
Delivery: express, expected 2026-03-17
"""

TASKS: dict[str, str] = {
    "rewrite": "Rewrite this Python code exactly as it is, but rename the method total_value to "
    f"value. Output only the code.\n\n```python\n{SNIPPET}```",
    "extract": "Extract these fields from the document as a JSON object with keys customer, "
    "email, phone, address, order_number, order_date, total, payment and delivery. Copy each "
    f"value exactly.\n\n{DOCUMENT}",
    "free": "Write a long, detailed story about a lighthouse keeper who finds a message in a "
    "bottle.",
}
COPYING = ("rewrite", "extract")

Run = Callable[[str, int], int]  # (prompt, max tokens) -> output tokens


def _timed(run: Run, prompt: str, tokens: int, runs: int) -> float:
    """Median output tok/s over ``runs`` (after one warm-up that caches the prompt)."""
    run(prompt, min(tokens, 8))
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        produced = run(prompt, tokens)
        rates.append(produced / (time.perf_counter() - start))
    return statistics.median(rates)


@contextlib.contextmanager
def hearth_side(
    path: str, threads: int, speculative: str, draft_model: str | None = None
) -> Iterator[Run]:
    options: dict[str, Any] = {"n_threads": threads, "speculative": speculative}
    if draft_model is not None:
        options["draft_model"] = draft_model
    with hearth.model(path, **options) as m:

        def run(prompt: str, tokens: int) -> int:
            return m.chat(prompt, temperature=0, max_tokens=tokens).usage.output_tokens

        yield run


@contextlib.contextmanager
def llama_cpp_side(path: str, threads: int) -> Iterator[Run]:
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    llama_cpp_python_as_hearth()
    llm = Llama(
        path, n_ctx=4096, n_threads=threads, verbose=False, logits_all=True,  # drafts need it
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=8),
    )  # fmt: skip

    def run(prompt: str, tokens: int) -> int:
        out: Any = llm.create_chat_completion(
            [{"role": "user", "content": prompt}], temperature=0, max_tokens=tokens
        )
        return int(out["usage"]["completion_tokens"])

    try:
        yield run
    finally:
        llm.close()


@contextlib.contextmanager
def server_side(binary: Path, path: str, threads: int, extra: str) -> Iterator[Run]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cmd = [
        str(binary), "-m", path, "-t", str(threads), "-tb", str(threads), "-np", "1",
        "-c", "4096", "--host", "127.0.0.1", "--port", str(port), "--no-webui",
        *shlex.split(extra), *llama_server_flags(),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, cmd)

        def run(prompt: str, tokens: int) -> int:
            body = {
                "messages": [{"role": "user", "content": prompt}], "temperature": 0,
                "max_tokens": tokens, "cache_prompt": True,
            }  # fmt: skip
            r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=600)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

        yield run
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, cmd: list[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with code {proc.returncode}: {cmd}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("llama-server did not become healthy within 120 s")


def _find_server(given: str | None) -> Path | None:
    import shutil

    for candidate in (given, "/tmp/refvenv/bin/llama-server", shutil.which("llama-server")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _model_path(name: str) -> str:
    if name.endswith(".gguf"):
        return str(Path(name).resolve())
    from hearth.catalog.entries import find_entry
    from hearth.catalog.store import ModelStore

    entry = find_entry(name)
    if entry is None:
        raise SystemExit(f"unknown model {name!r}: give a catalogue name or a .gguf path")
    return str(ModelStore().ensure(entry))


def _measure(ns: argparse.Namespace, path: str) -> dict[str, dict[str, float | None]]:
    tasks = [t.strip() for t in ns.tasks.split(",")]
    sides: dict[str, Callable[[], contextlib.AbstractContextManager[Run]] | None] = {
        "hearth ngram": lambda: hearth_side(path, ns.threads, "ngram"),
        "hearth off": lambda: hearth_side(path, ns.threads, "off"),
    }
    if ns.draft_model:
        draft = _model_path(ns.draft_model)
        sides["hearth draft model"] = lambda: hearth_side(path, ns.threads, "ngram", draft)
    sides["llama-cpp-python lookup"] = lambda: llama_cpp_side(path, ns.threads)
    server = _find_server(ns.llama_server)
    sides["llama-server ngram"] = (
        None if server is None else lambda: server_side(server, path, ns.threads, ns.server_args)
    )
    results: dict[str, dict[str, float | None]] = {}
    for side, open_side in sides.items():
        results[side] = dict.fromkeys(tasks)
        if open_side is None:
            print(f"{side}: not found (--llama-server): the reference was NOT measured")
            continue
        with open_side() as run:
            for task in tasks:
                results[side][task] = _timed(run, TASKS[task], ns.tokens, ns.runs)
    return results


def _report(results: dict[str, dict[str, float | None]]) -> None:
    tasks = list(next(iter(results.values())))
    print(f"{'tok/s':<26}" + "".join(f"{t:>10}" for t in tasks))
    for side, rates in results.items():
        cells = "".join(f"{'-' if r is None else f'{r:.1f}':>10}" for r in rates.values())
        print(f"{side:<26}{cells}")
    for task in tasks:
        spec, off = results["hearth ngram"][task], results["hearth off"][task]
        server = results["llama-server ngram"][task]
        goal = 1.5 if task in COPYING else 0.97
        if spec and off:
            print(f"{task}: hearth ngram / hearth off = {spec / off:.2f}x (goal >= {goal}x)")
        drafted = results.get("hearth draft model", {}).get(task)
        if drafted and off:
            print(f"{task}: hearth draft model / hearth off = {drafted / off:.2f}x")
        if task in COPYING and spec and server:
            print(
                f"{task}: hearth ngram / llama-server ngram = {spec / server:.2f}x (goal >= 1.0x)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="smollm2", help="catalogue name or GGUF path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=320, help="output tokens per request (max)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions per task (median)")
    ap.add_argument("--tasks", default="rewrite,extract,free")
    ap.add_argument(
        "--draft-model", help="also measure hearth drafting with this model (name or GGUF path)"
    )
    ap.add_argument("--llama-server", help="path to llama-server")
    ap.add_argument(
        "--server-args", default="--spec-type ngram-simple --spec-ngram-simple-size-m 8",
        help="llama-server's speculation flags (its n-gram mode)",
    )  # fmt: skip
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    ns = ap.parse_args()
    unknown = set(ns.tasks.split(",")) - set(TASKS)
    if unknown:
        raise SystemExit(f"unknown tasks {sorted(unknown)}; choose from {', '.join(TASKS)}")
    results = _measure(ns, _model_path(ns.model))
    _report(results)
    if ns.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
