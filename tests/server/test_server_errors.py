"""Every server error is traceable: answered with the contract's body and no internals, logged
once with its cause and the request's id, which the response carries in `X-Request-ID`."""

from __future__ import annotations

import json
import logging
import re

import httpx
import psycopg
import pytest

from runtime.logs import RequestIdFilter, logging_config
from runtime.settings import Settings
from tests.support.ghostwriter import HEADERS, ghostwriter_settings


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


@pytest.fixture
def errors_with_ids(caplog):
    """ERROR records, each with the request id it was logged under."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno >= logging.ERROR]

    return records


async def _break_the_store(database_url: str) -> None:
    """A fault of ours, not of any upstream: a table the query needs is gone."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE ghostwriter_personas RENAME TO ghostwriter_personas_gone")


async def test_an_internal_error_is_a_500_without_internals_logged_once_under_its_request_id(
    settings, live_app, errors_with_ids
):
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            assert (await http.get("/ghostwriter/personas/list", headers=HEADERS)).status_code == 200
            await _break_the_store(settings.database_url or "")
            r = await http.get("/ghostwriter/personas/list", headers={**HEADERS, "X-Request-ID": "trace-me-42"})
    assert r.status_code == 500
    assert r.json() == {"detail": "Internal server error."}
    assert "ghostwriter_personas" not in r.text and "psycopg" not in r.text
    assert r.headers["X-Request-ID"] == "trace-me-42"
    logged = [record for record in errors_with_ids() if record.request_id == "trace-me-42"]
    assert len(logged) == 1, [record.getMessage() for record in errors_with_ids()]
    assert "GET /ghostwriter/personas/list answered 500" in logged[0].getMessage()
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], psycopg.errors.UndefinedTable)


async def test_an_upstream_failure_is_a_502_logged_with_its_cause(settings, live_app, script, errors_with_ids):
    from tests.support.ghostwriter import add_account, builder_responder, sample_account

    account = sample_account(0)

    def provider_down(messages):
        raise ConnectionError("the model server at 127.0.0.1:9 refused the connection")

    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await add_account(http, account, account["posts"][:30])
            script.responder = builder_responder
            url = f"/ghostwriter/personas/{account['account_id']}"
            assert (await http.post(f"{url}/create", headers=HEADERS, json={})).status_code == 200
            script.responder = provider_down
            r = await http.post(f"{url}/create", headers={**HEADERS, "X-Request-ID": "up-1"}, json={"force": True})
    assert r.status_code == 502
    assert "127.0.0.1:9" not in r.text
    logged = [record for record in errors_with_ids() if record.request_id == "up-1"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    cause = logged[0].exc_info[1].__cause__ if logged[0].exc_info[1] else None
    assert isinstance(cause, ConnectionError) or "ConnectionError" in repr(cause), repr(cause)


async def test_every_response_carries_a_request_id_and_a_forged_one_is_replaced(live_app):
    with live_app() as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            made = http.get("/health").headers["X-Request-ID"]
            kept = http.get("/health", headers={"X-Request-ID": "lb-7f3a.1"}).headers["X-Request-ID"]
            forged = http.get("/health", headers={"X-Request-ID": "x\tlevel=ERROR fake line"}).headers["X-Request-ID"]
            too_long = http.get("/health", headers={"X-Request-ID": "a" * 200}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert kept == "lb-7f3a.1"
    assert re.fullmatch(r"[0-9a-f]{32}", forged) and re.fullmatch(r"[0-9a-f]{32}", too_long)


def test_json_log_lines_carry_the_request_id_and_the_traceback(capsys):
    config = logging_config("info", "json")
    logging.config.dictConfig(config)
    try:
        from asgi_correlation_id import correlation_id

        token = correlation_id.set("req-json-1")
        try:
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("personas.test").exception("failed on purpose")
        finally:
            correlation_id.reset(token)
        logging.getLogger("personas.test").info("outside a request")
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    failed = next(line for line in lines if line["message"] == "failed on purpose")
    assert failed["request_id"] == "req-json-1" and failed["level"] == "ERROR" and failed["logger"] == "personas.test"
    assert "ValueError: boom" in failed["exc_info"] and "time" in failed
    assert next(line for line in lines if line["message"] == "outside a request")["request_id"] == "-"


def test_only_a_peers_failure_counts_as_upstream():
    import openai

    from runtime.upstream import is_upstream_failure
    from tools.x_api import XApiError

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    assert is_upstream_failure(openai.APIConnectionError(request=request))
    assert is_upstream_failure(httpx.ReadTimeout("slow", request=request))
    assert is_upstream_failure(XApiError("X API rate limit"))
    assert not is_upstream_failure(ValueError("a bug of ours"))
    assert not is_upstream_failure(psycopg.errors.UndefinedTable("relation is gone"))
    try:
        try:
            raise ConnectionError("refused")
        except ConnectionError as exc:
            raise RuntimeError("the turn failed") from exc
    except RuntimeError as chained:
        assert is_upstream_failure(chained)
