"""Surveys of segment twins: one closed question to the personas of some clusters, through the
segment_survey graph, with progress for the command line.

A survey job runs the graph with a checkpointer thread of its own: LangGraph keeps the answer of
each persona as it comes, so a run interrupted half-way (a shutdown, a lost worker) resumes with
the answers it has and asks only the personas that had not answered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from graphs.segment_survey.closed_answer import Method
from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.graph import SurveyGraph
from graphs.segment_survey.state import SurveyInput, SurveyOutput
from runtime.services import Services
from runtime.upstream import MODEL_FAILED, raise_as_upstream_failure

log = logging.getLogger(__name__)


Progress = Callable[[int, int], None]
"""Called with (answers so far, answers expected) as the survey runs."""


async def run_survey(
    services: Services,
    graph: SurveyGraph,
    survey: SurveyInput,
    model: str,
    *,
    method: Method = "auto",
    max_concurrency: int = 0,
    progress: Progress | None = None,
    thread_id: str | None = None,
) -> SurveyOutput:
    """Run the survey; `model` answers for every persona. With `thread_id` (the graph has a
    checkpointer), an earlier interrupted run of that thread is resumed. Unknown clusters are
    404s, bad input 422s; a failing model provider is a 502 that names no internals."""
    context = SurveyContext(services=services, model=model, method=method, max_concurrency=max_concurrency)
    config: RunnableConfig | None = {"configurable": {"thread_id": thread_id}} if thread_id else None
    start, expected = await _resume_point(graph, survey, thread_id)
    done = 0
    result: dict[str, Any] = {}
    try:
        async for update in graph.astream(start, config, context=context, stream_mode="updates"):
            for node, values in update.items():
                if node == "select_respondents":
                    expected = _expected(values)
                elif node == "ask":  # answers kept from an interrupted run come again, marked cached
                    done += len(values.get("answers") or [])
                elif node == "aggregate":
                    result = dict(values)
                if progress is not None and node in ("select_respondents", "ask"):
                    progress(done, expected)
    except Exception as exc:
        raise_as_upstream_failure(exc, MODEL_FAILED)
    return SurveyOutput(question=result["question"], options=result["options"], clusters=result["clusters"])


def _expected(values: Any) -> int:
    """How many answers a survey asks for, from the state `select_respondents` made."""
    return len(values.get("respondents") or []) * int(values.get("samples_per_persona") or 1)


async def _resume_point(
    graph: SurveyGraph, survey: SurveyInput, thread_id: str | None
) -> tuple[SurveyInput | None, int]:
    """(what to run the graph on: the survey, or None to resume its thread; answers expected)."""
    saver = graph.checkpointer
    if thread_id is None or not isinstance(saver, BaseCheckpointSaver):
        return survey, 0
    snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    if snapshot.next:  # stopped half-way: go on from there
        return None, _expected(snapshot.values)
    if snapshot.values:  # a finished run whose result was not stored: start the thread again
        await saver.adelete_thread(thread_id)
    return survey, 0
