"""cluster_router: from a free-text query to segment clusters, personas and a greeting.

parse_constraints -> score_clusters -> rank_personas -> greeting; the input's `task` picks how
far a run goes. This module is the graph's one compile site: langgraph.json, the LangServe
routes and the twin REST API all run `graph`.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.nodes import greeting, parse_constraints, rank_personas, score_clusters
from graphs.cluster_router.state import RouterInput, RouterOutput, RouterState, Task


def _task(state: RouterState) -> Task:
    return state.get("task") or "route"


# The edge functions are coroutines: LangGraph runs a plain function of an async graph in a
# thread pool, a hop that cost more than the whole routing decision on a busy server.
async def _after_start(state: RouterState) -> str:
    return "greeting" if _task(state) == "greeting" else "parse_constraints"


async def _after_parse(state: RouterState) -> str:
    return "rank_personas" if _task(state) == "personas" else "score_clusters"


async def _after_clusters(state: RouterState) -> str:
    return END if _task(state) == "clusters" else "rank_personas"


async def _after_personas(state: RouterState) -> str:
    return END if _task(state) == "personas" else "greeting"


def build_cluster_router(
    checkpointer: Any = None,
) -> CompiledStateGraph[RouterState, RouterContext, RouterInput, RouterOutput]:
    builder = StateGraph(
        RouterState, input_schema=RouterInput, output_schema=RouterOutput, context_schema=RouterContext
    )
    # LangGraph's typed overloads lack the (state, runtime, config) node form it accepts at run time.
    builder.add_node("parse_constraints", parse_constraints)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("score_clusters", score_clusters)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("rank_personas", rank_personas)
    builder.add_node("greeting", greeting)
    builder.add_conditional_edges(START, _after_start, ["greeting", "parse_constraints"])
    builder.add_conditional_edges("parse_constraints", _after_parse, ["rank_personas", "score_clusters"])
    builder.add_conditional_edges("score_clusters", _after_clusters, [END, "rank_personas"])
    builder.add_conditional_edges("rank_personas", _after_personas, [END, "greeting"])
    builder.add_edge("greeting", END)
    return builder.compile(checkpointer=checkpointer, name="cluster_router")


graph = build_cluster_router()
