"""`personas worker`: a background job worker on its own, for more job capacity than the API
processes give (every `personas serve` runs one too, unless JOBS_WORKER=false)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


async def _worker(args: argparse.Namespace) -> int:
    from runtime.services import Services
    from runtime.settings import get_settings
    from use_cases import task_queue
    from use_cases.ghostwriter import batch  # noqa: F401  (registers the batch task)
    from use_cases.twin import jobs  # noqa: F401  (registers the survey and focus-group task)

    settings = get_settings()
    services = await Services.acreate(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        # the model server is started only when the configured model is the local one
        await services.start(with_model=True, with_embeddings=False)
        worker = await task_queue.start_worker(services, name=args.name)
        print(f"Worker {args.name} is taking background jobs (Ctrl-C or SIGTERM to stop).", file=sys.stderr, flush=True)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
    finally:
        # unfinished jobs go back to the queue for another worker
        await task_queue.stop_queue(services)
        await services.stop()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="run a background job worker (persona batch jobs) and nothing else")
    worker.add_argument("--name", default="worker", help="the worker's name in logs and the job queue")
    worker.set_defaults(run=_worker)
