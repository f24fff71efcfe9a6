"""``hearth run``: stdin with a prompt, -o KEY VALUE, --schema, attachments, --no-stream,
logging and --continue; ``hearth logs -n / -q / --json``. Over a scripted backend."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run
from tests.unit import test_cli_chat
from tests.unit.test_cli_chat import answer

from hearth.backends import registry
from hearth.backends.testing import FakeBackend
from hearth.cli.options import pair_options
from hearth.cli.schema_dsl import concise_schema
from hearth.messages import ImagePart

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[FakeBackend]:
    """``-m fake:…`` opens the next of these backends (as in test_cli_chat)."""
    factory = f"{test_cli_chat.__name__}:fake_factory"
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "fake", factory)
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    test_cli_chat.FAKES.clear()
    return test_cli_chat.FAKES


@pytest.fixture(autouse=True)
def _own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_piped_stdin_comes_before_the_prompt(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend([answer("BANANA")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("The secret word is BANANA.\n"))
    code, out, _ = run(["run", "-m", "fake:x", "Repeat the secret word"], capsys)
    assert (code, out) == (0, "BANANA\n")
    (user,) = backend.requests[0].messages
    assert user.text == "The secret word is BANANA.\n Repeat the secret word"


def test_dash_alone_is_still_stdin(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend([answer("ok")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("only stdin"))
    assert run(["run", "-m", "fake:x", "-"], capsys)[:2] == (0, "ok\n")
    assert backend.requests[0].messages[0].text == "only stdin"


def test_o_key_value_sets_any_setting_by_its_type(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FakeBackend([answer("ok")])
    fake.append(backend)
    options = ["-o", "temperature", "0.3", "-o", "presence_penalty", "1", "-o", "stop", "END"]
    options += ["-o", "stop=FIN", "-o", "thinking", "false", "-t", "0.5"]
    argv = ["run", "-m", "fake:x", *options, "Q?"]
    assert run(argv, capsys)[:2] == (0, "ok\n")
    s = backend.requests[0].settings
    assert (s.temperature, s.presence_penalty, s.stop, s.thinking) == (
        0.5, 1.0, ("END", "FIN"), False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["-o", "temprature", "1"], "error: unknown option 'temprature'; the keys are: temp"),
        (["-o", "seed", "abc"], "error: -o seed takes an integer, got 'abc'"),
        (["-o", "thinking", "maybe"], "error: -o thinking takes true or false"),
        (["-o", "top_p", "7"], "error: top_p must be in [0.0, 1.0], got 7.0"),
    ],
)
def test_bad_o_options_are_clear_errors(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], option: list[str], needle: str
) -> None:
    code, out, err = run(["run", "-m", "fake:x", *option, "Q?"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(needle), err


def test_pair_options_leaves_other_commands_and_dashdash_alone() -> None:
    assert pair_options(["run", "-o", "seed", "1", "hi"]) == ["run", "-o", "seed=1", "hi"]
    assert pair_options(["embed", "-o", "v.npy", "x"]) == ["embed", "-o", "v.npy", "x"]
    assert pair_options(["run", "--", "-o", "a", "b"]) == ["run", "--", "-o", "a", "b"]


def test_concise_schema() -> None:
    assert concise_schema("name, age int, bio: their biography") == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "bio": {"type": "string", "description": "their biography"},
        },
        "required": ["name", "age", "bio"],
    }


def test_schema_asks_for_json_of_that_shape(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backend = FakeBackend([answer('{"name": "Ada", "age": 36}'), answer('{"n": 1.5}')])
    fake.append(backend)
    code, out, _ = run(["run", "-m", "fake:x", "--schema", "name, age int", "Q?"], capsys)
    assert (code, json.loads(out)) == (0, {"name": "Ada", "age": 36})
    fmt = backend.requests[0].response_format
    assert fmt is not None and fmt.schema["properties"]["age"] == {"type": "integer"}
    schema_file = tmp_path / "s.json"
    schema_file.write_text('{"type": "object", "properties": {"n": {"type": "number"}}}')
    fake.append(backend)
    code, out, _ = run(["run", "-m", "fake:x", "--schema", str(schema_file), "Q?"], capsys)
    assert (code, out) == (0, '{"n": 1.5}\n')


def test_bad_schema_fails_before_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "-m", "local:nope", "--schema", "age integer", "Q?"], capsys)
    assert code == 1
    assert err.startswith("error: --schema: unknown type 'integer' for age; use str, int")


def test_attachments_text_inlined_image_as_a_part(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    notes, image, blob = tmp_path / "notes.txt", tmp_path / "cat.png", tmp_path / "x.bin"
    notes.write_text("The code is 42.\n")
    image.write_bytes(PNG)
    blob.write_bytes(b"\x00\x01\x02\xff")
    text_only = FakeBackend([answer("42")])
    fake.append(text_only)
    assert run(["run", "-m", "fake:x", "-a", str(notes), "What is the code?"], capsys)[0] == 0
    user = text_only.requests[0].messages[0]
    assert user.text == "notes.txt:\n```\nThe code is 42.\n```\n\nWhat is the code?"
    fake.append(FakeBackend([answer("unused")]))
    code, _, err = run(["run", "-m", "fake:x", "-a", str(image), "What is it?"], capsys)
    assert code == 1 and "fake:scripted does not take images" in err
    code, _, err = run(["run", "-m", "fake:x", "-a", str(blob), "What is it?"], capsys)
    assert code == 1
    assert err.startswith(f"error: cannot attach {blob}: it is neither an image")


def test_image_attachment_reaches_a_vision_model(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from hearth.backends.base import Capabilities

    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    backend = FakeBackend([answer("a cat")], capabilities=Capabilities(vision=True))
    fake.append(backend)
    assert run(["run", "-m", "fake:x", "-a", str(image), "What?"], capsys)[:2] == (0, "a cat\n")
    (user,) = backend.requests[0].messages
    assert user.images == (ImagePart(PNG, "image/png"),)


def test_runs_are_logged_searchable_and_continued(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    first = FakeBackend([answer("Paris")], name="fake:first")
    fake.append(first)
    assert run(["run", "-m", "fake:first", "--no-stream", "Capital of France?"], capsys)[1] == (
        "Paris\n"
    )
    fake.append(FakeBackend([answer("not logged")]))
    assert run(["run", "-m", "fake:x", "--no-log", "Secret?"], capsys)[0] == 0
    code, out, _ = run(["logs", "-n", "5", "--json"], capsys)
    (logged,) = [json.loads(line) for line in out.splitlines()]
    assert (code, logged["title"], logged["model"], logged["turns"]) == (
        0, "Capital of France?", "fake:first", 1,
    )  # fmt: skip
    assert json.loads(run(["logs", "-q", "paris", "--json"], capsys)[1])["id"] == logged["id"]
    assert run(["logs", "-q", "berlin"], capsys)[1] == ""
    again = FakeBackend([answer("Lyon")], name="fake:first")
    fake.append(again)
    assert run(["run", "-c", "And the second city?"], capsys)[:2] == (0, "Lyon\n")
    texts = [m.text for m in again.requests[0].messages]
    assert texts == ["Capital of France?", "Paris", "And the second city?"]
    assert json.loads(run(["logs", "-n", "1", "--json"], capsys)[1])["turns"] == 2


def test_logs_n_lists_the_most_recent(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    for prompt in ("one", "two", "three"):
        fake.append(FakeBackend([answer("ok")]))
        run(["run", "-m", "fake:x", prompt], capsys)
    code, out, _ = run(["logs", "-n", "2"], capsys)
    assert code == 0
    assert [line.rsplit("  ", 1)[-1] for line in out.splitlines()] == ["three", "two"]


def test_mmproj_is_for_local_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", "-m", "openai:gpt-4o", "--mmproj", "p.gguf", "hi"], capsys)
    assert (code, out) == (1, "")
    assert err == "error: --mmproj: a projector is for a local model; leave it out\n"
