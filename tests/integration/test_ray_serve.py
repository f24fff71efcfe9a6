"""``hearth serve --ray``: the server's app on Ray Serve over two engine replicas of SmolLM2
(one llama.cpp thread each), on a one-machine Ray cluster started by the test set-up.

The OpenAI SDK chats through it, streamed and not, with the server's key; the second turn of
each of ten chats lands on the replica that served its first (prefix affinity, counted from
``x-hearth-replica``); with every slot and the queue full the next request is a 429 with
``Retry-After``; a client that goes away stops its replica's generation; a replica killed in
the middle of a stream ends that stream with an error event while the other replica's streams
and the queued requests finish, the next requests succeed and Ray Serve brings up a new
replica; ``/metrics`` sums the replicas.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

pytestmark = pytest.mark.integration

APP = "hearth-test"
MODEL = "local:smollm2"
KEY = "ray-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(ray_cluster: str) -> Iterator[str]:
    from ray import serve

    from hearth._secret import Secret
    from hearth.cluster.serve_app import RayOptions, build_app
    from hearth.config import load_config
    from hearth.server import ServerSettings

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    settings = ServerSettings(
        models=(MODEL,),
        api_key=Secret(KEY),  # crosses to the ingress, which checks it
        backend_options={"n_threads": 1, "slots": 2, "n_ctx": 2048},
        web_ui=False,
        max_queue=4,
        timeout=120,
    )
    app = build_app(settings, load_config(), RayOptions(2, 2, name=APP))
    serve.run(app, name=APP, route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


def chat(base_url: str, messages: list[dict[str, str]], max_tokens: int = 8) -> tuple[str, str]:
    """The answer's text and the replica that gave it."""
    import openai

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=messages,
        max_tokens=max_tokens,
        temperature=0,  # type: ignore[arg-type]
    )
    text = raw.parse().choices[0].message.content or ""
    return text, raw.headers["x-hearth-replica"]


def metric(text: str, name: str) -> dict[str, float]:
    """Each sample of ``name`` in Prometheus text: the labels' text → value."""
    found = {}
    for match in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M):
        found[match.group(1) or ""] = float(match.group(2))
    return found


def test_the_openai_sdk_chats_through_two_replicas_streamed_and_not(base_url: str) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "What is 2 + 2?"}], max_tokens=12
    )
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Name a colour."}],
            max_tokens=12,
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert {m["id"] for m in client.models.list().model_dump()["data"]} == {MODEL}
    keyless = httpx.post(f"{base_url}/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert keyless.status_code == 401

    deadline = time.monotonic() + 15  # replicas report once a second
    while True:
        body = httpx.get(f"{base_url}/metrics", headers=AUTH).text
        replicas = metric(body, "hearth_replicas")
        served = sum(metric(body, "hearth_replica_requests_total").values())
        if (replicas.get(f'{{model="{MODEL}"}}') == 2 and served >= 2) or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.5)
    assert replicas == {f'{{model="{MODEL}"}}': 2.0}
    assert served >= 2


def test_the_second_turn_of_each_chat_lands_on_the_replica_of_its_first(base_url: str) -> None:
    firsts = []
    for i in range(10):
        messages = [
            {"role": "system", "content": f"You are assistant number {i}. Answer briefly."},
            {"role": "user", "content": f"Tell me a fact about the number {i}."},
        ]
        text, replica = chat(base_url, messages)
        firsts.append((messages, text, replica))
    hits = 0
    for messages, text, replica in firsts:
        turn = [*messages, {"role": "assistant", "content": text}]
        turn.append({"role": "user", "content": "And one more?"})
        hits += chat(base_url, turn)[1] == replica
    print(f"prefix affinity: {hits}/10 second turns on the first turn's replica")
    assert hits == 10
    assert len({replica for _, _, replica in firsts}) == 2, "every chat landed on one replica"


