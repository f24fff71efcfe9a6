"""The wire-format registry: every format is one package exporting one WireFormat, the registry
is the only list of them, and nothing outside a format's package branches on its name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.backends.endpoints import ENDPOINTS
from hearth.errors import ConfigurationError
from hearth.wire.formats import FORMAT_NAMES, get_format

SRC = Path(__file__).resolve().parents[2] / "src" / "hearth"


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_each_format_is_one_package_exporting_its_format(name: str) -> None:
    fmt = get_format(name)
    assert fmt.name == name
    assert (SRC / "wire" / name / "__init__.py").is_file()
    assert fmt.http.path and fmt.http.stream_path
    if fmt.raw is not None:
        assert fmt.raw.path.startswith("/")


def test_the_formats_and_what_they_have() -> None:
    has = {n: (get_format(n).raw is not None, get_format(n).embed is not None)
           for n in FORMAT_NAMES}  # fmt: skip
    assert has == {
        "openai": (True, True),
        "anthropic": (False, False),
        "gemini": (False, True),
        "ollama": (True, True),
        "responses": (False, False),
    }


def test_an_unknown_format_is_refused_with_the_list() -> None:
    listed = "use one of openai, anthropic, gemini, ollama, responses"
    with pytest.raises(ConfigurationError, match=listed):
        get_format("cohere")


def test_every_endpoint_row_names_a_registered_format() -> None:
    assert {e.wire for e in ENDPOINTS.values()} <= set(FORMAT_NAMES)


_NAMES = "|".join(FORMAT_NAMES)
_BRANCH = re.compile(
    rf"""(==|!=|\bin\s*[(\[{{])\s*["']({_NAMES})["']|["']({_NAMES})["']\s*(==|!=)"""
)


def test_nothing_outside_a_format_package_branches_on_a_format_name() -> None:
    """The rule of the registry: a format's quirks live in its package, not in an if."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "wire" and len(rel.parts) > 2:
            continue  # inside a format's own package
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _BRANCH.search(line) or ("import_module" in line and "wire" in line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_import_hearth_loads_no_wire_format() -> None:
    code = (
        "import sys, hearth; "
        "print(sorted(m for m in sys.modules if m.startswith('hearth.wire.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [m for m in eval(out.stdout) if m.split(".")[2] in FORMAT_NAMES]
    assert loaded == []
