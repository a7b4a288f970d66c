"""Segment data without a database: synthetic records, clustering, personas, JSON, demo file."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from use_cases.twin.segments.build import build_segments
from use_cases.twin.segments.demo import DEMO_PATH, build_demo_segments, demo_segments
from use_cases.twin.segments.model import AGE_BAND_LIMITS, PERSONA_PATTERN, SegmentSet
from use_cases.twin.segments.naming import TIER_WORDS
from use_cases.twin.segments.records import (
    CREDIT_TIERS,
    INCOME_BANDS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    generate_records,
    load_records,
)

SMALL_N, SMALL_K = 1500, 6


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return generate_records(SMALL_N, seed=3)


@pytest.fixture(scope="module")
def segments(records: list[dict]) -> SegmentSet:
    return build_segments(records, k=SMALL_K, seed=3)


# ------------------------------------------------------------------ records


def test_records_are_deterministic_and_seeded() -> None:
    a, b = generate_records(300, seed=11), generate_records(300, seed=11)
    assert a == b
    assert generate_records(300, seed=12) != a
    assert len(a) == 300 and len({r["record_id"] for r in a}) == 300


def test_records_have_the_documented_columns_and_values(records: list[dict]) -> None:
    expected = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    for r in records:
        assert set(r) == expected
        assert 18 <= r["age"] <= 99
        assert r["credit_tier"] in CREDIT_TIERS and r["income_band"] in INCOME_BANDS
        assert 1 <= r["net_worth_decile"] <= 10 and 1 <= r["credit_quartile"] <= 4
        assert (r["open_auto_loans"] == 0) == (r["auto_loan_balance"] == 0)


def test_records_are_correlated_like_real_data(records: list[dict]) -> None:
    def mean(key: str, rows: list[dict]) -> float:
        return sum(float(r[key]) for r in rows) / len(rows)

    sub = [r for r in records if r["credit_tier"] == "Sub Prime"]
    sup = [r for r in records if r["credit_tier"] == "Super Prime"]
    assert mean("net_worth_decile", sup) > mean("net_worth_decile", sub) + 2
    young = [r for r in records if r["age"] < 30]
    old = [r for r in records if r["age"] >= 65]
    assert mean("net_worth_decile", old) > mean("net_worth_decile", young) + 2
    owners = [r for r in records if r["homeowner"]]
    renters = [r for r in records if not r["homeowner"]]
    share_high = lambda rows: sum(r["equity_balance"] == "high" for r in rows) / len(rows)  # noqa: E731
    assert share_high(owners) > share_high(renters) + 0.3


# ------------------------------------------------------------------ build


def test_build_is_deterministic(records: list[dict], segments: SegmentSet) -> None:
    again = build_segments(records, k=SMALL_K, seed=3)
    assert again.to_json() == segments.to_json()


def test_every_cluster_has_the_contract_persona_pattern(segments: SegmentSet) -> None:
    assert len(segments.clusters) == SMALL_K
    assert len(PERSONA_PATTERN) == 15
    assert [g for g, _ in PERSONA_PATTERN].count("Female") == 7
    assert [b for g, b in PERSONA_PATTERN if g == "Male"] == [
        "18 - 24",
        "25 - 34",
        "25 - 34",
        "35 - 44",
        "45 - 54",
        "55 - 64",
        "65 - 74",
        "75+",
    ]
    for cluster in segments.clusters:
        personas = segments.personas_of(cluster.key)
        assert [(p.gender, p.age_band) for p in personas] == list(PERSONA_PATTERN)
        assert len({p.name for p in personas}) == 15, "persona names repeat inside a cluster"
        assert len({p.attributes["record_id"] for p in personas}) == 15, "one record used twice"


def test_persona_ages_sit_in_their_band_and_summaries_agree(segments: SegmentSet) -> None:
    for p in segments.personas:
        a = p.attributes
        lo, hi = AGE_BAND_LIMITS[p.age_band]
        assert lo <= a["age"] <= hi, f"{p.name}: age {a['age']} outside {p.age_band}"
        assert a["age_band"] == p.age_band and a["gender"] == p.gender
        said = re.match(r"A (\d+)-year-old ", p.summary)
        assert said and int(said.group(1)) == a["age"], p.summary
        assert ("woman" if p.gender == "Female" else " man") in p.summary
        assert f"credit is {a['credit_tier']} " in p.summary
        assert a["income_band"] in p.summary
        assert ("owns" if a["homeowner"] else "rents") in p.summary
        if a["open_auto_loans"]:
            assert f"${a['auto_loan_balance']:,} owed" in p.summary
        else:
            assert "no auto loans" in p.summary


def test_personas_are_real_records(records: list[dict], segments: SegmentSet) -> None:
    by_id = {r["record_id"]: r for r in records}
    adjusted = 0
    for p in segments.personas:
        source = by_id[p.attributes["record_id"]]
        for key, value in source.items():
            if key in ("age", "gender"):
                continue
            assert p.attributes[key] == value, f"{p.name}: {key} differs from its record"
        if p.attributes["age_adjusted"]:
            adjusted += 1
        else:
            assert p.attributes["age"] == source["age"]
    # Most slots find a genuine member of the right age; moving ages is the exception.
    assert adjusted < len(segments.personas) / 2


def test_cluster_names_are_unique_and_match_their_profile(segments: SegmentSet) -> None:
    names = [c.name for c in segments.clusters]
    assert len(set(names)) == len(names)
    for c in segments.clusters:
        a = c.attributes
        assert c.name.startswith(TIER_WORDS[a["dominant_credit_tier"]] + " "), c.name
        assert a["size"] >= 15
        assert abs(sum(a["age_band_shares"].values()) - 1) < 1e-3
        assert abs(sum(a["credit_tier_shares"].values()) - 1) < 1e-3
        assert a["auto_debt_level"] in ("high", "medium", "low")
        if "Auto-Heavy" in c.name:
            assert a["auto_debt_level"] == "high"
        assert f"Median age {a['age_median']} " in c.summary
        assert f"mostly {a['dominant_credit_tier']} " in c.summary
        assert f"${a['auto_loan_balance_mean']:,} owed" in c.summary
    assert sum(c.attributes["size"] for c in segments.clusters) == SMALL_N


def test_build_reports_progress_and_rejects_bad_k(records: list[dict]) -> None:
    messages: list[str] = []
    build_segments(records[:400], k=3, progress=messages.append)
    assert messages[0].startswith("encoding 400 records") and "3 clusters" in messages[-1]
    with pytest.raises(ValueError, match="at least 2"):
        build_segments(records, k=1)
    with pytest.raises(ValueError, match="too few"):
        build_segments(records[:20], k=2)


# ------------------------------------------------------------------ JSON format


def test_json_round_trip(segments: SegmentSet) -> None:
    text = segments.to_json()
    assert json.loads(text)["format"] == "segment-set/v1"
    assert SegmentSet.from_json(text) == segments


def _valid() -> dict:
    return {
        "format": "segment-set/v1",
        "clusters": [{"key": 1, "name": "A", "summary": "s", "attributes": {}}],
        "personas": [
            {
                "cluster_key": 1,
                "name": "Mia",
                "gender": "Female",
                "age_band": "25 - 34",
                "summary": "s",
                "attributes": {"age": 30},
            },
        ],
    }


def _mutate(path: str, value: object) -> dict:
    data = _valid()
    *parents, last = path.split(".")
    node: object = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    if value is KeyError:
        del node[last]  # type: ignore[index]
    else:
        node[int(last) if isinstance(node, list) else last] = value  # type: ignore[index]
    return data


def test_minimal_valid_set_loads() -> None:
    loaded = SegmentSet.from_json(json.dumps(_valid()))
    assert loaded.clusters[0].name == "A" and loaded.personas[0].age_band == "25 - 34"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_mutate("format", "v0"), "unsupported segment set format"),
        (_mutate("clusters", KeyError), "missing 'clusters'"),
        (_mutate("clusters", {}), "'clusters' must be a list"),
        (_mutate("clusters", []), "no clusters"),
        (_mutate("clusters.0.key", "1"), r"clusters\[0\]: 'key' must be an integer"),
        (_mutate("clusters.0.key", True), r"clusters\[0\]: 'key' must be an integer"),
        (_mutate("clusters.0.name", " "), r"clusters\[0\]: 'name' must not be empty"),
        (_mutate("clusters.0.attributes", KeyError), r"clusters\[0\] is missing 'attributes'"),
        (_mutate("personas.0.cluster_key", 9), r"personas\[0\]: cluster_key 9 does not match"),
        (_mutate("personas.0.gender", "female"), r"personas\[0\]: gender must be one of"),
        (_mutate("personas.0.age_band", "25-34"), r"personas\[0\]: age_band must be one of"),
        (_mutate("personas.0.attributes", {"age": 50}), r"attributes.age 50 is outside its age_band '25 - 34'"),
        (_mutate("personas", None), "'personas' must be a list"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_malformed_sets_fail_with_clear_errors(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SegmentSet.from_json(json.dumps(data))


def test_duplicates_and_bad_json_are_rejected() -> None:
    data = _valid()
    data["clusters"].append(dict(data["clusters"][0], key=2))
    with pytest.raises(ValueError, match="duplicate cluster name 'A'"):
        SegmentSet.from_dict(data)
    data["clusters"][1]["name"], data["clusters"][1]["key"] = "B", 1
    with pytest.raises(ValueError, match="duplicate cluster key 1"):
        SegmentSet.from_dict(data)
    with pytest.raises(ValueError, match="not valid JSON"):
        SegmentSet.from_json('{"clusters": [')


# ------------------------------------------------------------------ demo set


def test_demo_file_equals_a_fresh_build() -> None:
    fresh = build_demo_segments()
    assert DEMO_PATH.read_text(encoding="utf-8") == fresh.to_json(), (
        "use_cases/twin/segments/demo_segments.json is stale: run `python -m use_cases.twin.segments.demo`"
    )
    demo = demo_segments()
    assert demo == fresh
    assert len(demo.clusters) >= 10
    assert sum(c.attributes["size"] for c in demo.clusters) >= 5000
    assert len(demo.personas) == 15 * len(demo.clusters)


# ------------------------------------------------------------------ reading files


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_load_csv_and_parquet_give_the_same_records(tmp_path: Path, records: list[dict]) -> None:
    rows = records[:300]
    _write_csv(tmp_path / "r.csv", rows)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "r.parquet")
    assert load_records(tmp_path / "r.csv") == rows
    assert load_records(tmp_path / "r.parquet") == rows
    built = build_segments(load_records(tmp_path / "r.csv"), k=2, seed=3)
    assert built.to_json() == build_segments(rows, k=2, seed=3).to_json()


def test_load_fills_optional_columns(tmp_path: Path, records: list[dict]) -> None:
    rows = [{k: v for k, v in r.items() if k not in OPTIONAL_COLUMNS} for r in records[:5]]
    _write_csv(tmp_path / "r.csv", rows)
    loaded = load_records(tmp_path / "r.csv")
    assert [r["record_id"] for r in loaded] == [1, 2, 3, 4, 5]
    assert [r["region"] for r in loaded] == [r["region"] for r in records[:5]]
    assert {r["country"] for r in loaded} == {"USA"}


def test_load_reports_missing_columns_and_bad_values(tmp_path: Path, records: list[dict]) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("credit_tier", "age")} for r in records[:3]]
    _write_csv(tmp_path / "missing.csv", rows)
    with pytest.raises(ValueError, match="missing required column\\(s\\): age, credit_tier"):
        load_records(tmp_path / "missing.csv")
    bad = [dict(r) for r in records[:3]]
    bad[1]["credit_tier"] = "Platinum"
    _write_csv(tmp_path / "bad.csv", bad)
    with pytest.raises(ValueError, match="row 2, column 'credit_tier'"):
        load_records(tmp_path / "bad.csv")
    bad[1]["credit_tier"], bad[2]["age"] = "Prime", "forty"
    _write_csv(tmp_path / "bad.csv", bad)
    with pytest.raises(ValueError, match="row 3, column 'age': expected a number"):
        load_records(tmp_path / "bad.csv")
    (tmp_path / "r.xlsx").write_text("x")
    with pytest.raises(ValueError, match="must end in .csv or .parquet"):
        load_records(tmp_path / "r.xlsx")
    with pytest.raises(ValueError, match="does not exist"):
        load_records(tmp_path / "nope.csv")
