"""A persona's card lorebook in a chat turn: the entries of the `character_book` its card brought
(kept in the persona's `attributes["card"]`, so in every version, export and bundle) that fire on
the recent messages, within the book's token budget counted with the turn model's tokenizer.

Fired entries reach the model as reference text (`nodes.reference_sources`, channel
`lorebook`): quoted data inside the marked block, under the same checks as retrieved documents.
The matching rules are `domain.lorebook`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from domain.lorebook import card_macros, fired_entries, read_book, within_budget
from graphs.persona_chat.state import LorebookEntry
from runtime.token_count import count_texts


def persona_book(state: Mapping[str, Any]) -> Any:
    """The `character_book` of the turn's persona card, None without one."""
    attributes = (state.get("persona") or {}).get("attributes") or {}
    card = attributes.get("card") if isinstance(attributes, Mapping) else None
    return card.get("character_book") if isinstance(card, Mapping) else None


async def fire_lorebook(state: Mapping[str, Any], model_name: str) -> list[LorebookEntry]:
    """The persona's lorebook entries that fire on the conversation, in insertion order."""
    book = read_book(persona_book(state))
    if book is None:
        return []
    messages = [m.text for m in state.get("messages") or [] if isinstance(m, (HumanMessage, AIMessage))]
    fired = fired_entries(book, messages)
    if not fired:
        return []
    name = str((state.get("persona") or {}).get("name") or "the character")
    contents = [card_macros(entry.content, name) for entry in fired]
    counts, _ = await count_texts(model_name, contents)
    kept = {entry.position for entry in within_budget(fired, counts, book.token_budget)}
    return [
        LorebookEntry(id=entry.entry_id, name=entry.name, content=content)
        for entry, content in zip(fired, contents, strict=True)
        if entry.position in kept
    ]
