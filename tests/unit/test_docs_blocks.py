"""The ```python blocks of README.md and docs/*.md, without running them (the integration test
tests/integration/test_docs_examples.py runs them): each is valid Python, and the few opted out
of running say why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.support.docs import DOCUMENTS, Block, blocks

ALL = [b for path in DOCUMENTS for b in blocks(path)]


@pytest.mark.parametrize("block", ALL, ids=[b.where for b in ALL])
def test_every_block_is_python(block: Block) -> None:
    compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_opt_outs_are_rare_and_say_why() -> None:
    skipped = [b for b in ALL if b.skip is not None]
    assert len(skipped) <= 6, [b.where for b in skipped]
    assert all(len(b.skip or "") > 20 for b in skipped)
    assert len(ALL) - len(skipped) >= 25  # README's and the guides' examples all run


def test_a_marker_without_a_reason_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("<!-- docs-test: skip -->\n```python\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        blocks(doc)
