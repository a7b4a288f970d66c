"""table_weighting: how the survey's weights bring a table's twins to their clusters, with no model.

A cluster's 15 twins are a small sample of its people. Weighted as the survey weighs them, their
own records' answers should split like the cluster's members. This builds twins from a table
without the `--hold-out` columns, as `personas twin validate` does, and compares the two
weightings a survey offers (`graphs.segment_survey.raking`): `age_gender` (the twins' cells, or
the parts of the cluster they stand for) and `raked` (those weights raked to every column split
the cluster stores). Per weighting, the mean total variation distance between the twins'
weighted own answers and their cluster's members' (weighted) answers:

- `in_profile`: over every category, ordinal and boolean column the twins were built with (the
  columns raking fits, so it says how far the fit gets with 15 twins);
- `held_out`: over the held-out columns, which raking never saw (the floor of `twin validate`);

and Kish's effective size of the weights (mean over clusters). Run it on a table you did not
tune on:

    python -m evals.table_weighting --records survey.csv --schema schema.json --clusters 4 \
        --hold-out envir_gwarm,gun_control
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path

from domain.record_answers import record_option
from domain.record_schema import RecordSchema
from graphs.segment_survey.raking import Weighting
from graphs.segment_survey.weights import effective_size
from use_cases.twin.fidelity import held_out_schema, options_of, tvd, twin_weights
from use_cases.twin.record_table import Record, RecordTable, read_record_table
from use_cases.twin.segments.table_build import build_table_segments


def _split(options: list[str], answers: Sequence[tuple[str | None, float]]) -> dict[str, float]:
    """The weighted share of each option among the answers that name one."""
    known = [(o, w) for o, w in answers if o is not None]
    total = sum(w for _, w in known)
    return {o: sum(w for a, w in known if a == o) / total if total else 0.0 for o in options}


def column_misfit(
    schema: RecordSchema,
    column: str,
    twins: Sequence[Record],
    weights: Sequence[float],
    members: Sequence[Record],
) -> float | None:
    """TVD between the twins' weighted own answers to `column` and the members'; None when no
    twin (or no member) answered it."""
    spec = schema.columns[column]
    options = options_of(spec)
    own = [(record_option(spec, r.values.get(column), options), w) for r, w in zip(twins, weights, strict=True)]
    people = [(record_option(spec, r.values.get(column), options), r.weight) for r in members]
    if all(o is None for o, _ in own) or all(o is None for o, _ in people):
        return None
    return tvd(_split(options, own), _split(options, people))


def compare(table: RecordTable, k: int, hold_out: Sequence[str], seed: int = 7) -> dict[str, dict[str, float]]:
    """{weighting: {"in_profile", "held_out", "effective_size"}}, means over clusters and columns."""
    schema = table.schema
    built_from = RecordTable(schema=held_out_schema(schema, hold_out), records=table.records)
    segments = build_table_segments(built_from, k, seed)
    by_id = {r.record_id: r for r in table.records}
    out: dict[str, dict[str, float]] = {}
    weightings: tuple[Weighting, ...] = ("age_gender", "raked")
    for weighting in weightings:
        misfits: dict[str, list[float]] = {"in_profile": [], "held_out": []}
        sizes: list[float] = []
        for cluster in segments.clusters:
            twins = [p for p in segments.personas if p.cluster_key == cluster.key]
            weights = twin_weights(twins, cluster.attributes, weighting)
            sizes.append(effective_size(weights))
            records = [by_id[str(p.attributes["record_id"])] for p in twins]
            members = [by_id[rid] for rid in cluster.attributes["record_ids"]]
            columns = {"in_profile": list(cluster.attributes["value_shares"]), "held_out": list(hold_out)}
            for kind, names in columns.items():
                for column in names:
                    misfit = column_misfit(schema, column, records, weights, members)
                    if misfit is not None:
                        misfits[kind].append(misfit)
        out[weighting] = {kind: round(statistics.mean(v), 4) for kind, v in misfits.items() if v}
        out[weighting]["effective_size"] = round(statistics.mean(sizes), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", required=True, type=Path)
    parser.add_argument("--schema", type=Path)
    parser.add_argument("--clusters", required=True, type=int)
    parser.add_argument("--hold-out", required=True, help="comma-separated columns")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    table = read_record_table(args.records, args.schema)
    hold_out = [c.strip() for c in args.hold_out.split(",") if c.strip()]
    print("weighting   in_profile  held_out  effective_size")
    for weighting, figures in compare(table, args.clusters, hold_out, args.seed).items():
        print(
            f"{weighting:10s}  {figures.get('in_profile', float('nan')):.4f}      "
            f"{figures.get('held_out', float('nan')):.4f}    {figures['effective_size']:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
