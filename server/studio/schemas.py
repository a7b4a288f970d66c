"""Request and response bodies of the studio API. Unknown request fields (owner_id, id, ...)
are refused with 422; each request model turns itself into its service's input."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from runtime.errors import ConfigError
from runtime.models import PROVIDER_ALIASES, known_providers, parse_model_name
from server.validation import StrictBody
from store.studio import StudioPersonaRow
from store.versions import StudioVersionRow
from use_cases.portable.values import MAX_FACT_KEY_CHARS, MAX_FACTS
from use_cases.studio.personas import NewPersona, PersonaChanges
from use_cases.studio.rag import threshold_problem

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")


class Strict(StrictBody):
    model_config = ConfigDict(extra="forbid")


def _model_name_schema() -> dict[str, Any]:
    """What `model` accepts, for OpenAPI: `provider:model` with a known provider, or null."""
    providers = sorted({*known_providers(), *PROVIDER_ALIASES})
    pattern = "^(" + "|".join(re.escape(p) for p in providers) + "):\\S"
    return {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}], "default": None}


MODEL_NAME = WithJsonSchema(_model_name_schema())


def _not_nullable(*names: str) -> Callable[[dict[str, Any]], None]:
    """OpenAPI for fields an update may leave out but not set to null (a 422)."""

    def edit(schema: dict[str, Any]) -> None:
        for name in names:
            field = schema["properties"][name]
            field.pop("default", None)
            if "anyOf" in field:
                branches = [b for b in field.pop("anyOf") if b.get("type") != "null"]
                field.update(branches[0] if len(branches) == 1 else {"anyOf": branches})

    return edit


class RagPatch(Strict):
    """`rag` of a persona update: only the keys given are merged into the stored settings, and
    the threshold is checked against the *merged* metric (`use_cases.studio.rag.merge_rag`), not a default."""

    db_collections: list[str] = Field(default_factory=list, max_length=50)
    query_threshold: float | None = Field(None, allow_inf_nan=False)
    query_metric: Literal["cosine", "euclidean"] = "cosine"


class RagSettings(RagPatch):
    """`rag` of a new persona: complete settings, so the threshold is checked here."""

    @model_validator(mode="after")
    def _threshold_range(self) -> RagSettings:
        problem = threshold_problem(self.query_metric, self.query_threshold)
        if problem:
            raise ValueError(problem)
        return self


def _check_model(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_model_name(value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return value


# Declared facts the chat's fact guard holds replies to (graphs/persona_chat/facts.py names the keys
# it checks: age, age_band, gender, location, household, children, education, income_band,
# credit_tier, homeowner, auto_loans, occupation...); optional, stored with the version.
PersonaFacts = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=MAX_FACT_KEY_CHARS)], str | int | bool | None],
    Field(max_length=MAX_FACTS),
]


class PersonaModel(Strict):
    persona_name: str = Field(min_length=1, max_length=200)
    creator_id: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    system_prompt: str = Field("", max_length=20000)
    model: Annotated[str | None, MODEL_NAME] = None
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    rag: RagSettings = Field(default_factory=RagSettings)
    facts: PersonaFacts | None = None

    _model = field_validator("model")(_check_model)

    def new_persona(self) -> NewPersona:
        return NewPersona(
            name=self.persona_name,
            creator_id=self.creator_id,
            description=self.description,
            system_prompt=self.system_prompt,
            model=self.model,
            temperature=self.temperature,
            rag=self.rag.model_dump(),
            facts={k: v for k, v in (self.facts or {}).items() if v is not None},
        )


class PersonaUpdate(Strict):
    model_config = ConfigDict(
        json_schema_extra=_not_nullable("persona_name", "creator_id", "description", "system_prompt", "rag")
    )

    persona_name: str | None = Field(None, min_length=1, max_length=200)
    creator_id: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    system_prompt: str | None = Field(None, max_length=20000)
    model: Annotated[str | None, MODEL_NAME] = None
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    rag: RagPatch | None = None
    facts: PersonaFacts | None = None  # replaces the declared facts ({} or null: none)

    _model = field_validator("model")(_check_model)

    @model_validator(mode="after")
    def _no_null_required(self) -> PersonaUpdate:
        for name in ("persona_name", "creator_id", "description", "system_prompt", "rag"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> PersonaChanges:
        """Only the fields the request gave (and of `rag`, only the keys it gave)."""
        return cast(PersonaChanges, self.model_dump(exclude_unset=True))


class ChatRequest(Strict):
    message_history_id: str | None = Field(None, max_length=100)
    content: str | None = None


class UserCreate(Strict):
    username: str = Field(json_schema_extra={"pattern": USERNAME.pattern})
    password: str = Field(min_length=8, max_length=256)
    role: Literal["admin", "builder", "user"] = "user"

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError("username must be 3-64 letters, digits or _ . @ -")
        return value


class CollectionCreate(Strict):
    name: str = Field(json_schema_extra={"pattern": COLLECTION_NAME.pattern})
    description: str = Field("", max_length=2000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not COLLECTION_NAME.match(value):
            raise ValueError("name must be 1-64 letters, digits, _ . - and start with a letter or digit")
        return value


# ---------------------------------------------------------------- responses


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user_id: str
    role: str
    expires_in: int = Field(description="seconds until the token expires")


class UserCreated(BaseModel):
    id: str
    username: str
    role: str


class Message(BaseModel):
    message: str


class PersonaCreated(Message):
    persona_id: str
    persona_name: str


class HistoryMessage(BaseModel):
    role: str
    content: str
    created_at: str


class History(BaseModel):
    id: str
    title: str
    description: str
    messages: list[HistoryMessage]
    created_at: str


class MessageHistory(BaseModel):
    persona_id: str
    messages: list[History]


class RagHit(BaseModel):
    """The best document chunk the reply drew on; every field "" and success "false" on a miss."""

    file_name: str
    doc_path: str
    document_string: str
    euclidean_distance: str
    cosine_similarity: str
    success: str


class LorebookHit(BaseModel):
    """A lorebook entry of the persona's character card that fired on this turn."""

    id: str = Field(description="the entry's id in the card's character_book, else its index there")
    name: str = Field(description="the entry's name or comment, else its first key")


