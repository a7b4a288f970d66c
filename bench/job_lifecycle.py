"""A survey job of every demo twin on `personas serve` with the embedded defaults (the local
model): how readiness answers while the job keeps the model busy, how long the process takes to
exit on SIGTERM in the middle of the job, and whether the next start finishes the job.

    python -m bench.job_lifecycle [--sigterm-at 30] [--grace 20]

It starts `personas serve` twice on a fresh data folder (the first start loads the demo twins
and the local model), submits `POST /twin/survey` with `"async": true` for all 180 twins, polls
`/health/ready` once a second, sends SIGTERM once `--sigterm-at` twins have answered, starts the
service again and polls the job to its end. The rate is the machine's; the figures to compare
are the readiness answers (all 200 is the target) and the exit time against the grace period.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from runtime.local_llm import free_port

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Which season of the year do you like best?"
OPTIONS = ["Spring", "Summer", "Autumn", "Winter"]


def start(data_dir: Path, port: int, grace: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "SHUTDOWN_GRACE_SECONDS": str(grace)}
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(http: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}")
        try:
            twins = http.get("/twin/cluster/11/personas")
            if http.get("/health/ready").status_code == 200 and twins.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


def follow(http: httpx.Client, url: str, until_done: int | None, ready: Counter[int]) -> dict[str, Any]:
    """Poll readiness and the job once a second until `until_done` twins answered (None: the end)."""
    while True:
        began = time.monotonic()
        try:
            ready[http.get("/health/ready", timeout=5).status_code] += 1
        except httpx.HTTPError as exc:
            ready[type(exc).__name__] += 1  # type: ignore[index]
        job = http.get(url).json()
        print(f"  {job['state']}: {job['progress']['done']}/{job['progress']['total']}", file=sys.stderr)
        if job["state"] not in ("queued", "running"):
            return job
        if until_done is not None and job["progress"]["done"] >= until_done:
            return job
        time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigterm-at", type=int, default=30, help="twins answered before SIGTERM")
    parser.add_argument("--grace", type=int, default=20, help="SHUTDOWN_GRACE_SECONDS")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="job-lifecycle-"))
    log = folder / "serve.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ready: Counter[int] = Counter()
    with httpx.Client(base_url=base, timeout=60) as http:
        proc = start(folder / "data", port, args.grace, log)
        wait_ready(http, proc)
        accepted = http.post("/twin/survey", json={"question": QUESTION, "options": OPTIONS, "async": True})
        accepted.raise_for_status()
        url = accepted.json()["status_url"]
        started = time.monotonic()
        job = follow(http, url, args.sigterm_at, ready)
        first_run = time.monotonic() - started
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=args.grace + 120)
        exit_seconds = time.monotonic() - signalled
        proc = start(folder / "data", port, args.grace, log)
        wait_ready(http, proc)
        restarted = time.monotonic()
        job = follow(http, url, None, ready)
        second_run = time.monotonic() - restarted
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=args.grace + 120)
    answers = sum(c["n_answers"] for c in (job.get("result") or {}).get("clusters", []))
    print(f"first run: {first_run:.0f} s to {args.sigterm_at} twins; readiness while busy: {dict(ready)}")
    print(f"SIGTERM mid-job: exit code {code} after {exit_seconds:.1f} s (grace {args.grace} s)")
    print(f"after the restart: job {job['state']} in {second_run:.0f} s, {answers} answers; log: {log}")


if __name__ == "__main__":
    main()
