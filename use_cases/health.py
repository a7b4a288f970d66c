"""The service's health: is the database answering, the chat model reachable, the embeddings
loaded? Each check gives (ok, one short detail that names no secret). The report also carries
the query embeddings' counters (cache hit rate, batch sizes) and the prompt guard's blocked events
since start (by channel and kind).

Readiness (`check_readiness`) asks the database and the model server only. Both it and
`check_health` judge the model server by one rule, so that a busy server keeps its replica in
rotation while a gone or wedged one takes it out:

- gone: the local server's process has exited, or the server's port refuses connections (or
  does not accept one within CONNECT_SECONDS);
- answered: it answered the probe (`GET <base>/models`) within MODEL_PROBE_WAIT: ready when the
  answer is 200;
- busy (ready): it accepts connections but has not answered yet, and it has made progress within
  the last MODEL_STALL_SECONDS (a setting). llama.cpp's server works on one request at a time, so the probe
  waits behind a running completion; progress is an answer to a probe or, for the local server,
  CPU time its process used (it computes while it generates);
- wedged (not ready): it accepts connections, and a probe has waited MODEL_STALL_SECONDS with no
  progress at all.

One probe per model server is in flight at a time, shared by every check, and it keeps waiting
after a check has stopped waiting for it: when a long completion ends, the queued probe is
answered and that answer counts as progress. A remote provider's answer is reused for
REMOTE_CHECK_SECONDS (its port is still tried on every check), so no paid API is asked on every
probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from graphs.persona_chat.guard import blocked_counts
from runtime.database import TimedConnection, note_database_failure
from runtime.embedding_batcher import EmbeddingStats
from runtime.local_llm import LocalLLMServer
from runtime.models import local_base_url, parse_model_name
from runtime.services import Services
from runtime.settings import Settings

OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
# Each check's bound; the database's own: a pooled connection within DATABASE_WAIT, its answer
# within DATABASE_QUERY (the two stay under CHECK_SECONDS); the model server's: an answer to the
# probe within MODEL_PROBE_WAIT, else a TCP connection within CONNECT_SECONDS (also under it).
CHECK_SECONDS = 1.8
DATABASE_WAIT = 0.8
DATABASE_QUERY = 0.8
MODEL_PROBE_WAIT = 0.8
CONNECT_SECONDS = 1.0
# CPU seconds the local server's process must have used since the last mark to count as progress
# (an idle HTTP loop uses far less).
CPU_PROGRESS_SECONDS = 0.05
REMOTE_CHECK_SECONDS = 30.0  # a remote provider is asked at most this often; probes in between reuse the answer


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    checks: dict[str, Check]  # database, model, embeddings (readiness: database, model)
    embeddings: EmbeddingStats | None = None  # None until the embeddings are loaded
    blocked: dict[str, int] | None = None  # the prompt guard's blocked events: {"<channel>/<kind>": count}

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())


# --------------------------------------------------------------------------- the model server


@dataclass
class _Probe:
    """What one `GET <base>/models` came to: an HTTP status, or the error that ended it."""

    status: int | None = None
    error: str = ""  # the exception's class name
    refused: bool = False  # no connection could be made
    timed_out: bool = False  # connected, but no answer within MODEL_STALL_SECONDS


@dataclass
class _Watch:
    """One model server, as this process has seen it (shared by every check of that base URL)."""

    base_url: str
    probe: asyncio.Task[_Probe] | None = None
    answer: tuple[float, int] | None = None  # (monotonic time, HTTP status) of the last answer
    # since when a probe has been waiting with no progress seen; None when none waits
    stalled_since: float | None = None
    cpu_mark: float | None = None  # the local server's CPU seconds at its last progress

    def note_cpu(self, cpu: float | None, now: float) -> None:
        if cpu is None:
            return
        if self.cpu_mark is None or cpu < self.cpu_mark:  # first look, or a new process
            self.cpu_mark = cpu
        elif cpu - self.cpu_mark >= CPU_PROGRESS_SECONDS:
            self.cpu_mark = cpu
            if self.stalled_since is not None:
                self.stalled_since = now

    def start_probe(self, headers: dict[str, str], stall_seconds: float) -> asyncio.Task[_Probe]:
        """The probe in flight, or a new one when none is (on this event loop)."""
        probe = self.probe
        if probe is None or probe.done() or probe.get_loop() is not asyncio.get_running_loop():
            if self.stalled_since is None:
                self.stalled_since = time.monotonic()
            probe = self.probe = asyncio.create_task(self._run(headers, stall_seconds))
        return probe

    async def _run(self, headers: dict[str, str], stall_seconds: float) -> _Probe:
        # it may wait as long as a wedge takes to show; a check waits MODEL_PROBE_WAIT at most
        timeout = httpx.Timeout(stall_seconds, connect=CONNECT_SECONDS)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                response = await http.get(f"{self.base_url}/models", headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.stalled_since = None  # gone is not a stall: a server that comes back starts afresh
            return _Probe(error=type(exc).__name__, refused=True)
        except httpx.TimeoutException as exc:  # the stall goes on
            return _Probe(error=type(exc).__name__, timed_out=True)
        except Exception as exc:  # the connection dropped, a broken answer
            self.stalled_since = None
            return _Probe(error=type(exc).__name__)
        self.answer = (time.monotonic(), response.status_code)
        self.stalled_since = None
        return _Probe(status=response.status_code)


_watches: dict[str, _Watch] = {}


def _watch(base_url: str) -> _Watch:
    watch = _watches.get(base_url)
    if watch is None:
        watch = _watches[base_url] = _Watch(base_url)
    return watch


async def _connect_error(base_url: str) -> str | None:
    """None when the server's port accepts a TCP connection; else the failure, named as httpx
    names it (ConnectError, ConnectTimeout)."""
    url = httpx.URL(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(url.host, port), CONNECT_SECONDS)
    except asyncio.TimeoutError:
        return "ConnectTimeout"
    except OSError:
        return "ConnectError"
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return None


async def _check_model_server(
    base_url: str,
    *,
    name: str,
    headers: dict[str, str] | None = None,
    server: LocalLLMServer | None = None,
    reuse_for: float = 0.0,
    stall_seconds: float,
) -> tuple[bool, str]:
    """Gone, answered, busy or wedged (see the module's doc). `name` leads the details of a
    failure ("provider", "local model server"); `server`: the local server's process, when this
    process runs it; `reuse_for`: seconds an answer stands for (0: ask on every check)."""

    def gone(error: str) -> tuple[bool, str]:
        # a killed process closes its port a moment before it can be reaped: say which it was
        code = None if server is None else server.exit_code()
        return False, f"{name} exited (code {code})" if code is not None else f"{name} unreachable ({error})"

    if server is not None and server.exit_code() is not None:
        return gone("")
    watch = _watch(base_url)
    answer = watch.answer
    if answer is not None and time.monotonic() - answer[0] < reuse_for:
        failed = await _connect_error(base_url)
        return gone(failed) if failed is not None else _answered(answer[1], name)
    probe = watch.start_probe(headers or {}, stall_seconds)
    await asyncio.wait({probe}, timeout=MODEL_PROBE_WAIT)  # never cancels the probe
    if probe.done() and not probe.cancelled():
        result = probe.result()
        if result.status is not None:
            return _answered(result.status, name)
        if result.refused:
            return gone(result.error)
        if not result.timed_out:  # the connection dropped without an answer
            if server is not None and server.exit_code() is not None:
                return gone(result.error)
            return False, f"{name} not answering ({result.error})"
    failed = await _connect_error(base_url)  # the probe still waits (or waited in vain)
    if failed is not None:
        return gone(failed)
    if probe.done() and not probe.cancelled() and (status := probe.result().status) is not None:
        return _answered(status, name)  # answered meanwhile
    now = time.monotonic()
    watch.note_cpu(None if server is None else server.cpu_seconds(), now)
    since = watch.stalled_since if watch.stalled_since is not None else now
    stalled = now - since
    if stalled < stall_seconds:
        return True, f"busy (no answer within {MODEL_PROBE_WAIT:g} s; last progress {stalled:.0f} s ago)"
    return False, f"wedged (accepts connections, no progress for {stalled:.0f} s)"


def _answered(status: int, name: str) -> tuple[bool, str]:
    return (True, "ok") if status == 200 else (False, f"{name} answered {status}")


async def _check_openai(settings: Settings) -> tuple[bool, str]:
    """GET <base>/models with the configured key (reachable, the key accepted), at most every
    REMOTE_CHECK_SECONDS; the port on every check."""
    base = (settings.openai_base_url or OPENAI_DEFAULT_BASE).rstrip("/")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return await _check_model_server(
        base,
        name="provider",
        headers={"Authorization": f"Bearer {key}"},
        reuse_for=REMOTE_CHECK_SECONDS,
        stall_seconds=settings.model_stall_seconds,
    )


async def _check_model(services: Services) -> tuple[bool, str]:
    name = parse_model_name(services.settings.chat_model)
    if name.provider == "local":
        server = services.local_llm
        # a server this process runs, or one that another owner started here (tests, notebooks)
        base = server.base_url if server is not None and server.pid is not None else local_base_url()
        if base is None:
            return False, "local model server not started"
        owned = server if server is not None and server.base_url == base else None
        return await _check_model_server(
            base.rstrip("/"),
            name="local model server",
            server=owned,
            stall_seconds=services.settings.model_stall_seconds,
        )
    if name.provider == "openai":
        return await _check_openai(services.settings)
    return True, f"configured ({name}; not probed)"


# --------------------------------------------------------------------------- database, embeddings


async def _check_database(services: Services) -> tuple[bool, str]:
    try:
        async with services.pool.connection(timeout=DATABASE_WAIT) as conn:
            # a frozen server answers nothing: this probe gives up sooner than a request's query
            # (the connection is then closed and the pool replaces it)
            previous = getattr(conn, "query_timeout", None)
            if isinstance(conn, TimedConnection):
                conn.query_timeout = DATABASE_QUERY
            try:
                await conn.execute("SELECT 1")
            finally:
                if isinstance(conn, TimedConnection):
                    conn.query_timeout = previous
        return True, "ok"
    except Exception as exc:  # any failure means "down"; the detail stays short
        note_database_failure()
        return False, f"unreachable ({type(exc).__name__})"


async def _check_embeddings(services: Services) -> tuple[bool, str]:
    if services.embeddings is None:
        return False, "not loaded"
    try:
        # through the same batches as the queries (the model runs one batch at a time), uncached
        vector = await asyncio.wrap_future(services.require_embeddings().probe("health check"))
        return len(vector) == services.settings.embedding_dim, f"ok ({len(vector)} dims)"
    except Exception as exc:
        return False, f"failing ({type(exc).__name__})"


Checker = Callable[[Services], Awaitable[tuple[bool, str]]]
# bounded by their own timeouts: cancelling a database query waits for the server, which may be
# frozen; the model server's probe outlives the check on purpose
_SELF_BOUNDED = frozenset({"database", "model"})


async def _bounded(name: str, check: Checker, services: Services) -> Check:
    if name in _SELF_BOUNDED:
        return Check(*await check(services))
    try:
        ok, detail = await asyncio.wait_for(check(services), CHECK_SECONDS)
    except asyncio.TimeoutError:
        ok, detail = False, f"no answer within {CHECK_SECONDS:g} s"
    return Check(ok, detail)


async def _run_checks(services: Services, checks: dict[str, Checker]) -> dict[str, Check]:
    results = await asyncio.gather(*(_bounded(name, check, services) for name, check in checks.items()))
    return dict(zip(checks, results))


async def check_health(services: Services) -> Health:
    """Every check at once, each bounded, so the report comes within about 2 s even while the
    database is frozen or a provider hangs."""
    checks = await _run_checks(
        services, {"database": _check_database, "model": _check_model, "embeddings": _check_embeddings}
    )
    stats = services.require_embeddings().stats() if services.embeddings is not None else None
    return Health(checks, stats, blocked_counts())


async def check_readiness(services: Services) -> Health:
    """Can this replica serve requests: the database answers and the model server is alive (busy
    counts as alive; gone or wedged does not). Both at once, within about 2 s."""
    return Health(await _run_checks(services, {"database": _check_database, "model": _check_model}))
