"""Endpoint rows, base-URL and key resolution, and the rule that a key stays with its endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.backends.endpoints import (
    ENDPOINTS,
    Secret,
    get_endpoint,
    resolve,
)
from hearth.backends.registry import BUILTIN_PROVIDERS, create_backend, providers
from hearth.config import Config, load_config
from hearth.errors import ConfigurationError, UnknownProviderError
from hearth.wire.ollama.host import parse_ollama_host

OPENAI = ENDPOINTS["openai"]
NO_CONFIG = Config(path=Path("/dev/null"))


def test_rows_are_data() -> None:
    assert OPENAI.base_url == "https://api.openai.com/v1"
    assert OPENAI.key_env == ("OPENAI_API_KEY",)
    assert ENDPOINTS["anthropic"].base_url_env == "ANTHROPIC_BASE_URL"
    assert ENDPOINTS["gemini"].key_env == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert ENDPOINTS["ollama"].key_required is False
    assert {
        "lmstudio",
        "llama-server",
        "vllm",
        "hearth",
        "groq",
        "openrouter",
        "together",
        "deepseek",
    } <= set(ENDPOINTS)
    for e in ENDPOINTS.values():
        assert e.base_url.startswith(("http://", "https://")) and not e.base_url.endswith("/")


def test_every_endpoint_row_is_a_provider() -> None:
    known = providers(NO_CONFIG)
    for name in ENDPOINTS:
        assert name in known
        assert name not in BUILTIN_PROVIDERS  # rows are data, not registered factories


def test_a_configured_provider_reaches_its_own_base_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.box]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "BOX_KEY"\n'
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(config))
    monkeypatch.setenv("BOX_KEY", "sk-box")
    loaded = load_config()
    backend = create_backend("box:served-model", config=loaded)
    assert "box" in providers(loaded)
    assert backend.name == "box:served-model"
    assert "sk-box" not in repr(backend)
    monkeypatch.delenv("BOX_KEY")
    with pytest.raises(ConfigurationError, match="BOX_KEY"):
        create_backend("box:served-model", config=loaded)


def test_unknown_endpoint_lists_known() -> None:
    with pytest.raises(UnknownProviderError, match="openai"):
        get_endpoint("nope")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("example.com:56789", "http://example.com:56789"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("example.com/path/", "http://example.com:11434/path"),
        ("[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_ollama_host_is_read_like_the_ollama_client(host: str | None, url: str) -> None:
    assert parse_ollama_host(host) == url


def test_base_url_order_option_then_env_then_default() -> None:
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "https://proxy.example/v1/"}
    assert resolve(OPENAI, env={"OPENAI_API_KEY": "k"}).base_url == "https://api.openai.com/v1"
    assert resolve(OPENAI, env=env).base_url == "https://proxy.example/v1"
    assert (
        resolve(OPENAI, base_url="https://proxy.example/v2", env=env).base_url
        == "https://proxy.example/v2"
    )


def test_ollama_host_env_is_parsed() -> None:
    resolved = resolve(ENDPOINTS["ollama"], env={"OLLAMA_HOST": "0.0.0.0"})
    assert resolved.base_url == "http://0.0.0.0:11434"
    assert resolved.api_key is None


def test_env_key_goes_to_its_own_endpoint() -> None:
    resolved = resolve(OPENAI, env={"OPENAI_API_KEY": "sk-env"})
    assert resolved.api_key is not None and resolved.api_key.reveal() == "sk-env"
    assert resolved.key_source == "OPENAI_API_KEY"


def test_env_key_follows_the_env_base_url_and_same_origin_overrides() -> None:
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "https://proxy.example/v1"}
    assert resolve(OPENAI, env=env).api_key is not None
    same_origin = resolve(
        OPENAI, base_url="https://api.openai.com/other", env=env | {"OPENAI_BASE_URL": ""}
    )
    assert same_origin.api_key is not None


def test_env_key_is_not_sent_to_a_foreign_base_url() -> None:
    env = {"OPENAI_API_KEY": "sk-env"}
    resolved = resolve(OPENAI, base_url="http://evil.example:8080/v1", env=env)
    assert resolved.api_key is None
    assert resolved.withheld_key_env == "OPENAI_API_KEY"
    # a different port or scheme on the same host is another origin, too
    assert resolve(OPENAI, base_url="http://api.openai.com/v1", env=env).api_key is None
    assert resolve(OPENAI, base_url="https://api.openai.com:8443/v1", env=env).api_key is None


def test_explicit_key_is_sent_anywhere() -> None:
    resolved = resolve(
        OPENAI, api_key="sk-mine", base_url="http://127.0.0.1:9/v1", env={"OPENAI_API_KEY": "x"}
    )
    assert resolved.api_key is not None and resolved.api_key.reveal() == "sk-mine"
    assert resolved.key_source == "api_key="


def test_missing_required_key_names_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        resolve(ENDPOINTS["gemini"], env={})
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve(OPENAI, env={"OPENAI_API_KEY": "   "})


def test_gemini_falls_back_to_google_api_key() -> None:
    resolved = resolve(ENDPOINTS["gemini"], env={"GOOGLE_API_KEY": "g-key"})
    assert resolved.key_source == "GOOGLE_API_KEY"


def test_local_rows_need_no_key() -> None:
    assert resolve(ENDPOINTS["lmstudio"], env={}).api_key is None


@pytest.mark.parametrize("bad", ["ftp://x", "not a url", "http://", "http://h:99999"])
def test_bad_base_url_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        resolve(OPENAI, api_key="k", base_url=bad, env={})


def test_bad_url_message_hides_userinfo() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve(OPENAI, api_key="k", base_url="ftp://user:pw@h/x?key=s", env={})
    assert "pw" not in str(info.value) and "key=s" not in str(info.value)


def test_empty_api_key_option_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="api_key="):
        resolve(OPENAI, api_key=" ", env={})


def test_secret_never_shows() -> None:
    secret = Secret("sk-top")
    assert "sk-top" not in repr(secret) and "sk-top" not in str(secret)
    resolved = resolve(OPENAI, api_key="sk-top", env={})
    assert "sk-top" not in repr(resolved)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


def test_capabilities_are_data() -> None:
    assert OPENAI.capabilities("gpt-4o-mini").vision is True
    assert OPENAI.capabilities("gpt-3.5-turbo").vision is False
    assert OPENAI.capabilities("o3-mini").thinking is True
    assert ENDPOINTS["ollama"].capabilities("llava:7b").vision is True
    assert ENDPOINTS["ollama"].capabilities("gemma3:1b").vision is False
    assert ENDPOINTS["ollama"].capabilities("gemma3:4b").vision is True
    assert ENDPOINTS["ollama"].capabilities("llama3.2").vision is False
    assert ENDPOINTS["ollama"].capabilities("llama3.2", vision=True).vision is True
    assert OPENAI.capabilities("x").accelerator == "remote"


@pytest.mark.parametrize(
    ("name", "embeds"),
    [
        ("openai", True),
        ("gemini", True),
        ("ollama", True),
        ("lmstudio", True),
        ("llama-server", True),
        ("vllm", True),
        ("hearth", True),
        ("together", True),
        ("anthropic", False),
        ("groq", False),
        ("deepseek", False),
    ],
)
def test_capabilities_say_which_endpoints_embed(name: str, embeds: bool) -> None:
    assert ENDPOINTS[name].capabilities("some-model").embeddings is embeds


def test_a_backend_reports_embeddings_and_a_non_embedding_endpoint_refuses_before_sending() -> None:
    import httpx

    from hearth.errors import UnsupportedFeatureError

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    openai = create_backend(
        "openai:text-embedding-3-small", config=NO_CONFIG, api_key="k", http_client=client
    )
    assert openai.capabilities().embeddings is True
    groq = create_backend(
        "groq:llama-3.3-70b-versatile", config=NO_CONFIG, api_key="k", http_client=client
    )
    assert groq.capabilities().embeddings is False
    with pytest.raises(UnsupportedFeatureError, match="groq endpoint has no embeddings endpoint"):
        groq.embed(["x"])
    assert sent == []
