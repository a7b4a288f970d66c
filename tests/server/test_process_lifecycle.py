"""`personas serve` as a process: SIGTERM and SIGINT stop everything it started (the embedded
Postgres, the embedding process); after kill -9 the next start cleans up what the dead process
left, so a later clean stop stops the server; a wrong or empty setting stops start-up with one
sentence. The chat model is a stub OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from bench.stub_openai import StubOpenAI
from runtime.embedded_pg import PIDS_FILE, postgres_pid
from runtime.local_llm import free_port
from runtime.models import make_chat_model
from runtime.settings import Settings
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def stub():
    server = StubOpenAI().start()
    yield server
    server.stop()


class Serve:
    def __init__(self, tmp_path: Path, stub: StubOpenAI, **env: str) -> None:
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.log = open(tmp_path / f"serve-{self.port}.log", "wb")
        full_env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "CHAT_MODEL": "openai:stub",
            "OPENAI_BASE_URL": stub.url,
            "OPENAI_API_KEY": "stub-key",
            "TWIN_DEMO_AUTOLOAD": "false",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"], cwd=tmp_path, env=full_env, stdout=self.log, stderr=self.log
        )

    def wait_healthy(self) -> None:
        for _ in range(1200):  # bounded by attempts, not asserted on time
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve never became healthy")

    def started(self) -> list[psutil.Process]:
        """What it started: its child processes and the embedded Postgres (a daemon, not a child)."""
        children = psutil.Process(self.proc.pid).children(recursive=True)
        pid = postgres_pid(self.data_dir / "pg")
        assert pid is not None
        postmaster = psutil.Process(pid)
        return [*children, postmaster, *postmaster.children(recursive=True)]


def _gone(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running once they had the chance to exit."""
    _, alive = psutil.wait_procs(processes, timeout=30)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_everything_the_service_started(tmp_path, stub, signum):
    serve = Serve(tmp_path, stub)
    serve.wait_healthy()
    started = serve.started()
    assert any("postgres" in p.name() for p in started)
    serve.proc.send_signal(signum)
    serve.proc.wait(timeout=120)
    assert _gone(started) == []
    assert postgres_pid(serve.data_dir / "pg") is None


def test_a_restart_after_kill_9_cleans_up_so_a_clean_stop_stops_postgres(tmp_path, stub):
    first = Serve(tmp_path, stub)
    first.wait_healthy()
    postmaster = postgres_pid(first.data_dir / "pg")
    children = psutil.Process(first.proc.pid).children(recursive=True)
    first.proc.kill()
    first.proc.wait(timeout=60)
    assert _gone(children) == []  # the embedding process and the like die with it
    pids_file = first.data_dir / "pg" / PIDS_FILE
    assert first.proc.pid in json.loads(pids_file.read_text())  # the dead process's handle is left behind
    assert postgres_pid(first.data_dir / "pg") == postmaster  # and its server still runs
    second = Serve(tmp_path, stub)
    second.wait_healthy()
    assert first.proc.pid not in json.loads(pids_file.read_text())
    started = second.started()
    second.proc.send_signal(signal.SIGTERM)
    second.proc.wait(timeout=120)
    assert _gone(started) == []
    assert postgres_pid(second.data_dir / "pg") is None


def _start_up_error(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "OPENAI_", "BO_", "CLOUD_ML"))}
    full_env.update({"DATA_DIR": str(tmp_path / "data"), "PORT": "0", "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_an_empty_setting_stops_start_up_with_one_sentence(tmp_path):
    line = _one_sentence(_start_up_error(tmp_path, BO_BUDGET_TOKENS=""))
    assert line.startswith("error: The setting BO_BUDGET_TOKENS is empty:")


def test_a_wrong_setting_value_stops_start_up_with_one_sentence(tmp_path):
    line = _one_sentence(_start_up_error(tmp_path, DATABASE_POOL_MAX="ten"))
    assert line.startswith("error: The setting DATABASE_POOL_MAX is 'ten':")


def test_each_providers_settings_are_checked_at_start_up(tmp_path):
    line = _one_sentence(_start_up_error(tmp_path, CHAT_MODEL="google_vertexai:gemini-2.5-flash"))
    assert line == "error: google_vertexai:gemini-2.5-flash needs GOOGLE_CLOUD_PROJECT (the Google Cloud project id)."
    line = _one_sentence(_start_up_error(tmp_path, CHAT_MODEL="openai:gpt-4.1"))
    assert line == "error: openai:gpt-4.1 needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)."
    line = _one_sentence(_start_up_error(tmp_path, CHAT_MODEL="openai:gpt-4.1", OPENAI_BASE_URL="localhost:8000"))
    assert "OPENAI_BASE_URL must be an http:// or https:// URL" in line


def test_vertex_without_a_location_uses_the_sdks_default_region(monkeypatch):
    for name in ("GOOGLE_CLOUD_REGION", "CLOUD_ML_REGION"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None, google_cloud_project="demo-project")
    model = make_chat_model("google_vertexai:gemini-2.5-flash", settings=settings)
    assert getattr(model, "location", None) == "us-central1"
    monkeypatch.setenv("GOOGLE_CLOUD_REGION", "europe-west4")
    model = make_chat_model("google_vertexai:gemini-2.5-flash", settings=settings)
    assert getattr(model, "location", None) == "europe-west4"


def test_sigterm_ends_another_command_through_its_clean_up(tmp_path):
    # an eval run waiting on a slow model: SIGTERM cancels it (exit 128 + 15, not a kill by the
    # signal), so its finally blocks and the services' stop run; nothing it started is left
    slow = StubOpenAI().start()
    slow.behaviour.tokens, slow.behaviour.delay = 100_000, 0.5
    try:
        data_dir = tmp_path / "data"
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "OPENAI_BASE_URL": slow.url,
            "OPENAI_API_KEY": "stub-key",
            "TWIN_DEMO_AUTOLOAD": "false",
            "PYTHONPATH": str(ROOT),
        }
        log = open(tmp_path / "eval.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "eval", "run", "chat_in_character", "--model", "openai:stub"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
        )
        for _ in range(1200):
            if slow.counters.requests or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert slow.counters.requests, (tmp_path / "eval.log").read_text()[-2000:]
        started = psutil.Process(proc.pid).children(recursive=True)
        postmaster = postgres_pid(data_dir / "pg")
        if postmaster is not None:
            started.append(psutil.Process(postmaster))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        assert proc.returncode == 128 + signal.SIGTERM
        assert _gone(started) == []
        assert postgres_pid(data_dir / "pg") is None
    finally:
        slow.stop()
