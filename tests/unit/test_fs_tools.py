"""File tools confined to a root: escapes through '..', absolute paths and symlinks are refused."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
import time
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


# --- races, links and special files -------------------------------------------------------------


def test_a_symlink_swapped_in_just_before_the_open_is_not_followed(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker wins every race: right before the tool opens the file, it becomes a
    symlink to a file outside the root. The tool refuses; the outside file is neither read nor
    written."""
    from hearth.agent import rootdir

    outside = root.parent / "outside.txt"
    real_open = os.open

    def swapping_open(name: object, flags: int, *args: object, **kwargs: object) -> int:
        if name == "target.txt" and not flags & os.O_DIRECTORY:
            victim = root / "target.txt"
            if not victim.is_symlink():
                victim.unlink(missing_ok=True)
                victim.symlink_to(outside)
        return real_open(name, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rootdir.os, "open", swapping_open)
    t = tools(root)
    (root / "target.txt").write_text("inside")
    read = run(t["read_file"], path="target.txt")
    (root / "target.txt").unlink()
    (root / "target.txt").write_text("inside")
    written = run(t["write_file"], path="target.txt", content="pwned")
    (root / "target.txt").unlink()
    created = run(t["write_file"], path="target.txt", content="pwned")  # did not exist yet
    for result in (read, written, created):
        assert result.is_error and "changed while it was being opened" in result.content
        assert "SECRET" not in result.content
    assert outside.read_text() == "SECRET"


