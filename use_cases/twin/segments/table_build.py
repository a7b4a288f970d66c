"""Twins from any table of people with a `record-schema/v1`: encode the mixed-type columns,
cluster with the survey weights (scikit-learn's KMeans), name each cluster after the answers
that set it apart, and pick real records as its personas.

With the schema's gender and age columns, a cluster's 15 personas are the contract's women and
men across the age bands, and a survey weighs each by its (gender, age band) cell. Without them
(or in a cluster where nobody gave both), the cluster is split into 15 parts by weighted KMeans
and each part's member nearest its centre stands for the part: its `stands_for` is the part's
share of the cluster's weight, and its gender or age band is `Unknown` where the record has none.

Every cluster lists its members' `record_ids` and every persona keeps the `record_id` of the
person it stands for, so a twin can be held to its record (`personas twin validate`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from domain.demographics import AGE_BAND_LIMITS, UNKNOWN
from domain.record_schema import ColumnSpec, RecordSchema, age_in_years, describe, gender_of, names_something
from use_cases.twin.record_table import Record, RecordTable
from use_cases.twin.segments.model import (
    PERSONA_PATTERN,
    PERSONAS_PER_CLUSTER,
    ClusterSpec,
    SegmentPersonaSpec,
    SegmentSet,
    age_band_of,
    check_clustering,
)
from use_cases.twin.segments.personas import FEMALE_NAMES, MALE_NAMES, NEUTRAL_NAMES

Progress = Callable[[str], None]
N_INIT = 10
_MIN_SHARE = 0.25  # a value names a cluster only when at least this share of it gives that answer
_TRAITS_IN_NAME = 2
_TRAITS_IN_SUMMARY = 5
_NAME_PART_CHARS = 48


@dataclass(frozen=True)
class _Trait:
    column: str
    label: str
    value: str
    share: float  # in the cluster (weighted)
    overall: float  # in the whole table (weighted)

    @property
    def text(self) -> str:
        return f"{self.label}: {self.value}"

    @property
    def short(self) -> str:
        """How a cluster name shows it: an answer that names something ("Mitt Romney", "White
        non-Hispanic") alone; a yes/no or a point on a scale ("Decreased") after the last
        clause of its label, which says what it is about."""
        shown = self.value if names_something(self.value) else f"{self.label.rsplit(':', 1)[-1].strip()}: {self.value}"
        return shown if len(shown) <= _NAME_PART_CHARS else shown[: _NAME_PART_CHARS - 1].rstrip() + "…"

    @property
    def lift(self) -> float:
        return self.share / max(self.overall, 1e-9)


def _features(records: Sequence[Record], schema: RecordSchema, columns: list[str]) -> np.ndarray:
    """One block per column, each scaled to unit variance so that no column outweighs another
    by its number of values. Unknown cells sit at the column's mean (a zero after centring)."""
    blocks: list[np.ndarray] = []
    for name in columns:
        spec = schema.columns[name]
        cells = [r.values.get(name) for r in records]
        if spec.type in ("number", "ordinal") or name == schema.age:
            raw = np.array([_scalar(spec, name, schema, v) for v in cells], dtype=float)
            known = ~np.isnan(raw)
            if known.sum() < 2:
                continue
            raw[~known] = np.nanmean(raw)
            block = (raw - raw.mean())[:, None]
        else:
            levels = sorted({str(v) for v in cells if v is not None})
            if len(levels) < 2:
                continue
            index = {level: i for i, level in enumerate(levels)}
            block = np.zeros((len(records), len(levels)))
            for row, value in enumerate(cells):
                if value is not None:
                    block[row, index[str(value)]] = 1.0
            block -= block.mean(axis=0)
        spread = float(np.sqrt((block**2).sum(axis=1).mean()))
        if spread > 0:
            blocks.append(block / spread)
    if not blocks:
        raise ValueError("no profile column varies across the records: nothing to cluster on")
    return np.hstack(blocks)


def _scalar(spec: ColumnSpec, name: str, schema: RecordSchema, value: Any) -> float:
    if value is None:
        return float("nan")
    if name == schema.age:
        years = age_in_years(value)
        return float("nan") if years is None else years
    if spec.type == "ordinal" and spec.values:
        return float(spec.values.index(str(value)))
    return float(value)


def _traits(schema: RecordSchema, records: Sequence[Record], weights: np.ndarray, members: np.ndarray) -> list[_Trait]:
    """Each categorical answer the cluster gives more often than the table, most telling first."""
    found: list[_Trait] = []
    total, inside = weights.sum(), weights[members].sum()
    member = np.zeros(len(records), dtype=bool)
    member[members] = True
    for name in schema.profile_columns():
        spec = schema.columns[name]
        if spec.type not in ("category", "ordinal", "boolean") or name in (schema.gender, schema.age):
            continue
        by_value: dict[str, tuple[float, float]] = {}
        for row, record in enumerate(records):
            value = record.values.get(name)
            if value is None:
                continue
            key = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            everywhere, here = by_value.get(key, (0.0, 0.0))
            by_value[key] = (everywhere + weights[row], here + (weights[row] if member[row] else 0.0))
        for value, (everywhere, here) in by_value.items():
            share, overall = here / max(inside, 1e-9), everywhere / max(total, 1e-9)
            if share >= _MIN_SHARE and share > overall:
                found.append(_Trait(column=name, label=spec.label, value=value, share=share, overall=overall))
    found.sort(key=lambda t: (-(t.share - t.overall) * np.log(t.lift), t.text))
    distinct: list[_Trait] = []
    for trait in found:  # one answer per column
        if all(t.column != trait.column for t in distinct):
            distinct.append(trait)
    return distinct


def _cluster_name(traits: list[_Trait], taken: set[str], key: int) -> str:
    parts = [t.short for t in traits[:_TRAITS_IN_NAME]]
    name = " · ".join(parts) if parts else f"Cluster {key + 1}"
    for extra in traits[_TRAITS_IN_NAME:]:
        if name not in taken:
            break
        name = f"{name} · {extra.short}"
    if name in taken:
        name = f"{name} ({key + 1})"
    taken.add(name)
    return name


def _cluster_summary(traits: list[_Trait], size: int, weight_share: float) -> str:
    lines = [f"{size} records ({weight_share:.0%} of the weighted table)."]
    for trait in traits[:_TRAITS_IN_SUMMARY]:
        lines.append(f"{trait.text}: {trait.share:.0%} (table: {trait.overall:.0%}).")
    return " ".join(lines)


def _cell_shares(schema: RecordSchema, records: Sequence[Record], members: np.ndarray) -> dict[str, dict[str, float]]:
    """The members' weighted split by gender and by age band: a survey weighs each twin by the
    share of its cluster's records its (gender, age band) cell stands for."""
    genders: dict[str, float] = {}
    bands: dict[str, float] = {}
    for i in members:
        record = records[int(i)]
        gender, band = gender_of(record.values.get(schema.gender or "")), _band_of(record, schema)
        if gender is not None:
            genders[gender] = genders.get(gender, 0.0) + record.weight
        if band is not None:
            bands[band] = bands.get(band, 0.0) + record.weight

    def shares(counts: dict[str, float]) -> dict[str, float]:
        total = sum(counts.values())
        return {k: round(v / total, 6) for k, v in sorted(counts.items())} if total > 0 else {}

    return {"gender_shares": shares(genders), "age_band_shares": shares(bands)}


def _value_shares(schema: RecordSchema, records: Sequence[Record], members: np.ndarray) -> dict[str, dict[str, float]]:
    """{column: {value: weighted share of the members who gave it}} for every category,
    ordinal and boolean profile column: what routing matches a query's named values against."""
    out: dict[str, dict[str, float]] = {}
    for name in schema.profile_columns():
        if schema.columns[name].type not in ("category", "ordinal", "boolean") or name in (schema.gender, schema.age):
            continue
        counts: dict[str, float] = {}
        for i in members:
            record = records[int(i)]
            value = record.values.get(name)
            if value is not None:
                key = ("yes" if value else "no") if isinstance(value, bool) else str(value)
                counts[key] = counts.get(key, 0.0) + record.weight
        total = sum(counts.values())
        if total > 0:
            out[name] = {value: round(weight / total, 4) for value, weight in sorted(counts.items())}
    return out


def _band_of(record: Record, schema: RecordSchema) -> str | None:
    years = age_in_years(record.values.get(schema.age)) if schema.age else None
    if years is None or years < 18:
        return None
    return age_band_of(int(years))


@dataclass(frozen=True)
class _Pick:
    index: int  # of the record
    gender: str
    band: str
    stands_for: float | None = None  # share of the cluster's weight; None: weighed by its cell


def _pick_personas(
    schema: RecordSchema, records: Sequence[Record], members: np.ndarray, distances: np.ndarray
) -> list[_Pick]:
    """For each of the contract's (gender, age band) slots, the member nearest the centre with
    that gender and band, else that gender in the nearest band, else anyone with both known;
    none when no member gave both."""
    order = sorted(members.tolist(), key=lambda i: (float(distances[i]), records[i].record_id))
    genders = {i: gender_of(records[i].values.get(schema.gender)) if schema.gender else None for i in order}
    bands = {i: _band_of(records[i], schema) for i in order}
    usable = [i for i in order if genders[i] is not None and bands[i] is not None]
    if not usable:
        return []
    used: set[int] = set()
    picks: list[_Pick] = []
    for gender, band in PERSONA_PATTERN:
        lo, hi = AGE_BAND_LIMITS[band]

        def years_out(i: int, lo: int = lo, hi: int = hi) -> float:
            years = age_in_years(records[i].values.get(schema.age or "")) or 0.0
            return max(lo - years, years - hi, 0.0)

        pools = (
            [i for i in usable if genders[i] == gender and bands[i] == band],
            sorted((i for i in usable if genders[i] == gender), key=years_out),
            sorted(usable, key=years_out),
        )
        pick = next((i for pool in pools for i in pool if i not in used), usable[0])
        used.add(pick)
        picks.append(_Pick(pick, str(genders[pick]), str(bands[pick])))
    return picks


def _representatives(
    schema: RecordSchema, records: Sequence[Record], features: np.ndarray, members: np.ndarray, seed: int
) -> list[_Pick]:
    """The cluster split into (at most) 15 parts by weighted KMeans; per part, the member nearest
    its centre, standing for the part's share of the cluster's weight."""
    rows, weights = features[members], np.array([records[int(i)].weight for i in members], dtype=float)
    with warnings.catch_warnings():  # identical records make fewer distinct parts: fewer twins, no noise
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=min(PERSONAS_PER_CLUSTER, len(members)), n_init=N_INIT, random_state=seed)
        model.fit(rows, sample_weight=weights)
    picks: list[_Pick] = []
    for part in range(model.n_clusters):
        inside = np.flatnonzero(model.labels_ == part)
        if len(inside) == 0 or weights[inside].sum() <= 0:
            continue
        nearest = inside[int(np.argmin(np.linalg.norm(rows[inside] - model.cluster_centers_[part], axis=1)))]
        record = records[int(members[nearest])]
        gender = gender_of(record.values.get(schema.gender)) if schema.gender else None
        picks.append(
            _Pick(
                int(members[nearest]),
                gender or UNKNOWN,
                _band_of(record, schema) or UNKNOWN,
                round(float(weights[inside].sum() / weights.sum()), 6),
            )
        )
    return picks


