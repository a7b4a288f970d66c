"""focus_group: one open question to the most representative personas of the chosen clusters.

select_participants -> respond (fan-out with `Send`: one branch per persona through
persona_chat, at most `max_concurrency` at once) -> find_themes (sentences grouped by meaning,
each theme with a verbatim quote). This module is the graph's one compile site: langgraph.json,
the LangServe routes and the twin REST API all run `graph`.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.focus_group.context import FocusGroupContext
from graphs.focus_group.nodes import fan_out, find_themes, respond, select_participants
from graphs.focus_group.state import FocusGroupInput, FocusGroupOutput, FocusGroupState

FocusGroupGraph = CompiledStateGraph[FocusGroupState, FocusGroupContext, FocusGroupInput, FocusGroupOutput]


def build_focus_group() -> FocusGroupGraph:
    builder = StateGraph(
        FocusGroupState, input_schema=FocusGroupInput, output_schema=FocusGroupOutput, context_schema=FocusGroupContext
    )
    builder.add_node("select_participants", select_participants)
    # LangGraph's typed overloads lack the (state, runtime, config) node form it accepts at run time.
    builder.add_node("respond", respond)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("find_themes", find_themes)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_edge(START, "select_participants")
    builder.add_conditional_edges("select_participants", fan_out, ["respond", "find_themes"])
    builder.add_edge("respond", "find_themes")
    builder.add_edge("find_themes", END)
    return builder.compile(name="focus_group")


graph = build_focus_group()
