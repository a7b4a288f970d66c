"""Segment-twin data model: clusters, their personas, and the JSON import format.

JSON import format (``format`` = ``"segment-set/v1"``)::

    {
      "format": "segment-set/v1",
      "clusters": [
        {"key": 0, "name": "Sub-Prime Auto-Heavy Millennials",
         "summary": "Median age 33 ...", "attributes": {"age_median": 33, ...}}
      ],
      "personas": [
        {"cluster_key": 0, "name": "Charlotte", "gender": "Female",
         "age_band": "18 - 24", "summary": "A 22-year-old ...",
         "attributes": {"age": 22, ...}}
      ]
    }

Rules checked by :meth:`SegmentSet.from_json` (a ``ValueError`` names the offending
entry): cluster ``key`` is a unique integer, ``name`` a unique non-empty string,
``summary`` a non-empty string, ``attributes`` an object; each persona's
``cluster_key`` refers to a listed cluster, ``gender`` is ``"Female"``, ``"Male"`` or
``"Unknown"``, ``age_band`` is one of :data:`AGE_BANDS` or ``"Unknown"`` (a table without a
gender or age column). Attribute objects are free-form JSON, but
when a persona's attributes hold an integer ``age`` it must lie inside its band.
The persona pattern of :data:`PERSONA_PATTERN` is what ``build_segments`` produces;
imports may carry any number of personas per cluster.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from domain.demographics import AGE_BAND_LIMITS, AGE_BANDS, GENDERS, UNKNOWN
from domain.record_schema import RecordSchema

FORMAT = "segment-set/v1"

# The contract's 15 personas per cluster: women in the 7 bands, then men in 8
# (25 - 34 appears twice for men, as in the contract's example).
PERSONA_PATTERN: tuple[tuple[str, str], ...] = tuple(("Female", b) for b in AGE_BANDS) + (
    ("Male", "18 - 24"),
    ("Male", "25 - 34"),
    ("Male", "25 - 34"),
    ("Male", "35 - 44"),
    ("Male", "45 - 54"),
    ("Male", "55 - 64"),
    ("Male", "65 - 74"),
    ("Male", "75+"),
)
PERSONAS_PER_CLUSTER = len(PERSONA_PATTERN)


class TooFewRecords(ValueError):
    """The records cannot make the clusters asked for."""


class NoWeight(ValueError):
    """Every record has weight 0: nobody to cluster."""


def check_clustering(n_records: int, k: int, total_weight: float | None = None) -> None:
    """Raise unless `n_records` records (of `total_weight`, when they are weighted) make `k`
    clusters of 15 personas each."""
    if k < 2:
        raise TooFewRecords("k must be at least 2")
    if n_records < k * PERSONAS_PER_CLUSTER:
        raise TooFewRecords(
            f"{n_records} records are too few for {k} clusters (need at least {k * PERSONAS_PER_CLUSTER})"
        )
    if total_weight is not None and total_weight <= 0:
        raise NoWeight("every record has weight 0")


# Generation of each age band (ages in 2025; a band goes to the generation most of it
# belongs to).
GENERATION_BANDS: dict[str, tuple[str, ...]] = {
    "Gen Z": ("18 - 24",),
    "Millennials": ("25 - 34", "35 - 44"),
    "Gen X": ("45 - 54", "55 - 64"),
    "Boomers": ("65 - 74", "75+"),
}
BAND_GENERATION: dict[str, str] = {b: g for g, bands in GENERATION_BANDS.items() for b in bands}


def age_band_of(age: int) -> str:
    """The band holding ``age``; ages under 18 are not consumers here."""
    if age < 18:
        raise ValueError(f"age {age} is under 18; the youngest band is 18 - 24")
    for band, (lo, hi) in AGE_BAND_LIMITS.items():
        if lo <= age <= hi:
            return band
    return "75+"


@dataclass(frozen=True)
class ClusterSpec:
    key: int
    name: str
    summary: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentPersonaSpec:
    cluster_key: int
    name: str
    gender: str
    age_band: str
    summary: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class SegmentSet:
    clusters: list[ClusterSpec]
    personas: list[SegmentPersonaSpec]
    # the `record-schema/v1` of the table the set was built from (None: the demo's consumer table)
    schema: dict[str, Any] | None = None

    def personas_of(self, cluster_key: int) -> list[SegmentPersonaSpec]:
        return [p for p in self.personas if p.cluster_key == cluster_key]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "clusters": [asdict(c) for c in self.clusters],
            "personas": [asdict(p) for p in self.personas],
        }
        if self.schema is not None:
            data["schema"] = self.schema
        return data

    def to_json(self) -> str:
        """Stable text (fixed key order, 1-space indent, trailing newline) so diffs stay readable."""
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SegmentSet:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"segment set is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> SegmentSet:
        if not isinstance(data, dict):
            raise ValueError("segment set must be a JSON object with 'clusters' and 'personas'")
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"unsupported segment set format {fmt!r}; expected {FORMAT!r}")
        clusters = [_cluster_from(i, c) for i, c in enumerate(_list_field(data, "clusters"))]
        if not clusters:
            raise ValueError("segment set has no clusters")
        _check_unique([c.key for c in clusters], "cluster key")
        _check_unique([c.name for c in clusters], "cluster name")
        keys = {c.key for c in clusters}
        personas = [_persona_from(i, p, keys) for i, p in enumerate(_list_field(data, "personas"))]
        return cls(clusters=clusters, personas=personas, schema=_schema_from(data.get("schema")))


def _schema_from(data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        return RecordSchema.model_validate(data).model_dump(exclude_none=True)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise ValueError(f"schema: {where}: {first['msg']}") from None


def _list_field(data: dict[str, Any], name: str) -> list[Any]:
    if name not in data:
        raise ValueError(f"segment set is missing '{name}'")
    value = data[name]
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list, got {type(value).__name__}")
    return value


def _check_unique(values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)


def _require(entry: Any, where: str, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    if name not in entry:
        raise ValueError(f"{where} is missing '{name}'")
    value = entry[name]
    # bool is an int subclass; a key of `true` is a mistake, not an id.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}: '{name}' must be {_kind_name(kind)}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{where}: '{name}' must not be empty")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return {int: "an integer", str: "a string", dict: "an object"}.get(kind, str(kind))  # type: ignore[arg-type]


def _cluster_from(i: int, entry: Any) -> ClusterSpec:
    where = f"clusters[{i}]"
    return ClusterSpec(
        key=_require(entry, where, "key", int),
        name=_require(entry, where, "name", str).strip(),
        summary=_require(entry, where, "summary", str),
        attributes=_require(entry, where, "attributes", dict),
    )


def _persona_from(i: int, entry: Any, cluster_keys: set[int]) -> SegmentPersonaSpec:
    where = f"personas[{i}]"
    cluster_key = _require(entry, where, "cluster_key", int)
    if cluster_key not in cluster_keys:
        raise ValueError(f"{where}: cluster_key {cluster_key} does not match any cluster key")
    gender = _require(entry, where, "gender", str)
    if gender not in (*GENDERS, UNKNOWN):
        raise ValueError(f"{where}: gender must be one of {[*GENDERS, UNKNOWN]}, got {gender!r}")
    band = _require(entry, where, "age_band", str)
    if band not in (*AGE_BANDS, UNKNOWN):
        raise ValueError(f"{where}: age_band must be one of {[*AGE_BANDS, UNKNOWN]}, got {band!r}")
    attributes = _require(entry, where, "attributes", dict)
    age = attributes.get("age")
    if isinstance(age, int) and not isinstance(age, bool) and band != UNKNOWN:
        lo, hi = AGE_BAND_LIMITS[band]
        if not (lo <= age <= hi or (band == "75+" and age >= 75)):
            raise ValueError(f"{where}: attributes.age {age} is outside its age_band {band!r}")
    return SegmentPersonaSpec(
        cluster_key=cluster_key,
        name=_require(entry, where, "name", str).strip(),
        gender=gender,
        age_band=band,
        summary=_require(entry, where, "summary", str),
        attributes=attributes,
    )