def persona_summary(record: Record, schema: RecordSchema) -> str:
    """Who the person is, in plain sentences from the columns that ask no question (their
    demographics); the answers to the questions are the twin's facts (`twin_facts`)."""
    return " ".join(
        describe(schema.columns[name], value)
        for name in schema.profile_columns()
        if not schema.columns[name].question and (value := record.values.get(name)) is not None
    )


def _persona_attributes(record: Record, schema: RecordSchema, pick: _Pick) -> dict[str, Any]:
    """The record's known values by column, with its id and weight (and the share of its cluster
    it stands for, when it is a representative), and the facts the chat guard holds the twin to
    (`_twin_facts`)."""
    attributes: dict[str, Any] = {"record_id": record.record_id, "weight": record.weight}
    if pick.stands_for is not None:
        attributes["stands_for"] = pick.stands_for
    attributes.update(
        {name: value for name in schema.profile_columns() if (value := record.values.get(name)) is not None}
    )
    attributes["facts"] = _twin_facts(record, schema, pick.gender, pick.band)
    return attributes


def _twin_facts(record: Record, schema: RecordSchema, gender: str, band: str) -> dict[str, Any]:
    """Gender, age and each answer that names something ("Democrat", "Rent") with the other answers
    of its column that do: a reply claiming one of those is at odds with the record."""
    facts: dict[str, Any] = {}
    if gender != UNKNOWN:
        facts["gender"] = gender.lower()
    if band != UNKNOWN:
        facts["age_band"] = band
    years = record.values.get(schema.age or "")
    if isinstance(years, float) and schema.columns[schema.age or ""].type == "number":
        facts["age"] = int(years)
    answers: dict[str, Any] = {}
    for name in schema.profile_columns():
        spec, value = schema.columns[name], record.values.get(name)
        if name in (schema.gender, schema.age) or not isinstance(value, str) or not spec.values:
            continue
        others = [v for v in spec.values if v != value and names_something(v)]
        if names_something(value) and others:
            answers[name] = {"label": spec.question or spec.label, "value": value, "others": others}
    if answers:
        facts["answers"] = answers
    return facts


