"""Background jobs on procrastinate, a Postgres task queue in the service's own database.

Any process that opened the queue (every API replica) can defer jobs; every process running a
worker (`personas serve` unless JOBS_WORKER=false, and `personas worker`) takes them, one row lock
per job, so a job runs once whichever replica accepted it. A job whose worker died (kill -9, a
lost machine) is found by the workers' heartbeats and queued again; a worker stopping normally
gives its unfinished jobs back to the queue (procrastinate retries a job aborted by a shutdown).

Each `Services` gets its own procrastinate `App` (its own small pool) with every task declared
here: tests run several services in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import procrastinate
from psycopg import AsyncConnection

from runtime.services import Services

log = logging.getLogger(__name__)

# The procrastinate schema is created once per database, under this advisory lock, so replicas
# starting together agree (its SQL is not idempotent).
_SCHEMA_LOCK = 0x5E55_0002
F = TypeVar("F", bound=Callable[..., Any])

# (function, procrastinate task options) of every task: each App registers its own Task objects
# (procrastinate binds a task to one app)
_tasks: list[tuple[Callable[..., Any], dict[str, Any]]] = []


class _Queue:
    def __init__(self, app: procrastinate.App) -> None:
        self.app = app
        self.worker: asyncio.Task[None] | None = None
        self.recovery: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()


_queues: dict[int, _Queue] = {}  # by id() of the Services (a dataclass: not hashable)
_stopping: dict[int, asyncio.Future[None]] = {}  # queues being stopped, by the same key


def task(*, name: str, **options: Any) -> Callable[[F], F]:
    """Declare a task (as procrastinate's `app.task` takes it) that every queue app runs."""

    def declare(func: F) -> F:
        _tasks.append((func, {"name": name, **options}))
        return func

    return declare


async def _ensure_schema(url: str) -> None:
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if row is not None and row[0]:
                return
            app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=1))
            async with app.open_async():
                await app.schema_manager.apply_schema_async()
            log.info("created the procrastinate job queue schema")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


async def open_queue(services: Services) -> procrastinate.App:
    """The services' queue app, opened (its schema created on first use)."""
    queue = _queues.get(id(services))
    if queue is not None:
        return queue.app
    settings = services.settings
    await _ensure_schema(services.database_url)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=services.database_url, min_size=1, max_size=settings.jobs_concurrency + 2
        )
    )
    for func, options in _tasks:
        app.task(**options)(func)
    await app.open_async()
    _queues[id(services)] = _Queue(app)
    return app


def queue_app(services: Services) -> procrastinate.App:
    queue = _queues.get(id(services))
    if queue is None:
        raise RuntimeError("The job queue is not open (open_queue at start-up)")
    return queue.app


async def retry_stalled_jobs(app: procrastinate.App, stalled_seconds: float) -> int:
    """Queue again the jobs whose worker stopped sending heartbeats (it died)."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds)
    for job in stalled:
        log.warning("job %s (%s) lost its worker; queued again", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(list(stalled))


async def _recover_until(stopping: asyncio.Event, app: procrastinate.App, stalled_seconds: float) -> None:
    # The event, not only a cancel, ends the loop: a cancel that lands inside a query can be
    # swallowed on its way out, and the loop must not outlive the queue.
    while not stopping.is_set():
        try:
            await retry_stalled_jobs(app, stalled_seconds)
        except Exception:  # the database may be away for a moment; try again next round
            log.warning("could not look for stalled jobs", exc_info=True)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=stalled_seconds / 2)
        except (TimeoutError, asyncio.TimeoutError):
            pass


async def start_worker(services: Services, *, name: str = "worker") -> asyncio.Task[None]:
    """Run a worker for the services' queue as a task of this event loop (stop with stop_queue)."""
    app = await open_queue(services)
    queue = _queues[id(services)]
    settings = services.settings
    stalled = settings.jobs_stalled_seconds
    queue.worker = asyncio.create_task(
        app.run_worker_async(
            concurrency=settings.jobs_concurrency,
            name=name,
            wait=True,
            install_signal_handlers=False,
            additional_context={"services": services},
            update_heartbeat_interval=max(stalled / 3, 0.5),
            stalled_worker_timeout=stalled,
            # within the service's shutdown deadline, whichever is shorter
            shutdown_graceful_timeout=min(settings.jobs_shutdown_seconds, settings.shutdown_grace_seconds),
            delete_jobs="successful",
        ),
        name="procrastinate-worker",
    )
    queue.recovery = asyncio.create_task(
        _recover_until(queue.stopping, app, stalled), name="procrastinate-stalled-jobs"
    )
    return queue.worker


async def stop_queue(services: Services) -> None:
    """Stop the worker (its unfinished jobs go back to the queue) and close the queue. Bounded: a
    worker that does not stop in time is left to the stalled-job recovery of the others. A call
    while a stop is under way (begun at SIGTERM, awaited again by the app's shutdown) waits for it."""
    key = id(services)
    stopping = _stopping.get(key)
    if stopping is None:
        queue = _queues.pop(key, None)
        if queue is None:
            return
        stopping = _stopping[key] = asyncio.ensure_future(_stop(queue, services))
        stopping.add_done_callback(lambda _: _stopping.pop(key, None))
    await asyncio.shield(stopping)


async def _stop(queue: _Queue, services: Services) -> None:
    grace = services.settings.jobs_shutdown_seconds + 5
    queue.stopping.set()
    for task in (queue.recovery, queue.worker):
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                log.warning("%s did not stop within %.0f s: %s", task.get_name(), grace, task.get_stack(limit=6))
    try:
        await asyncio.wait_for(queue.app.close_async(), timeout=grace)
    except (TimeoutError, asyncio.TimeoutError):
        log.warning("the job queue's connections did not close within %.0f s", grace)


def job_context_services(context: Any) -> Services:
    """The services a task runs with (the worker's additional context)."""
    return context.additional_context["services"]
