"""Typed requests and responses of the ghostwriter API, field by field as the contract documents them.

Requests ignore unknown fields. The contract's own rules ("message is required", the
additional_instructions limit, "prompt is required") are validators whose sentence is the whole
400 detail; every other problem reads `<field>: <message>` (see `server.ghostwriter.route`).
"""

from __future__ import annotations

from datetime import timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from runtime.errors import ServiceError
from server.validation import StrictBody
from store.accounts import AccountRow
from store.batch_jobs import BatchJobRow
from store.ghostwriter import CurrentVersionRow, GhostwriterListRow, VersionRow
from use_cases.ghostwriter.accounts import Post
from use_cases.ghostwriter.chat import ChatReply, ChatRequest
from use_cases.ghostwriter.errors import rule
from use_cases.ghostwriter.personas import Analytics

MAX_INSTRUCTIONS = 2000
POST_LIMIT = Field(default=100, ge=1, le=1000, description="How many of the newest posts to analyse.")


class _Body(StrictBody):
    model_config = ConfigDict(extra="ignore")


# ---------------------------------------------------------------- path and query values


def _integer(name: str, low: int | None = None, high: int | None = None) -> BeforeValidator:
    """A path or query integer with the API's own wording ("limit must be an integer")."""

    def check(value: Any) -> int:
        try:
            number = int(value)
        except ValueError:
            raise rule(f"{name} must be an integer") from None
        if low is not None and high is not None and not low <= number <= high:
            raise rule(f"{name} must be between {low} and {high}")
        return number

    return BeforeValidator(check)


def _flag(name: str) -> BeforeValidator:
    """A query flag: true, false, 1 or 0 (any case)."""

    def check(value: Any) -> bool:
        lowered = str(value).strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise rule(f"{name} must be true or false")
        return lowered in ("true", "1")

    return BeforeValidator(check)


HistoryLimit = Annotated[int, _integer("limit", 1, 1000)]
SyncLimit = Annotated[int, _integer("limit", 1, 3200)]
Version = Annotated[int, _integer("version")]
_FLAG_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$", "default": "false"}
)
Background = Annotated[bool, _flag("background"), _FLAG_SCHEMA]
Force = Annotated[bool, _flag("force"), _FLAG_SCHEMA]


# ---------------------------------------------------------------- requests


class AccountBody(_Body):
    id: str = Field(min_length=1, max_length=64, description="The X account id.")
    handle: str = Field(min_length=1, max_length=64, description="The X handle (a leading @ is dropped).")
    display_name: str = ""
    avatar_url: str = ""
    active: bool = Field(default=True, description="Inactive accounts are left out of a batch without ids.")

    @field_validator("handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.lstrip("@")


def posts_request_body(max_posts: int) -> dict[str, Any]:
    """The OpenAPI request body of a post import (the route reads JSON or CSV itself)."""
    post = Post.model_json_schema()
    posts = {"type": "array", "items": post, "maxItems": max_posts}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "object", "properties": {"posts": posts}, "required": ["posts"]}, posts]}
            },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A header naming at least id, text and created_at, then one post per line.",
                }
            },
        },
    }


class CreateBody(_Body):
    force: bool = Field(default=False, description="Recreate even if a persona exists (adds a version).")
    post_limit: int = POST_LIMIT


class RefineBody(_Body):
    post_limit: int = POST_LIMIT


class BatchBody(_Body):
    account_ids: list[str] | None = Field(
        default=None, description="Accounts to process; null: every active account without a persona."
    )
    force: bool = Field(default=False, description="Recreate existing personas.")
    post_limit: int = POST_LIMIT


class GenerateBody(_Body):
    # Required, but checked after the other fields (so its sentence is the contract's own).
    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["prompt"]})

    prompt: Annotated[str | None, WithJsonSchema({"type": "string", "description": "Topic or direction."})] = None
    max_tokens: int = Field(default=280, ge=1, le=4000, description="Maximum tokens of the post.")

    @model_validator(mode="after")
    def _prompt_required(self) -> GenerateBody:
        if self.prompt is None or not self.prompt.strip():
            raise rule("prompt is required")
        return self


class HistoryItem(_Body):
    role: Literal["user", "assistant"]
    content: str


class Attachment(_Body):
    type: Literal["image", "file"] = Field(description='"image", or "file" for a PDF.')
    data: str = Field(min_length=1, description="A base64 data URL or an https URL.")
    mime_type: str | None = None
    filename: str | None = None


class LLMConfig(_Body):
    provider: str | None = Field(default=None, description='For example "openai" or "vertex"; null: the server\'s.')
    model: str | None = Field(default=None, description='For example "gpt-4.1"; null: the server\'s.')
    temperature: float = Field(default=0.2, ge=0.0, le=1.0)
    communication_style: Literal["academic", "professional", "balanced", "friendly", "casual"] | None = Field(
        default=None, description="A style for this reply; null: the persona's natural style."
    )
    system_prompt: str | None = Field(default=None, description="Replaces the persona's system prompt.")
    additional_instructions: str | None = Field(default=None, description="Extra instructions (max 2000 chars).")


