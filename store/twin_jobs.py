"""Survey, focus-group and fidelity jobs in Postgres, so any replica can answer a status poll and
a job outlives the process that accepted or ran it. A fidelity job's table of people is kept in
`twin_job_tables` while the job is unfinished (a poll never reads it).

A job goes queued -> running -> succeeded | failed | cancelled; a run interrupted by a shutdown
puts it back to queued. Only an unfinished job changes state, so a cancel can never be undone by
a worker that finishes late, and a finished job is never run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypedDict, cast

from psycopg.types.json import Jsonb

from store.types import Pool

JobKind = Literal["survey", "focus_group", "fidelity"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
UNFINISHED: tuple[JobState, ...] = ("queued", "running")
_COLUMNS = """id, kind, caller, state, request, model, queue_job_id, runs, done, total, result, error,
              created_at, started_at, finished_at, updated_at"""


class TwinJobRow(TypedDict):
    id: uuid.UUID
    kind: JobKind
    caller: str
    state: JobState
    request: dict[str, Any]
    model: str
    queue_job_id: int | None
    runs: int
    done: int
    total: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


async def create_job(
    pool: Pool,
    *,
    kind: JobKind,
    caller: str,
    request: Mapping[str, Any],
    model: str,
    records_csv: str | None = None,
) -> uuid.UUID:
    """A queued job; `records_csv` (a fidelity job's table) is stored with it, in one transaction."""
    job_id = uuid.uuid4()
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO twin_jobs (id, kind, caller, request, model) VALUES (%s, %s, %s, %s, %s)",
            (job_id, kind, caller, Jsonb(dict(request)), model),
        )
        if records_csv is not None:
            await conn.execute(
                "INSERT INTO twin_job_tables (job_id, records_csv) VALUES (%s, %s)", (job_id, records_csv)
            )
    return job_id


async def get_records_csv(pool: Pool, job_id: uuid.UUID) -> str | None:
    """The table stored with an unfinished job; None once it has finished (or for other kinds)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT records_csv FROM twin_job_tables WHERE job_id = %s", (job_id,))
        row = await cur.fetchone()
        return None if row is None else str(row["records_csv"])


async def set_queue_job(pool: Pool, job_id: uuid.UUID, queue_job_id: int) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE twin_jobs SET queue_job_id = %s WHERE id = %s", (queue_job_id, job_id))


async def get_job(pool: Pool, job_id: uuid.UUID) -> TwinJobRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM twin_jobs WHERE id = %s", (job_id,))
        return cast("TwinJobRow | None", await cur.fetchone())


async def mark_running(pool: Pool, job_id: uuid.UUID) -> TwinJobRow | None:
    """The job, now running (its progress starts again: a run repeats the whole job); None when
    it has finished, was cancelled, or does not exist."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""UPDATE twin_jobs SET state = 'running', started_at = COALESCE(started_at, now()),
                      runs = runs + 1, done = 0, updated_at = now()
                 WHERE id = %s AND state IN ('queued', 'running')
             RETURNING {_COLUMNS}""",
            (job_id,),
        )
        return cast("TwinJobRow | None", await cur.fetchone())


async def set_progress(pool: Pool, job_id: uuid.UUID, done: int, total: int | None) -> bool:
    """Record the run's progress; False when the job is no longer running (cancelled meanwhile)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """UPDATE twin_jobs SET done = %s, total = %s, updated_at = now()
                WHERE id = %s AND state = 'running' RETURNING id""",
            (done, total, job_id),
        )
        return await cur.fetchone() is not None


async def requeue(pool: Pool, job_id: uuid.UUID) -> None:
    """Back to queued while the task queue runs it again."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE twin_jobs SET state = 'queued', updated_at = now() WHERE id = %s AND state = 'running'",
            (job_id,),
        )


async def finish(
    pool: Pool,
    job_id: uuid.UUID,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    state: Literal["succeeded", "failed", "cancelled"] | None = None,
) -> TwinJobRow | None:
    """Succeeded with `result`, failed with `error`, or `state` as given; only an unfinished job
    changes, and its stored table goes (it never runs again). The row after the change, or None
    when the job had finished already (or is unknown)."""
    final = state or ("failed" if error is not None else "succeeded")
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""WITH finished AS (
                    UPDATE twin_jobs SET state = %s, result = %s, error = %s, finished_at = now(), updated_at = now()
                     WHERE id = %s AND state IN ('queued', 'running')
                 RETURNING {_COLUMNS}),
                 dropped AS (DELETE FROM twin_job_tables WHERE job_id IN (SELECT id FROM finished))
                SELECT * FROM finished""",
            (final, None if result is None else Jsonb(dict(result)), error, job_id),
        )
        return cast("TwinJobRow | None", await cur.fetchone())


async def queue_job_status(pool: Pool, queue_job_id: int) -> str | None:
    """The task queue's status of the job (todo, doing, failed, aborted...), None when it has no row."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status::text AS status FROM procrastinate_jobs WHERE id = %s", (queue_job_id,))
        row = await cur.fetchone()
        return None if row is None else str(row["status"])
