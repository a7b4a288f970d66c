"""The ghostwriter API's error sentences, and how it words a validation problem: the first error
as `<field>: <message>`, or, for one of the contract's documented rules ("message is required"),
the rule's own sentence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import PydanticCustomError

ACCOUNT_NOT_FOUND = "Account not found"
PERSONA_NOT_FOUND = "Persona not found for this account"
PROVIDER_FAILED = "The model provider failed to generate a response"

RULE = "ghostwriter_rule"


def rule(message: str) -> PydanticCustomError:
    """The error of a documented request rule: its message is the whole 400 detail."""
    return PydanticCustomError(RULE, message)


def describe(errors: Sequence[Mapping[str, Any]]) -> str:
    """The detail of a pydantic error list (`ValidationError.errors()`), from its first error."""
    first = errors[0]
    if first["type"] == RULE:
        return str(first["msg"])
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
