"""`personas twin survey`: the real command line on a fresh database with the scripted model,
printing the weighted shares with their intervals (or the REST body with --json) after a
progress bar; bad input and unknown clusters are one-line errors."""

from __future__ import annotations

import json

import pytest

from runtime.services import set_current_services
from tests.graphs.segment_survey.test_segment_survey import BOOMERS, QUESTION, fact_answerer
from tests.server.twin.test_twin_cli import personas
from tests.support.twin import cluster_key, small_segments
from use_cases.twin.segment_import import replace_segments


@pytest.fixture
async def loaded(services, cli_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CHAT_MODEL", "fake:scripted")
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    return segments


async def test_survey_prints_shares_intervals_and_a_progress_bar(services, loaded, script, capsys):
    script.responder = fact_answerer()
    cid = str(cluster_key(loaded, BOOMERS))
    args = ["twin", "survey", "--question", QUESTION, "--option", "Own", "--option", "Rent", "--cluster", cid]
    assert await personas(services, *args, "--json") == 0
    captured = capsys.readouterr()
    body = json.loads(captured.out)
    (cluster,) = body["clusters"]
    assert cluster["cluster_name"] == BOOMERS and cluster["n_answers"] == 15
    assert sum(cluster["distribution"].values()) == pytest.approx(1.0)
    assert "Surveying" in captured.err and "15/15" in captured.err
    assert await personas(services, *args) == 0
    table = capsys.readouterr().out
    share = cluster["distribution"]["Own"]
    low, high = cluster["ci95"]["Own"]
    assert f"cluster {cid}: {BOOMERS} (15 personas, 15 answers)" in table
    assert f"Own   {share:6.1%}  (95% CI {low:.1%} - {high:.1%})" in table


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--option", "Own"], 2, "error: options: "),
        (["--option", "Own", "--option", "Rent", "--samples", "11"], 2, "error: samples_per_persona: "),
        (["--option", "Own", "--option", "Rent", "--cluster", "999"], 1, "error: Cluster 999 not found"),
    ],
)
async def test_survey_errors_are_one_line(services, loaded, script, capsys, extra, code, message):
    # the command line stops the process's current services when it ends: here they would be
    # the test's own (on another event loop), as a command that fails early starts none
    set_current_services(None)
    assert await personas(services, "twin", "survey", "--question", QUESTION, *extra) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert script.calls == []
