"""Service settings, read from the environment (and `.env`).

Every setting is listed with a one-line explanation in `.env.example`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- server
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".data")
    dev_mode: bool = Field(False, description="Enables the LangServe playgrounds.")
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per log line
    shutdown_grace_seconds: int = Field(
        20,
        ge=0,
        description="On SIGTERM, how long requests and streams in flight may still run (the job "
        "worker's running jobs too, before they go back to the queue); the process exits within "
        "this plus a few seconds.",
    )

    # --- REST mounts (empty string mounts at the root)
    twin_prefix: str = "/twin"
    studio_prefix: str = "/studio"
    ghostwriter_prefix: str = "/ghostwriter"

    # --- database
    database_url: str | None = None
    database_pool_max: int = 10
    database_connect_timeout: float = 5.0
    database_prepared_statements: bool = True
    database_pool_timeout: float = 5.0  # longest wait for a pooled connection before a 503
    database_statement_timeout: float = 20.0  # seconds a statement may run (0: no limit)
    # the embedded Postgres is checked this often and started again when it died (0: never)
    embedded_pg_supervise_seconds: float = 2.0

    # --- models
    chat_model: str = "local:smollm2"
    embedding_model: str = "local:all-minilm-l6-v2"
    embedding_dim: int = 384
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    google_cloud_project: str | None = None
    google_cloud_location: str | None = None
    model_timeout: float = 120.0
    # a model server that accepts connections but shows no progress this long is wedged (not ready)
    model_stall_seconds: float = 60.0
    # query embeddings: concurrent queries are embedded together, repeated ones come from a cache
    # 32 texts embed about as fast per text as 64 (`python -m bench.embeddings`) and hold the cores
    # half as long, so a query arriving during a batch waits less: p99/p50 at 64 clients 1.3x, not 4x
    embedding_batch_size: int = 32
    embedding_batch_wait_ms: float = 2.0
    embedding_cache_size: int = 10_000
    embedding_process: bool = True  # `personas serve` runs the local embedding model in a child process
    embedding_threads: int = 0  # threads that run a batch of the local model (0: one per core)

    # --- local llama.cpp server
    local_llm_model_path: Path | None = None
    local_llm_port: int = 0
    local_llm_threads: int = 2
    local_llm_context: int = 2048
    local_llm_start_timeout: float = 120.0

    # --- web search
    tavily_api_key: SecretStr | None = None
    tavily_base_url: str | None = None

    # --- auth
    # unset: a random secret generated once into `jwt_secret_file` (server/studio/auth.py)
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "persona-service"
    jwt_audience: str = "persona-service-api"
    jwt_ttl_minutes: int = 60
    twin_api_key: SecretStr | None = None
    bo_api_key: SecretStr | None = None
    graphs_api_key: SecretStr | None = None

    # --- X API
    x_bearer_token: SecretStr | None = None
    x_api_base_url: str = "https://api.twitter.com"

    # --- segment twins: load the bundled demo clusters on first start
    twin_demo_autoload: bool = True
    # --- segment twins: a cluster whose calibrated `similarity` is at least this matches the
    # query; below it for every cluster, the query is about no segment (chosen on the routing eval)
    twin_match_threshold: float = Field(0.115, ge=0.0, le=1.0)

    # --- ghostwriter: per-API-key token budget on /chat (None = unlimited), attachments
    bo_budget_tokens: int | None = None
    bo_budget_period: Literal["day", "week", "month"] = "day"
    # a reservation not settled by then (its process died) no longer holds the budget
    bo_budget_reservation_seconds: float = Field(900.0, gt=0)
    # chat turns running at once in this process; more are refused with 503 and Retry-After
    chat_max_concurrent: int = Field(64, ge=1)
    attachment_max_bytes: int = 10_000_000
    attachment_max_pdf_pages: int = 50
    attachment_pdf_timeout: float = 20.0
    attachment_max_pdf_chars: int = 20_000
    vision_models: str = "openai:gpt-4o*,openai:gpt-4.1*,openai:gpt-5*,google_vertexai:gemini*"
    # document collections that `data_sources.documents` searches (comma-separated; empty = all)
    ghostwriter_collections: str = ""

    # --- background jobs (procrastinate, in the same database): `personas serve` runs a worker
    # unless jobs_worker is false; `personas worker` runs one on its own
    jobs_worker: bool = True
    jobs_concurrency: int = Field(1, ge=1)  # jobs one worker runs at once
    jobs_stalled_seconds: float = Field(30.0, gt=0)  # a worker silent this long is dead: its jobs run again
    jobs_shutdown_seconds: float = Field(5.0, ge=0)  # a stopping worker waits this long, then re-queues its jobs

    # --- request limits: bodies over max_request_bytes (multipart uploads aside) answer 413;
    # ghostwriter post texts and chat messages (each history message too) have a length limit
    max_request_bytes: int = Field(33_554_432, ge=1024)
    ghostwriter_max_post_chars: int = Field(25_000, ge=1)
    ghostwriter_max_message_chars: int = Field(20_000, ge=1)

    # --- studio document uploads
    studio_max_upload_bytes: int = 20_000_000
    studio_max_pdf_pages: int = 200
    studio_chunk_size: int = 800
    studio_chunk_overlap: int = 100

    @property
    def database_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def jwt_secret_file(self) -> Path:
        """Where the generated studio JWT secret is kept when JWT_SECRET is unset (mode 0600)."""
        return self.data_dir / "jwt-secret"


def load_settings() -> Settings:
    """The environment's settings; a wrong value stops with one sentence naming the setting."""
    from runtime.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_invalid_settings(exc)) from None


def describe_invalid_settings(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = "_".join(str(part) for part in first.get("loc", ())).upper() or "a setting"
    value = first.get("input")
    shown = "empty" if value == "" else f"{str(value)[:40]!r}"
    more = exc.error_count() - 1
    others = f" (and {more} more setting{'s' if more > 1 else ''})" if more > 0 else ""
    return f"The setting {name} is {shown}: {first.get('msg', 'invalid')}; fix or unset it{others}."


@lru_cache
def get_settings() -> Settings:
    return load_settings()
