"""File tools confined to a root: escapes through '..', absolute paths and symlinks are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.agent.fs_tools import MAX_MATCHES, fs_tools
from hearth.errors import InvalidRequestError
from hearth.tools import Tool, ToolResult


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "outside.txt").write_text("SECRET")
    r = tmp_path / "root"
    (r / "sub").mkdir(parents=True)
    (r / "a.txt").write_text("alpha\nneedle here\n")
    (r / "sub" / "b.txt").write_text("beta needle\n")
    (r / "bin.dat").write_bytes(b"\0\1\2")
    (r / "link_out").symlink_to(tmp_path / "outside.txt")
    (r / "dir_out").symlink_to(tmp_path)
    (r / "link_in").symlink_to(r / "a.txt")
    return r


def tools(root: Path, **kw: object) -> dict[str, Tool]:
    return {t.name: t for t in fs_tools(root, **kw)}  # type: ignore[arg-type]


def run(tool: Tool, **args: object) -> ToolResult:
    import json

    return tool.run(json.dumps(args))


def test_read_list_search_write_inside_the_root(root: Path) -> None:
    t = tools(root)
    assert run(t["read_file"], path="a.txt").content == "alpha\nneedle here\n"
    assert run(t["read_file"], path="link_in").content.startswith("alpha")
    listing = run(t["list_dir"]).content.splitlines()
    assert "sub/" in listing and "a.txt  (18 bytes)" in listing
    found = run(t["search_files"], query="needle").content.splitlines()
    assert found == ["a.txt:2: needle here", "link_in:2: needle here", "sub/b.txt:1: beta needle"]
    assert run(t["write_file"], path="new/dir/c.txt", content="hi").content.startswith("wrote 2")
    assert (root / "new" / "dir" / "c.txt").read_text() == "hi"
    assert not t["write_file"].concurrent


@pytest.mark.parametrize(
    "path",
    ["../outside.txt", "sub/../../outside.txt", "link_out", "dir_out/outside.txt", "/etc/passwd"],
)
def test_escapes_are_refused_for_every_tool(root: Path, path: str) -> None:
    t = tools(root)
    for result in (
        run(t["read_file"], path=path),
        run(t["list_dir"], path=path),
        run(t["search_files"], query="SECRET", path=path),
        run(t["write_file"], path=path, content="pwned"),
    ):
        assert result.is_error
        assert "root" in result.content or "'..'" in result.content
    assert (root.parent / "outside.txt").read_text() == "SECRET"


def test_absolute_paths_are_refused_even_inside_the_root(root: Path) -> None:
    result = run(tools(root)["read_file"], path=str(root / "a.txt"))
    assert result.is_error
    assert "is an absolute path; paths are relative to the root directory" in result.content


def test_the_schemas_and_descriptions_say_paths_are_relative(root: Path) -> None:
    import re

    for tool in fs_tools(root):
        path = tool.spec.parameters["properties"]["path"]  # type: ignore[index]
        assert "relative to the root" in tool.spec.description
        pattern = re.compile(path["pattern"])  # type: ignore[index]
        assert pattern.search("notes/a.txt") and pattern.search(".") and pattern.search("")
        assert not pattern.search("/Users/me/notes") and not pattern.search("\\\\server")
    assert fs_tools(root)[0].name == "list_dir"


def test_search_does_not_follow_symlinks_out(root: Path) -> None:
    result = run(tools(root)["search_files"], query="SECRET")
    assert "no matches" in result.content


def test_outputs_are_bounded_with_visible_markers(root: Path) -> None:
    (root / "big.txt").write_text("y" * 1000)
    t = tools(root, max_read_chars=100)
    first = run(t["read_file"], path="big.txt").content
    assert first.startswith("y" * 100) and "900 more characters" in first and "offset=100" in first
    assert run(t["read_file"], path="big.txt", offset=900).content == "y" * 100
    assert "binary file" in run(t["read_file"], path="bin.dat").content
    (root / "many.txt").write_text("hit\n" * (MAX_MATCHES + 7))
    found = run(t["search_files"], query="hit").content
    assert "7 more matches not shown" in found


def test_read_only_and_bad_roots(root: Path) -> None:
    assert "write_file" not in tools(root, write=False)
    with pytest.raises(InvalidRequestError, match="not a directory"):
        fs_tools(root / "a.txt")


def test_a_huge_file_is_read_in_pieces_not_whole(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hearth.agent.fs_tools as fs

    monkeypatch.setattr(fs, "MAX_WHOLE_READ_BYTES", 500)
    (root / "huge.log").write_text("".join(f"line {i:04d}\n" for i in range(200)))  # 2000 chars
    monkeypatch.setattr(Path, "read_bytes", _never)  # the whole file is never loaded
    t = tools(root, max_read_chars=100)
    first = run(t["read_file"], path="huge.log").content
    assert first.startswith("line 0000\nline 0001\n") and "offset=100" in first
    assert "2000-byte file not shown" in first
    middle = run(t["read_file"], path="huge.log", offset=100).content
    assert middle.startswith("line 0010\n")
    last = run(t["read_file"], path="huge.log", offset=1990).content
    assert last == "line 0199\n"
    assert run(t["read_file"], path="huge.log", offset=5000).is_error


def _never(self: Path) -> bytes:
    raise AssertionError(f"{self} was read whole")


def test_a_read_tool_that_runs_too_long_times_out(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from tests.support.agent import answer, call, calls, fake_model

    import hearth.agent.fs_tools as fs
    from hearth.agent import Agent, ToolResultStep

    monkeypatch.setattr(fs, "_search", lambda *a: time.sleep(2) or "late")
    model, _ = fake_model(calls(call("search_files", '{"query": "x"}')), answer("ok"))
    started = time.monotonic()
    steps = list(Agent(model, fs_tools(root, timeout=0.2)).iter("find x"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "timeout" and "timed out" in result.result.content
    assert time.monotonic() - started < 1.5
    assert all(t.timeout == fs.READ_TOOL_TIMEOUT for t in fs_tools(root, write=False))
