"""Checks of the values an imported file holds; each refusal names where the value is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from runtime.errors import ConfigError, ServiceError
from runtime.models import parse_model_name
from use_cases.portable.card import MAX_PROMPT_CHARS

MAX_VERSIONS = 1000
Version = TypeVar("Version")


def text(value: Any, where: str, *, required: bool = False, limit: int = MAX_PROMPT_CHARS) -> str:
    """A string ("" for a missing optional one) of at most `limit` characters."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ServiceError(f"{where} must be a string")
    if required and not value.strip():
        raise ServiceError(f"{where} is missing")
    if len(value) > limit:
        raise ServiceError(f"{where} is longer than {limit} characters")
    return value


def model_name(value: Any, where: str) -> str | None:
    """None, or a `provider:model` of a known provider."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ServiceError(f"{where} must be a string like provider:model")
    try:
        parse_model_name(value)
    except ConfigError as exc:
        raise ServiceError(f"{where}: {exc}") from None
    return value


def temperature(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 2.0:
        raise ServiceError(f"{where} must be a number from 0 to 2")
    return float(value)


MAX_FACTS = 40
MAX_FACT_KEY_CHARS = 40


def facts(value: Any, where: str) -> dict[str, str | int | bool]:
    """Declared persona facts, as the studio API takes them: an object of at most 40 plain values
    (string, integer or boolean) under names of 1 to 40 characters; null values are left out."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_FACTS:
        raise ServiceError(f"{where} must be an object of at most {MAX_FACTS} facts")
    out: dict[str, str | int | bool] = {}
    for key, fact in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_FACT_KEY_CHARS:
            raise ServiceError(f"{where}: a fact's name must be 1 to {MAX_FACT_KEY_CHARS} characters")
        if fact is None:
            continue
        if isinstance(fact, float) or not isinstance(fact, (str, int, bool)):
            raise ServiceError(f"{where}.{key} must be a string, an integer or true/false")
        out[key] = fact
    return out


def version_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise ServiceError(f"{where} must be a positive integer")
    return value


def timestamp(value: Any, where: str) -> datetime | None:
    """None, or an ISO 8601 time with its zone."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(f"{where} must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ServiceError(f"{where} must name its time zone (e.g. end with Z)")
    return parsed


def utc_text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def bundle_versions(
    bundle: dict[str, Any], parse: Callable[[Any, int], Version], number: Callable[[Version], int]
) -> tuple[list[Version], int]:
    """A bundle's versions, each checked by `parse(raw, index)`, in version order, and its current
    version (`number` reads a parsed version's number)."""
    raw = bundle.get("versions")
    if not isinstance(raw, list) or not raw:
        raise ServiceError("The bundle has no versions")
    if len(raw) > MAX_VERSIONS:
        raise ServiceError(f"The bundle has more than {MAX_VERSIONS} versions")
    versions = [parse(item, i) for i, item in enumerate(raw)]
    numbers = [number(v) for v in versions]
    if len(set(numbers)) != len(numbers):
        raise ServiceError("The bundle's version numbers repeat")
    current = bundle.get("current_version")
    if isinstance(current, bool) or current not in numbers:
        raise ServiceError(f"The bundle's current_version {str(current)[:20]} is not one of its versions")
    return sorted(versions, key=number), int(current)
