"""The response store: rows come back as written (the conversation with its opaque
signatures too), deletion is final, and responses another process left unfinished read as
failed."""

from __future__ import annotations

from pathlib import Path

from hearth.messages import Message, TextPart, ThinkingPart
from hearth.store.responses import ResponseStore, StoredResponse


def test_a_row_comes_back_as_written_and_deleting_it_is_final(tmp_path: Path) -> None:
    context = (
        Message.user("hi"),
        Message.assistant([ThinkingPart("", '{"id":"rs_1","type":"reasoning"}'),
                           TextPart("hello", '{"id":"msg_1"}')]),
    )  # fmt: skip
    row = StoredResponse(
        "resp_1", 12.5, {"id": "resp_1", "status": "completed", "output": []},
        ({"id": "msg_0", "type": "message"},), context,
    )  # fmt: skip
    with_store = ResponseStore(tmp_path / "r.db")
    with_store.put(row)
    assert with_store.get("resp_1") == row
    assert with_store.delete("resp_1") is True
    assert with_store.get("resp_1") is None and with_store.delete("resp_1") is False
    with_store.close()


def test_unfinished_responses_of_a_stopped_server_read_as_failed(tmp_path: Path) -> None:
    first = ResponseStore(tmp_path / "r.db")
    first.put(StoredResponse("resp_q", 1.0, {"id": "resp_q", "status": "queued"}))
    first.put(StoredResponse("resp_d", 2.0, {"id": "resp_d", "status": "completed"}))
    first.close()
    second = ResponseStore(tmp_path / "r.db")
    failed = second.get("resp_q")
    assert failed is not None and failed.status == "failed"
    assert "stopped" in failed.body["error"]["message"]  # type: ignore[index,call-overload]
    assert second.get("resp_d").status == "completed"  # type: ignore[union-attr]
    assert second.ids() == ["resp_q", "resp_d"]
    second.close()
