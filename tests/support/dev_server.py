"""Real servers in child processes for tests: `personas serve` and the LangGraph dev server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runtime.local_llm import free_port
from tests.support.paths import ROOT

LANGGRAPH = shutil.which("langgraph", path=str(Path(sys.executable).parent))
# `make test` installs the studio extra first, so these run in CI; only a bare pytest skips them.
needs_studio = pytest.mark.skipif(
    LANGGRAPH is None, reason="the studio extra is not installed (make studio installs it)"
)


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            errors = proc.stderr.read()[-2000:] if proc.stderr else ""
            raise AssertionError(f"the server exited with {proc.returncode}: {errors}")
        try:
            httpx.get(url, timeout=5)  # any answer: the server is up (/health may say "degraded")
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


def service_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment for a child service with its own data dir (embedded Postgres) and no demo."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {**env, "DATA_DIR": str(tmp_path / "data"), "TWIN_DEMO_AUTOLOAD": "false", **extra}


@dataclass
class DevServer:
    base_url: str
    proc: subprocess.Popen


@contextmanager
def langgraph_dev(env: dict[str, str]) -> Iterator[DevServer]:
    """`langgraph dev` (blockbuster on) from the project root, answering when entered; stopped with
    Ctrl-C when the block ends normally (so the test sees a clean stop), killed otherwise."""
    assert LANGGRAPH is not None
    port = free_port()
    proc = subprocess.Popen(
        [LANGGRAPH, "dev", "--no-browser", "--no-reload", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/ok", proc)
        yield DevServer(base, proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
