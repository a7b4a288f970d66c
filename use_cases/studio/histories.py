"""A user's message histories with a studio persona: list them, open one for a turn, title a
new one, and save a finished turn. A history is a conversation row plus its messages; the
graph's checkpointer thread of the same id holds the model's memory of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from runtime.errors import NotFoundError
from store import studio as studio_store
from store.conversations import append_messages, create_conversation, get_conversation
from store.studio import HistoryRow
from store.types import Pool
from use_cases.studio.access import CurrentUser
from use_cases.studio.personas import find_persona

HISTORY_NOT_FOUND = "Message history not found"


@dataclass(frozen=True)
class PersonaHistories:
    persona_id: int
    histories: list[HistoryRow]


@dataclass(frozen=True)
class OpenHistory:
    id: str
    new: bool  # its id was made for this turn: nothing is stored until the turn succeeds


async def list_histories(pool: Pool, user: CurrentUser, raw_persona_id: str) -> PersonaHistories:
    """The caller's histories with a persona, oldest first, each with its messages."""
    row = await find_persona(pool, raw_persona_id)
    return PersonaHistories(row["id"], await studio_store.list_histories(pool, row["id"], user.id))


async def open_history(pool: Pool, user: CurrentUser, persona_id: int, history_id: str | None) -> OpenHistory:
    """The caller's history with this persona (another user's, or another persona's, is not
    found), or a new id when none is given."""
    if not history_id:
        return OpenHistory(uuid.uuid4().hex, new=True)
    history = await get_conversation(pool, history_id)
    if history is None or history["owner_id"] != user.id or history["persona_id"] != persona_id:
        raise NotFoundError(HISTORY_NOT_FOUND)
    return OpenHistory(history_id, new=False)


def history_title(first_message: str) -> tuple[str, str]:
    """(title, description) of a new history, from its first message."""
    text = " ".join(first_message.split())
    words = text.split(" ")
    title = " ".join(words[:8])
    if len(title) > 60:
        title = title[:57].rstrip() + "..."
    elif len(words) > 8:
        title += "..."
    description = f"A conversation that began with: {text[:160]}{'...' if len(text) > 160 else ''}"
    return title, description


async def save_turn(
    pool: Pool,
    user: CurrentUser,
    persona_id: int,
    history: OpenHistory,
    *,
    question: str,
    reply: str,
    rag_hit: dict[str, str],
) -> None:
    """Store a finished turn; a new history is created (titled by its first message) first."""
    if history.new:
        title, description = history_title(question)
        await create_conversation(
            pool,
            conversation_id=history.id,
            persona_id=persona_id,
            owner_id=user.id,
            title=title,
            description=description,
        )
    await append_messages(pool, history.id, [("user", question, {}), ("assistant", reply, {"rag_hit": rag_hit})])
