"""``import hearth`` stays light: the heavy parts load when first used, not at import."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "asyncio", "sqlite3", "ssl", "llama_cpp", "httpx", "starlette", "uvicorn", "pydantic",
    "numpy", "jinja2", "jsonschema", "anyio", "typer", "rich", "tenacity", "llguidance",
    "hearth.agent", "hearth.store", "hearth.config", "hearth.server", "hearth.backends.local",
    "hearth.backends.remote", "hearth.catalog", "ray", "hearth.cluster",
)  # fmt: skip


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(__import__('json').dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(json.loads(out.stdout))
    return [m for m in HEAVY if m in modules]


def test_import_hearth_loads_none_of_the_heavy_modules() -> None:
    assert _loaded_after("import hearth") == []


def test_the_cli_imports_ray_only_for_the_commands_on_a_cluster() -> None:
    loaded = _loaded_after("import hearth.cli.app")
    assert "ray" not in loaded and "hearth.cluster" not in loaded


def test_the_agent_and_the_store_load_on_first_use() -> None:
    loaded = _loaded_after("import hearth; hearth.Agent; hearth.ConversationStore")
    assert "hearth.agent" in loaded and "sqlite3" in loaded


def test_lazy_names_are_the_real_classes_and_unknown_names_still_fail() -> None:
    import hearth
    from hearth.agent import Agent
    from hearth.store import ConversationStore

    assert hearth.Agent is Agent and hearth.ConversationStore is ConversationStore
    try:
        hearth.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")