def test_a_directory_swapped_for_a_symlink_on_the_way_is_not_followed(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth.agent import rootdir

    real_open = os.open

    def swapping_open(name: object, flags: int, *args: object, **kwargs: object) -> int:
        if name == "sub" and flags & os.O_DIRECTORY and not (root / "sub").is_symlink():
            (root / "sub").rename(root / "sub.old")
            (root / "sub").symlink_to(root.parent)  # now "sub/outside.txt" is the secret
        return real_open(name, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rootdir.os, "open", swapping_open)
    result = run(tools(root)["write_file"], path="sub/outside.txt", content="pwned")
    assert result.is_error and "changed while it was being opened; not followed" in result.content
    assert (root.parent / "outside.txt").read_text() == "SECRET"


def test_racing_symlink_swaps_never_leak_or_clobber_the_outside_file(root: Path) -> None:
    """A real race for half a second: another thread swaps a file and a symlink to an
    outside file as fast as it can while the tools read and write it."""
    outside = root.parent / "outside.txt"
    victim = root / "race.txt"
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                victim.unlink()
                victim.symlink_to(outside)
                victim.unlink()
                victim.write_text("inside")

    swapper = threading.Thread(target=swap)
    swapper.start()
    t = tools(root)
    outcomes: set[str] = set()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            read = run(t["read_file"], path="race.txt")
            assert "SECRET" not in read.content
            run(t["write_file"], path="race.txt", content="mine")
            outcomes.add("error" if read.is_error else "read")
    finally:
        stop.set()
        swapper.join()
    assert outside.read_text() == "SECRET"
    assert outcomes  # it ran


def test_a_hard_link_to_an_outside_file_is_neither_read_nor_written(root: Path) -> None:
    outside = root.parent / "outside.txt"
    os.link(outside, root / "hard.txt")
    t = tools(root)
    read = run(t["read_file"], path="hard.txt")
    written = run(t["write_file"], path="hard.txt", content="pwned")
    found = run(t["search_files"], query="SECRET")
    assert read.is_error and "'hard.txt' has 2 hard links" in read.content
    assert "outside the root" in read.content and "SECRET" not in read.content
    assert written.is_error and "has 2 hard links" in written.content
    assert found.content.startswith("no matches")
    assert outside.read_text() == "SECRET"


def test_write_file_refuses_a_fifo_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")
    t = tools(root)
    started = time.monotonic()
    written = run(t["write_file"], path="pipe", content="x")
    read = run(t["read_file"], path="pipe")
    found = run(t["search_files"], query="needle")
    listing = run(t["list_dir"]).content.splitlines()
    assert time.monotonic() - started < 2.0
    assert written.is_error and "'pipe' is a FIFO (named pipe), not a regular file" in (
        written.content
    )
    assert read.is_error and "is a FIFO" in read.content
    assert "a.txt:2: needle here" in found.content
    assert "pipe  (a FIFO (named pipe))" in listing


def test_write_file_refuses_a_device_node(root: Path) -> None:
    try:
        os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    t = tools(root)
    written = run(t["write_file"], path="null", content="x")
    read = run(t["read_file"], path="null")
    assert written.is_error and "'null' is a character device, not a regular file" in (
        written.content
    )
    assert read.is_error and "is a character device" in read.content


def test_a_symlink_loop_anywhere_in_the_root_does_not_break_the_search(root: Path) -> None:
    (root / "loop").symlink_to("loop")
    (root / "sub" / "ping").symlink_to("pong")
    (root / "sub" / "pong").symlink_to("ping")
    t = tools(root)
    found = run(t["search_files"], query="needle")
    assert not found.is_error
    assert found.content.splitlines()[:3] == [
        "a.txt:2: needle here",
        "link_in:2: needle here",
        "sub/b.txt:1: beta needle",
    ]
    read = run(t["read_file"], path="loop")
    assert read.is_error and "too many levels of symlinks" in read.content


def test_symlinks_inside_the_root_still_work_for_reading_but_writes_do_not_follow(
    root: Path,
) -> None:
    (root / "sub" / "up").symlink_to("../a.txt")
    t = tools(root)
    assert run(t["read_file"], path="sub/up").content.startswith("alpha")
    written = run(t["write_file"], path="link_in", content="x")
    assert written.is_error and "'link_in' is a symlink; write_file does not follow" in (
        written.content
    )
    assert (root / "a.txt").read_text().startswith("alpha")


def test_a_catastrophic_regex_is_fast_or_fails_within_the_search_budget(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hearth.agent.fs_tools as fs

    (root / "evil").mkdir()
    (root / "evil" / "evil.txt").write_text("a" * 25 + "!\n" + "x" * 5000 + "\n")
    t = tools(root)
    started = time.monotonic()
    quick = run(t["search_files"], query="(a+)+$", path="evil", regex=True)
    assert time.monotonic() - started < 2.0 and quick.content.startswith("no matches")
    monkeypatch.setattr(fs, "SEARCH_SECONDS", 0.3)
    started = time.monotonic()
    slow = run(t["search_files"], query="(x+x+)+y", path="evil", regex=True)
    assert time.monotonic() - started < 5.0  # the regex library looks at its clock now and then
    assert (
        slow.is_error
        and "the search took more than 0.3 s (stopped in evil/evil.txt at line 2)" in (slow.content)
    )


def test_the_tool_timeout_fires_even_while_a_regex_runs(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The regex is matched with the GIL released, so the agent's timeout can fire."""
    from tests.support.agent import answer, call, calls, fake_model

    import hearth.agent.fs_tools as fs
    from hearth.agent import Agent, ToolResultStep

    monkeypatch.setattr(fs, "SEARCH_SECONDS", 1.0)  # the abandoned search stops soon after

    (root / "evil.txt").write_text("x" * 20_000 + "\n")
    query = json.dumps({"query": "(x+x+)+y", "regex": True})
    model, _ = fake_model(calls(call("search_files", query)), answer("ok"))
    started = time.monotonic()
    steps = list(Agent(model, fs_tools(root, timeout=0.3)).iter("find"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "timeout" and time.monotonic() - started < 2.0


def test_a_bad_regex_is_a_clear_error(root: Path) -> None:
    result = run(tools(root)["search_files"], query="(unclosed", regex=True)
    assert result.is_error and "query is not a valid regular expression" in result.content
