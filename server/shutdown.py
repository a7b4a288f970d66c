"""`personas serve`'s shutdown with a deadline (SHUTDOWN_GRACE_SECONDS).

On the first SIGTERM (or Ctrl-C) uvicorn stops accepting connections and lets the requests and
streams in flight run for at most the grace (`timeout_graceful_shutdown`), then cancels them
(`server.disconnect` answers those that sent nothing yet with a 503). The job worker begins to
stop at the same moment, not after the requests: it takes no new job, and its running jobs get
the same grace before procrastinate aborts them into a retry, so the next worker resumes them.
The app's shutdown then stops what the service started (the local model server, the embedding
process, the embedded Postgres).

Deployments send SIGKILL after their own grace period, which would leave the embedded Postgres
running; so if anything still holds the process `FORCE_AFTER` seconds past the grace (a thread
that ignores cancellation, a clean-up that hangs), a watchdog stops the embedded Postgres itself
and ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from types import FrameType

import uvicorn

from runtime.embedded_pg import stop_embedded_postgres
from runtime.services import Services

log = logging.getLogger("personas")

FORCE_AFTER = 4.0  # seconds past the grace before the watchdog ends the process (exit within grace + 5 s)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, with the job worker stopped alongside the requests' grace and a watchdog
    that holds the whole shutdown to the grace plus `FORCE_AFTER`."""

    def __init__(self, config: uvicorn.Config, services: Services) -> None:
        super().__init__(config)
        self.services = services
        self.grace = float(services.settings.shutdown_grace_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping_jobs: asyncio.Future[None] | None = None
        self._watchdog: threading.Timer | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._watchdog is not None:
            return
        log.info(
            "%s: taking no new work; requests, streams and running jobs have %.0f s (SHUTDOWN_GRACE_SECONDS)",
            signal.Signals(sig).name,
            self.grace,
        )
        self._watchdog = threading.Timer(self.grace + FORCE_AFTER, force_exit, args=(self.services,))
        self._watchdog.daemon = True
        self._watchdog.start()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop_jobs_now)

    def _stop_jobs_now(self) -> None:
        from use_cases.ghostwriter.batch import stop_jobs

        # the app's shutdown calls stop_jobs again, which waits for this one
        self._stopping_jobs = asyncio.ensure_future(stop_jobs(self.services))
        self._stopping_jobs.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("stopping the job worker failed", exc_info=future.exception())


def force_exit(services: Services) -> None:
    """The shutdown overran its deadline: stop the embedded Postgres (the one thing a killed
    process leaves running; the model processes die with their parent) and exit now."""
    log.error(
        "shutdown overran SHUTDOWN_GRACE_SECONDS + %.0f s: stopping the embedded Postgres and exiting", FORCE_AFTER
    )
    data_dir = services.embedded_pg_dir
    if data_dir is not None:
        try:
            stop_embedded_postgres(data_dir)
        except Exception:
            log.exception("could not stop the embedded Postgres")
    logging.shutdown()
    os._exit(128 + signal.SIGTERM)
