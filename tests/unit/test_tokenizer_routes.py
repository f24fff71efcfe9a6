"""The tokenizer routes' errors and the tokenizer protocols, without a model: a backend with no
vocabulary at hand answers 400 saying so, ``model`` is needed when several are served, bad
bodies name the field; ``Model.count_tokens`` says which APIs can count."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

import hearth
from hearth.backends.testing import FakeBackend
from hearth.config.schema import Config
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.server import ServerSettings, create_app
from hearth.tokens import check_token_ids


def _client(*names: str) -> TestClient:
    app = create_app(
        ServerSettings(models=names),
        config=Config(path=Path("/dev/null")),
        backends={n: FakeBackend([]) for n in names},
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/tokenize", {"content": "hi"}, "has no tokenizer"),
        ("/detokenize", {"tokens": [1]}, "has no tokenizer"),
        ("/apply-template", {"messages": [{"role": "user", "content": "hi"}]}, "no tokenizer"),
        ("/tokenize", {"content": 5}, "content: required"),
        ("/tokenize", {"content": "x", "with_pieces": "yes"}, "with_pieces: expected a boolean"),
        ("/detokenize", {"tokens": "1 2"}, "tokens: required, a list"),
    ],
)
def test_route_errors_are_400s_in_openais_shape(
    path: str, body: dict[str, object], message: str
) -> None:
    with _client("fake") as client:
        r = client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]


def test_model_is_needed_when_several_are_served() -> None:
    with _client("a", "b") as client:
        r = client.post("/tokenize", json={"content": "hi"})
        assert r.status_code == 400 and "model: required" in r.json()["error"]["message"]
        assert client.post("/tokenize", json={"content": "hi", "model": "zz"}).status_code == 404


def test_token_ids_are_checked() -> None:
    assert check_token_ids([0, 5], 10) == [0, 5]
    for bad, what in (([10], "tokens\\[0\\] = 10"), ([1, True], "tokens\\[1\\]"), ("12", "list")):
        with pytest.raises(InvalidRequestError, match=what):
            check_token_ids(bad, 10)


def test_backends_without_a_tokenizer_or_a_counter_say_so() -> None:
    m = hearth.Model(FakeBackend([]))
    with pytest.raises(UnsupportedFeatureError, match="no tokenizer"):
        m.tokenize("hi")
    with pytest.raises(UnsupportedFeatureError, match="cannot count tokens"):
        m.count_tokens("hi")
