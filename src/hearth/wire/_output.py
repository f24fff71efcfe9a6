"""What every remote format shares about structured output: grammars are for local models."""

from __future__ import annotations

from hearth.errors import UnsupportedFeatureError
from hearth.request import OutputFormat


def refuse_grammar(fmt: OutputFormat, provider: str) -> None:
    """Grammars are for local models: raise UnsupportedFeatureError for a remote one."""
    if fmt.kind in ("gbnf", "regex"):
        raise UnsupportedFeatureError(
            f"{provider} cannot constrain output with a {fmt.kind} grammar; use a JSON schema "
            "(a pydantic class or a schema dict) as response_format, or a local model"
        )
