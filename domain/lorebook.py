"""Which entries of a character card's lorebook (`character_book`, Character Card V2 and V3) fire
on a conversation, and which of them fit the book's token budget.

Honoured, per the V2 and V3 card specs:

- `enabled`: a disabled entry never fires.
- `constant`: fires on every turn, whatever its keys.
- `keys`: fires when one of them occurs in the scanned messages (plain text containment).
- `selective` with `secondary_keys`: fires only when a primary key AND a secondary key occur.
- `case_sensitive` (or SillyTavern's `extensions.case_sensitive`): keys match case-insensitively
  unless it is true.
- scan depth: the last N messages are scanned, N from the entry's `extensions.scan_depth`
  (SillyTavern's per-entry override), else the book's `scan_depth`, else DEFAULT_SCAN_DEPTH.
  (SillyTavern's `extensions.depth` is where an entry is inserted, not how far back keys are
  looked for, so it is not read here.)
- `insertion_order`: entries are given in ascending order (lower first).
- `token_budget`: when the fired entries hold more tokens than the budget, the lowest priority
  ones are left out (`priority` when an entry has it, else `insertion_order`: the spec drops the
  lowest first), keeping the rest within budget.

Not evaluated: `use_regex` entries (a pattern from an uploaded card would run on the server;
those entries never fire), `recursive_scanning`, decorators (`@@...` lines at the start of an
entry's content are removed, not acted on) and `position` (every entry is reference text).

Pure functions: token counts come from the caller (`within_budget`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_SCAN_DEPTH = 2
DEFAULT_TOKEN_BUDGET = 512
MAX_TOKEN_BUDGET = 4096  # a book may ask for less, never for more of the prompt than this
MAX_NAME_CHARS = 80

_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(BOT|USER)>", re.IGNORECASE)
_DECORATORS = re.compile(r"\A(?:[ \t]*@@[^\n]*(?:\n|\Z))+")


def card_macros(text: str, name: str) -> str:
    """`{{char}}` (and V1's `<BOT>`) as the character's name, `{{user}}` (`<USER>`) as "the
    user", replaced as plain text in one pass: nothing in `name` is read again."""

    def replacement(match: re.Match[str]) -> str:
        which = (match.group(1) or match.group(2)).lower()
        return name if which in ("char", "bot") else "the user"

    return _MACRO.sub(replacement, text)


@dataclass(frozen=True)
class Entry:
    """One usable entry: enabled, not a regex entry, with content."""

    position: int  # index in the book's entries
    entry_id: str  # the entry's `id`, else its position
    name: str  # `name`, else `comment`, else its first key
    content: str  # without leading decorator lines
    keys: tuple[str, ...]
    secondary_keys: tuple[str, ...]
    selective: bool
    constant: bool
    case_sensitive: bool
    insertion_order: float
    priority: float | None
    scan_depth: int | None


@dataclass(frozen=True)
class Book:
    entries: tuple[Entry, ...]
    scan_depth: int
    token_budget: int


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _depth(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _keys(value: Any) -> tuple[str, ...]:
    """A key list; a comma-separated string (some tools write one) counts too."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(key.strip() for key in items if isinstance(key, str) and key.strip())


def _entry(raw: Any, position: int) -> Entry | None:
    if not isinstance(raw, Mapping) or raw.get("enabled", True) is False or raw.get("use_regex") is True:
        return None
    content = raw.get("content")
    if not isinstance(content, str):
        return None
    content = _DECORATORS.sub("", content).strip()
    if not content:
        return None
    found = raw.get("extensions")
    extensions: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    keys = _keys(raw.get("keys"))
    case_sensitive = raw.get("case_sensitive")
    if not isinstance(case_sensitive, bool):
        case_sensitive = extensions.get("case_sensitive") is True
    label = next(
        (str(v).strip() for v in (raw.get("name"), raw.get("comment")) if isinstance(v, str) and v.strip()),
        keys[0] if keys else f"entry {position}",
    )
    raw_id = raw.get("id")
    return Entry(
        position=position,
        entry_id=str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else str(position),
        name=" ".join(label.split())[:MAX_NAME_CHARS],
        content=content,
        keys=keys,
        secondary_keys=_keys(raw.get("secondary_keys")),
        selective=raw.get("selective") is True,
        constant=raw.get("constant") is True,
        case_sensitive=case_sensitive,
        insertion_order=_number(raw.get("insertion_order")) or 0.0,
        priority=_number(raw.get("priority")),
        scan_depth=_depth(extensions.get("scan_depth")),
    )


def read_book(raw: Any) -> Book | None:
    """A card's `character_book` as far as chat needs it; None when there is no usable entry.
    Lenient: entries of the wrong shape are skipped, not refused (the card was accepted on import)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("entries"), list):
        return None
    entries = tuple(e for i, item in enumerate(raw["entries"]) if (e := _entry(item, i)) is not None)
    if not entries:
        return None
    scan_depth = _depth(raw.get("scan_depth"))
    budget = _number(raw.get("token_budget"))
    return Book(
        entries=entries,
        scan_depth=DEFAULT_SCAN_DEPTH if scan_depth is None else scan_depth,
        token_budget=DEFAULT_TOKEN_BUDGET if budget is None or budget <= 0 else min(int(budget), MAX_TOKEN_BUDGET),
    )


def _occurs(keys: Sequence[str], text: str, folded: str, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(key in text for key in keys)
    return any(key.casefold() in folded for key in keys)


def fires(entry: Entry, messages: Sequence[str], book_depth: int) -> bool:
    """Whether `entry` fires on `messages` (the conversation, oldest first)."""
    if entry.constant:
        return True
    depth = book_depth if entry.scan_depth is None else entry.scan_depth
    if depth <= 0 or not entry.keys:
        return False
    text = "\n".join(messages[-depth:])
    folded = text.casefold()
    if not _occurs(entry.keys, text, folded, entry.case_sensitive):
        return False
    if entry.selective and entry.secondary_keys:
        return _occurs(entry.secondary_keys, text, folded, entry.case_sensitive)
    return True


def fired_entries(book: Book, messages: Sequence[str]) -> list[Entry]:
    """The entries that fire on `messages`, by insertion_order (lower first, then book order)."""
    found = [entry for entry in book.entries if fires(entry, messages, book.scan_depth)]
    return sorted(found, key=lambda e: (e.insertion_order, e.position))


def within_budget(entries: Sequence[Entry], tokens: Sequence[int], budget: int) -> list[Entry]:
    """The entries kept within `budget` tokens (`tokens[i]` is entry i's count): taken from the
    highest priority down (priority, else insertion_order; ties in book order) until the next one
    would not fit; returned by insertion_order."""

    def rank(i: int) -> tuple[float, int]:
        entry = entries[i]
        return (-(entry.insertion_order if entry.priority is None else entry.priority), i)

    ranked = sorted(range(len(entries)), key=rank)
    kept: list[int] = []
    used = 0
    for i in ranked:
        if used + tokens[i] > budget:
            break
        kept.append(i)
        used += tokens[i]
    return [entries[i] for i in sorted(kept, key=lambda i: (entries[i].insertion_order, entries[i].position))]
