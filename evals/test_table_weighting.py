"""table_weighting on a small made-up survey table: both weightings reported, and raking brings
the twins' own answers closer to their clusters on the columns it fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.table_weighting import compare, main
from tests.use_cases.twin.test_twin_record_tables import survey_rows, table_and_schema
from use_cases.twin.record_table import read_record_table


def test_raking_brings_the_twins_closer_to_their_clusters_on_the_columns_it_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records, schema = table_and_schema(tmp_path, survey_rows(150))
    figures = compare(read_record_table(records, schema), 2, ["death_penalty"])
    assert set(figures) == {"age_gender", "raked"}
    assert figures["raked"]["in_profile"] < figures["age_gender"]["in_profile"], figures
    assert all(0.0 <= f["held_out"] <= 1.0 and 1.0 <= f["effective_size"] <= 15.0 for f in figures.values())

    code = main(["--records", str(records), "--schema", str(schema), "--clusters", "2", "--hold-out", "death_penalty"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[0].split() == ["weighting", "in_profile", "held_out", "effective_size"]
    assert [line.split()[0] for line in lines[1:]] == ["age_gender", "raked"]
