"""persona_builder: build or refine an account ghostwriter persona from its posts, and the
batch form that fans out one build per account with `Send`.

This module is the one compile site of both: langgraph.json, the LangServe routes and the
ghostwriter REST API run `graph`; the batch endpoints run `batch_graph`, whose `build_one`
runs `graph` too.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.persona_builder.context import BuilderContext
from graphs.persona_builder.nodes import (
    analyse_style,
    build_one_node,
    draft_prompt,
    fan_out,
    load_posts,
    pick,
    save,
    validate,
)
from graphs.persona_builder.state import (
    BatchInput,
    BatchOutput,
    BatchState,
    BuilderInput,
    BuilderOutput,
    BuilderState,
)


def build_persona_builder() -> CompiledStateGraph[BuilderState, BuilderContext, BuilderInput, BuilderOutput]:
    builder = StateGraph(
        BuilderState, input_schema=BuilderInput, output_schema=BuilderOutput, context_schema=BuilderContext
    )
    builder.add_node("load_posts", load_posts)
    builder.add_node("pick_exemplars", pick)
    builder.add_node("analyse_style", analyse_style)
    builder.add_node("draft_prompt", draft_prompt)
    builder.add_node("validate", validate)
    builder.add_node("save", save)
    builder.add_edge(START, "load_posts")
    builder.add_edge("load_posts", "pick_exemplars")
    builder.add_edge("pick_exemplars", "analyse_style")
    builder.add_edge("analyse_style", "draft_prompt")
    builder.add_edge("draft_prompt", "validate")
    builder.add_edge("validate", "save")
    builder.add_edge("save", END)
    return builder.compile(name="persona_builder")


graph = build_persona_builder()


def build_persona_batch(
    single: CompiledStateGraph[Any, Any, Any, Any] | None = None,
) -> CompiledStateGraph[BatchState, BuilderContext, BatchInput, BatchOutput]:
    """One `build_one` per account (mode "create"), run by `single` (default: `graph`)."""
    builder = StateGraph(BatchState, input_schema=BatchInput, output_schema=BatchOutput, context_schema=BuilderContext)
    builder.add_node("build_one", build_one_node(single or graph))
    builder.add_conditional_edges(START, fan_out, ["build_one"])
    builder.add_edge("build_one", END)
    return builder.compile(name="persona_batch")


batch_graph = build_persona_batch()
