"""OpenAI-compatible streams as real servers send them: comments, keep-alives and blank data
are skipped; a malformed chunk ends the stream with MalformedStreamError after everything
before it, and keeps that answer as ``partial``."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from hearth import Model
from hearth.agent import Agent, TurnError
from hearth.backends.endpoints import ENDPOINTS, resolve
from hearth.backends.remote import HttpOptions, RemoteBackend
from hearth.events import TextDelta, ToolCallEvent
from hearth.messages import Message, TextPart
from hearth.request import ChatRequest
from hearth.stream_errors import MalformedStreamError


def chunk(content: str) -> bytes:
    body = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


FINISH = b'data: {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
DONE = b"data: [DONE]\n\n"


def served(body: bytes) -> RemoteBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    aclient = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    resolved = resolve(ENDPOINTS["llama-server"], base_url="http://box.test/v1")
    http = HttpOptions(client=client, async_client=aclient)
    return RemoteBackend(resolved, "m", http=http)


REQUEST = ChatRequest((Message.user("hi"),))


def test_comments_keepalives_and_blank_data_lines_are_skipped() -> None:
    body = b"".join(
        [
            b": OPENROUTER PROCESSING\n\n",
            chunk("Hello"),
            b":keep-alive\n\n",
            b"data:\n\n",  # an empty keep-alive event
            b"data:   \n\n",
            b"event: ping\ndata: \n\n",
            chunk(", world"),
            FINISH,
            b": done soon\n\n",
            DONE,
        ]
    )
    events = list(served(body).stream(REQUEST))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(texts) == "Hello, world"
    assert events[-1].kind == "done" and events[-1].stop_reason == "end_turn"


@pytest.mark.parametrize(
    "bad", [b"data: {not json\n\n", b'data: "a string"\n\n', b"data: [1, 2]\n\n"]
)
def test_a_malformed_chunk_keeps_the_text_streamed_before_it(bad: bytes) -> None:
    body = chunk("Once") + chunk(" upon") + bad + chunk(" a time") + FINISH + DONE
    got: list[str] = []
    with pytest.raises(MalformedStreamError, match="not a JSON object") as caught:
        for event in served(body).stream(REQUEST):
            assert not isinstance(event, ToolCallEvent)
            if isinstance(event, TextDelta):
                got.append(event.text)
    assert "".join(got) == "Once upon"
    assert caught.value.partial == Message("assistant", (TextPart("Once upon"),))
    assert caught.value.provider == "llama-server"


def test_a_malformed_chunk_in_the_async_twin_keeps_the_text_too() -> None:
    body = chunk("Once") + b"data: oops\n\n" + FINISH + DONE

    async def read() -> MalformedStreamError:
        with pytest.raises(MalformedStreamError) as caught:
            async for _ in served(body).astream(REQUEST):
                pass
        return caught.value

    assert asyncio.run(read()).partial.text == "Once"


def test_the_agent_keeps_the_text_of_an_answer_that_broke_off() -> None:
    body = chunk("Half an ans") + b"data: <html>502</html>\n\n"
    agent = Agent(Model(served(body)))
    steps = list(agent.iter("hi"))
    assert isinstance(steps[-1], TurnError)
    assert isinstance(steps[-1].result.error, MalformedStreamError)
    assert [m.text for m in agent.messages] == ["hi", "Half an ans"]
