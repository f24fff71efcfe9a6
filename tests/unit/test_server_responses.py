"""``/v1/responses`` on ``hearth serve`` with FakeBackend scripts behind it: answers, streams,
stored state (chains that survive a restart, GET, DELETE, input_items), background responses
and their cancellation, and bad input refused in OpenAI's error format. The openai SDK reads
what the server sends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from starlette.testclient import TestClient
from tests.unit.test_server_admission import PacedBackend
from tests.unit.test_server_live import live

from hearth.backends.base import BackendBase
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import JsonObject, Message, ToolCallPart
from hearth.server import ServerSettings, create_app

TEXT: Script = [TextDelta("Par"), TextDelta("is"), Done("end_turn", Usage(7, 2, cached_tokens=4))]
CALL: Script = [
    ToolCallEvent(ToolCallPart("call_7", "get_weather", '{"city":"Paris"}')),
    Done("tool_use", Usage(9, 6)),
]
LONG: Script = [TextDelta("Once upon"), Done("max_tokens", Usage(3, 16))]
WEATHER = {
    "type": "function", "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}  # fmt: skip


def app_with(backend: BackendBase, store: Path):  # type: ignore[no-untyped-def]
    return create_app(
        ServerSettings(models=("fake",), responses_store=store),
        config=Config(path=Path("/dev/null")),
        backends={"fake": backend},
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "responses.db"


def client(*scripts: Script, store: Path) -> tuple[TestClient, FakeBackend]:
    fake = FakeBackend(list(scripts))
    return TestClient(app_with(fake, store)), fake


def sse(text: str) -> list[JsonObject]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_an_answer_with_usage_is_stored_and_read_back(db: Path) -> None:
    c, fake = client(TEXT, store=db)
    with c:
        r = c.post("/v1/responses", json={
            "model": "fake", "input": "capital of France?", "instructions": "One word.",
            "metadata": {"topic": "geo"}, "user": "u1", "temperature": 0.2,
        })  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "response" and body["status"] == "completed"
        assert body["output"][0]["content"][0]["text"] == "Paris"
        assert body["usage"]["input_tokens_details"]["cached_tokens"] == 4
        assert body["metadata"] == {"topic": "geo"} and body["user"] == "u1"
        assert body["instructions"] == "One word." and body["temperature"] == 0.2
        assert c.get(f"/v1/responses/{body['id']}").json() == body
        items = c.get(f"/v1/responses/{body['id']}/input_items").json()
        assert items["object"] == "list" and items["has_more"] is False
        assert items["data"][0]["content"] == [{"type": "input_text", "text": "capital of France?"}]
    system, user = fake.requests[0].messages
    assert system == Message.system("One word.") and user.text == "capital of France?"


def test_a_stream_sends_the_full_sequence_and_is_stored(db: Path) -> None:
    c, _ = client([ThinkingDelta("hm"), *TEXT], store=db)
    with c:
        r = c.post("/v1/responses", json={"model": "fake", "input": "hi", "stream": True})
        events = sse(r.text)
        assert [e["type"] for e in events] == [
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added",
            "response.reasoning_text.delta", "response.reasoning_text.done",
            "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done",
            "response.output_item.done", "response.completed",
        ]  # fmt: skip
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        final = events[-1]["response"]
        assert c.get(f"/v1/responses/{final['id']}").json() == final


def test_a_chain_survives_a_restart_and_drops_earlier_instructions(db: Path) -> None:
    c, _ = client(TEXT, store=db)
    with c:
        first = c.post("/v1/responses", json={
            "model": "fake", "input": "capital of France?", "instructions": "Be terse.",
        }).json()  # fmt: skip
    c2, fake = client(TEXT, store=db)  # a new app on the same database: a restarted server
    with c2:
        r = c2.post("/v1/responses", json={
            "model": "fake", "input": "and of Spain?", "previous_response_id": first["id"],
        })  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["previous_response_id"] == first["id"]
    assert [(m.role, m.text) for m in fake.requests[0].messages] == [
        ("user", "capital of France?"), ("assistant", "Paris"), ("user", "and of Spain?"),
    ]


def test_tool_calls_and_their_outputs_through_a_chain(db: Path) -> None:
    c, fake = client(CALL, TEXT, store=db)
    with c:
        first = c.post("/v1/responses", json={
            "model": "fake", "input": "weather?", "tools": [WEATHER], "tool_choice": "required",
        }).json()  # fmt: skip
        (call,) = first["output"]
        assert call["type"] == "function_call" and call["call_id"] == "call_7"
        assert call["arguments"] == '{"city":"Paris"}' and call["id"].startswith("fc_")
        r = c.post("/v1/responses", json={
            "model": "fake", "previous_response_id": first["id"], "tools": [WEATHER],
            "input": [{"type": "function_call_output", "call_id": "call_7", "output": "18C"}],
        })  # fmt: skip
        assert r.status_code == 200, r.text
    assert fake.requests[0].tool_choice == "required"
    assert fake.requests[1].messages[-1].tool_results[0].content == "18C"


def test_parallel_tool_calls_false_answers_with_the_first_call_only(db: Path) -> None:
    two: Script = [
        ToolCallEvent(ToolCallPart("call_1", "get_weather", '{"city":"Paris"}')),
        ToolCallEvent(ToolCallPart("call_2", "get_weather", '{"city":"Rome"}')),
        Done("tool_use", Usage(9, 12)),
    ]
    c, _ = client(two, two, store=db)
    with c:
        plain = c.post("/v1/responses", json={
            "model": "fake", "input": "x", "tools": [WEATHER], "parallel_tool_calls": False,
        }).json()  # fmt: skip
        streamed = c.post("/v1/responses", json={
            "model": "fake", "input": "x", "tools": [WEATHER], "parallel_tool_calls": False,
            "stream": True,
        })  # fmt: skip
    final = sse(streamed.text)[-1]["response"]
    for body in (plain, final):
        assert [o["call_id"] for o in body["output"]] == ["call_1"]
        assert body["parallel_tool_calls"] is False


def test_store_false_delete_and_what_is_gone(db: Path) -> None:
    c, _ = client(TEXT, TEXT, store=db)
    with c:
        unstored = c.post("/v1/responses", json={"model": "fake", "input": "x", "store": False})
        gone = c.get(f"/v1/responses/{unstored.json()['id']}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        kept = c.post("/v1/responses", json={"model": "fake", "input": "x"}).json()
        deleted = c.delete(f"/v1/responses/{kept['id']}")
        assert deleted.json() == {"id": kept["id"], "object": "response", "deleted": True}
        assert c.get(f"/v1/responses/{kept['id']}").status_code == 404
        r = c.post("/v1/responses", json={
            "model": "fake", "input": "y", "previous_response_id": kept["id"],
        })  # fmt: skip
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        assert "previous_response_id" in r.json()["error"]["message"]


def test_max_output_tokens_makes_an_incomplete_response(db: Path) -> None:
    c, _ = client(LONG, store=db)
    with c:
        body = c.post("/v1/responses", json={
            "model": "fake", "input": "story", "max_output_tokens": 16,
        }).json()  # fmt: skip
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}


def poll(c: TestClient, response_id: str, wanted: str) -> JsonObject:
    deadline = time.monotonic() + 10
    while True:
        body: JsonObject = c.get(f"/v1/responses/{response_id}").json()
        if body["status"] == wanted:
            return body
        assert time.monotonic() < deadline, body["status"]
        time.sleep(0.02)


def test_a_background_response_runs_and_one_is_cancelled(db: Path) -> None:
    paced = PacedBackend(tokens=400, delay=0.005)
    with TestClient(app_with(paced, db)) as c:
        quick = c.post("/v1/responses", json={
            "model": "fake", "input": "x", "background": True, "max_output_tokens": 3,
        }).json()  # fmt: skip
        assert quick["status"] == "queued" and quick["background"] is True
        done = poll(c, quick["id"], "completed")
        assert done["output"][0]["content"][0]["text"] == "xxx"
        slow = c.post("/v1/responses", json={"model": "fake", "input": "x",
                                              "background": True}).json()  # fmt: skip
        poll(c, slow["id"], "in_progress")
        cancelled = c.post(f"/v1/responses/{slow['id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        time.sleep(0.1)
        assert poll(c, slow["id"], "cancelled")["output"] == []
        again = c.post(f"/v1/responses/{quick['id']}/cancel")
        assert again.status_code == 400 and "completed" in again.json()["error"]["message"]
    assert paced.cancelled == 1 and paced.finished == 1


BAD = [
    ({"input": [{"type": "teleport"}]}, "unknown item type"),
    ({"input": [{"type": "function_call_output", "call_id": "x", "output": "y"}]},
     "no function_call with call_id 'x'"),
    ({"input": "x", "previous_response_id": "resp_nope"}, "previous_response_id"),
    ({"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8="}]}]},
     "not an image"),
    ({"input": "x", "tools": [{"type": "web_search"}]}, "built-in"),
    ({"input": "x", "truncation": "auto"}, "truncation"),
    ({"input": "x", "include": ["code_interpreter_call.outputs"]}, "code_interpreter"),
    ({"input": "x", "background": True, "store": False}, "background"),
    ({"input": "x", "background": True, "stream": True}, "background"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_input_is_a_400_in_openais_format(db: Path, extra: JsonObject, message: str) -> None:
    c, fake = client(TEXT, store=db)
    with c:
        r = c.post("/v1/responses", json={"model": "fake", **extra})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert fake.requests == []


def test_unknown_ids_are_404(db: Path) -> None:
    c, _ = client(store=db)
    with c:
        for r in (
            c.get("/v1/responses/resp_nope"),
            c.delete("/v1/responses/resp_nope"),
            c.get("/v1/responses/resp_nope/input_items"),
            c.post("/v1/responses/resp_nope/cancel"),
        ):
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# -- the openai SDK ---------------------------------------------------------------------------


@pytest.fixture
def sdk(db: Path) -> Iterator[tuple[openai.OpenAI, FakeBackend]]:
    fake = FakeBackend([TEXT, TEXT, CALL, TEXT])
    ctx = live(app_with(fake, db))
    url = ctx.__enter__()  # type: ignore[attr-defined]
    try:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0), fake
    finally:
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_the_openai_sdk(sdk: tuple[openai.OpenAI, FakeBackend]) -> None:
    client_, fake = sdk
    r = client_.responses.create(model="fake", input="capital of France?")
    assert r.output_text == "Paris" and r.usage.input_tokens_details.cached_tokens == 4  # type: ignore[union-attr]
    with client_.responses.stream(model="fake", input="again", previous_response_id=r.id) as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == "Paris" and final.output_text == "Paris"
    called = client_.responses.create(
        model="fake", input="weather?", tools=[WEATHER], tool_choice="required"  # type: ignore[list-item]
    )
    (call,) = called.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert client_.responses.retrieve(final.id).output_text == "Paris"
    items = client_.responses.input_items.list(final.id)
    assert [i.type for i in items.data] == ["message"]
    client_.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client_.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError, match="unknown item type"):
        client_.responses.create(model="fake", input=[{"type": "teleport"}])  # type: ignore[list-item]
    assert [m.text for m in fake.requests[1].messages] == ["capital of France?", "Paris", "again"]
