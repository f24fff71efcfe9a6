"""JSON schemas for tools and structured output: from a function's signature and docstring
(pydantic + docstring-parser), and validators for raw schemas (jsonschema).

Imported on first use only: pydantic, jsonschema and docstring-parser load with this module's
functions, not with ``hearth``.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue

if TYPE_CHECKING:
    from pydantic import BaseModel

SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass(frozen=True, slots=True)
class FunctionArguments:
    """A function's arguments as a pydantic model, and how to call the function with them."""

    summary: str
    model: type[BaseModel]
    validate: Callable[[JsonObject], dict[str, object]]
    call: Callable[[object], object]


def docstring_summary(fn: Callable[..., object]) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google, reST, numpydoc or epydoc
    docstring; the description leaves out the parameter, returns and raises sections."""
    doc = inspect.getdoc(fn)
    if not doc:
        return "", {}
    from docstring_parser import parse

    parsed = parse(doc)
    text = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    return text, params


def function_arguments(fn: Callable[..., object]) -> FunctionArguments:
    """The arguments model of ``fn``: one field per parameter, named and described as in the
    signature and docstring, extra arguments forbidden."""
    from pydantic import ConfigDict, Field, create_model
    from pydantic.errors import PydanticUserError

    label = getattr(fn, "__name__", repr(fn))
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"cannot read the signature of {label}: {exc}") from None
    hints = _type_hints(fn, label)
    summary, docs = docstring_summary(fn)
    fields: dict[str, Any] = {}
    names: list[tuple[str, str]] = []  # (parameter, field)
    positional: list[str] = []
    for i, p in enumerate(signature.parameters.values()):
        if p.kind in _VARIADIC:
            raise InvalidRequestError(
                f"{label} takes *{p.name} / **{p.name}, which a JSON schema cannot describe; "
                "give the tool named parameters, or build it with Tool.from_schema"
            )
        annotation = hints.get(p.name, p.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        extra: dict[str, Any] = {"alias": p.name}
        if p.name in docs and not _has_description(annotation):
            extra["description"] = docs[p.name]
        default = ... if p.default is inspect.Parameter.empty else p.default
        field = f"p{i}"  # the parameter's own name is the alias: no clash with BaseModel names
        fields[field] = (annotation, Field(default, **extra))
        names.append((p.name, field))
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(p.name)
    try:
        model = create_model(_model_name(label), __config__=ConfigDict(extra="forbid"), **fields)
        model.model_json_schema()
    except PydanticUserError as exc:
        raise InvalidRequestError(
            f"cannot describe the parameters of {label} as a JSON schema: {exc}"
        ) from None
    built: type[BaseModel] = model

    def validate(data: JsonObject) -> dict[str, object]:
        instance = built.model_validate(data)
        return {name: getattr(instance, field) for name, field in names}

    def call(value: object) -> object:
        assert isinstance(value, dict)
        kwargs = dict(value)
        args = [kwargs.pop(name) for name in positional]
        return fn(*args, **kwargs)

    return FunctionArguments(summary, built, validate, call)


def schema_validator(schema: JsonObject, *, what: str) -> Callable[[JsonObject], JsonObject]:
    """A function that returns its argument when it is valid against ``schema`` and raises
    ValueError listing the problems otherwise. The schema itself is checked now (its
    ``$schema`` dialect, else JSON Schema 2020-12); ``format`` is enforced where jsonschema
    can check it."""
    check = json_validator(schema, what=what)

    def validate(data: JsonObject) -> JsonObject:
        check(data)
        return data

    return validate


def check_schema(schema: JsonObject, *, what: str) -> None:
    """Raise InvalidRequestError naming ``what`` when ``schema`` is not a valid JSON schema
    (checked against its ``$schema`` dialect, else JSON Schema 2020-12), e.g.
    ``{"type": "objekt"}``. The server's inbound translators and :func:`json_validator` share it."""
    _checked_validator_class(schema, what)


