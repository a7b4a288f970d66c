"""The fidelity report over REST, on a real server on loopback: the synchronous report is the
command line's, a job shows its progress and ends with the same report (and its HTML page), bad
input is refused before a job exists, another caller sees nothing, and a job can be cancelled.

The table is the small panel survey of test_twin_record_tables; the scripted model answers by
the party in each twin's record (the held-out death-penalty answer is never in its prompt)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from store import twin_jobs
from tests.server.twin import test_twin_jobs as twin_job_tests
from tests.server.twin.test_twin_cli import twin_tables
from tests.server.twin.test_twin_jobs import poll, wait_queue_status
from tests.use_cases.twin.test_twin_record_tables import SCHEMA, survey_rows, write_table
from use_cases.twin import fidelity_run
from use_cases.twin.fidelity import report_json, validate_twins
from use_cases.twin.record_table import read_record_table

MODEL = "gated:scripted"  # the gated scripted model the job tests' `settings` name
# the job tests' fixtures: the gate that holds model calls, and the settings that use it
gate = twin_job_tests.gate
settings = twin_job_tests.settings
QUESTION = "Do you favor or oppose the death penalty for murder?"
LATER_QUESTION = "Do you own your home?"
TOTAL = 32  # 2 clusters of 15 twins, and the model without a record once per order of the 2 options


def by_party(messages) -> str:
    """Republicans favor (the first option shown), everyone else opposes."""
    return "A" if "Republican" in str(messages[0].content) else "B"


def table_csv(folder: Path, rows: list[dict[str, str]] | None = None) -> str:
    return write_table(folder / "survey.csv", rows or survey_rows(120)).read_text(encoding="utf-8")


def fidelity_body(records_csv: str, **changes) -> dict:
    return {"records_csv": records_csv, "schema": SCHEMA, "clusters": 2, "hold_out": ["death_penalty"], **changes}


async def job_count(services) -> int:
    async with services.pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM twin_jobs")).fetchone()
    return int(row["n"])


async def test_the_synchronous_report_is_the_command_lines_and_leaves_the_twins_alone(
    live_app, services, twins, script, gate, tmp_path
):
    script.responder = by_party
    records = table_csv(tmp_path)
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    before = await twin_tables(services)
    # what `personas twin validate --clusters 2 --hold-out death_penalty` computes
    table = read_record_table(tmp_path / "survey.csv", tmp_path / "schema.json")
    _segments, results = await validate_twins(table, ["death_penalty"], 2, MODEL, seed=7, settings=services.settings)
    expected = report_json(results, {"records": 120, "clusters": 2, "model": MODEL, "seed": 7})
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        r = http.post("/twin/fidelity", json=fidelity_body(records))
        assert r.status_code == 200, r.text
        report = r.json()
        # `"async": false` is the synchronous call too, and the seed is the CLI's default
        assert http.post("/twin/fidelity", json=fidelity_body(records, seed=7, **{"async": False})).json() == report
    assert report == expected
    assert (report["records"], report["clusters"], report["model"], report["seed"]) == (120, 2, MODEL, 7)
    [question] = report["questions"]
    assert (question["column"], question["question"], question["options"]) == (
        "death_penalty",
        QUESTION,
        ["Favor", "Oppose"],
    )
    assert [c["n_twins"] for c in question["clusters"]] == [15, 15]
    for cluster in question["clusters"]:
        assert set(cluster["tvd"]) == {"twins", "floor", "uniform", "table", "no_record"}
        assert abs(sum(cluster["twins"].values()) - 1.0) < 1e-3 and abs(sum(cluster["truth"].values()) - 1.0) < 1e-3
        assert cluster["accuracy"]["twins"] is not None
    assert set(question["mean_tvd"]) == {"twins", "floor", "uniform", "table", "no_record"}
    assert question["mean_tvd"]["twins"] is not None and question["mean_accuracy"]["twins"] is not None
    assert await twin_tables(services) == before  # the stored twins are untouched


async def test_a_fidelity_job_shows_progress_and_ends_with_the_report_and_its_page(
    settings, live_app, services, script, gate, tmp_path
):
    script.responder = by_party
    body = fidelity_body(table_csv(tmp_path))
    survey_job = await twin_jobs.create_job(services.pool, kind="survey", caller="anonymous", request={}, model="x")
    gate.hold_after(4)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        r = http.post("/twin/fidelity", json={**body, "async": True})
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert set(accepted) == {"job_id", "status_url", "state"} and accepted["state"] in ("queued", "running")
        assert accepted["status_url"] == f"/twin/jobs/{accepted['job_id']}" == r.headers["location"]
        url = accepted["status_url"]
        assert await twin_jobs.get_records_csv(services.pool, uuid.UUID(accepted["job_id"])) == body["records_csv"]

        held = poll(http, url, lambda j: j["progress"]["done"] == 4, "asked 4 twins")
        assert held["kind"] == "fidelity" and held["state"] == "running"
        assert held["progress"] == {"done": 4, "total": TOTAL} and held["result"] is None
        early = http.get(f"{url}/report")
        assert early.status_code == 409
        assert early.json() == {"detail": "The fidelity job is running; only a succeeded one has a report."}
        gate.open()
        done = poll(http, url, lambda j: j["state"] == "succeeded", "succeeded")
        assert done["progress"] == {"done": TOTAL, "total": TOTAL} and done["error"] is None

        sync = http.post("/twin/fidelity", json=body)
        assert sync.status_code == 200 and done["result"] == sync.json()
        page = http.get(f"{url}/report")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<svg" in page.text and QUESTION in page.text
        # a survey job has no report
        other = http.get(f"/twin/jobs/{survey_job}/report")
        assert other.status_code == 409 and other.json() == {
            "detail": "This is a survey job; only a fidelity job has a report."
        }
    # the table is kept only while the job may run
    assert await twin_jobs.get_records_csv(services.pool, uuid.UUID(accepted["job_id"])) is None

    keyed = settings.model_copy(update={"twin_api_key": SecretStr("another-key")})
    with live_app(keyed) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        key = {"X-API-Key": "another-key"}
        for method, path in (("GET", url), ("GET", f"{url}/report"), ("DELETE", url)):
            r = http.request(method, path, headers=key)
            assert r.status_code == 404 and r.json() == {"detail": "Job not found"}, (method, path)
        assert http.get(f"{url}/report").status_code == 401
        r = http.get(f"/twin/jobs/{uuid.uuid4()}/report", headers=key)
        assert r.status_code == 404


async def test_bad_input_is_refused_naming_what_is_wrong_before_a_job_exists(
    live_app, services, script, gate, tmp_path, monkeypatch
):
    rows = survey_rows(120)
    records = table_csv(tmp_path, rows)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:

        def refused(status: int, changes: dict, headers: dict | None = None) -> str:
            body = {**fidelity_body(records), **changes}
            r = http.post("/twin/fidelity", json={**body, "async": True}, headers=headers)
            assert r.status_code == status, r.text
            return str(r.json()["detail"])

        assert "hold_out nope: no such column in the schema" in refused(400, {"hold_out": ["death_penalty", "nope"]})
        assert "hold_out sex: the gender and age columns make the twins" in refused(400, {"hold_out": ["sex"]})
        assert "hold_out income: only a category, ordinal or boolean column" in refused(400, {"hold_out": ["income"]})
        assert "clusters: 120 records are too few for 9 clusters" in refused(400, {"clusters": 9})

        bad_rows = [dict(row) for row in rows]
        bad_rows[6]["owns_home"] = "maybe"
        detail = refused(400, {"records_csv": table_csv(tmp_path, bad_rows)}, {"Prefer": "respond-async"})
        assert "column 'owns_home', row 7 (line 8): 'maybe': expected a yes/no value" in detail
        assert "is not a readable CSV table" in refused(400, {"records_csv": "a,b\n1,2\n3,4,5\n"})
        broken = {**SCHEMA, "columns": {**SCHEMA["columns"], "party": {"type": "likert", "label": "Party"}}}
        assert refused(400, {"schema": broken}).startswith("schema: columns.party.type")

        monkeypatch.setattr(fidelity_run, "MAX_TABLE_BYTES", 1000)
        assert refused(413, {}) == "records_csv is larger than the limit of 1000 bytes."
        monkeypatch.undo()

        assert "twice" in refused(422, {"hold_out": ["death_penalty", "death_penalty"]})
        refused(422, {"hold_out": []})
        refused(422, {"clusters": 1})
        # a 422 does not echo the table back
        body = fidelity_body(records)
        del body["clusters"]
        r = http.post("/twin/fidelity", json=body)
        assert r.status_code == 422 and "clusters" in r.text and len(r.text) < 1000
    assert await job_count(services) == 0


async def test_delete_stops_a_running_fidelity_job_and_a_queued_one_never_runs(
    live_app, services, script, gate, tmp_path
):
    """One worker runs one job at a time: the first runs (held at the gate), the second waits."""
    script.responder = by_party
    body = fidelity_body(table_csv(tmp_path))
    gate.hold_after(3)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        running = http.post("/twin/fidelity", json={**body, "async": True}).json()
        queued = http.post("/twin/fidelity", json={**body, "seed": 8, "async": True}).json()
        poll(http, running["status_url"], lambda j: j["progress"]["done"] == 3, "asked 3 twins")
        started = gate.calls_about(QUESTION)
        assert 3 < started < TOTAL
        assert http.get(queued["status_url"]).json()["state"] == "queued"

        for job in (queued, running):
            r = http.delete(job["status_url"])
            assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["finished_at"]
        await wait_queue_status(services, queued["job_id"], "cancelled")
        await wait_queue_status(services, running["job_id"], "aborted")  # its run has ended
        gate.open()

        # a later job runs to its end on the same worker
        later = http.post("/twin/fidelity", json={**body, "hold_out": ["owns_home"], "async": True}).json()
        finished = poll(http, later["status_url"], lambda j: j["state"] == "succeeded", "succeeded")
        assert finished["result"]["questions"][0]["column"] == "owns_home"
        assert gate.calls_about(QUESTION) == started  # no model call after the cancel; the queued job never ran
        assert gate.calls_about(LATER_QUESTION) == TOTAL
        for job in (running, queued):
            after = http.get(job["status_url"]).json()
            assert after["state"] == "cancelled" and after["result"] is None and after["error"] is None
            r = http.get(f"{job['status_url']}/report")
            assert r.status_code == 409 and "cancelled" in r.json()["detail"]
            assert await twin_jobs.get_records_csv(services.pool, uuid.UUID(job["job_id"])) is None
