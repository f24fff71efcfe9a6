"""The ```python blocks of README.md and docs/*.md, and a runner that executes one document's.

A document's blocks run in order in one namespace, as a reader would paste them into one
``python -m asyncio`` session: a later block may use what an earlier one defined, and top-level
``await`` works. A block that is a fragment by design (a sketch of a module a reader would write)
is opted out by the line right above its fence::

    <!-- docs-test: skip: a sketch of a new wire-format package, not code to run here -->

The reason after ``skip:`` is required. ``python -m tests.support.docs FILE.md`` runs the
blocks of FILE.md (the docs-examples test does, in a subprocess per document).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SKIP = re.compile(r"^<!-- docs-test: skip(?:: (?P<reason>.*?))? -->$")
SERVER_URL = "http://127.0.0.1:8080"
"""Where the server guide's examples expect ``hearth serve``; the runner points them at
``$HEARTH_DOCS_SERVER`` (the test's loopback server on a free port) instead."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, counting from 1
    code: str
    skip: str | None  # the reason, for an opted-out block

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path``, in order. A skip marker without a reason is an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        marker = SKIP.match(lines[start - 1].strip()) if start else None
        if marker is not None and not (marker["reason"] or "").strip():
            raise ValueError(f"{path}:{start}: a docs-test skip marker needs a reason")
        reason = marker["reason"] if marker is not None else None
        found.append(Block(path, start + 1, "\n".join(lines[start + 1 : end]), reason))
        i = end + 1
    return found


def run(path: Path) -> int:
    """Execute the blocks of ``path`` that are not skipped; 0, or 1 after printing which block
    failed and its traceback."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    server = os.environ.get("HEARTH_DOCS_SERVER")
    for block in blocks(path):
        if block.skip is not None:
            print(f"--- {block.where}: skipped ({block.skip})", flush=True)
            continue
        print(f"--- {block.where}", flush=True)
        code = block.code.replace(SERVER_URL, server) if server else block.code
        try:
            compiled = compile(code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except BaseException:
            print(f"\n{block.where}: this block failed", flush=True)
            traceback.print_exc(file=sys.stdout)
            return 1
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]).resolve()))