class DataSources(_Body):
    documents: bool = Field(default=False, description="Search the shared document collections.")
    web: bool = Field(default=False, description="Search the web.")


class ChatBody(_Body):
    message: str = Field(description="The user's message.")
    conversation_history: list[HistoryItem] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    max_tokens: int = Field(default=500, ge=1, le=8000)
    stream: bool = Field(default=True, description="Server-sent events (text/plain) instead of one JSON body.")
    llm_config: LLMConfig | None = Field(default_factory=LLMConfig)
    data_sources: DataSources | None = Field(default=None, description="Retrieval; null: none.")
    include_debug: bool = Field(default=True, description="Include the retrieval tool calls.")

    @model_validator(mode="before")
    @classmethod
    def _documented_rules(cls, data: Any) -> Any:
        if isinstance(data, dict):
            message = data.get("message")
            if message is None or (isinstance(message, str) and not message.strip()):
                raise rule("message is required")
            config = data.get("llm_config")
            if isinstance(config, dict):
                extra = config.get("additional_instructions")
                if isinstance(extra, str) and len(extra) > MAX_INSTRUCTIONS:
                    raise rule(f"additional_instructions exceeds {MAX_INSTRUCTIONS} character limit")
        return data

    def check_lengths(self, max_chars: int) -> None:
        """The configured length limit (GHOSTWRITER_MAX_MESSAGE_CHARS) of the message and of
        every history message, in the wording of the contract's own limit."""
        if len(self.message) > max_chars:
            raise ServiceError(f"message exceeds {max_chars} character limit")
        for index, item in enumerate(self.conversation_history):
            if len(item.content) > max_chars:
                raise ServiceError(f"conversation_history[{index}].content exceeds {max_chars} character limit")

    def to_request(self) -> ChatRequest:
        config = self.llm_config or LLMConfig()
        sources = self.data_sources
        return ChatRequest(
            message=self.message,
            history=[(item.role, item.content) for item in self.conversation_history],
            attachments=[a.model_dump() for a in self.attachments],
            max_tokens=self.max_tokens,
            provider=config.provider,
            model=config.model,
            temperature=config.temperature,
            communication_style=config.communication_style,
            system_prompt=config.system_prompt,
            additional_instructions=config.additional_instructions,
            use_documents=bool(sources and sources.documents),
            use_web=bool(sources and sources.web),
        )


# ---------------------------------------------------------------- responses


def iso(value: Any) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AccountOut(BaseModel):
    id: str
    handle: str
    display_name: str
    avatar_url: str
    active: bool


class AccountSaved(BaseModel):
    success: bool
    account: AccountOut

    @classmethod
    def of(cls, row: AccountRow) -> AccountSaved:
        return cls(success=True, account=AccountOut.model_validate(dict(row)))


class PostsImported(BaseModel):
    success: bool
    account_id: str
    received: int
    inserted: int
    updated: int


class PersonaSummary(BaseModel):
    account_id: str
    handle: str
    display_name: str
    avatar_url: str
    persona_version: int
    posts_analyzed: int


class PersonaList(BaseModel):
    personas: list[PersonaSummary]
    total: int

    @classmethod
    def of(cls, rows: list[GhostwriterListRow]) -> PersonaList:
        personas = [
            PersonaSummary(
                account_id=r["account_id"],
                handle=r["handle"],
                display_name=r["display_name"],
                avatar_url=r["avatar_url"],
                persona_version=int(r["persona_version"] or 1),
                posts_analyzed=int((r["details"] or {}).get("posts_analyzed", 0)),
            )
            for r in rows
        ]
        return cls(personas=personas, total=len(personas))


class PersonaAnalytics(BaseModel):
    total_accounts: int
    accounts_with_personas: int
    coverage_percentage: float
    avg_persona_version: float
    avg_posts_analyzed: float

    @classmethod
    def of(cls, stats: Analytics) -> PersonaAnalytics:
        return cls(
            total_accounts=stats.total_accounts,
            accounts_with_personas=stats.accounts_with_personas,
            coverage_percentage=stats.coverage_percentage,
            avg_persona_version=stats.avg_persona_version,
            avg_posts_analyzed=stats.avg_posts_analyzed,
        )


class Persona(BaseModel):
    """A persona version as the contract shows it, with its documented defaults."""

    system_prompt: str
    version: int
    posts_analyzed: int = Field(description="Posts analysed, cumulative over the versions.")
    posts_analyzed_count: int = Field(description="Posts analysed for this version.")
    confidence_score: float = Field(description="Style similarity of generated samples to held-out posts (0-1).")
    style_traits: list[str]
    refinement_summary: str | None
    engagement_aware: bool
    avg_engagement: float
    created_at: str | None

    @classmethod
    def of(cls, row: CurrentVersionRow) -> Persona:
        details = row["details"] or {}
        return cls(
            system_prompt=row["system_prompt"],
            version=row["version"],
            posts_analyzed=int(details.get("posts_analyzed", 0)),
            posts_analyzed_count=int(details.get("posts_analyzed_count", 0)),
            confidence_score=float(details.get("confidence_score", 0.0)),
            style_traits=list(row["style_traits"] or []),
            refinement_summary=row["refinement_summary"],
            engagement_aware=bool(details.get("engagement_aware", True)),
            avg_engagement=float(details.get("avg_engagement", 0.0)),
            created_at=iso(row["created_at"]),
        )


