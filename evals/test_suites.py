"""The offline eval suites as tests: each metric must meet `evals/baseline.json`.

`pytest evals/` runs them (about 40 s: a throw-away embedded Postgres and the
local MiniLM embeddings, no chat model). A threshold under "min" is a floor for
the metric's mean, under "max" a ceiling.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.runner import run_suite
from evals.suites import SUITES

BASELINE = json.loads((Path(__file__).parent / "baseline.json").read_text(encoding="utf-8"))


def test_baseline_covers_exactly_the_offline_suites() -> None:
    assert set(BASELINE["suites"]) == {name for name, suite in SUITES.items() if suite.offline}


@pytest.mark.parametrize("name", sorted(BASELINE["suites"]))
async def test_offline_suite_meets_baseline(name: str, tmp_path: Path) -> None:
    record = await run_suite(name, out_dir=tmp_path, progress=False)
    summary = {k: v["mean"] for k, v in record["summary"].items()}
    limits = BASELINE["suites"][name]
    assert len(record["examples"]) == SUITES[name].size
    failures = [
        f"{metric} {summary.get(metric)} < {floor}"
        for metric, floor in limits.get("min", {}).items()
        if summary.get(metric) is None or summary[metric] < floor
    ]
    failures += [
        f"{metric} {summary.get(metric)} > {ceiling}"
        for metric, ceiling in limits.get("max", {}).items()
        if summary.get(metric) is None or summary[metric] > ceiling
    ]
    assert not failures, f"{name} fell below evals/baseline.json: {failures}"
    assert (tmp_path / record["run_id"] / "report.md").is_file()
