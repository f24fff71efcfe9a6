"""router:NAME over loopback stand-ins: a good one, a slow one, a failing one, one that answers
429 with Retry-After, and one nobody listens on."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.loopback import LoopbackServer, Received, Reply, refused_url, sse_frames

import hearth
from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.registry import create_backend
from hearth.backends.router import RouterBackend
from hearth.backends.routing import RoutingPolicy
from hearth.config import Config, ProviderConfig, load_config
from hearth.config.render import config_toml
from hearth.config.schema import RouterConfig
from hearth.embeddings import Embeddings
from hearth.errors import (
    APIConnectionError,
    ConfigFileError,
    ConfigurationError,
    InvalidRequestError,
    OverloadedError,
    ServerError,
)
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.messages import Message, Role, TextPart
from hearth.request import ChatRequest, EmbedRequest

ANSWER = Callable[[Received], Reply]


def answer(text: str) -> Reply:
    return Reply.json(
        {
            "id": "c1",
            "object": "chat.completion",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )


def stream_of(*pieces: str) -> list[bytes]:
    deltas = [
        {"id": "c1", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]  # fmt: skip
    end = {"id": "c1", "object": "chat.completion.chunk", "model": "m",
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
    return sse_frames(*deltas, end, done=True)


def good(name: str) -> ANSWER:
    def reply(received: Received) -> Reply:
        if received.json().get("stream"):
            return Reply.stream(stream_of(name, "!"))
        return answer(name)

    return reply


def failing(received: Received) -> Reply:
    return Reply.json({"error": {"message": "upstream exploded", "type": "server_error"}}, 500)


def limited(received: Received) -> Reply:
    return Reply.json(
        {"error": {"message": "slow down", "type": "rate_limit"}}, 429, retry_after="7"
    )


def slow(received: Received) -> Reply:
    return Reply(200, json.dumps({}).encode(), delay=2.0)


@pytest.fixture
def servers() -> Iterator[Callable[..., LoopbackServer]]:
    started: list[LoopbackServer] = []

    def start(handler: ANSWER) -> LoopbackServer:
        server = LoopbackServer(handler).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def fleet_config(tmp_path: Path, urls: dict[str, str], **router: object) -> Config:
    providers = {
        name: ProviderConfig(name=name, type="openai", base_url=url + "/v1")
        for name, url in urls.items()
    }
    members = tuple(f"{name}:m" for name in urls)
    return Config(
        path=tmp_path / "config.toml",
        providers=providers,
        routers={"fleet": RouterConfig(name="fleet", members=members, **router)},  # type: ignore[arg-type]
    )


def router(config: Config, **options: object) -> RouterBackend:
    backend = create_backend("router:fleet", config=config, **options)
    assert isinstance(backend, RouterBackend)
    return backend


def ask(backend: RouterBackend, text: str = "hi") -> str:
    return hearth.Model(backend).chat(text).text


# -- failover -------------------------------------------------------------------------------------


def test_a_failing_member_is_skipped_and_sits_out(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    bad, ok = servers(failing), servers(good("ok"))
    fleet = router(fleet_config(tmp_path, {"bad": bad.url, "ok": ok.url}, affinity=False))
    assert [ask(fleet, f"q{i}") for i in range(4)] == ["ok"] * 4
    assert len(bad.requests) == 1  # then it cooled down: no further call reached it
    assert len(ok.requests) == 4
    assert {m.name: m.failures for m in fleet.members} == {"bad:m": 1, "ok:m": 0}


def test_a_connection_refused_member_fails_over(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    ok = servers(good("ok"))
    fleet = router(fleet_config(tmp_path, {"gone": refused_url(), "ok": ok.url}, affinity=False))
    assert [ask(fleet) for _ in range(3)] == ["ok"] * 3


def test_a_slow_member_times_out_and_the_call_goes_elsewhere(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    lazy, ok = servers(slow), servers(good("ok"))
    config = fleet_config(tmp_path, {"lazy": lazy.url, "ok": ok.url}, affinity=False, timeout=0.3)
    fleet = router(config)
    assert [ask(fleet) for _ in range(2)] == ["ok", "ok"]
    assert len(lazy.requests) == 1


def test_retry_after_sets_the_cooldown(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    busy, ok = servers(limited), servers(good("ok"))
    config = fleet_config(tmp_path, {"busy": busy.url, "ok": ok.url})
    now = [1000.0]
    built = router(config)
    fleet = RouterBackend(
        [m.backend for m in built.members],
        name="fleet",
        policy=RoutingPolicy(affinity=False, clock=lambda: now[0]),
    )
    for _ in range(2):
        assert ask(fleet) == "ok"
    assert len(busy.requests) == 1
    now[0] += 6.5  # still inside the 7 s the 429 asked for
    for _ in range(2):
        ask(fleet)
    assert len(busy.requests) == 1
    now[0] += 1.0  # past it: the member is tried again
    for _ in range(2):
        ask(fleet)
    assert len(busy.requests) == 2


def test_every_member_failing_raises_the_last_error_naming_them_all(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    a, b = servers(failing), servers(failing)
    fleet = router(fleet_config(tmp_path, {"a": a.url, "b": b.url}))
    with pytest.raises(ServerError) as caught:
        ask(fleet)
    message = str(caught.value)
    assert "router:fleet: no member could answer" in message
    assert "a:m" in message and "b:m" in message
    with pytest.raises(OverloadedError, match="every member is cooling down") as cooling:
        ask(fleet)
    assert cooling.value.retry_after is not None and 0 < cooling.value.retry_after <= 5


def test_a_bad_request_is_not_sent_to_another_member(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    def refuse(received: Received) -> Reply:
        return Reply.json({"error": {"message": "bad field", "type": "invalid_request"}}, 400)

    a, b = servers(refuse), servers(refuse)
    fleet = router(fleet_config(tmp_path, {"a": a.url, "b": b.url}))
    with pytest.raises(InvalidRequestError, match="bad field"):
        ask(fleet)
    assert len(a.requests) + len(b.requests) == 1
    assert all(m.outstanding == 0 and m.failures == 0 for m in fleet.members)


def test_remote_members_do_not_retry_on_their_own(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    bad, ok = servers(failing), servers(good("ok"))
    fleet = router(fleet_config(tmp_path, {"bad": bad.url, "ok": ok.url}, affinity=False))
    ask(fleet)
    ask(fleet)
    assert len(bad.requests) == 1  # not 3: the router's failover is the retry


# -- streaming ------------------------------------------------------------------------------------


def test_a_stream_fails_over_before_its_first_event(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    bad, ok = servers(failing), servers(good("ok"))
    fleet = router(fleet_config(tmp_path, {"bad": bad.url, "ok": ok.url}, affinity=False))
    model = hearth.Model(fleet)
    texts = []
    for _ in range(2):
        with model.stream("hi") as s:
            texts.append("".join(s.text_stream))
    assert texts == ["ok!", "ok!"]
    assert len(bad.requests) == 1


def test_an_error_after_output_reaches_the_caller(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    def cut(received: Received) -> Reply:
        return Reply.stream(stream_of("half", "way", "there"), cut_after=1)

    broken, ok = servers(cut), servers(good("ok"))
    config = fleet_config(tmp_path, {"broken": broken.url, "ok": ok.url}, affinity=False)
    fleet = RouterBackend([router(config).members[0].backend], name="one")
    seen: list[str] = []
    with pytest.raises(APIConnectionError):
        for event in fleet.stream(ChatRequest(messages=(hearth.Message.user("hi"),))):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["half"]
    assert ok.requests == []


def test_async_chat_and_stream_fail_over(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    bad, ok = servers(failing), servers(good("ok"))
    fleet = router(fleet_config(tmp_path, {"bad": bad.url, "ok": ok.url}, affinity=False))
    request = ChatRequest(messages=(hearth.Message.user("hi"),))

    async def run() -> list[str]:
        first = (await fleet.achat(request)).text
        pieces = [e.text async for e in fleet.astream(request) if isinstance(e, TextDelta)]
        third = (await fleet.achat(request)).text
        await fleet.aclose()
        return [first, "".join(pieces), third]

    assert asyncio.run(run()) == ["ok", "ok!", "ok"]
    assert len(bad.requests) == 1


# -- choosing -------------------------------------------------------------------------------------


class Replica(BackendBase):
    """A member that answers with its name; a stream holds until ``release`` is set."""

    def __init__(self, name: str, *, fails: bool = False) -> None:
        self._name = name
        self.fails = fails
        self.requests: list[ChatRequest] = []
        self.release = threading.Event()
        self.release.set()

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(embeddings=True, tools=True, context_length=4096)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.requests.append(request)
        return self._play()

    def _play(self) -> Iterator[StreamEvent]:
        if self.fails:
            raise ServerError("down", status_code=503, retry_after=1.0)
        yield TextDelta(self._name)
        self.release.wait(5)
        yield Done("end_turn")

    def embed(self, request: EmbedRequest) -> Embeddings:
        if self.fails:
            raise ServerError("down", status_code=503)
        return Embeddings(
            vectors=[[1.0, 0.0] for _ in request.texts], usage=Usage(), model=self._name
        )


ROLES: tuple[Role, ...] = ("system", "user", "assistant", "user", "assistant", "user")


def chat_of(*texts: str) -> ChatRequest:
    pairs = zip(ROLES, texts, strict=False)
    return ChatRequest(messages=tuple(Message(role, (TextPart(t),)) for role, t in pairs))


def first_text(fleet: RouterBackend, request: ChatRequest) -> str:
    return fleet.chat(request).text


def test_least_outstanding_requests() -> None:
    replicas = [Replica(n) for n in "abc"]
    for r in replicas:
        r.release.clear()
    fleet = RouterBackend(replicas, policy=RoutingPolicy(affinity=False))
    held = [fleet.stream(chat_of("sys", f"q{i}")) for i in range(3)]
    owners = [next(s) for s in held]
    assert {e.text for e in owners if isinstance(e, TextDelta)} == {"a", "b", "c"}
    assert [m.outstanding for m in fleet.members] == [1, 1, 1]
    held[1].close()  # type: ignore[attr-defined]
    freed = next(e.text for e in owners[1:2] if isinstance(e, TextDelta))
    extra = fleet.stream(chat_of("sys", "one more"))
    assert next(extra) == TextDelta(freed)  # the member with nothing in flight
    for s in (*held, extra):
        s.close()  # type: ignore[attr-defined]
    assert [m.outstanding for m in fleet.members] == [0, 0, 0]


def test_prefix_affinity_keeps_each_conversation_on_one_member() -> None:
    replicas = [Replica(n) for n in "abc"]
    fleet = RouterBackend(replicas)
    hits = 0
    firsts = set()
    for i in range(10):
        first = first_text(fleet, chat_of("be brief", f"question {i}"))
        second = first_text(fleet, chat_of("be brief", f"question {i}", first, "and then?"))
        hits += first == second
        firsts.add(first)
    assert hits == 10
    assert len(firsts) > 1  # different conversations spread over the members


def test_affinity_yields_when_its_member_is_down() -> None:
    a, b = Replica("a"), Replica("b")
    fleet = RouterBackend([a, b])
    request = chat_of("sys", "question")
    home = first_text(fleet, request)
    (a if home == "a" else b).fails = True
    assert first_text(fleet, request) != home


def test_embeddings_fail_over() -> None:
    a, b = Replica("a", fails=True), Replica("b")
    fleet = RouterBackend([a, b], policy=RoutingPolicy(affinity=False))
    for _ in range(3):
        assert fleet.embed(EmbedRequest(texts=("x", "y"))).model == "b"
    assert fleet.capabilities().embeddings


# -- configuration --------------------------------------------------------------------------------


def test_router_from_the_config_file(
    tmp_path: Path, servers: Callable[..., LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = servers(good("from the file"))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[providers.gpu1]\ntype = "openai"\nbase_url = "{ok.url}/v1"\n\n'
        '[routers.fleet]\nmembers = ["gpu1:llama", "gone"]\ncooldown = 2\n\n'
        f'[providers.down]\ntype = "openai"\nbase_url = "{refused_url()}/v1"\n\n'
        '[aliases]\ngone = "down:llama"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    with hearth.model("router:fleet") as m:
        assert m.name == "router:fleet"
        assert [m.chat("hi").text for _ in range(3)] == ["from the file"] * 3
    shown = config_toml(load_config())
    assert '[routers.fleet]\nmembers = ["gpu1:llama", "gone"]\ncooldown = 2.0' in shown


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[routers.x]\ncooldown = 1", "routers.x needs 'members'"),
        ("[routers.x]\nmembers = []", "routers.x.members must be a non-empty array"),
        ('[routers.x]\nmembers = ["router:y"]', "not other routers"),
        ('[routers.x]\nmembers = ["a:m", "a:m"]', "each once"),
        ('[routers.x]\nmembers = ["a:m"]\nspeed = 1', "speed"),
        ('[routers.X]\nmembers = ["a:m"]', "router name 'X'"),
        ('[routers.x]\nmembers = ["a:m"]\ncooldown = -1', "from 0 to 86400"),
        ('[providers.router]\ntype = "openai"', "not 'local' or 'router'"),
    ],
)
def test_bad_router_tables_are_refused_with_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(table + "\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match=message):
        load_config(path)


def test_an_unknown_router_names_the_known_ones(tmp_path: Path) -> None:
    config = fleet_config(tmp_path, {"a": "http://127.0.0.1:9"})
    with pytest.raises(ConfigurationError, match=r"no router named 'nope'.*routers there: fleet"):
        create_backend("router:nope", config=config)


def test_a_member_that_cannot_be_built_is_named(tmp_path: Path) -> None:
    config = Config(
        path=tmp_path / "c.toml",
        routers={"fleet": RouterConfig(name="fleet", members=("nosuch:model",))},
    )
    with pytest.raises(ConfigurationError, match="router:fleet: member 'nosuch:model'"):
        create_backend("router:fleet", config=config)


# -- behind hearth serve --------------------------------------------------------------------------


def test_hearth_serve_fails_over_and_answers_429_when_every_member_cools_down(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    from starlette.testclient import TestClient

    from hearth.server import ServerSettings, create_app

    bad, ok = servers(failing), servers(good("ok"))
    busy = servers(limited)
    config = fleet_config(tmp_path, {"bad": bad.url, "ok": ok.url}, affinity=False)
    config = Config(
        path=config.path,
        providers={**config.providers, "busy": ProviderConfig("busy", "openai", busy.url + "/v1")},
        routers={
            **config.routers,
            "busy": RouterConfig(name="busy", members=("busy:m",)),
        },
    )
    app = create_app(ServerSettings(models=("router:fleet", "router:busy")), config=config)
    chat = {"model": "router:fleet", "messages": [{"role": "user", "content": "hi"}]}
    with TestClient(app) as client:
        for _ in range(2):
            r = client.post("/v1/chat/completions", json=chat)
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "ok!"  # the server streams
        with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as s:
            assert s.status_code == 200
            body = "".join(s.iter_text())
        assert '"content":"ok"' in body.replace(" ", "") and "[DONE]" in body
        assert len(bad.requests) == 1
        first = client.post("/v1/chat/completions", json={**chat, "model": "router:busy"})
        assert first.status_code == 429
        assert "no member could answer" in first.json()["error"]["message"]
        second = client.post("/v1/chat/completions", json={**chat, "model": "router:busy"})
        assert second.status_code == 429
        assert "cooling down" in second.json()["error"]["message"]
        assert 1 <= int(second.headers["retry-after"]) <= 7
    assert len(busy.requests) == 1


def test_affinity_yields_to_a_member_with_far_fewer_calls_in_flight() -> None:
    a, b = Replica("a"), Replica("b")
    a.release.clear()
    b.release.clear()
    fleet = RouterBackend([a, b], policy=RoutingPolicy(affinity_slack=2))
    request = chat_of("sys", "the same question")
    held = [fleet.stream(request) for _ in range(5)]
    owners = [next(s) for s in held]
    texts = [e.text for e in owners if isinstance(e, TextDelta)]
    home = texts[0]
    assert texts[:3] == [home] * 3  # kept while within 2 calls of the least busy member
    assert texts[3] != home  # then the call goes to the idle one
    assert (fleet.table.affinity_kept, fleet.table.affinity_yielded) == (4, 1)
    for s in held:
        s.close()  # type: ignore[attr-defined]


def test_options_go_to_the_members_that_take_them(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    ok = servers(good("ok"))
    config = fleet_config(tmp_path, {"ok": ok.url})
    fleet = router(config, max_retries=1, api_key="k")
    assert ask(fleet) == "ok"
    assert ok.requests[0].headers["authorization"] == "Bearer k"
    with pytest.raises(InvalidRequestError, match=r"no member takes the option\(s\) n_ctx"):
        router(config, n_ctx=128)


def test_a_mixed_router_gives_local_options_to_local_members_only(tmp_path: Path) -> None:
    config = Config(
        path=tmp_path / "c.toml",
        providers={"gpu": ProviderConfig("gpu", "openai", "http://127.0.0.1:9/v1")},
        routers={"mixed": RouterConfig(name="mixed", members=("local:smollm2", "gpu:m"))},
    )
    fleet = create_backend("router:mixed", config=config, slots=2, api_key="k")
    assert isinstance(fleet, RouterBackend)
    local, remote = (m.backend for m in fleet.members)
    assert local.options.slots == 2  # type: ignore[attr-defined]
    assert remote.name == "gpu:m"
    fleet.close()


def test_a_slow_member_gets_fewer_calls_under_load(
    tmp_path: Path, servers: Callable[..., LoopbackServer]
) -> None:
    def sluggish(received: Received) -> Reply:
        reply = answer("slow")
        return Reply(reply.status, reply.body, reply.headers, delay=0.4)

    lazy, quick = servers(sluggish), servers(good("quick"))
    fleet = router(fleet_config(tmp_path, {"lazy": lazy.url, "quick": quick.url}, affinity=False))
    answers: list[str] = []

    def client() -> None:
        for _ in range(5):
            answers.append(ask(fleet))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(answers) == 20
    assert answers.count("slow") < answers.count("quick") / 2
    assert all(m.outstanding == 0 for m in fleet.members)