class PersonaOut(BaseModel):
    persona: Persona


class CreatedPersona(BaseModel):
    version: int
    system_prompt: str
    posts_analyzed_count: int
    confidence_score: float
    style_traits: list[str]
    refinement_summary: str | None
    engagement_aware: bool
    avg_engagement: float


class PersonaCreated(BaseModel):
    success: bool
    persona: CreatedPersona

    @classmethod
    def of(cls, row: CurrentVersionRow) -> PersonaCreated:
        return cls(success=True, persona=CreatedPersona.model_validate(Persona.of(row).model_dump()))


class RefinedPersona(BaseModel):
    version: int
    system_prompt: str
    posts_analyzed_count: int
    confidence_score: float
    refinement_summary: str | None


class PersonaRefined(BaseModel):
    success: bool
    persona: RefinedPersona

    @classmethod
    def of(cls, row: CurrentVersionRow) -> PersonaRefined:
        return cls(success=True, persona=RefinedPersona.model_validate(Persona.of(row).model_dump()))


class HistoryVersion(BaseModel):
    version: int
    system_prompt: str
    posts_analyzed_count: int
    refinement_summary: str | None
    confidence_score: float
    created_at: str | None


class PersonaHistory(BaseModel):
    account_id: str
    versions: list[HistoryVersion]
    total_versions: int

    @classmethod
    def of(cls, account_id: str, rows: list[VersionRow], total: int) -> PersonaHistory:
        versions = [
            HistoryVersion(
                version=r["version"],
                system_prompt=r["system_prompt"],
                posts_analyzed_count=int((r["details"] or {}).get("posts_analyzed_count", 0)),
                refinement_summary=r["refinement_summary"],
                confidence_score=float((r["details"] or {}).get("confidence_score", 0.0)),
                created_at=iso(r["created_at"]),
            )
            for r in rows
        ]
        return cls(account_id=account_id, versions=versions, total_versions=total)


class RolledBack(BaseModel):
    success: bool
    message: str
    persona: Persona


class PersonaRestored(BaseModel):
    success: bool
    account_id: str
    persona_version: int = Field(description="The current version after the restore.")
    versions_imported: int


class GeneratedPostOut(BaseModel):
    success: bool
    generated_post: str
    account_id: str
    handle: str


class ChatResponse(BaseModel):
    """The non-streaming reply (`stream: false`); `tool_calls` only with `include_debug`."""

    success: bool
    response: str
    account_id: str
    handle: str
    model: str
    generation_time: float = Field(description="Seconds.")
    tool_calls: list[dict[str, Any]] | None = None
    blocked: list[dict[str, str]] | None = Field(
        default=None, description="With include_debug: the guard's blocked events ({channel, kind, action})."
    )
    fact_check: dict[str, Any] | None = Field(
        default=None,
        description="With include_debug: the fact guard's record (replies generated, problems found in the "
        "first and final reply, e.g. talking as an assistant, and what was done).",
    )

    @classmethod
    def of(cls, account_id: str, handle: str, reply: ChatReply, include_debug: bool) -> ChatResponse:
        body = cls(
            success=True,
            response=reply.text,
            account_id=account_id,
            handle=handle,
            model=reply.model,
            generation_time=reply.generation_time,
        )
        if include_debug:
            body.tool_calls = reply.tool_calls
            body.blocked = reply.blocked
            body.fact_check = reply.fact_check
        return body


class BatchSucceeded(BaseModel):
    account_id: str
    success: Literal[True]
    persona_version: int


class BatchFailed(BaseModel):
    account_id: str
    success: Literal[False]
    error: str


class BatchResult(BaseModel):
    success: bool
    message: str
    results: list[BatchSucceeded | BatchFailed]
    total: int
    successful: int
    failed: int

    @classmethod
    def of(cls, summary: dict[str, Any]) -> BatchResult:
        return cls.model_validate(summary)


class BatchAccepted(BaseModel):
    """`?background=true`: the job to poll at `status_url` (also the Location header)."""

    success: bool
    job_id: str
    status: Literal["queued"]
    status_url: str
    total: int


class JobProgress(BaseModel):
    done: int
    total: int


class BatchJob(BaseModel):
    job_id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    progress: JobProgress
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    result: dict[str, Any] | None = Field(description="Once succeeded: the body the synchronous call answers.")

    @classmethod
    def of(cls, row: BatchJobRow) -> BatchJob:
        return cls(
            job_id=str(row["id"]),
            status=row["status"],
            progress=JobProgress(done=int(row["done"]), total=int(row["total"])),
            created_at=iso(row["created_at"]),
            started_at=iso(row["started_at"]),
            finished_at=iso(row["finished_at"]),
            error=row["error"],
            result=row["result"],
        )
