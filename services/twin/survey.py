"""Surveys of segment twins: one closed question to the personas of some clusters, through the
segment_survey graph, with progress for the command line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphs.segment_survey.closed_answer import Method
from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.graph import SurveyGraph
from graphs.segment_survey.state import SurveyInput, SurveyOutput
from runtime.upstream import raise_as_upstream_failure

log = logging.getLogger(__name__)

MODEL_FAILED = "The chat model failed to answer; try again later."

Progress = Callable[[int, int], None]
"""Called with (answers so far, answers expected) as the survey runs."""


async def run_survey(
    graph: SurveyGraph,
    survey: SurveyInput,
    model: str,
    *,
    method: Method = "auto",
    max_concurrency: int = 0,
    progress: Progress | None = None,
) -> SurveyOutput:
    """Run the survey; `model` answers for every persona. Unknown clusters are 404s, bad input
    422s; a failing model provider is a 502 that names no internals."""
    context = SurveyContext(model=model, method=method, max_concurrency=max_concurrency)
    expected, done = 0, 0
    result: dict[str, Any] = {}
    try:
        async for update in graph.astream(survey, context=context, stream_mode="updates"):
            for node, values in update.items():
                if node == "select_respondents":
                    expected = len(values.get("respondents") or []) * int(values.get("samples_per_persona") or 1)
                elif node == "ask":
                    done += len(values.get("answers") or [])
                elif node == "aggregate":
                    result = dict(values)
                if progress is not None and node in ("select_respondents", "ask"):
                    progress(done, expected)
    except Exception as exc:
        raise_as_upstream_failure(exc, MODEL_FAILED)
    return SurveyOutput(question=result["question"], options=result["options"], clusters=result["clusters"])
