"""Prompt templates stored as text files in this folder, loaded by name.

Templates use `{name}` placeholders filled with values; text from users is
always a value, never template text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

# Prompt texts that replace files of this folder for the current context only
# (the eval runner's `--prompt NAME=FILE`); tasks started inside inherit them.
_NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})
_overrides: ContextVar[Mapping[str, str]] = ContextVar("prompt_overrides", default=_NO_OVERRIDES)


@contextmanager
def override_prompts(texts: Mapping[str, str]) -> Iterator[None]:
    """Within the block, `load_prompt(name)` returns `texts[name]` for the names given;
    every name must be an existing prompt."""
    for name in texts:
        _load_file(name)  # raises KeyError for an unknown prompt
    token = _overrides.set({**_overrides.get(), **texts})
    try:
        yield
    finally:
        _overrides.reset(token)


@lru_cache
def _load_file(name: str) -> str:
    path = resources.files("prompts") / f"{name}.txt"
    if not path.is_file():
        raise KeyError(f"No prompt named {name!r} in prompts/")
    return path.read_text(encoding="utf-8")


def load_prompt(name: str) -> str:
    override = _overrides.get().get(name)
    return override if override is not None else _load_file(name)


def render_prompt(name: str, **values: object) -> str:
    """Fill a prompt's placeholders; values are inserted verbatim, never re-parsed."""
    return load_prompt(name).format_map({k: "" if v is None else str(v) for k, v in values.items()})
