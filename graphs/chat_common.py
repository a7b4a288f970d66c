"""Small helpers shared by the persona_chat nodes."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.config import get_stream_writer


def last_user_text(state: dict[str, Any]) -> str:
    """The latest human message of the conversation ("" when there is none)."""
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return message.text.strip()
    return ""


def emit_progress(text: str) -> None:
    """A `custom` progress event ("Searching documents..."); a no-op outside a graph run."""
    try:
        get_stream_writer()({"type": "progress", "content": text})
    except RuntimeError:
        pass
