"""Surveys, focus groups and fidelity reports as background jobs: accepted now, run by a worker,
polled by id, cancelled on request, and never silently lost.

A job is a row in `twin_jobs` (what a poll reads, on any replica) and a procrastinate job
(`use_cases.task_queue`) that any worker takes: the one inside `personas serve` or a separate
`personas worker`. Progress (respondents answered out of those selected; for a fidelity report,
twins asked out of all the questions to ask) is written to the row as the run goes.

Cancelling marks the row cancelled first (a queued job then never runs) and asks the task queue
to abort a running one: its worker cancels the run, which stops its model calls; the run also
notices the cancel itself the next time it writes progress. A worker that stops hands its job
back to the queue: a survey's next run asks only the personas that had not answered (its graph
keeps each answer on a checkpointer thread of the job's own); a focus group or fidelity report
starts again (with the same seed either gives the same result). A job interrupted MAX_RUNS
times, or that the task queue lost, is failed with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast

import procrastinate
from procrastinate.job_context import AbortReason

from graphs.focus_group.graph import graph as focus_group_graph
from graphs.focus_group.state import FocusGroupInput
from graphs.segment_survey.graph import build_segment_survey
from graphs.segment_survey.state import SurveyInput
from runtime.errors import NotFoundError, ServiceError
from runtime.services import Services
from store import twin_jobs
from store.twin_jobs import JobKind, TwinJobRow
from use_cases import task_queue
from use_cases.twin import fidelity_run
from use_cases.twin.focus_group import focus_group_events
from use_cases.twin.survey import run_survey

log = logging.getLogger(__name__)

TASK = "twin_job"
MAX_RUNS = 5  # a job interrupted (shutdown, lost worker, failing model) this often is failed
RETRY_WAIT_SECONDS = 1
JOB_NOT_FOUND = "Job not found"
FAILED = "The job failed unexpectedly; submit it again."
INTERRUPTED = f"The job was interrupted {MAX_RUNS} times before it could finish; submit it again."
LOST = "The job queue lost this job before it finished; submit it again."
ALREADY_FINISHED = "The job has already {state}; there is nothing to cancel."
NOT_FIDELITY = "This is a {kind} job; only a fidelity job has a report."
NO_REPORT_YET = "The fidelity job is {state}; only a succeeded one has a report."
# the task queue's states in which it will never run the job (again)
_QUEUE_GAVE_UP = ("failed", "cancelled", "aborted")

Progress = Callable[[int, int], None]


class JobConflictError(ServiceError):
    status = 409


# ------------------------------------------------------------------------------ accepting


async def submit_job(
    services: Services,
    *,
    kind: JobKind,
    caller: str,
    request: dict[str, Any],
    model: str,
    records_csv: str | None = None,
) -> TwinJobRow:
    """Store a queued job (with a fidelity job's table) and hand it to the task queue; the stored row."""
    pool = services.pool
    job_id = await twin_jobs.create_job(
        pool, kind=kind, caller=caller, request=request, model=model, records_csv=records_csv
    )
    try:
        app = task_queue.queue_app(services)
        queue_job_id = await app.configure_task(TASK).defer_async(twin_job_id=str(job_id))
        await twin_jobs.set_queue_job(pool, job_id, queue_job_id)
    except BaseException:
        await asyncio.shield(twin_jobs.finish(pool, job_id, error=LOST))
        raise
    row = await twin_jobs.get_job(pool, job_id)
    assert row is not None
    return row


# ------------------------------------------------------------------------------ following


async def _own_job(services: Services, job_id: str, caller: str) -> TwinJobRow:
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFoundError(JOB_NOT_FOUND) from None
    row = await twin_jobs.get_job(services.pool, parsed)
    if row is None or row["caller"] != caller:  # another caller's job does not exist for this one
        raise NotFoundError(JOB_NOT_FOUND)
    return row


async def job_status(services: Services, job_id: str, caller: str) -> TwinJobRow:
    """The caller's job (404 when unknown); an unfinished job the task queue will never run again
    is failed now, so a poll never waits on it forever."""
    row = await _own_job(services, job_id, caller)
    if row["state"] in twin_jobs.UNFINISHED and row["queue_job_id"] is not None:
        queue_status = await twin_jobs.queue_job_status(services.pool, row["queue_job_id"])
        if queue_status is None or queue_status in _QUEUE_GAVE_UP:
            # read the row again: the run may have finished it between the two reads
            fresh = await twin_jobs.get_job(services.pool, row["id"])
            if fresh is not None and fresh["state"] in twin_jobs.UNFINISHED:
                log.warning("twin job %s was lost by the task queue (%s)", row["id"], queue_status)
                return await twin_jobs.finish(services.pool, row["id"], error=LOST) or fresh
            return fresh or row
    return row


async def cancel_job(services: Services, job_id: str, caller: str) -> TwinJobRow:
    """Cancel the caller's job: a queued one never runs, a running one stops. Cancelling a
    cancelled job is a no-op; a finished one is a 409."""
    row = await _own_job(services, job_id, caller)
    if row["state"] == "cancelled":
        return row
    cancelled = await twin_jobs.finish(services.pool, row["id"], state="cancelled")
    if cancelled is None:
        fresh = await _own_job(services, job_id, caller)
        if fresh["state"] == "cancelled":
            return fresh
        raise JobConflictError(ALREADY_FINISHED.format(state=fresh["state"]))
    if row["queue_job_id"] is not None:
        app = task_queue.queue_app(services)
        # todo -> cancelled (never fetched); doing -> abort requested (its worker cancels the run)
        await app.job_manager.cancel_job_by_id_async(row["queue_job_id"], abort=True)
    return cancelled


async def fidelity_report_html(services: Services, job_id: str, caller: str) -> str:
    """The report of the caller's succeeded fidelity job as an HTML page (404 when unknown, 409
    for another kind of job or one that has not succeeded)."""
    row = await job_status(services, job_id, caller)
    if row["kind"] != "fidelity":
        raise JobConflictError(NOT_FIDELITY.format(kind=row["kind"].replace("_", " ")))
    if row["state"] != "succeeded" or row["result"] is None:
        raise JobConflictError(NO_REPORT_YET.format(state=row["state"]))
    return fidelity_run.report_html(row["result"])


# ------------------------------------------------------------------------------ running


class _ProgressWriter:
    """Writes the latest (done, total) to the job's row, one write at a time (a run reports
    faster than it needs storing); learns there that the job was cancelled."""

    def __init__(self, services: Services, job_id: uuid.UUID) -> None:
        self._pool = services.pool
        self._job_id = job_id
        self._latest: tuple[int, int | None] = (0, None)
        self._written: tuple[int, int | None] | None = None
        self._changed = asyncio.Event()

    def report(self, done: int, total: int) -> None:
        self._latest = (done, total)
        self._changed.set()

    async def _write(self) -> bool:
        latest = self._latest
        if latest == self._written:
            return True
        try:
            still_running = await twin_jobs.set_progress(self._pool, self._job_id, *latest)
        except Exception:  # the database away for a moment: progress shows later, the run goes on
            log.warning("could not record the progress of twin job %s", self._job_id, exc_info=True)
            return True
        self._written = latest
        return still_running

    async def run_until_cancelled(self) -> None:
        """Returns when the job is no longer running (cancelled), else runs until cancelled."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if not await self._write():
                return

    async def flush(self) -> None:
        await self._write()


async def _run_survey(services: Services, row: TwinJobRow, progress: Progress) -> dict[str, Any]:
    """The survey on a checkpointer thread of the job's own: a run after an interruption asks
    only the personas that had not answered; the thread goes once the survey has its result."""
    request = dict(row["request"])
    method = request.pop("method", "auto")
    graph, thread_id = build_segment_survey(checkpointer=services.checkpointer), f"twin-job-{row['id']}"
    result = await run_survey(
        services,
        graph,
        cast("SurveyInput", request),
        row["model"],
        method=method,
        progress=progress,
        thread_id=thread_id,
    )
    await services.checkpointer.adelete_thread(thread_id)
    return dict(result)


async def _run_focus_group(services: Services, row: TwinJobRow, progress: Progress) -> dict[str, Any]:
    request = cast("FocusGroupInput", dict(row["request"]))
    async for event in focus_group_events(services, focus_group_graph, request, row["model"]):
        if event["type"] in ("progress", "response"):
            progress(event["done"], event["total"])
        elif event["type"] == "result":
            return dict(event["result"])
    raise ServiceError(FAILED, status=502)


async def _run_fidelity(services: Services, row: TwinJobRow, progress: Progress) -> dict[str, Any]:
    records_csv = await twin_jobs.get_records_csv(services.pool, row["id"])
    return await fidelity_run.run_stored(
        row["request"],
        records_csv,
        row["model"],
        settings=services.settings,
        embeddings=services.require_embeddings(),
        progress=progress,
    )


_RUNNERS: dict[str, Callable[[Services, TwinJobRow, Progress], Coroutine[Any, Any, dict[str, Any]]]] = {
    "survey": _run_survey,
    "focus_group": _run_focus_group,
    "fidelity": _run_fidelity,
}


async def run_job(services: Services, job_id: uuid.UUID) -> None:
    """Run a stored job to its end: its result, or nothing when it was cancelled meanwhile."""
    pool = services.pool
    row = await twin_jobs.mark_running(pool, job_id)
    if row is None:  # finished, cancelled, or gone
        return
    if row["runs"] > MAX_RUNS:
        await twin_jobs.finish(pool, job_id, error=INTERRUPTED)
        return
    writer = _ProgressWriter(services, job_id)
    work = asyncio.create_task(_RUNNERS[row["kind"]](services, row, writer.report), name=f"twin job {job_id}")
    watch = asyncio.create_task(writer.run_until_cancelled(), name=f"twin job {job_id} progress")
    try:
        await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watch):
            task.cancel()
        # the run's model calls end here, before the job is reported stopped
        await asyncio.gather(work, watch, return_exceptions=True)
    if not work.done() or work.cancelled():
        log.info("twin job %s was cancelled while it ran", job_id)
        return
    result = work.result()  # raises the run's error
    await writer.flush()
    await twin_jobs.finish(pool, job_id, result=result)


async def _after_interruption(services: Services, job_id: uuid.UUID, error: str, last_run: bool) -> None:
    if last_run:
        await twin_jobs.finish(services.pool, job_id, error=error)
    else:
        await twin_jobs.requeue(services.pool, job_id)


@task_queue.task(
    name=TASK,
    queue="twin_jobs",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=MAX_RUNS - 1, wait=RETRY_WAIT_SECONDS),
)
async def twin_job(context: procrastinate.JobContext, twin_job_id: str) -> None:
    services = task_queue.job_context_services(context)
    job_id = uuid.UUID(twin_job_id)
    last_run = context.job.attempts + 1 >= MAX_RUNS
    try:
        await run_job(services, job_id)
    except (asyncio.CancelledError, procrastinate.exceptions.JobAborted):
        if context.abort_reason() == AbortReason.USER_REQUEST:
            # the row was cancelled by the request; JobAborted (not a cancel) keeps it from a retry
            raise procrastinate.exceptions.JobAborted() from None
        # stopped with its worker: queued again for the next worker, unless this was the last run
        await asyncio.shield(_after_interruption(services, job_id, INTERRUPTED, last_run))
        raise
    except ServiceError as exc:
        if exc.status < 500 or last_run:  # a request that cannot be answered fails the same way again
            await twin_jobs.finish(services.pool, job_id, error=str(exc))
            return
        log.warning("twin job %s: run %d of %d failed: %s", job_id, context.job.attempts + 1, MAX_RUNS, exc)
        await twin_jobs.requeue(services.pool, job_id)
        raise
    except Exception:
        log.exception("twin job %s failed (run %d of %d)", job_id, context.job.attempts + 1, MAX_RUNS)
        await _after_interruption(services, job_id, FAILED, last_run)
        raise
