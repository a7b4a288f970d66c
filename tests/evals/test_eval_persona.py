"""Evals against stored persona versions: `personas eval run SUITE --persona KIND:ID@VERSION` and
`personas eval compare KIND:ID@A KIND:ID@B`, on the test's database with the scripted model."""

from __future__ import annotations

import json

import pytest

from tests.server.test_transfer_cli import cli_env, personas  # noqa: F401 (the fixture)
from tests.server.test_transfer_cli import settings as settings  # noqa: F401 (BO_API_KEY for the ghostwriter routes)
from tests.support.ghostwriter import HEADERS, SAMPLE_POST, add_account, builder_responder, sample_account
from tests.support.studio import build, user_with_token


def _responder(messages):
    system = str(messages[0].content)
    if "Return JSON with" in str(messages[-1].content):
        return builder_responder(messages)
    if "VERSION-ONE" in system:
        return "As an AI language model, I cannot say."
    if "write posts" in system.lower() or "post" in str(messages[-1].content).lower():
        return SAMPLE_POST
    return "I'm Offie, I sell shoes in Lisbon."


def _run(runs, run_id: str) -> dict:
    return json.loads((runs / run_id / "results.json").read_text())


def _only_run(runs, exclude=()) -> dict:
    found = [p.name for p in runs.iterdir() if p.is_dir() and p.name not in exclude]
    assert len(found) == 1, found
    return _run(runs, found[0])


async def test_run_and_compare_two_studio_versions(services, client, cli_env, script, capsys):  # noqa: F811
    script.responder = _responder
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    pid = await build(client, builder, b_id, name="Offie", system_prompt="VERSION-ONE You are Offie.")
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"system_prompt": "You are Offie."})
    runs = cli_env / "runs"

    code = await personas(
        services, "eval", "run", "chat_in_character", "--persona", f"studio:{pid}@1", "--runs-dir", runs
    )
    assert code == 0
    record = _only_run(runs)
    assert record["persona"]["ref"] == f"studio:{pid}@1" and record["persona"]["name"] == "Offie"
    assert record["model"] == "fake:scripted"  # the version has no model: the service's
    assert len(record["examples"]) == 8  # the data set's questions, each once
    assert record["primary_metric"] == "in_character" and "fact_consistent" not in record["summary"]
    assert record["summary"]["in_character"]["mean"] == 0.0
    assert f"persona studio:{pid}@1 (Offie)" in capsys.readouterr().out

    code = await personas(
        services, "eval", "compare", f"studio:{pid}@1", f"studio:{pid}@2", "--runs-dir", runs, "--limit", "3"
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"A: persona studio:{pid}@1 (Offie)" in out and f"B: persona studio:{pid}@2 (Offie)" in out
    row = [line for line in out.splitlines() if line.startswith("in_character")][-1]  # the comparison's row
    assert row.split()[1:] == ["0.000", "1.000", "+1.000"]
    assert "3 of 3 common examples changed on in_character" in out
    assert "HTML report:" in out

    # a version's own model is used unless --model says otherwise
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"model": "fake:other"})
    before = {p.name for p in runs.iterdir()}
    args = ("eval", "run", "chat_in_character", "--persona", f"studio:{pid}", "--runs-dir", runs, "--limit", "1")
    assert await personas(services, *args) == 0
    record = _only_run(runs, exclude=before)
    assert (record["persona"]["version"], record["model"]) == (3, "fake:other")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("run", "chat_in_character", "--persona", "studio:{pid}@9"), "has no version 9"),
        (("run", "chat_in_character", "--persona", "studio:424242"), "There is no studio persona 424242"),
        (("run", "chat_in_character", "--persona", "studio:{pid}#2"), "--persona takes KIND:ID[@VERSION]"),
        (
            ("run", "twin_routing", "--persona", "studio:{pid}"),
            "--persona works with the suites ghostwriter_style, chat_in_character;",
        ),
        (("run", "ghostwriter_style", "--persona", "studio:{pid}"), "takes a --persona of kind ghostwriter"),
        (("compare", "studio:{pid}@1", "some-run-id"), "not one of each"),
    ],
)
async def test_bad_persona_arguments(services, client, cli_env, capsys, args, problem):  # noqa: F811
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    pid = await build(client, builder, b_id, system_prompt="You are Offie.")
    code = await personas(services, "eval", *(a.format(pid=pid) for a in args), "--runs-dir", cli_env / "runs")
    assert code == 2
    assert problem in capsys.readouterr().err


async def test_ghostwriter_version_and_twin_facts(services, client, cli_env, script):  # noqa: F811
    script.responder = _responder
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:40])
    assert (await client.post(f"/ghostwriter/personas/{aid}/create", headers=HEADERS, json={})).status_code == 200
    runs = cli_env / "runs"
    args = ("eval", "run", "ghostwriter_style", "--persona", f"ghostwriter:{aid}@1", "--runs-dir", runs)
    assert await personas(services, *args, "--limit", "2") == 0
    record = _only_run(runs)
    assert record["persona"]["kind"] == "ghostwriter" and record["persona"]["version"] == 1
    assert len(record["examples"]) == 2 and all(e["inputs"]["handle"] == account["handle"] for e in record["examples"])
    assert "closer_to_own" in record["summary"]

    from tests.support.twin import small_segments
    from use_cases.twin.segment_import import replace_segments

    await replace_segments(services.pool, small_segments(), services.embeddings)
    async with services.pool.connection() as conn:
        cur = await conn.execute("SELECT min(persona_id) AS id FROM segment_personas")
        twin = (await cur.fetchone())["id"]
    before = {p.name for p in runs.iterdir()}
    args = ("eval", "run", "chat_in_character", "--persona", f"twin:{twin}", "--runs-dir", runs, "--limit", "2")
    assert await personas(services, *args) == 0
    record = _only_run(runs, exclude=before)
    assert record["persona"]["version"] == 1 and record["primary_metric"] == "fact_consistent"
    assert "fact_consistent" in record["summary"]
