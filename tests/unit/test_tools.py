"""Tools: schemas from functions, pydantic models and raw JSON schemas; validation and errors
that the model sees instead of a crash."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

import hearth
from hearth import InvalidRequestError, Tool, ToolArgumentsError, ToolResult, ToolSpec, as_tool


@hearth.tool
def add(a: int, b: int = 0) -> int:
    """Add two integers.

    Use it for sums.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Search(BaseModel):
    """Search the web."""

    query: str
    limit: int = Field(10, ge=1, le=50)


def test_function_schema_from_hints_and_google_docstring() -> None:
    assert add.name == "add"
    assert add.description == "Add two integers.\n\nUse it for sums."
    assert add.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "the first number"},
            "b": {"type": "integer", "default": 0, "description": "the second number"},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert add.spec == ToolSpec("add", add.description, add.parameters)


def test_rest_and_numpy_docstrings_and_annotated_descriptions() -> None:
    def rest(city: Annotated[str, Field(description="from Annotated")], unit: str = "c") -> str:
        """Weather.

        :param city: from the docstring (Annotated wins)
        :param unit: c or f
        """
        return city

    def numpy(x: float) -> float:
        """Square.

        Parameters
        ----------
        x : float
            the number
        """
        return x * x

    props = Tool.from_function(rest).parameters["properties"]
    assert isinstance(props, dict)
    assert props["city"] == {"type": "string", "description": "from Annotated"}
    assert props["unit"] == {"type": "string", "default": "c", "description": "c or f"}
    assert Tool.from_function(numpy).parameters["properties"] == {
        "x": {"type": "number", "description": "the number"}
    }


def test_a_property_called_title_survives_title_stripping() -> None:
    def post(title: str, body: str) -> str:
        return title

    params = Tool.from_function(post).parameters
    assert set(params["properties"]) == {"title", "body"}  # type: ignore[arg-type]
    assert "title" not in params


def test_valid_arguments_run_the_function_and_results_become_text() -> None:
    assert add.run('{"a": 2, "b": 3}') == ToolResult("5")
    assert add.run('{"a": 2}') == ToolResult("2")
    assert add(4, 5) == 9  # the decorated function is still callable

    @hearth.tool
    def when(day: dt.date) -> dict[str, object]:
        return {"weekday": day.strftime("%A"), "next": day + dt.timedelta(days=1)}

    assert json.loads(when.run('{"day": "2024-03-01"}').content) == {
        "weekday": "Friday",
        "next": "2024-03-02",
    }


def test_bad_arguments_become_an_error_result_naming_the_field() -> None:
    result = add.run('{"a": 2, "b": "x"}')
    assert result.is_error
    assert "tool 'add'" in result.content
    assert "b: Input should be a valid integer" in result.content
    assert "'x'" in result.content
    extra = add.run('{"a": 1, "c": 2}')
    assert extra.is_error and "c: Extra inputs are not permitted" in extra.content
    missing = add.run("{}")
    assert missing.is_error and "a: Field required" in missing.content


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"a": 1'])
def test_arguments_that_are_not_a_json_object_are_an_error_result(raw: str) -> None:
    result = add.run(raw)
    assert result.is_error
    assert "tool 'add'" in result.content
    with pytest.raises(ToolArgumentsError) as info:
        add.validate(raw)
    assert info.value.tool == "add"
    assert isinstance(info.value, InvalidRequestError)


def test_empty_arguments_mean_no_arguments() -> None:
    @hearth.tool
    def now() -> str:
        return "noon"

    assert now.run("") == ToolResult("noon")
    assert now.parameters["properties"] == {}


def test_a_failing_function_is_an_error_result_not_a_crash() -> None:
    @hearth.tool
    def boom(x: int) -> int:
        raise ZeroDivisionError("division by zero")

    assert boom.run('{"x": 1}') == ToolResult(
        "tool 'boom' failed: ZeroDivisionError: division by zero", is_error=True
    )


def test_validation_happens_before_the_function_runs() -> None:
    calls: list[int] = []

    @hearth.tool
    def record(n: Annotated[int, Field(ge=0)]) -> int:
        calls.append(n)
        return n

    assert record.run('{"n": -1}').is_error
    assert calls == []
    assert record.validate('{"n": 3}') == {"n": 3}


def test_decorator_with_options_and_positional_only_parameters() -> None:
    @hearth.tool(name="power", description="x to the n", timeout=2.5, concurrent=False)
    def pw(x: int, n: int = 2, /) -> int:
        return int(x**n)

    assert (pw.name, pw.description, pw.timeout, pw.concurrent) == (
        "power", "x to the n", 2.5, False,
    )  # fmt: skip
    assert pw.run('{"x": 3, "n": 3}') == ToolResult("27")


def test_async_functions_run_in_run_and_arun() -> None:
    @hearth.tool
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        if url == "bad":
            raise ConnectionError("no route")
        return f"got {url}"

    assert fetch.is_async
    assert fetch.run('{"url": "a"}') == ToolResult("got a")
    assert asyncio.run(fetch.arun('{"url": "b"}')) == ToolResult("got b")
    bad = asyncio.run(fetch.arun('{"url": "bad"}'))
    assert bad.is_error and "ConnectionError: no route" in bad.content

    async def inside_a_loop() -> ToolResult:
        return fetch.run('{"url": "c"}')  # sync run while an event loop is running

    assert asyncio.run(inside_a_loop()) == ToolResult("got c")


