"""How faithful twins are to their people: build twins without some columns, ask each hidden
column's question of every twin, and compare the answers with the records.

Per question and cluster: individual accuracy (a twin's most likely option against its own
record) and the total variation distance (TVD) between the cluster's answers, weighted by the
records the twins stand for, and its members' true answers. The same figures for the floor (the
twins' own records) and the baselines: uniform, the whole table's distribution, and the model
asked without any record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings

from domain.record_answers import record_option
from domain.record_schema import ColumnSpec, RecordSchema
from graphs.persona_chat.facts import persona_facts
from graphs.segment_survey.closed_answer import TABLE_METHOD, Method, ask_closed_question, shuffled_order
from graphs.segment_survey.raking import DEFAULT_WEIGHTING, Weighting, survey_weights
from graphs.segment_survey.survey_prompt import prompt_writer
from runtime.settings import Settings
from store.clusters import ClusterRow, SegmentPersonaRow
from use_cases.twin.record_table import Record, RecordTable
from use_cases.twin.segments.model import SegmentPersonaSpec, SegmentSet
from use_cases.twin.segments.table_build import build_table_segments

Progress = Callable[[int, int], None]
NO_RECORD_PROMPT = "You are an adult living in the USA, answering a survey."


class FidelityError(ValueError):
    """The validation cannot run as asked; the message names the column."""


@dataclass
class ClusterFidelity:
    cluster_key: int
    cluster_name: str
    n_twins: int
    weight: float  # of the cluster's members who answered the question
    truth: dict[str, float]
    twins: dict[str, float]
    floor: dict[str, float]
    tvd: dict[str, float]  # twins, floor, uniform, table, no_record
    accuracy: dict[str, float | None]  # twins, no_record


@dataclass
class QuestionFidelity:
    column: str
    question: str
    options: list[str]
    clusters: list[ClusterFidelity] = field(default_factory=list)

    def mean(self, figure: str, kind: str) -> float | None:
        values = [getattr(c, figure)[kind] for c in self.clusters if getattr(c, figure).get(kind) is not None]
        return round(sum(values) / len(values), 4) if values else None


def options_of(spec: ColumnSpec) -> list[str]:
    if spec.type == "boolean":
        return ["Yes", "No"]
    return list(spec.values or [])


def held_out_schema(schema: RecordSchema, columns: Sequence[str]) -> RecordSchema:
    """`schema` with the held-out columns ignored, after checking each can be asked."""
    for name in columns:
        spec = schema.columns.get(name)
        if spec is None:
            raise FidelityError(f"--hold-out {name}: no such column in the schema")
        if name in (schema.gender, schema.age):
            raise FidelityError(f"--hold-out {name}: the gender and age columns make the twins and cannot be hidden")
        if spec.type not in ("category", "ordinal", "boolean") or not 2 <= len(options_of(spec)) <= 10:
            raise FidelityError(f"--hold-out {name}: only a category, ordinal or boolean column of 2 to 10 values")
    hidden = {
        name: spec.model_copy(update={"use": "ignore"}) for name, spec in schema.columns.items() if name in columns
    }
    return schema.model_copy(update={"columns": {**schema.columns, **hidden}})


def twin_weights(
    twins: Sequence[SegmentPersonaSpec], attributes: Mapping[str, Any], weighting: Weighting = DEFAULT_WEIGHTING
) -> list[float]:
    """The weights a survey with `weighting` gives a built cluster's twins (`attributes`: the
    cluster's)."""
    return survey_weights(
        [(p.gender, p.age_band) for p in twins],
        [persona_facts(p.attributes) for p in twins],
        attributes,
        weighting,
        [p.attributes.get("stands_for") for p in twins],
        [p.attributes for p in twins],
    )


def _persona_row(index: int, persona: SegmentPersonaSpec) -> SegmentPersonaRow:
    """A twin not stored, in the shape the survey reads stored twins in."""
    return SegmentPersonaRow(
        persona_id=index + 1,
        cluster_id=persona.cluster_key,
        name=persona.name,
        gender=persona.gender,
        age_band=persona.age_band,
        summary=persona.summary,
        attributes=None,
    )


def _distribution(options: list[str], pairs: Sequence[tuple[dict[str, float], float]]) -> dict[str, float]:
    total = sum(weight for _, weight in pairs)
    mixed = {o: sum(p.get(o, 0.0) * w for p, w in pairs) / total if total else 0.0 for o in options}
    return {o: round(v, 4) for o, v in mixed.items()}


def _one_hot(options: list[str], option: str) -> dict[str, float]:
    return {o: 1.0 if o == option else 0.0 for o in options}


def tvd(p: dict[str, float], q: dict[str, float]) -> float:
    return round(0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q)), 4)


def _truth(records: Sequence[Record], column: str, spec: ColumnSpec, options: list[str]) -> dict[str, float]:
    pairs = [
        (_one_hot(options, option), r.weight)
        for r in records
        if (option := record_option(spec, r.values.get(column), options)) is not None
    ]
    return _distribution(options, pairs)


def _accuracy(pairs: Sequence[tuple[dict[str, float], str | None]]) -> float | None:
    known = [(p, own) for p, own in pairs if own is not None]
    if not known:
        return None
    return round(sum(1 for p, own in known if max(p, key=lambda o: p[o]) == own) / len(known), 4)


