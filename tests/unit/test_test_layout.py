"""The test tree collects as one: pytest (rootdir-relative, no __init__.py in tests/unit and
tests/integration) refuses two test modules with the same file name, which stopped CI once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def test_no_two_test_modules_share_a_file_name() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