def test_arun_runs_sync_functions_in_a_worker_thread() -> None:
    seen: list[str] = []

    @hearth.tool
    def where() -> str:
        seen.append(threading.current_thread().name)
        return "ok"

    assert asyncio.run(where.arun("{}")) == ToolResult("ok")
    assert seen and seen[0] != threading.main_thread().name


def test_from_model_validates_with_the_model() -> None:
    t = as_tool(Search)
    assert t.name == "Search"
    assert t.description == "Search the web."
    assert t.parameters["required"] == ["query"]
    limit = t.parameters["properties"]["limit"]  # type: ignore[call-overload,index]
    assert limit == {"type": "integer", "default": 10, "minimum": 1, "maximum": 50}
    bad = t.run('{"query": "x", "limit": 99}')
    assert bad.is_error and "limit: Input should be less than or equal to 50" in bad.content
    # no function: the validated arguments come back as JSON
    assert json.loads(t.run('{"query": "x"}').content) == {"query": "x", "limit": 10}


def test_from_model_with_a_function_gets_the_instance() -> None:
    def search(args: Search) -> list[str]:
        """Look things up."""
        return [args.query] * args.limit

    t = Tool.from_model(Search, search)
    assert (t.name, t.description) == ("search", "Look things up.")
    assert t.run('{"query": "q", "limit": 2}') == ToolResult('["q","q"]')
    assert isinstance(t.validate('{"query": "q"}'), Search)


SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer", "minimum": 0},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["n"],
    "additionalProperties": False,
}


def test_from_schema_validates_with_jsonschema() -> None:
    t = Tool.from_schema("double", SCHEMA, lambda n, when=None: n * 2, description="Double n.")
    assert t.spec == ToolSpec("double", "Double n.", SCHEMA)
    assert t.run('{"n": 4}') == ToolResult("8")
    low = t.run('{"n": -1}')
    assert low.is_error and "$.n: -1 is less than the minimum of 0" in low.content
    assert "'n' is a required property" in t.run("{}").content
    assert "Additional properties are not allowed" in t.run('{"n": 1, "x": 2}').content
    assert "is not a 'date'" in t.run('{"n": 1, "when": "tuesday"}').content
    # no function: the arguments come back
    assert Tool.from_schema("echo", SCHEMA).run('{"n": 1}') == ToolResult('{"n":1}')


def test_an_invalid_schema_is_refused_when_the_tool_is_built() -> None:
    with pytest.raises(InvalidRequestError, match=r"not valid: .*properties/n/type"):
        Tool.from_schema("s", {"type": "object", "properties": {"n": {"type": "intger"}}})
    with pytest.raises(InvalidRequestError, match='must have "type": "object"'):
        Tool.from_schema("s", {"type": "array"})


def test_bad_names_and_variadic_functions_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="pass name="):
        Tool.from_function(lambda x: x)
    assert Tool.from_function(lambda x: x, name="ident").run('{"x": 1}') == ToolResult("1")

    def many(*args: int) -> int:
        return sum(args)

    with pytest.raises(InvalidRequestError, match=r"\*args"):
        Tool.from_function(many)


def test_untyped_and_unschemable_parameters() -> None:
    def loose(x, y: int = 1):  # type: ignore[no-untyped-def]
        return [x, y]

    assert Tool.from_function(loose).run('{"x": {"any": true}}') == ToolResult('[{"any":true},1]')

    def needs_lock(lock: threading.Lock) -> None: ...

    with pytest.raises(InvalidRequestError, match="cannot describe the parameters of needs_lock"):
        Tool.from_function(needs_lock)


def test_tools_are_immutable_and_as_tool_accepts_every_form() -> None:
    with pytest.raises(AttributeError, match="immutable"):
        add.name = "other"  # type: ignore[misc]
    assert as_tool(add) is add
    spec = ToolSpec("lookup", "Look up.", {"type": "object", "properties": {}})
    assert as_tool(spec).spec == spec
    assert as_tool(spec).run("{}") == ToolResult("{}")

    def ping() -> str:
        return "pong"

    assert as_tool(ping).run("{}") == ToolResult("pong")
    assert as_tool(Search).name == "Search"
    with pytest.raises(InvalidRequestError, match="cannot use a int as a tool"):
        as_tool(3)  # type: ignore[arg-type]


def test_tool_results_pass_through_and_models_dump_as_json() -> None:
    @hearth.tool
    def custom() -> ToolResult:
        return ToolResult("not found", is_error=True)

    @hearth.tool
    def model() -> Search:
        return Search(query="q")

    @hearth.tool
    def kind(k: Literal["a", "b"]) -> None:
        return None

    assert custom.run("{}") == ToolResult("not found", is_error=True)
    assert json.loads(model.run("{}").content) == {"query": "q", "limit": 10}
    assert kind.run('{"k": "a"}') == ToolResult("null")
    assert kind.parameters["properties"] == {"k": {"enum": ["a", "b"], "type": "string"}}


def test_string_annotations_resolve_from_the_module_and_the_closure() -> None:
    # this module has `from __future__ import annotations`: every hint below is a string
    class Box(BaseModel):
        size: int

    def pack(box: Box, search: Search | None = None) -> int:
        return Box.model_validate(box).size  # names Box, so the closure holds it

    t = Tool.from_function(pack)
    assert t.run('{"box": {"size": 3}}') == ToolResult("3")

    def unreachable(box: Box) -> None: ...  # Box is neither global nor in the closure

    with pytest.raises(InvalidRequestError, match="type hint 'Box' of unreachable's parameter"):
        Tool.from_function(unreachable)
