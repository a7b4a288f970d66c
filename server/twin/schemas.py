"""Request and response bodies of the Twin-chat API (`contracts/twin-chat-v1.md`), and the
contract's cut of the summaries they carry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from graphs.cluster_router.state import ClusterMatch, Greeting, PersonaMatch
from store.clusters import SegmentPersonaRow

CLUSTER_SUMMARY_CHARS = 150
PERSONA_SUMMARY_CHARS = 200

QueryText = Field(min_length=1, max_length=2000, description="Free-text description of the segment.")


def cluster_summary(text: str) -> str:
    """The contract's cluster summary: the first 150 characters, then '...'."""
    return text[:CLUSTER_SUMMARY_CHARS] + "..."


def persona_summary(text: str) -> str:
    """The contract's persona summary: the first 200 characters."""
    return text[:PERSONA_SUMMARY_CHARS]


class QueryClustersRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(3, ge=1, le=50, description="How many clusters to return (1 to 50).")
    min_similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Optional: return only clusters whose calibrated similarity is at least this "
        "(possibly none). The server's match threshold is TWIN_MATCH_THRESHOLD (0.115 by default).",
    )


class RefinePersonasRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(5, ge=1, le=50, description="At most this many personas (1 to 50).")


class TwinChatRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    message: str = Field(min_length=1, max_length=8000)
    session_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Keep a conversation (reuse the id) or start a new one "
        "(a new id). Omitted: the caller's latest session.",
    )


class ClusterOut(BaseModel):
    cluster_id: int
    cluster_name: str
    similarity: float
    summary: str

    @classmethod
    def of(cls, match: ClusterMatch) -> ClusterOut:
        return cls(
            cluster_id=match["cluster_id"],
            cluster_name=match["cluster_name"],
            similarity=match["similarity"],
            summary=cluster_summary(match["summary"]),
        )


class PersonaOut(BaseModel):
    persona_id: int
    persona_name: str
    gender: str
    age: str
    summary: str

    @classmethod
    def of_row(cls, row: SegmentPersonaRow) -> PersonaOut:
        return cls(
            persona_id=row["persona_id"],
            persona_name=row["name"],
            gender=row["gender"],
            age=row["age_band"],
            summary=persona_summary(row["summary"]),
        )

    @classmethod
    def of_match(cls, match: PersonaMatch) -> PersonaOut:
        return cls(
            persona_id=match["persona_id"],
            persona_name=match["persona_name"],
            gender=match["gender"],
            age=match["age"],
            summary=persona_summary(match["summary"]),
        )


class StartChatOut(BaseModel):
    persona_id: int
    persona_name: str
    cluster_name: str
    greeting: str

    @classmethod
    def of(cls, greeting: Greeting) -> StartChatOut:
        return cls(
            persona_id=greeting["persona_id"],
            persona_name=greeting["persona_name"],
            cluster_name=greeting["cluster_name"],
            greeting=greeting["greeting"],
        )


class ChatOut(BaseModel):
    persona_id: int
    reply: str
    session_id: str
