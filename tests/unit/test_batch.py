"""``hearth batch``: OpenAI Batch files run on a test backend behind hearth.model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import run_cli

import hearth
from hearth.backends.base import BackendBase, Capabilities
from hearth.batch.lines import read_input
from hearth.batch.output import OutputFile, finished
from hearth.batch.runner import BatchRun, Progress
from hearth.embeddings import Embeddings
from hearth.errors import InvalidRequestError, ModelNotFoundError
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.messages import TextPart
from hearth.request import ChatRequest, EmbedRequest


class Options:
    def __init__(self, slots: int) -> None:
        self.slots = slots


class Shouter(BackendBase):
    """Answers a chat with its last message in capitals (a raw prompt too); embeds a text as
    [len(text), 1]. A message "boom" fails; the first ``meet`` calls wait for each other."""

    def __init__(self, name: str = "test:shout", *, slots: int = 3, meet: int = 0) -> None:
        self._name = name
        self.options = Options(slots)
        self.calls: list[str] = []
        self.active = 0
        self.most = 0
        self._lock = threading.Lock()
        self._meet = threading.Barrier(meet) if meet else None
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(embeddings=True, raw_completion=True)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        if request.prompt is not None:
            text = request.prompt
        else:
            text = "".join(p.text for p in request.messages[-1].parts if isinstance(p, TextPart))
        with self._lock:
            self.calls.append(text)
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            if self._meet is not None and len(self.calls) <= self._meet.parties:
                self._meet.wait(timeout=5)
            if text == "boom":
                raise InvalidRequestError("messages[0]: boom is not allowed")
            if text == "crash":
                raise RuntimeError("the model has been closed")
            time.sleep(0.002)
        finally:
            with self._lock:
                self.active -= 1
        return iter([TextDelta(text.upper()), Done("end_turn", Usage(3, len(text.split())))])

    def embed(self, request: EmbedRequest) -> Embeddings:
        vectors = [[float(len(t)), 1.0] for t in request.texts]
        return Embeddings(vectors, Usage(input_tokens=len(request.texts)), self._name)

    def close(self) -> None:
        self.closed = True


def chat_line(custom_id: str, text: str, **body: object) -> str:
    return json.dumps({
        "custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "test:shout", "messages": [{"role": "user", "content": text}],
                 "max_tokens": 8, **body},
    })  # fmt: skip


def write_input(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def outputs(path: Path) -> dict[str, dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(by_id) == len(lines), "a custom_id was answered twice"
    return by_id


def run(
    tmp_path: Path, lines: list[str], backend: Shouter, **kwargs: object
) -> tuple[Progress, dict[str, dict[str, object]]]:
    source = write_input(tmp_path / "in.jsonl", lines)
    out_path = tmp_path / "out.jsonl"
    parsed = read_input(source.read_text().splitlines(), name="in.jsonl")
    with OutputFile(out_path) as out:
        progress = BatchRun(
            parsed, out, lambda spec: backend, default_model="test:shout",
            skip=frozenset(finished(out_path)), **kwargs,  # type: ignore[arg-type]
        ).run()  # fmt: skip
    return progress, outputs(out_path)


def body_of(line: dict[str, object]) -> dict[str, object]:
    response = line["response"]
    assert isinstance(response, dict)
    body = response["body"]
    assert isinstance(body, dict)
    return body


def test_chat_completions_and_embeddings_come_back_in_openai_shapes(tmp_path: Path) -> None:
    lines = [
        chat_line("a", "hello there"),
        json.dumps({"custom_id": "b", "method": "POST", "url": "/v1/completions",
                    "body": {"model": "test:shout", "prompt": "once upon", "max_tokens": 4}}),
        json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/embeddings",
                    "body": {"model": "test:shout", "input": ["ab", "abcd"]}}),
        json.dumps({"custom_id": "d", "method": "POST", "url": "/v1/completions",
                    "body": {"model": "test:shout", "prompt": "the end", "echo": True}}),
    ]  # fmt: skip
    progress, out = run(tmp_path, lines, Shouter())
    chat = out["a"]
    assert chat["error"] is None
    assert chat["response"]["status_code"] == 200  # type: ignore[index]
    assert str(chat["id"]).startswith("batch_req_")
    assert str(chat["response"]["request_id"]).startswith("req_")  # type: ignore[index]
    answer = body_of(chat)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "HELLO THERE"  # type: ignore[index]
    assert answer["usage"]["completion_tokens"] == 2  # type: ignore[index]
    completion = body_of(out["b"])
    assert completion["object"] == "text_completion"
    assert completion["choices"][0]["text"] == "ONCE UPON"  # type: ignore[index]
    embedding = body_of(out["c"])
    assert [d["embedding"] for d in embedding["data"]] == [[2.0, 1.0], [4.0, 1.0]]  # type: ignore[index, union-attr]
    echoed = body_of(out["d"])  # as /v1/completions answers it: the prompt first
    assert echoed["choices"][0]["text"] == "the endTHE END"  # type: ignore[index]
    assert (progress.done, progress.failed, progress.tokens) == (4, 0, 2 + 2 + 2 + 2)


def test_bad_lines_get_error_lines_not_a_crash(tmp_path: Path) -> None:
    lines = [
        chat_line("ok", "fine"),
        json.dumps({"custom_id": "url", "method": "POST", "url": "/v1/images", "body": {}}),
        json.dumps({"custom_id": "get", "method": "GET", "url": "/v1/chat/completions"}),
        json.dumps({"custom_id": "nobody", "url": "/v1/chat/completions"}),
        chat_line("field", "x", top_p=1.5),
        chat_line("engine", "boom"),
        json.dumps({"custom_id": "empty", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"messages": []}}),
    ]  # fmt: skip
    progress, out = run(tmp_path, lines, Shouter())
    assert set(out) == {"ok", "url", "get", "nobody", "field", "engine", "empty"}
    assert out["url"]["response"] is None
    assert out["url"]["error"]["code"] == "invalid_url"  # type: ignore[index]
    assert "/v1/chat/completions" in out["url"]["error"]["message"]  # type: ignore[index]
    assert out["get"]["error"]["code"] == "invalid_method"  # type: ignore[index]
    assert out["nobody"]["error"]["code"] == "invalid_body"  # type: ignore[index]
    for custom_id, said in (("field", "top_p"), ("engine", "boom"), ("empty", "messages")):
        response = out[custom_id]["response"]
        assert response["status_code"] == 400  # type: ignore[index]
        assert said in response["body"]["error"]["message"]  # type: ignore[index]
    assert (progress.done, progress.failed) == (7, 6)


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (['{"custom_id": "a"}', '{"custom_id": "a"}'], "custom_id 'a' is already used on line 1"),
        (["not json"], "in.jsonl:1: not JSON"),
        (['{"method": "POST"}', "[1]"], "in.jsonl:1: no custom_id"),
        (["", "  "], "holds no requests"),
    ],
)
def test_lines_that_cannot_be_resumed_are_refused_up_front(lines: list[str], said: str) -> None:
    with pytest.raises(InvalidRequestError, match=said):
        read_input(lines, name="in.jsonl")


def test_every_slot_is_kept_busy(tmp_path: Path) -> None:
    backend = Shouter(slots=4, meet=4)  # the first four wait for each other: they must overlap
    progress, out = run(tmp_path, [chat_line(f"r{i}", f"q{i}") for i in range(20)], backend)
    assert len(out) == 20 and progress.failed == 0
    assert backend.most == 4
    assert backend.closed


def test_a_rerun_skips_what_is_done_and_redoes_a_torn_line(tmp_path: Path) -> None:
    lines = [chat_line(f"r{i}", f"q{i}") for i in range(6)]
    out_path = tmp_path / "out.jsonl"
    done = [
        json.dumps({"id": "x", "custom_id": "r0", "response": None, "error": None}),
        json.dumps({"id": "y", "custom_id": "r3", "response": None, "error": None}),
    ]
    out_path.write_text("\n".join(done) + '\n{"id": "z", "custom_id": "r4", "resp', "utf-8")
    assert finished(out_path) == {"r0", "r3"}
    assert out_path.read_text("utf-8").endswith("}\n")  # the torn line was cut off
    backend = Shouter()
    progress, out = run(tmp_path, lines, backend)
    assert sorted(out) == [f"r{i}" for i in range(6)]
    assert sorted(backend.calls) == ["q1", "q2", "q4", "q5"]
    assert (progress.skipped, progress.done) == (2, 4)


def test_an_interrupted_run_keeps_what_finished_and_a_rerun_finishes(tmp_path: Path) -> None:
    lines = [chat_line(f"r{i}", f"q{i}") for i in range(30)]

    def stop_early(progress: Progress) -> None:
        if progress.done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, lines, Shouter(slots=2), report=stop_early, interval=0.0)
    first = outputs(tmp_path / "out.jsonl")
    assert 5 <= len(first) < 30
    progress, out = run(tmp_path, lines, Shouter())
    assert sorted(out) == sorted(f"r{i}" for i in range(30))
    assert progress.skipped == len(first)


def test_a_model_that_cannot_be_opened_answers_each_of_its_lines(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat_line("a", "x"), chat_line("b", "y")])
    parsed = read_input(source.read_text().splitlines(), name="in.jsonl")

    def missing(spec: str) -> Shouter:
        raise ModelNotFoundError(f"no model {spec!r}", model=spec)

    with OutputFile(tmp_path / "out.jsonl") as out:
        BatchRun(parsed, out, missing, default_model="x").run()
    answered = outputs(tmp_path / "out.jsonl")
    assert {line["response"]["status_code"] for line in answered.values()} == {404}  # type: ignore[index]


# -- the command ----------------------------------------------------------------------------------


@pytest.fixture
def shouter(monkeypatch: pytest.MonkeyPatch) -> Shouter:
    fake = Shouter()
    opened: list[str | None] = []

    def model(spec: str | None = None, /, **options: object) -> hearth.Model:
        opened.append(spec)
        return hearth.Model(fake)

    monkeypatch.setattr(hearth, "model", model)
    fake.opened = opened  # type: ignore[attr-defined]
    return fake


def test_the_command_runs_a_file_and_reports_progress(
    tmp_path: Path, shouter: Shouter, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}", f"q {i}") for i in range(5)])
    out_path = tmp_path / "out.jsonl"
    code, _, stderr = run_cli(
        ["batch", str(source), "-o", str(out_path), "-m", "local:other"], capsys
    )
    assert code == 0, stderr
    assert len(outputs(out_path)) == 5
    assert "batch: 5/5 done" in stderr and "tok/s" in stderr
    assert shouter.opened == ["local:other"]  # type: ignore[attr-defined]
    code, _, stderr = run_cli(["batch", str(source), "-o", str(out_path)], capsys)
    assert code == 0 and "5 from an earlier run" in stderr
    assert len(shouter.calls) == 5


def test_the_command_refuses_a_bad_file_in_one_line(
    tmp_path: Path, shouter: Shouter, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat_line("a", "x"), chat_line("a", "y")])
    code, _, stderr = run_cli(["batch", str(source), "-o", str(tmp_path / "o.jsonl")], capsys)
    assert code == 1
    assert stderr.startswith("error: ") and "custom_id 'a' is already used on line 1" in stderr
    assert "Traceback" not in stderr
    code, _, stderr = run_cli(["batch", str(source), "-o", str(source)], capsys)
    assert code == 1 and "another file than the input" in stderr


def test_a_defect_on_one_line_is_that_lines_error_and_the_run_goes_on(tmp_path: Path) -> None:
    lines = [chat_line("bad", "crash"), chat_line("good", "fine")]
    progress, out = run(tmp_path, lines, Shouter())
    assert out["bad"]["response"] is None
    error = out["bad"]["error"]
    assert error["code"] == "server_error"  # type: ignore[index]
    assert "RuntimeError: the model has been closed" in error["message"]  # type: ignore[index]
    assert body_of(out["good"])["choices"][0]["message"]["content"] == "FINE"  # type: ignore[index]
    assert (progress.done, progress.failed) == (2, 1)
