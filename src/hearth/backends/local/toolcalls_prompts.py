"""The text that tells a local model which tools it has and how to call them. Pure.

* :func:`hermes_tool_prompt` — the Hermes / Qwen system text: the tools as JSON inside
  ``<tools></tools>`` and the ``<tool_call>{"name": …, "arguments": …}</tool_call>`` format. Used
  by the built-in ChatML template, by model templates that ignore ``tools``, and by constrained
  decoding for models with no tool syntax of their own (SmolLM2).
* :func:`gemma_tool_prompt` — the preamble of Google's Gemma function-calling guide: calls written
  as Python in ````tool_code```` blocks, results given back in ````tool_output```` blocks, and the
  tools listed as Python function stubs with docstrings.
* :func:`answer_format_rule` — how to describe a ``response_format`` to a model that may also
  call tools: what its answer must be when it does not call one.
* :func:`openai_tools` — the tools as the OpenAI-style dicts Hugging Face chat templates take.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hearth.messages import JsonObject, JsonValue
from hearth.request import OutputFormat, ToolSpec


def openai_tools(tools: Sequence[ToolSpec]) -> list[JsonObject]:
    """``[{"type": "function", "function": {"name", "description", "parameters"}}, …]``."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def hermes_tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """System text listing ``tools`` as JSON and asking for ``<tool_call>`` JSON calls."""
    listed = "\n".join(json.dumps(t, ensure_ascii=False) for t in openai_tools(tools))
    return (
        "# Tools\n\n"
        "You may call one or more functions to help with the user's request.\n\n"
        "The functions you can call are described as JSON inside <tools></tools> XML tags:\n"
        f"<tools>\n{listed}\n</tools>\n\n"
        "To call a function, write a JSON object with the function's name and its arguments "
        "inside <tool_call></tool_call> XML tags, one pair of tags per call:\n"
        "<tool_call>\n"
        '{"name": <function-name>, "arguments": <arguments-json-object>}\n'
        "</tool_call>"
    )


def answer_format_rule(fmt: OutputFormat) -> str:
    """The end of a sentence "your answer must be …" describing ``fmt``."""
    if fmt.kind == "json_schema" and fmt.schema is not None:
        schema = json.dumps(fmt.schema, ensure_ascii=False)
        return f"only JSON that matches this JSON schema, nothing else:\n{schema}"
    if fmt.kind in ("json", "json_schema"):
        return "only a JSON object, nothing else."
    if fmt.kind == "regex":
        return f"only text that matches this regular expression: {fmt.grammar}"
    return f"only text that matches this grammar:\n{fmt.grammar}"


# --- Gemma --------------------------------------------------------------------------------------

_PY_TYPES: dict[str, str] = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
    "object": "dict",
    "array": "list",
}


def _py_type(schema: JsonValue) -> str:
    """A JSON schema as a Python type annotation (the gist of it; the docstring says more)."""
    if not isinstance(schema, dict):
        return "Any"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return "Literal[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in enum) + "]"
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return " | ".join(dict.fromkeys(_py_type(o) for o in options))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(dict.fromkeys(_PY_TYPES.get(str(k), "Any") for k in kind))
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"list[{_py_type(schema['items'])}]"
    return _PY_TYPES.get(str(kind), "Any")


def _gemma_stub(tool: ToolSpec) -> str:
    properties = tool.parameters.get("properties")
    props = properties if isinstance(properties, dict) else {}
    required_list = tool.parameters.get("required")
    required = set(required_list) if isinstance(required_list, list) else set()
    params = [f"{name}: {_py_type(s)}" for name, s in props.items() if name in required]
    params += [f"{name}: {_py_type(s)} = None" for name, s in props.items() if name not in required]
    lines = [f"def {tool.name}({', '.join(params)}):", '    """' + (tool.description or tool.name)]
    described = [(name, s.get("description")) for name, s in props.items() if isinstance(s, dict)]
    if any(isinstance(text, str) and text for _, text in described):
        lines += ["", "    Args:"]
        lines += [f"      {name}: {text or ''}".rstrip() for name, text in described]
    lines.append('    """')
    return "\n".join(lines)


def gemma_tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """Gemma's function-calling preamble: the ``tool_code`` instructions and the tools."""
    stubs = "\n\n".join(_gemma_stub(tool) for tool in tools)
    return (
        "At each turn, if you decide to call any of the functions below, write the call as "
        "Python wrapped in ```tool_code```, giving every argument as name=value with literal "
        "values. Only the functions defined below are available; do not use any other. "
        "The result of a call is given back wrapped in ```tool_output```; use it to call more "
        "functions or to write a helpful, friendly answer.\n\n"
        "The following Python functions are available:\n\n"
        f"```python\n{stubs}\n```"
    )


def llama3_tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """Llama 3's JSON tool-calling text: the tools as JSON, calls as ``{"name", "parameters"}``."""
    listed = "\n\n".join(json.dumps(t, indent=4, ensure_ascii=False) for t in openai_tools(tools))
    return (
        "You have access to the following functions. To call a function, respond with a JSON "
        'object of the form {"name": function name, "parameters": dictionary of argument name '
        "and its value}. Do not use variables. Answer in plain text when no function is "
        f"needed.\n\n{listed}"
    )
