"""Request bodies of the studio API. Unknown fields (owner_id, id, ...) are refused with 422."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runtime.errors import ConfigError
from runtime.models import parse_model_name

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def threshold_problem(metric: str, threshold: float | None) -> str | None:
    """Why `threshold` does not fit `metric`, or None when it does (None = the metric's default)."""
    if threshold is None:
        return None
    if metric == "cosine" and not -1.0 <= threshold <= 1.0:
        return f"query_threshold {threshold:g} does not fit query_metric cosine: it is a similarity between -1 and 1"
    if metric == "euclidean" and threshold < 0:
        return f"query_threshold {threshold:g} does not fit query_metric euclidean: it is a distance >= 0"
    return None


class RagPatch(Strict):
    """`rag` of a persona update: only the keys given are merged into the stored settings, and
    the threshold is checked against the *merged* metric (in the API), not a default."""

    db_collections: list[str] = Field(default_factory=list, max_length=50)
    query_threshold: float | None = Field(None, allow_inf_nan=False)
    query_metric: Literal["cosine", "euclidean"] = "cosine"


class RagSettings(RagPatch):
    """`rag` of a new persona: complete settings, so the threshold is checked here."""

    @model_validator(mode="after")
    def _threshold_range(self) -> "RagSettings":
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


class PersonaModel(Strict):
    persona_name: str = Field(min_length=1, max_length=200)
    creator_id: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    system_prompt: str = Field("", max_length=20000)
    model: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    rag: RagSettings = Field(default_factory=RagSettings)

    _model = field_validator("model")(_check_model)


class PersonaUpdate(Strict):
    persona_name: str | None = Field(None, min_length=1, max_length=200)
    creator_id: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    system_prompt: str | None = Field(None, max_length=20000)
    model: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    rag: RagPatch | None = None

    _model = field_validator("model")(_check_model)

    @model_validator(mode="after")
    def _no_null_required(self) -> "PersonaUpdate":
        for name in ("persona_name", "creator_id", "description", "system_prompt", "rag"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ChatRequest(Strict):
    message_history_id: str | None = Field(None, max_length=100)
    content: str | None = None


class UserCreate(Strict):
    username: str
    password: str = Field(min_length=8, max_length=256)
    role: Literal["admin", "builder", "user"] = "user"

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError("username must be 3-64 letters, digits or _ . @ -")
        return value


class CollectionCreate(Strict):
    name: str
    description: str = Field("", max_length=2000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not COLLECTION_NAME.match(value):
            raise ValueError("name must be 1-64 letters, digits, _ . - and start with a letter or digit")
        return value
