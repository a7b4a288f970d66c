"""Embedded PostgreSQL 16 + pgvector from the `pgserver` wheel.

The data folder survives restarts. pgserver keeps one server per data folder
and stops it when the last process using it exits.
"""

from __future__ import annotations

from pathlib import Path

from runtime.errors import ConfigError


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server for `data_dir`; return its URL."""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "DATABASE_URL is not set and the embedded Postgres (pgserver) is not installed; "
            "install the 'local' extra or set DATABASE_URL."
        ) from exc
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    except Exception as exc:
        raise ConfigError(f"The embedded Postgres in {data_dir} could not start: {exc}") from exc
    return server.get_uri()
