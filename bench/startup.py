"""Benchmark: how long `personas serve` (what `make run` runs) takes to answer `/health` 200, on a
first start (empty data directory: database created, demo twins built) and on the starts after
it, and where a later start's time goes (the service's own start-up log line).

    python -m bench.startup [--restarts 3]

Each start is the real command in a fresh process on a free port with a data directory of its
own (the embedded Postgres, the local model server and the embedding model in their processes,
as `make run` starts them). The baseline, measured in the same run, is a bare interpreter that
imports nothing of ours: what any Python service pays before its first line. Target: a later
start healthy in <= 6 s.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from runtime.local_llm import free_port

TARGET_SECONDS = 6.0
_SCRIPT = Path(sys.executable).with_name("personas")  # the console script `make run` calls
_PERSONAS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "server.cli"]


def _bare_interpreter() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - started


def _start(data_dir: Path, log_path: Path) -> tuple[float, str]:
    """Seconds from launching `personas serve` to /health 200, and its start-up report line."""
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "info"}
    env.pop("DATABASE_URL", None)
    with log_path.open("w") as log:
        started = time.monotonic()
        process = subprocess.Popen([*_PERSONAS, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = started + 600
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"personas serve exited with {process.returncode}; see {log_path}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not healthy after 600 s; see {log_path}")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    report = re.search(r"started in .*", log_path.read_text())
    return elapsed, report.group(0) if report else "(no start-up report in the log)"


def main() -> int:
    parser = argparse.ArgumentParser(description="seconds until `personas serve` is healthy")
    parser.add_argument("--restarts", type=int, default=3, help="later starts to time after the first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        bare = statistics.median(_bare_interpreter() for _ in range(3))
        print(f"bare interpreter start (baseline): {bare:.2f} s")
        first, report = _start(data_dir, Path(tmp) / "first.log")
        print(f"first start (empty data directory): healthy after {first:.1f} s ({first / bare:.0f}x the baseline)")
        print(f"  {report}")
        later: list[float] = []
        for n in range(args.restarts):
            seconds, report = _start(data_dir, Path(tmp) / f"restart-{n}.log")
            later.append(seconds)
            print(f"later start {n + 1}: healthy after {seconds:.1f} s ({seconds / bare:.0f}x the baseline)")
            print(f"  {report}")
        p50 = statistics.median(later)
        print(
            f"later starts p50 {p50:.1f} s (target <= {TARGET_SECONDS:g} s): {'met' if p50 <= TARGET_SECONDS else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