def test_when_every_replica_and_the_queue_are_full_the_next_request_is_a_429(
    base_url: str,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Write a long story about a cat."}],
        "max_tokens": 48,
    }

    def post(i: int) -> httpx.Response:
        sent = {**body, "messages": [{"role": "user", "content": f"Story {i} about a cat."}]}
        return httpx.post(f"{base_url}/v1/chat/completions", json=sent, headers=AUTH, timeout=120)

    with ThreadPoolExecutor(16) as pool:  # 2 replicas x 2 slots run, 4 wait, the rest: 429
        answers = list(pool.map(post, range(16)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= 8
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "busy" in refused.json()["error"]["message"]


def test_a_client_that_goes_away_stops_its_replicas_generation(base_url: str) -> None:
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "Write the numbers from 1 to 900, separated by commas."}
        ],
        "max_tokens": 1500,  # half a minute or more on one thread, if it ran to the end
        "temperature": 0,
        "stream": True,
    }

    def active() -> float:
        return sum(
            metric(
                httpx.get(f"{base_url}/metrics", headers=AUTH).text,
                "hearth_replica_active_requests",
            ).values()
        )

    deadline = time.monotonic() + 15  # the earlier tests' requests leave the board
    while active() > 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert active() == 0
    with httpx.stream(
        "POST", f"{base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=60
    ) as response:
        lines = response.iter_lines()  # kept: dropping it would close the response here
        frames = 0
        for line in lines:
            frames += line.startswith("data: ")
            if frames == 5:
                break
        deadline = time.monotonic() + 10
        while active() == 0 and time.monotonic() < deadline:  # the board shows it running
            time.sleep(0.3)
        assert active() == 1
    deadline = time.monotonic() + 10  # the replica stops within a report or two
    while active() > 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert active() == 0, "the replica kept generating for a client that went away"


@dataclass
class Stream:
    """One streamed chat read on its own thread: its replica, its frames, how it ended."""

    prompt: str
    replica: str | None = None
    frames: list[str] = field(default_factory=list)
    error: str | None = None
    done: bool = False
    started: threading.Event = field(default_factory=threading.Event)

    def run(self, base_url: str) -> None:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": self.prompt}],
            "max_tokens": 400,
            "temperature": 0,
            "stream": True,
        }
        try:
            with httpx.stream(
                "POST", f"{base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=120
            ) as response:
                self.replica = response.headers.get("x-hearth-replica")
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.frames.append(line[6:])
                        self.started.set()
        except httpx.HTTPError as exc:  # the connection itself failed: no error event
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done = True
            self.started.set()

    @property
    def error_event(self) -> dict[str, object] | None:
        for frame in self.frames:
            if frame != "[DONE]" and "error" in (data := json.loads(frame)):
                return data
        return None


def test_a_replica_killed_mid_stream_ends_its_streams_with_an_error_event(
    base_url: str,
) -> None:
    import ray

    # long answers at temperature 0 (each runs to max_tokens on SmolLM2)
    streams = [
        Stream(f"Write the numbers from {i} to 300, separated by commas.") for i in (1, 2, 3, 4)
    ]
    threads = [threading.Thread(target=s.run, args=(base_url,), daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    for stream in streams:
        assert stream.started.wait(90), "a stream never started"
    replicas = {s.replica for s in streams}
    assert len(replicas) == 2, f"four streams on two replicas of two slots: {replicas}"
    queued: list[tuple[str, str]] = []  # every slot is taken: these two wait in Ray's queue
    waiting = [
        threading.Thread(
            target=lambda i=i: queued.append(
                chat(base_url, [{"role": "user", "content": f"Hi {i}"}])
            ),
            daemon=True,
        )
        for i in range(2)
    ]
    for thread in waiting:
        thread.start()
    time.sleep(0.5)
    victim = next(s.replica for s in streams if not s.done)
    actor = ray.get_actor(f"SERVE_REPLICA::{APP}#engine-0#{victim}", namespace="serve")
    ray.kill(actor, no_restart=True)
    for thread in [*threads, *waiting]:
        thread.join(timeout=150)
    assert all(s.done for s in streams), "a stream hung after the kill"
    assert len(queued) == 2 and all(text for text, _ in queued), "a queued request was lost"

    for stream in streams:
        assert stream.error is None, stream.error
        if stream.replica == victim:
            event = stream.error_event
            assert event is not None, f"no error event: {stream.frames[-3:]}"
            assert "replica" in json.dumps(event)
        else:
            assert stream.error_event is None
            assert stream.frames[-1] == "[DONE]"

    for i in range(3):  # Ray Serve replaces the replica; meanwhile the other one answers
        text, replica = chat(base_url, [{"role": "user", "content": f"Say {i}."}])
        assert text and replica != victim

    deadline = time.monotonic() + 90  # the new replica loads its model and reports
    while time.monotonic() < deadline:
        body = httpx.get(f"{base_url}/metrics", headers=AUTH).text
        live = {
            labels.split('replica="')[1].rstrip('"}')
            for labels in metric(body, "hearth_replica_active_requests")
        }
        if len(live) == 2 and victim not in live:
            break
        time.sleep(1)
    assert len(live) == 2 and victim not in live, f"live replicas after the kill: {live}"
