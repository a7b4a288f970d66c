"""Importing a segment set: embed clusters and personas, render each twin's system prompt,
and replace the stored twins in one transaction (`store.twin.replace_twins`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings

from prompts import render_prompt
from services.twin.segments.model import SegmentPersonaSpec, SegmentSet
from store.twin import ClusterInsert, ImportSummary, TwinInsert, replace_twins
from store.types import Pool

Progress = Callable[[str], None]

# Attributes that are bookkeeping, not facts about the persona.
_HIDDEN_ATTRIBUTES = {"record_id", "age_adjusted"}


def cluster_text(name: str, summary: str) -> str:
    """What a cluster's embedding is computed from."""
    return f"{name}. {summary}"


def persona_text(spec: SegmentPersonaSpec) -> str:
    """What a segment persona's embedding is computed from."""
    return f"{spec.gender}, {spec.age_band}. {spec.summary}"


def _facts(attributes: dict[str, Any]) -> str:
    lines = []
    for key, value in attributes.items():
        if key in _HIDDEN_ATTRIBUTES or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def twin_system_prompt(spec: SegmentPersonaSpec, cluster_name: str, cluster_summary: str) -> str:
    """The twin's version-1 system prompt, rendered from `prompts/twin_persona_system.txt`."""
    return render_prompt(
        "twin_persona_system",
        persona_name=spec.name,
        age_band=spec.age_band,
        gender=spec.gender.lower(),
        cluster_name=cluster_name,
        summary=spec.summary,
        attributes=_facts(spec.attributes),
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
                system_prompt=twin_system_prompt(spec, cluster.name, cluster.summary),
                embedding=vec,
            )
        )
    say("writing to the database (one transaction)")
    summary = await replace_twins(pool, clusters, twins)
    say(f"imported {summary.clusters} clusters and {summary.personas} personas")
    return summary
