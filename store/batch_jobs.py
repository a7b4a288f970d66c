"""Background persona batch jobs in Postgres, so any replica can answer a status poll.

The task queue (procrastinate) decides which worker runs a job and when; this table keeps what a
poll shows: status, per-account results as they complete, the summary or the error.
`heartbeat_at` is refreshed with every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.types import Pool

_COLUMNS = """id, status, total, done, results, result, error, created_at, started_at, finished_at,
              heartbeat_at, key_hash, account_ids, request"""


class BatchJobRow(TypedDict):
    id: uuid.UUID
    status: str
    total: int
    done: int
    results: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime
    key_hash: str
    account_ids: list[str]
    request: dict[str, Any]


async def create_job(pool: Pool, *, key_hash: str, request: Mapping[str, Any], account_ids: Sequence[str]) -> uuid.UUID:
    job_id = uuid.uuid4()
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO batch_jobs (id, key_hash, request, account_ids, total)
               VALUES (%s, %s, %s, %s, %s)""",
            (job_id, key_hash, Jsonb(request), Jsonb(account_ids), len(account_ids)),
        )
    return job_id


async def get_job(pool: Pool, job_id: uuid.UUID) -> BatchJobRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM batch_jobs WHERE id = %s", (job_id,))
        return cast("BatchJobRow | None", await cur.fetchone())


async def mark_running(pool: Pool, job_id: uuid.UUID) -> BatchJobRow | None:
    """The job, now running (again, when a run before this one was interrupted); None when it
    has finished already or does not exist."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""UPDATE batch_jobs SET status = 'running', started_at = COALESCE(started_at, now()),
                      heartbeat_at = now()
                 WHERE id = %s AND status IN ('queued', 'running')
             RETURNING {_COLUMNS}""",
            (job_id,),
        )
        return cast("BatchJobRow | None", await cur.fetchone())


async def requeue(pool: Pool, job_id: uuid.UUID) -> None:
    """Back to queued (its results so far kept) while the task queue runs it again."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE batch_jobs SET status = 'queued', heartbeat_at = now() WHERE id = %s AND status = 'running'",
            (job_id,),
        )


async def add_result(pool: Pool, job_id: uuid.UUID, result: Mapping[str, Any]) -> None:
    """Record one account's result (progress) and refresh the heartbeat."""
    async with pool.connection() as conn:
        await conn.execute(
            """UPDATE batch_jobs SET results = results || %s, done = done + 1, heartbeat_at = now()
                WHERE id = %s AND status = 'running'""",
            (Jsonb([result]), job_id),
        )


async def finish(
    pool: Pool, job_id: uuid.UUID, *, result: Mapping[str, Any] | None = None, error: str | None = None
) -> None:
    """Succeeded with `result`, or failed with `error` (only an unfinished job changes)."""
    status = "failed" if error is not None else "succeeded"
    async with pool.connection() as conn:
        await conn.execute(
            """UPDATE batch_jobs SET status = %s, result = %s, error = %s, finished_at = now(),
                      heartbeat_at = now()
                WHERE id = %s AND status IN ('queued', 'running')""",
            (status, None if result is None else Jsonb(result), error, job_id),
        )
