"""segment_survey: one closed question to every persona of the chosen clusters.

select_respondents -> ask (fan-out with `Send`: one branch per persona and sample, at most
`max_concurrency` at once) -> aggregate (weighted distribution and 95% intervals per cluster).
This module is the graph's one compile site: langgraph.json, the LangServe routes and the twin
REST API all run `graph`; survey jobs compile it with the service's checkpointer, so a job
interrupted half-way resumes with the answers it already has (`use_cases.twin.survey`).
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.nodes import aggregate, ask, fan_out, select_respondents
from graphs.segment_survey.state import SurveyInput, SurveyOutput, SurveyState

SurveyGraph = CompiledStateGraph[SurveyState, SurveyContext, SurveyInput, SurveyOutput]


def build_segment_survey(checkpointer: BaseCheckpointSaver | None = None) -> SurveyGraph:
    builder = StateGraph(
        SurveyState, input_schema=SurveyInput, output_schema=SurveyOutput, context_schema=SurveyContext
    )
    builder.add_node("select_respondents", select_respondents)
    # LangGraph's typed overloads lack the (state, runtime, config) node form it accepts at run time.
    builder.add_node("ask", ask)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("aggregate", aggregate)
    builder.add_edge(START, "select_respondents")
    builder.add_conditional_edges("select_respondents", fan_out, ["ask", "aggregate"])
    builder.add_edge("ask", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile(checkpointer=checkpointer, name="segment_survey")


graph = build_segment_survey()