async def validate_twins(
    table: RecordTable,
    hold_out: Sequence[str],
    k: int,
    model: str,
    *,
    seed: int = 7,
    settings: Settings | None = None,
    concurrency: int = 1,
    method: Method = "auto",
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[SegmentSet, list[QuestionFidelity]]:
    """Build `k` clusters without the `hold_out` columns and measure the twins against them. The
    twins answer with the survey's prompts and `method`; without `embeddings` the prompts hold the
    first answers of each record instead of the ones closest to the question (and `ssr` cannot
    run)."""
    schema = table.schema
    built_from = RecordTable(schema=held_out_schema(schema, hold_out), records=table.records)
    segments = await asyncio.to_thread(build_table_segments, built_from, k, seed, say)
    by_id = {r.record_id: r for r in table.records}
    clusters = {c.key: c for c in segments.clusters}
    twin_schema = built_from.schema

    async def prompts_for(question: str) -> list[str]:
        """Each twin's survey prompt for `question`, as the survey route writes it."""
        write = await prompt_writer(twin_schema, question, embeddings)
        rows = {key: ClusterRow(id=key, name=c.name, summary=c.summary, attributes=None) for key, c in clusters.items()}
        return [write(rows[p.cluster_key], _persona_row(i, p), p.attributes) for i, p in enumerate(segments.personas)]

    gate = asyncio.Semaphore(max(1, concurrency))
    n_options = [len(options_of(schema.columns[c])) for c in hold_out if c in schema.columns]
    done, total = 0, len(hold_out) * len(segments.personas) + sum(n_options)

    async def ask(prompt: str, question: str, options: list[str], order: list[int]) -> dict[str, float]:
        nonlocal done
        async with gate:
            answer = await ask_closed_question(
                model,
                prompt,
                question,
                options,
                seed=seed,
                order=order,
                method=TABLE_METHOD if method == "auto" else method,
                settings=settings,
                embeddings=embeddings,
            )
        done += 1
        if progress is not None:
            progress(done, total)
        return dict(answer.probabilities)

    async def without_record(question: str, options: list[str]) -> dict[str, float]:
        """The model with no persona, its probabilities averaged over every rotation of the
        options (the twins see them in an order of their own, as a survey shows them)."""
        n = len(options)
        rotations = [[(start + i) % n for i in range(n)] for start in range(n)]
        asked = [await ask(NO_RECORD_PROMPT, question, options, order) for order in rotations]
        return {o: sum(p[o] for p in asked) / n for o in options}

    results: list[QuestionFidelity] = []
    for column in hold_out:
        spec = schema.columns[column]
        options, question = options_of(spec), spec.asked
        no_record = await without_record(question, options)
        prompts = await prompts_for(question)
        # each twin sees the options in its own order, as the survey shuffles them per respondent
        orders = [shuffled_order(len(options), seed, i) for i in range(len(prompts))]
        answers = await asyncio.gather(*(ask(p, question, options, o) for p, o in zip(prompts, orders, strict=True)))
        table_truth = _truth(table.records, column, spec, options)
        fidelity = QuestionFidelity(column=column, question=question, options=options)
        for key, cluster in clusters.items():
            members = [by_id[rid] for rid in cluster.attributes["record_ids"]]
            twins = [(i, p) for i, p in enumerate(segments.personas) if p.cluster_key == key]
            own = [record_option(spec, by_id[p.attributes["record_id"]].values.get(column), options) for _, p in twins]
            # weighted as the survey weighs them by default: raked to the cluster's stored splits
            weights = twin_weights([p for _, p in twins], cluster.attributes)
            truth = _truth(members, column, spec, options)
            mixed = _distribution(options, [(answers[i], w) for (i, _), w in zip(twins, weights, strict=True)])
            floor = _distribution(
                options, [(_one_hot(options, o), w) for o, w in zip(own, weights, strict=True) if o is not None]
            )
            uniform = {o: round(1 / len(options), 4) for o in options}
            fidelity.clusters.append(
                ClusterFidelity(
                    cluster_key=key,
                    cluster_name=cluster.name,
                    n_twins=len(twins),
                    weight=round(sum(r.weight for r in members if r.values.get(column) is not None), 4),
                    truth=truth,
                    twins=mixed,
                    floor=floor,
                    tvd={
                        "twins": tvd(mixed, truth),
                        "floor": tvd(floor, truth),
                        "uniform": tvd(uniform, truth),
                        "table": tvd(table_truth, truth),
                        "no_record": tvd(no_record, truth),
                    },
                    accuracy={
                        "twins": _accuracy([(answers[i], o) for (i, _), o in zip(twins, own, strict=True)]),
                        "no_record": _accuracy([(no_record, o) for o in own]),
                    },
                )
            )
        results.append(fidelity)
    return segments, results


def report_json(results: Sequence[QuestionFidelity], meta: dict[str, Any]) -> dict[str, Any]:
    kinds = ("twins", "floor", "uniform", "table", "no_record")
    return {
        **meta,
        "questions": [
            {
                "column": q.column,
                "question": q.question,
                "options": q.options,
                "mean_tvd": {kind: q.mean("tvd", kind) for kind in kinds},
                "mean_accuracy": {kind: q.mean("accuracy", kind) for kind in ("twins", "no_record")},
                "clusters": [c.__dict__ for c in q.clusters],
            }
            for q in results
        ],
    }
