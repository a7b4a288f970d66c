"""The `personas` command line: serve, migrate, and the sub-commands of each API (`server.cli.<api>`)
and of the evals."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any

from runtime import event_loop
from runtime.errors import ConfigError
from runtime.logs import configure_logging
from runtime.settings import get_settings
from runtime.upstream import is_upstream_failure

log = logging.getLogger("personas")
_STARTED = time.monotonic()  # the command's start, for the start-up report


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from runtime.services import Services, launch_models
    from server.shutdown import GracefulServer

    settings = get_settings()
    # The model server and the embedding model load in processes of their own from here on, on
    # the other core, while this process imports the app and starts the database.
    launched = launch_models(settings)
    services = None
    try:
        from server.rest_mounts import check_rest_mounts

        check_rest_mounts(settings)  # colliding prefixes stop here, before the database starts
        host = args.host or settings.host
        port = args.port or settings.port
        # SIGTERM ends the service as Ctrl-C does, so `finally` stops the services and the embedded
        # Postgres (uvicorn handles it while serving, within SHUTDOWN_GRACE_SECONDS: server.shutdown,
        # then raises it again after its own shutdown).
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        print("Starting the database, the model and the embeddings...", file=sys.stderr, flush=True)
        imported = time.monotonic()
        services = await Services.acreate(settings, launched=launched)
        await services.start()
        ready = time.monotonic()
        from use_cases.twin.demo import ensure_demo_twins

        if await ensure_demo_twins(services):
            print("Loaded the demo segment twins (first start).", file=sys.stderr, flush=True)
        from server.app import create_app

        app = create_app(settings, services=services)
        log.info("%s", _startup_report(imported, ready, services.timings))
        print(f"Serving on http://{host}:{port} (docs at /docs, health at /health)", file=sys.stderr, flush=True)
        # no WebSocket routes: ws="none" spares importing a WebSocket library at start-up
        # log_config=None: uvicorn's lines go through the service's logging (request id, format)
        # timeout_graceful_shutdown: requests in flight at SIGTERM are cancelled after the grace
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=settings.log_level,
            log_config=None,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
        await GracefulServer(config, services).serve()
    finally:
        if services is not None:
            await services.stop()
        else:
            launched.stop()
    return 0


def _startup_report(imported: float, ready: float, timings: dict[str, float]) -> str:
    """Where the start-up's time went, for the log: this process's steps one after the other,
    and how long `start` still waited for the models, which load in their own processes."""
    t = dict(timings)
    models = [f"{name} {t.pop(name):.1f} s" for name in ("embeddings", "local model server") if name in t]
    steps = [f"imports and mount check {imported - _STARTED:.1f} s"]
    steps += [f"{name} {seconds:.1f} s" for name, seconds in t.items()]
    if models:
        steps[-1] += " while waiting for " + " and ".join(models) + " (loading since the command started)"
    steps.append(f"demo check and app {time.monotonic() - ready:.1f} s")
    return f"started in {time.monotonic() - _STARTED:.1f} s on {event_loop.loop_name()}: " + "; ".join(steps)


async def _migrate(args: argparse.Namespace) -> int:
    from runtime.services import Services

    services = await Services.acreate(get_settings())
    try:
        await services.start(with_model=False, with_embeddings=False)
        print("Migrations are up to date.")
    finally:
        await services.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personas", description="Persona agent service.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API (embedded defaults unless configured)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(run=_migrate)
    for module in (
        "server.cli.twin",
        "server.cli.studio",
        "server.cli.ghostwriter",
        "server.cli.transfer",
        "server.cli.worker",
        "evals.cli",
    ):
        importlib.import_module(module).register(sub)
    return parser


def _configure_logging() -> None:
    try:
        settings = get_settings()
        configure_logging(settings.log_level, settings.log_format)
    except (ConfigError, ValueError):  # a bad setting is reported by the command that reads it
        configure_logging()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    # SIGTERM ends any command as Ctrl-C does, so what it started is stopped (`_run_command`;
    # `serve` hands the signal to uvicorn while it serves); a plain exit runs the atexit clean-ups.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        result = args.run(args)
        if asyncio.iscoroutine(result):
            result = event_loop.run(result) if args.run is _serve else asyncio.run(_run_command(result))
        return int(result or 0)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:  # SIGTERM during a command (`_run_command`)
        return 128 + signal.SIGTERM
    except Exception as exc:
        if not is_upstream_failure(exc):
            raise
        print(f"error: {upstream_failure_message(exc)}", file=sys.stderr)
        return 1


def upstream_failure_message(exc: BaseException) -> str:
    """One line for a peer that failed mid-command: the peer's error and, on the local model,
    where its server writes what happened to it (a crash included)."""
    settings = get_settings()
    line = (
        f"the chat model or another upstream service failed to answer ({type(exc).__name__}: {str(exc).rstrip('.')})."
    )
    if settings.chat_model.startswith("local:"):
        line += f" The local model server's log: {settings.data_dir / 'local-llm.log'}."
    return line


async def _run_command(command: Coroutine[Any, Any, Any]) -> Any:
    """A command's coroutine, cancelled by SIGTERM (its `finally` blocks run), and whatever
    services it started through `ensure_services` (the local model server, the embedded
    Postgres) stopped however it ends; services that were already running are left alone."""
    from runtime.services import current_services, stop_current_services

    inherited = current_services()  # services the caller runs (an in-process caller) stay its own
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        return await command
    finally:
        if current_services() is not inherited:
            await stop_current_services()
