"""`personas twin build` and `personas twin import` end to end: the real command line on a
fresh database, then the twins read back through the Twin-chat REST API.

The successful runs call the CLI's `main` in-process (the local embeddings it would load are
the session's copy, so the tests stay fast); the bad-file runs also start the real `personas`
executable to see exactly what a user sees on stderr."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from runtime.services import set_current_services
from server.cli import main
from tests.support.twin import small_segments
from use_cases.twin.segments.records import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, generate_records

N_RECORDS, K = 90, 3  # build_segments needs 15 records per cluster at least


async def personas(services, *args: str) -> int:
    """`personas ARGS` in-process (in a thread: the CLI runs its own event loop)."""
    try:
        return await asyncio.to_thread(main, [str(a) for a in args])
    finally:
        set_current_services(services)  # the CLI's own services were the current ones while it ran


def personas_process(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed `personas` executable (or `python -m server.cli` without it)."""
    script = Path(sys.executable).with_name("personas")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "server.cli"]
    return subprocess.run(
        [*command, *map(str, args)], env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def write_records(path: Path, records: list[dict], drop: str | None = None) -> Path:
    columns = [c for c in (*OPTIONAL_COLUMNS, *REQUIRED_COLUMNS) if c != drop]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    return path


async def twin_tables(services) -> tuple[list[str], int]:
    async with services.pool.connection() as conn:
        names = [r["name"] for r in await (await conn.execute("SELECT name FROM clusters ORDER BY id")).fetchall()]
        count = (await (await conn.execute("SELECT count(*) AS n FROM segment_personas")).fetchone())["n"]
    return names, int(count)


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), stderr
    return lines


async def test_build_from_csv_prints_progress_and_summary_and_is_queryable(cli_env, services, client, tmp_path, capsys):
    records_csv = write_records(tmp_path / "records.csv", generate_records(N_RECORDS, seed=5))
    out_json = tmp_path / "built.json"
    capsys.readouterr()
    code = await personas(services, "twin", "build", "--records", records_csv, "--clusters", K, "--out", out_json)
    out = capsys.readouterr().out
    assert code == 0, out
    for progress in (
        f"Reading {records_csv}...",
        f"  {N_RECORDS} records",
        f"  clustering into {K} clusters",
        f"  built {K} clusters and {K * 15} personas",
        f"  wrote {out_json}",
        f"  embedding {K * 15} personas",
        "  writing to the database (one transaction)",
    ):
        assert progress in out, progress
    assert f"Done: {K} clusters and {K * 15} personas (persona ids 1-{K * 15}) replace the previous twins." in out
    built = json.loads(out_json.read_text(encoding="utf-8"))
    names = [c["name"] for c in built["clusters"]]
    for key, name in enumerate(names):
        assert f"  cluster {key}: {name} (15 personas)" in out

    assert await twin_tables(services) == (names, K * 15)
    found = await client.post("/twin/query_clusters", json={"query": names[0], "top_k": K})
    assert found.status_code == 200
    assert sorted(c["cluster_name"] for c in found.json()) == sorted(names)
    assert found.json()[0]["cluster_name"] == names[0]
    listed = await client.get("/twin/cluster/0/personas")
    assert listed.status_code == 200
    assert [p["persona_name"] for p in listed.json()] == [p["name"] for p in built["personas"] if p["cluster_key"] == 0]


async def test_import_json_then_bad_files_leave_the_twins_intact(cli_env, services, client, tmp_path, capsys):
    small = small_segments()
    good = tmp_path / "segments.json"
    good.write_text(small.to_json(), encoding="utf-8")
    capsys.readouterr()
    assert await personas(services, "twin", "import", good) == 0
    out = capsys.readouterr().out
    assert f"Reading {good}..." in out and "  3 clusters, 45 personas" in out
    assert "Done: 3 clusters and 45 personas (persona ids 1-45) replace the previous twins." in out
    loaded = ([c.name for c in sorted(small.clusters, key=lambda c: c.key)], 45)
    assert await twin_tables(services) == loaded

    async def still_queryable() -> None:
        r = await client.post(
            "/twin/query_clusters", json={"query": "Millennials with high auto debt and sub-prime credit.", "top_k": 1}
        )
        assert r.status_code == 200 and r.json()[0]["cluster_name"] == "Sub-Prime Auto-Heavy Millennials"

    await still_queryable()

    # The real executable: a table with no rows (a table of other columns builds with a drafted
    # schema: tests/use_cases/twin/test_twin_record_tables.py), a JSON file cut short.
    records = generate_records(N_RECORDS, seed=5)
    no_rows = write_records(tmp_path / "no_rows.csv", [], drop="credit_tier")
    result = personas_process(cli_env, tmp_path, "twin", "build", "--records", no_rows, "--clusters", K)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line == "error: no_rows.csv has no rows."
    broken = tmp_path / "broken.json"
    broken.write_text(small.to_json()[:200], encoding="utf-8")
    result = personas_process(cli_env, tmp_path, "twin", "import", broken)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith("error: broken.json is not valid JSON (") and " at line " in line

    # In-process: the other ways a file can be wrong, each one sentence on stderr.
    bad_value = write_records(tmp_path / "bad_value.csv", [records[0], {**records[1], "age": "old"}, *records[2:]])
    few = write_records(tmp_path / "few.csv", records[:20])
    orphan = tmp_path / "orphan.json"
    data = small.to_dict()
    data["personas"][0]["cluster_key"] = 99
    orphan.write_text(json.dumps(data), encoding="utf-8")
    cases = [
        (("build", "--records", bad_value, "--clusters", K), "error: Row 2, column 'age': expected a number"),
        (("build", "--records", few, "--clusters", K), "error: 20 records are too few for 3 clusters"),
        (("build", "--records", tmp_path / "missing.csv", "--clusters", K), "error: Record file "),
        (("import", orphan), "error: orphan.json is not a valid segment set: "),
        (("import", tmp_path / "missing.json"), "error: Cannot read "),
    ]
    for args, expected in cases:
        capsys.readouterr()
        assert await personas(services, "twin", *args) == 2, args
        [line] = error_lines(capsys.readouterr().err)
        assert line.startswith(expected), (args, line)

    assert await twin_tables(services) == loaded
    await still_queryable()