class ChatReply(BaseModel):
    persona_id: str
    message_history_id: str
    response: str
    rag_hit: RagHit
    lorebook: list[LorebookHit] = Field(
        default_factory=list, description="the card lorebook entries that reached the model this turn"
    )


class CollectionCreated(BaseModel):
    name: str
    description: str
    owner_id: str


class CollectionSummary(CollectionCreated):
    documents: int
    chunks: int


class Collections(BaseModel):
    collections: list[CollectionSummary]


class CollectionDeleted(Message):
    collection: str
    documents: int
    chunks: int


class DocumentStored(BaseModel):
    collection: str
    file_name: str
    doc_path: str
    chunks: int


class DocumentSummary(BaseModel):
    doc_path: str
    file_name: str
    chunks: int
    uploaded_at: str


class Documents(BaseModel):
    collection: str
    documents: list[DocumentSummary]


class DocumentDeleted(Message):
    collection: str
    doc_path: str
    chunks: int


class RagOut(BaseModel):
    db_collections: list[str] = Field(default_factory=list)
    query_threshold: float | None = None
    query_metric: str = "cosine"


class VersionOut(BaseModel):
    """One version: every setting it ran with, who made it, when, and what it changed."""

    version: int
    persona_name: str
    description: str
    system_prompt: str
    model: str | None
    temperature: float | None
    rag: RagOut
    created_by: str | None
    created_at: str
    changes: list[str] = Field(
        description='what this version changed: field names, "created" or "imported" for a first version'
    )

    @classmethod
    def of(cls, row: StudioVersionRow) -> VersionOut:
        return cls(
            version=row["version"],
            persona_name=row["name"],
            description=row["description"],
            system_prompt=row["system_prompt"],
            model=row["model"],
            temperature=row["temperature"],
            rag=RagOut(**((row["attributes"] or {}).get("rag") or {})),
            created_by=row["created_by"],
            created_at=utc_text(row["created_at"]),
            changes=row["changes"],
        )


class Versions(BaseModel):
    persona_id: str
    versions: list[VersionOut] = Field(description="newest first")
    total_versions: int


class StudioPersona(BaseModel):
    """A persona's current settings."""

    persona_id: str
    persona_name: str
    creator_id: str | None
    description: str
    system_prompt: str
    model: str | None
    temperature: float | None
    rag: RagOut
    facts: dict[str, str | int | bool] = Field(description="declared facts the chat's fact guard holds replies to")
    version: int

    @classmethod
    def of(cls, row: StudioPersonaRow) -> StudioPersona:
        return cls(
            persona_id=str(row["id"]),
            persona_name=row["name"],
            creator_id=row["owner_id"],
            description=row["description"],
            system_prompt=row["system_prompt"],
            model=row["model"],
            temperature=row["temperature"],
            rag=RagOut(**((row["attributes"] or {}).get("rag") or {})),
            facts=(row["attributes"] or {}).get("facts") or {},
            version=row["current_version"],
        )


class RolledBack(Message):
    persona: StudioPersona


class PersonaImported(BaseModel):
    persona_id: str
    persona_name: str
    versions_imported: int
    format: str = Field(description="what the file was: card_v3, card_v2, card_v1 or bundle")
    png: bool = Field(description="the card came inside a PNG")
    warnings: list[str] = Field(description="what could not be imported as it was, e.g. unknown collections")


def utc_text(value: datetime) -> str:
    """A timestamp as ISO 8601 with a Z for UTC, as the contract's examples write it."""
    return value.isoformat().replace("+00:00", "Z")
