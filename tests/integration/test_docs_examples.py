"""Every ```python block of README.md and docs/*.md runs as shown, on the default model.

Each document's blocks run in order in one namespace (``tests/support/docs.py``), in a
subprocess whose working directory holds a ``notes/`` folder (the agent guide's fs tools), with
its own ``HEARTH_HOME`` (the conversation store; the model store is linked in) and no config
file. Blocks that name a remote model run against loopback stand-ins, through the standard
variables: ``OPENAI_BASE_URL`` and ``ANTHROPIC_BASE_URL`` point at ``hearth serve`` serving
local:smollm2 and local:minilm under the remote names the docs use (config aliases);
``GEMINI_BASE_URL`` and ``OLLAMA_HOST`` at a small embeddings stand-in that answers Gemini's
``embedContent`` / ``batchEmbedContents`` and Ollama's ``/api/embed`` with local:minilm's
vectors. The server guide's examples, written for ``hearth serve`` on 127.0.0.1:8080, are pointed
at the test's server on its free port. Blocks opted out with a ``docs-test: skip`` marker are
listed, not run (tests/unit/test_docs_blocks.py keeps them rare and explained).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.docs import DOCUMENTS, ROOT, blocks
from tests.support.loopback import LoopbackServer, Received, Reply
from tests.support.served import served

import hearth
from hearth.catalog.store import default_root
from hearth.config.schema import Config
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

RUNNABLE = [p for p in DOCUMENTS if any(b.skip is None for b in blocks(p))]
ALIASES = {
    "claude-sonnet-4-5": "local:smollm2",
    "gpt-4o": "local:smollm2",
    "gpt-5-mini": "local:smollm2",  # the Responses provider example
    "text-embedding-3-small": "local:minilm",
}
PER_DOCUMENT_TIMEOUT = 420


def _embed_handler(model: hearth.Model) -> object:
    """Gemini's and Ollama's embeddings routes, answered with ``model``'s vectors."""

    def handle(request: Received) -> Reply:
        body = request.json()
        if request.path == "/api/embed":  # Ollama
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            result = model.embed(texts, dimensions=body.get("dimensions"))  # type: ignore[arg-type]
            usage = result.usage.input_tokens
            return Reply.json({"embeddings": result.vectors, "prompt_eval_count": usage})
        items = body.get("requests", [body])  # Gemini: batchEmbedContents, or embedContent
        assert isinstance(items, list)
        texts = [item["content"]["parts"][0]["text"] for item in items]
        result = model.embed(texts, dimensions=items[0].get("outputDimensionality"))
        found = [{"values": v} for v in result.vectors]
        batch = "requests" in body
        return Reply.json({"embeddings": found} if batch else {"embedding": found[0]})

    return handle


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, str]]:
    settings = ServerSettings(models=("local:smollm2", "local:minilm"))
    config = Config(path=Path("/dev/null"), aliases=ALIASES)
    with (
        served(settings, config=config) as url,
        hearth.model("local:minilm") as minilm,
        LoopbackServer(handler=_embed_handler(minilm)) as embeddings,  # type: ignore[arg-type]
    ):
        yield {
            "HEARTH_DOCS_SERVER": url,
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_API_KEY": "unused",
            "ANTHROPIC_BASE_URL": url,
            "ANTHROPIC_API_KEY": "unused",
            "GEMINI_BASE_URL": embeddings.url,
            "GEMINI_API_KEY": "unused",
            "OLLAMA_HOST": embeddings.url,
        }


@pytest.mark.parametrize("document", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_the_documents_examples_run(
    document: Path, stand_ins: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(default_root())
    work = tmp_path / "work"
    (work / "notes").mkdir(parents=True)
    (work / "notes" / "todo.txt").write_text("Buy milk.\nCall Ana about the launch.\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))},
        **stand_ins,
        "HEARTH_HOME": str(home),
        "HEARTH_CONFIG": "/dev/null",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(hearth.__file__).parents[1])]),
        # the venv's commands (mcp-server-time in the agent guide), as in an activated venv
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.docs", str(document)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=PER_DOCUMENT_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    report = f"{document.name} ({seconds:.0f} s)\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, report
    print(json.dumps({"document": document.name, "seconds": round(seconds, 1)}))
