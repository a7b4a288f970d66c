"""Prompt templates stored as text files in this folder, loaded by name.

Templates use `{name}` placeholders filled with values; text from users is
always a value, never template text.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache
def load_prompt(name: str) -> str:
    path = resources.files("prompts") / f"{name}.txt"
    if not path.is_file():
        raise KeyError(f"No prompt named {name!r} in prompts/")
    return path.read_text(encoding="utf-8")


def render_prompt(name: str, **values: object) -> str:
    """Fill a prompt's placeholders; values are inserted verbatim, never re-parsed."""
    return load_prompt(name).format_map({k: "" if v is None else str(v) for k, v in values.items()})
