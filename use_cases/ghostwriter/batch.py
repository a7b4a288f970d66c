"""Persona batch creation: the synchronous call and background jobs polled by id.

`run_batch` drives the `persona_batch` graph (Send fan-out, BATCH_CONCURRENCY at a time) and
reports each account's result as it completes. A background job is a row in `batch_jobs` (what a
poll reads, on any replica) and a procrastinate job (`use_cases.task_queue`) that any worker takes:
a worker inside `personas serve` or a separate `personas worker` process. Each account's result is
stored as it completes; a job that runs again (its worker died or stopped, or it failed and is
retried, up to MAX_ATTEMPTS runs) builds only the accounts that have no result yet.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate

from graphs.persona_builder import BuilderContext
from graphs.persona_builder.graph import batch_graph
from graphs.persona_builder.state import BatchInput
from runtime.errors import NotFoundError
from runtime.services import Services
from store import accounts as accounts_store
from store import batch_jobs
from store import ghostwriter as gw_store
from store.batch_jobs import BatchJobRow
from store.budgets import key_hash
from use_cases import task_queue

log = logging.getLogger(__name__)

BATCH_CONCURRENCY = 4
MAX_ATTEMPTS = 3  # runs of one job: the first and two retries (a shutdown or a lost worker counts as one)
RETRY_WAIT_SECONDS = 5
TASK = "persona_batch"
FAILED = "The batch job failed unexpectedly; submit the batch again."
INTERRUPTED = "The batch job was interrupted too often before it finished; submit the batch again."
JOB_NOT_FOUND = "Batch job not found"

OnResult = Callable[[dict[str, Any]], Awaitable[None]]


async def run_batch(
    services: Services, account_ids: list[str], *, force: bool, post_limit: int, on_result: OnResult | None = None
) -> list[dict[str, Any]]:
    """One result per account, in `account_ids` order; `on_result` sees each as it completes."""
    if not account_ids:
        return []
    by_id: dict[str, dict[str, Any]] = {}
    batch = BatchInput(account_ids=account_ids, force=force, post_limit=post_limit)
    async for update in batch_graph.astream(
        batch,
        config={"max_concurrency": BATCH_CONCURRENCY},
        context=BuilderContext(services=services, model=services.settings.chat_model),
        stream_mode="updates",
    ):
        for node_update in update.values():
            for result in (node_update or {}).get("results", []):
                by_id[result["account_id"]] = result
                if on_result is not None:
                    await on_result(result)
    return [by_id[a] for a in account_ids]


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch's outcome: per-account results and counts (the body of POST /personas/batch/create)."""
    ok = sum(1 for r in results if r["success"])
    return {
        "success": True,
        "message": f"Processed {len(results)} accounts: {ok} successful, {len(results) - ok} failed",
        "results": results,
        "total": len(results),
        "successful": ok,
        "failed": len(results) - ok,
    }


async def run_job(services: Services, job_id: uuid.UUID) -> None:
    """Run (or go on with) a stored job: the accounts without a result yet, then the summary."""
    pool = services.pool
    row = await batch_jobs.mark_running(pool, job_id)
    if row is None:  # finished already, or gone
        return
    done = {r["account_id"]: r for r in row["results"]}
    account_ids: list[str] = list(row["account_ids"])
    request = row["request"]
    # A run that died after saving an account's persona but before recording it: the version it
    # saved (made since the job started) is that account's result, not a second build.
    for account_id in account_ids:
        if account_id in done:
            continue
        current = await gw_store.current_version(pool, account_id)
        if current is not None and row["started_at"] is not None and current["created_at"] >= row["started_at"]:
            result = {"account_id": account_id, "success": True, "persona_version": current["version"]}
            await batch_jobs.add_result(pool, job_id, result)
            done[account_id] = result
    await run_batch(
        services,
        [a for a in account_ids if a not in done],
        force=bool(request.get("force", False)),
        post_limit=int(request.get("post_limit", 100)),
        on_result=lambda r: batch_jobs.add_result(pool, job_id, r),
    )
    stored = await batch_jobs.get_job(pool, job_id)
    by_id = {r["account_id"]: r for r in (stored["results"] if stored else [])}
    await batch_jobs.finish(pool, job_id, result=summary([by_id[a] for a in account_ids if a in by_id]))


@task_queue.task(
    name=TASK,
    queue="persona_batch",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS - 1, wait=RETRY_WAIT_SECONDS),
)
async def persona_batch_job(context: procrastinate.JobContext, batch_job_id: str) -> None:
    services = task_queue.job_context_services(context)
    job_id = uuid.UUID(batch_job_id)
    last_attempt = context.job.attempts + 1 >= MAX_ATTEMPTS
    try:
        await run_job(services, job_id)
    except (asyncio.CancelledError, procrastinate.exceptions.JobAborted):
        # stopped with its worker: queued again for the next worker, unless this was the last run
        await asyncio.shield(_after_failure(services, job_id, INTERRUPTED, last_attempt))
        raise
    except Exception:
        log.exception("batch job %s failed (run %d of %d)", job_id, context.job.attempts + 1, MAX_ATTEMPTS)
        await _after_failure(services, job_id, FAILED, last_attempt)
        raise


async def _after_failure(services: Services, job_id: uuid.UUID, error: str, last_attempt: bool) -> None:
    if last_attempt:
        await batch_jobs.finish(services.pool, job_id, error=error)
    else:
        await batch_jobs.requeue(services.pool, job_id)


async def _accounts(services: Services, account_ids: list[str] | None) -> list[str]:
    """The accounts to build, each once: the given ids, else every active account without a persona."""
    ids = (
        account_ids if account_ids is not None else await accounts_store.active_accounts_without_persona(services.pool)
    )
    return list(dict.fromkeys(ids))


async def create_personas(
    services: Services, account_ids: list[str] | None, *, force: bool, post_limit: int
) -> dict[str, Any]:
    """Build every account's persona now; one account's failure never stops the others."""
    ids = await _accounts(services, account_ids)
    return summary(await run_batch(services, ids, force=force, post_limit=post_limit))


async def submit_job(
    services: Services, api_key: bytes, account_ids: list[str] | None, *, force: bool, post_limit: int
) -> tuple[uuid.UUID, int]:
    """Store a queued job for the accounts and defer it to the task queue; (job id, accounts)."""
    ids = await _accounts(services, account_ids)
    job_id = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(api_key), account_ids=ids, request={"force": force, "post_limit": post_limit}
    )
    app = task_queue.queue_app(services)
    await app.configure_task(TASK).defer_async(batch_job_id=str(job_id))
    return job_id, len(ids)


async def job_status(services: Services, job_id: str, api_key: bytes) -> BatchJobRow:
    """The job's row; 404 when there is no such job for this API key."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFoundError(JOB_NOT_FOUND) from None
    row = await batch_jobs.get_job(services.pool, parsed)
    if row is None or row["key_hash"] != key_hash(api_key):
        raise NotFoundError(JOB_NOT_FOUND)
    return row


async def recover_jobs(services: Services) -> None:
    """At start-up: open the task queue and, unless JOBS_WORKER=false, run a worker in this process
    (it also queues again the jobs of workers that died)."""
    await task_queue.open_queue(services)
    if services.settings.jobs_worker:
        await task_queue.start_worker(services, name="serve")


async def stop_jobs(services: Services) -> None:
    """At shutdown: stop this process's worker (its unfinished jobs go back to the queue)."""
    await task_queue.stop_queue(services)
