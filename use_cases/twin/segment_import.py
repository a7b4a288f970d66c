"""Importing a segment set: embed clusters and personas, render each twin's system prompt,
and replace the stored twins in one transaction (`store.twin.replace_twins`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings

from domain.demographics import known, person_phrase
from domain.record_schema import RecordSchema, describe
from prompts import render_prompt
from store.twin import ClusterInsert, ImportSummary, TwinInsert, replace_twins
from store.types import Pool
from use_cases.twin.segments.model import SegmentPersonaSpec, SegmentSet

Progress = Callable[[str], None]

# Attributes that are bookkeeping, not facts about the persona.
_HIDDEN_ATTRIBUTES = {"record_id", "age_adjusted"}


def cluster_text(name: str, summary: str) -> str:
    """What a cluster's embedding is computed from."""
    return f"{name}. {summary}"


def persona_text(spec: SegmentPersonaSpec) -> str:
    """What a segment persona's embedding is computed from."""
    known_parts = [part for part in (spec.gender, spec.age_band) if known(part)]
    return ". ".join([", ".join(known_parts), spec.summary] if known_parts else [spec.summary])


def twin_facts(attributes: dict[str, Any], schema: RecordSchema | None = None) -> str:
    """The facts block of a twin's prompt: a table's twins say each answer in the words of its
    schema (the question and the answer); the demo's twins list their attributes."""
    if schema is not None:
        return "\n".join(
            f"- {describe(schema.columns[name], attributes[name])}"
            for name in schema.profile_columns()
            if schema.columns[name].question and attributes.get(name) is not None
        )
    lines = []
    for key, value in attributes.items():
        if key in _HIDDEN_ATTRIBUTES or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def twin_system_prompt(
    spec: SegmentPersonaSpec, cluster_name: str, cluster_summary: str, schema: RecordSchema | None = None
) -> str:
    """The twin's version-1 system prompt: a demo twin's from `prompts/twin_persona_system.txt`, a
    table twin's (any survey, any country) from `prompts/twin_record_system.txt`."""
    if schema is not None:
        return render_prompt(
            "twin_record_system",
            persona_name=spec.name,
            person=person_phrase(spec.age_band, spec.gender),
            cluster_name=cluster_name,
            summary=spec.summary,
            attributes=twin_facts(spec.attributes, schema),
            cluster_summary=cluster_summary,
        )
    return render_prompt(
        "twin_persona_system",
        persona_name=spec.name,
        age_band=spec.age_band,
        gender=spec.gender.lower(),
        cluster_name=cluster_name,
        summary=spec.summary,
        attributes=twin_facts(spec.attributes, schema),
        cluster_summary=cluster_summary,
    )


async def replace_segments(
    pool: Pool, segments: SegmentSet, embeddings: Embeddings, progress: Progress | None = None
) -> ImportSummary:
    """Replace all clusters and segment personas with `segments`, atomically.

    Embeddings are computed and prompts rendered before the transaction opens.
    """
    say = progress or (lambda _m: None)
    say(f"embedding {len(segments.clusters)} clusters")
    cluster_vectors = await embeddings.aembed_documents([cluster_text(c.name, c.summary) for c in segments.clusters])
    say(f"embedding {len(segments.personas)} personas")
    persona_vectors = await embeddings.aembed_documents([persona_text(p) for p in segments.personas])
    clusters_by_key = {c.key: c for c in segments.clusters}
    schema = RecordSchema.model_validate(segments.schema) if segments.schema is not None else None
    clusters = [
        ClusterInsert(id=c.key, name=c.name, summary=c.summary, attributes=c.attributes, embedding=v)
        for c, v in zip(segments.clusters, cluster_vectors, strict=True)
    ]
    twins = []
    for spec, vec in zip(segments.personas, persona_vectors, strict=True):
        cluster = clusters_by_key[spec.cluster_key]
        twins.append(
            TwinInsert(
                cluster_id=spec.cluster_key,
                name=spec.name,
                gender=spec.gender,
                age_band=spec.age_band,
                summary=spec.summary,
                attributes=spec.attributes,
                system_prompt=twin_system_prompt(spec, cluster.name, cluster.summary, schema),
                embedding=vec,
            )
        )
    say("writing to the database (one transaction)")
    summary = await replace_twins(pool, clusters, twins, segments.schema)
    say(f"imported {summary.clusters} clusters and {summary.personas} personas")
    return summary
