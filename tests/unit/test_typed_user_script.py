"""``mypy --strict`` on a user's script (tests/fixtures/typing/typed_user_script.py): hearth is
a typed package, and what a user's code gets back has the user's own types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

import hearth

SCRIPT = Path(__file__).parents[1] / "fixtures" / "typing" / "typed_user_script.py"


@pytest.fixture(scope="module")
def revealed(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """mypy's revealed types by line; the check itself must pass."""
    src = Path(hearth.__file__).parents[1]
    config = tmp_path_factory.mktemp("mypy") / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {src}\n")
    cache = src.parent / ".mypy_cache" / "user-script"  # warm after the first run
    out, err, status = api.run(
        ["--strict", "--config-file", str(config), "--cache-dir", str(cache), str(SCRIPT)]
    )
    assert status == 0, out + err
    assert "Success: no issues found in 1 source file" in out
    notes = re.findall(r":(\d+): note: Revealed type is \"(.+)\"", out)
    return {int(line): kind for line, kind in notes}


def _line(text: str) -> int:
    lines = SCRIPT.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("reveal_type(city)", "typed_user_script.City"),
        ("reveal_type(numbers)", "list[int]"),
        ("reveal_type(result)", "hearth.agent.steps.AgentResult[typed_user_script.City]"),
        ("reveal_type(result.parsed)", "typed_user_script.City | None"),
        ("reveal_type(r)", "hearth.response.Response"),
        ("reveal_type(other)", "hearth.client.Model"),
        ("reveal_type(vectors)", "list[list[float]]"),
        ("reveal_type(chat.send(", "hearth.response.Response"),
    ],
)
def test_mypy_sees_the_users_types(revealed: dict[int, str], expression: str, kind: str) -> None:
    assert revealed[_line(expression)] == kind


def test_async_parse_in_async_with_is_typed_too(revealed: dict[int, str]) -> None:
    lines = [i for i, line in enumerate(SCRIPT.read_text().splitlines(), 1)
             if "reveal_type(city)" in line]  # fmt: skip
    assert [revealed[i] for i in lines] == ["typed_user_script.City"] * 2


def test_a_wrong_attribute_on_a_parsed_value_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad_script.py"
    bad.write_text(
        "import hearth\n"
        "from pydantic import BaseModel\n"
        "class City(BaseModel):\n"
        "    name: str\n"
        "m = hearth.model('local:smollm2')\n"
        "m.parse('A city?', City).population\n"
    )
    src = Path(hearth.__file__).parents[1]
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {src}\n")
    cache = src.parent / ".mypy_cache" / "user-script"
    out, _, status = api.run(
        ["--strict", "--config-file", str(config), "--cache-dir", str(cache), str(bad)]
    )
    assert status == 1
    assert '"City" has no attribute "population"' in out