def _checked_validator_class(schema: JsonObject, what: str) -> Any:
    if not isinstance(schema, dict):
        raise InvalidRequestError(f"{what}: a JSON schema must be a JSON object (a dict)")
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise InvalidRequestError(
            f"{what}: the JSON schema is not valid: {exc.message} (at {where})"
        ) from None
    _check_refs(schema, what)
    return cls


def _check_refs(schema: JsonObject, what: str) -> None:
    """Every ``$ref`` in the root's scope must resolve inside the schema: hearth fetches
    nothing, and jsonschema would otherwise fail only when a value is checked. References
    under a nested ``$id`` (another base URI) are left to jsonschema."""
    refs = sorted(set(_root_scope_refs(schema)))
    if not refs:
        return
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012, specification_with

    dialect = schema.get("$schema")
    spec = specification_with(dialect, default=DRAFT202012) if isinstance(dialect, str) else None
    resource = (spec or DRAFT202012).create_resource(schema)
    resolver = Registry().resolver_with_root(resource)
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise InvalidRequestError(
                f"{what}: the JSON schema's $ref {ref!r} points to nothing in the schema; "
                "define it (e.g. under $defs) or inline it: hearth fetches no other schemas"
            ) from None


def _root_scope_refs(node: JsonValue, *, root: bool = True) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _root_scope_refs(item, root=False)
    elif isinstance(node, dict):
        if not root and isinstance(node.get("$id"), str):
            return  # a new base URI: its references are relative to it
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples"):  # data, not schemas
                yield from _root_scope_refs(value, root=False)


def json_validator(schema: JsonObject, *, what: str) -> Callable[[JsonValue], None]:
    """Like :func:`schema_validator` for any JSON value; returns nothing."""
    cls = _checked_validator_class(schema, what)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def check(value: JsonValue) -> None:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        if errors:
            shown = "; ".join(f"{e.json_path}: {e.message}" for e in errors[:8])
            more = f" (and {len(errors) - 8} more)" if len(errors) > 8 else ""
            raise ValueError(shown + more)

    return check


def _type_hints(fn: Callable[..., object], label: str) -> dict[str, Any]:
    """The resolved type hints of ``fn``; when some string annotation does not resolve as a
    whole, each is resolved on its own (module globals, then the closure) so the error can name
    the parameter."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        pass
    namespace = dict(getattr(fn, "__globals__", {}))
    with contextlib.suppress(TypeError, ValueError):
        namespace.update(inspect.getclosurevars(fn).nonlocals)
    hints: dict[str, Any] = {}
    for name, raw in getattr(fn, "__annotations__", {}).items():
        if not isinstance(raw, str):
            hints[name] = raw
            continue
        try:
            hints[name] = eval(raw, namespace)  # how typing resolves annotations
        except Exception as exc:
            raise InvalidRequestError(
                f"cannot resolve the type hint {raw!r} of {label}'s parameter {name!r} "
                f"({type(exc).__name__}: {exc}); define the type where the function's "
                "module can see it"
            ) from None
    return hints


def _has_description(annotation: object) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(getattr(m, "description", None) for m in typing.get_args(annotation)[1:])


def _model_name(label: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in label)
    return name if name and not name[0].isdigit() else f"fn_{name}"


def clean_schema(schema: JsonObject) -> JsonObject:
    """Drop pydantic's generated ``title`` keys (noise in a prompt; not the properties named
    ``title``), keeping the top-level description."""

    def walk(node: JsonValue, in_map: bool) -> JsonValue:
        if isinstance(node, list):
            return [walk(v, False) for v in node]
        if not isinstance(node, dict):
            return node
        if in_map:
            return {k: walk(v, False) for k, v in node.items()}
        return {
            k: walk(v, k in SCHEMA_MAPS)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }

    cleaned = walk(schema, False)
    assert isinstance(cleaned, dict)
    return cleaned
