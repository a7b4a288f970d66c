"""The system prompt a twin answers a survey question with.

Shorter than its chat prompt and ordered for the model server: the group's text comes first, so
a server that reuses the longest prefix of the prompt it read last (llama.cpp does) reads it once
for all the twins of a cluster, asked one after another; then the twin itself, in the summary
its record wrote, and, for a table's twins, only the answers of its record that bear most on
the question (the chat prompt lists every one). The fact check and the segment prior read the
whole record whatever the prompt holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.embeddings import Embeddings

from domain.demographics import person_phrase
from domain.record_schema import RecordSchema, describe
from graphs.segment_survey.closed_answer import cosine
from prompts import render_prompt
from store.clusters import ClusterRow, SegmentPersonaRow

RELEVANT_FACTS = 5
"""Answers of a table twin's record put in its survey prompt: enough to place the person on the
question, few enough that the prompt stays a fraction of the chat prompt's length."""


PromptOf = Callable[[ClusterRow, SegmentPersonaRow, Mapping[str, Any]], str]
"""A persona's survey prompt from its cluster, its row and its record's attributes."""


def survey_system_prompt(
    *,
    cluster_name: str,
    cluster_summary: str,
    persona_name: str,
    age_band: str | None,
    gender: str | None,
    summary: str,
    facts: Sequence[str] = (),
) -> str:
    shown = "".join(f"\n- {fact}" for fact in facts)
    return render_prompt(
        "twin_survey_system",
        cluster_name=cluster_name,
        cluster_summary=cluster_summary,
        persona_name=persona_name,
        person=person_phrase(age_band, gender),
        summary=summary.strip(),
        facts=f"\nSome of your answers to other questions:{shown}" if shown else "",
    )


def record_facts(schema: RecordSchema | None, columns: Sequence[str], attributes: Mapping[str, Any]) -> list[str]:
    """The twin's answers to `columns`, in that order, as its prompt states them; the ones its
    record leaves empty are left out."""
    if schema is None:
        return []
    return [
        describe(schema.columns[name], attributes[name])
        for name in columns
        if name in schema.columns and attributes.get(name) is not None
    ]


async def relevant_columns(
    schema: RecordSchema | None, question: str, embeddings: Embeddings | None, limit: int = RELEVANT_FACTS
) -> list[str]:
    """The schema's question columns ranked by how close their label and question are to
    `question` (cosine of the embeddings), the `limit` closest; in schema order when there are
    no embeddings. Empty without a schema (a demo twin's summary states its whole record)."""
    if schema is None:
        return []
    asked = [
        name
        for name in schema.profile_columns()
        if schema.columns[name].question and name not in (schema.gender, schema.age)
    ]
    if embeddings is None or len(asked) <= limit:
        return asked[:limit]
    texts = [f"{schema.columns[n].label}. {schema.columns[n].question}" for n in asked]
    vectors = await embeddings.aembed_documents([question, *texts])
    scores = [cosine(vectors[0], v) for v in vectors[1:]]
    ranked = sorted(range(len(asked)), key=lambda i: (-scores[i], i))
    return [asked[i] for i in ranked[:limit]]


async def prompt_writer(schema: RecordSchema | None, question: str, embeddings: Embeddings | None) -> PromptOf:
    """What writes each persona's survey prompt for `question`: the twins of a table get the
    answers of their records closest to it."""
    columns = await relevant_columns(schema, question, embeddings)

    def prompt_of(cluster: ClusterRow, persona: SegmentPersonaRow, attributes: Mapping[str, Any]) -> str:
        return survey_system_prompt(
            cluster_name=cluster["name"],
            cluster_summary=cluster["summary"],
            persona_name=persona["name"],
            age_band=persona["age_band"],
            gender=persona["gender"],
            summary=persona["summary"],
            facts=record_facts(schema, columns, attributes),
        )

    return prompt_of