def build_table_segments(table: RecordTable, k: int, seed: int = 7, progress: Progress | None = None) -> SegmentSet:
    """`k` clusters of the table's records with 15 personas each; deterministic for the same
    table, `k` and `seed`. Cluster keys run from the largest cluster (by weight) down."""
    say = progress or (lambda _message: None)
    schema, records = table.schema, table.records
    weights = np.array([r.weight for r in records], dtype=float)
    check_clustering(len(records), k, float(weights.sum()))
    columns = [c for c in schema.profile_columns() if c != schema.gender and schema.columns[c].type != "text"]
    say(f"encoding {len(records)} records on {len(columns)} columns")
    features = _features(records, schema, columns)
    say(f"clustering into {k} clusters (KMeans, n_init={N_INIT}, seed={seed}, survey weights)")
    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(features, sample_weight=weights)
    labels = model.labels_
    distances = np.linalg.norm(features - model.cluster_centers_[labels], axis=1)
    groups = [np.flatnonzero(labels == c) for c in range(k)]
    if any(len(g) < PERSONAS_PER_CLUSTER for g in groups):
        raise ValueError(f"a cluster has fewer than {PERSONAS_PER_CLUSTER} records; try fewer than {k} clusters")
    groups.sort(key=lambda g: (-float(weights[g].sum()), int(g[0])))
    clusters: list[ClusterSpec] = []
    personas: list[SegmentPersonaSpec] = []
    taken: set[str] = set()
    total = float(weights.sum())
    for key, members in enumerate(groups):
        traits = _traits(schema, records, weights, members)
        name = _cluster_name(traits, taken, key)
        share = float(weights[members].sum()) / total
        say(f"cluster {key + 1}/{k}: {name} ({len(members)} records)")
        clusters.append(
            ClusterSpec(
                key=key,
                name=name,
                summary=_cluster_summary(traits, len(members), share),
                attributes={
                    "size": len(members),
                    "weight_share": round(share, 6),
                    "traits": [{"column": t.column, "text": t.text, "share": round(t.share, 4)} for t in traits[:8]],
                    **_cell_shares(schema, records, members),
                    "value_shares": _value_shares(schema, records, members),
                    "record_ids": [records[i].record_id for i in members],
                },
            )
        )
        rng = np.random.default_rng([seed, key])
        names = {
            "Female": list(rng.permutation(FEMALE_NAMES)),
            "Male": list(rng.permutation(MALE_NAMES)),
            UNKNOWN: list(rng.permutation(NEUTRAL_NAMES)),
        }
        picks = _pick_personas(schema, records, members, distances) if schema.gender and schema.age else []
        for pick in picks or _representatives(schema, records, features, members, seed):
            record = records[pick.index]
            personas.append(
                SegmentPersonaSpec(
                    cluster_key=key,
                    name=str(names[pick.gender].pop(0)),
                    gender=pick.gender,
                    age_band=pick.band,
                    summary=persona_summary(record, schema),
                    attributes=_persona_attributes(record, schema, pick),
                )
            )
    say(f"built {len(clusters)} clusters and {len(personas)} personas")
    return SegmentSet(clusters=clusters, personas=personas, schema=schema.model_dump(exclude_none=True))
