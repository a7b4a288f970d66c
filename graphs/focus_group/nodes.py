"""focus_group's nodes: select_participants -> respond (one branch per persona, via `Send`) -> find_themes.

Each persona answers through persona_chat (its stored prompt, the prompt-injection and fact
guards), so an answer in the focus group is the answer the persona gives in a chat.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Send

from graphs.focus_group.context import FocusGroupContext, focus_group_context
from graphs.focus_group.state import (
    ClusterDiscussion,
    FocusGroupState,
    RespondTask,
    Response,
    ResponseRecord,
)
from graphs.focus_group.themes import Sentence, build_themes, sentences_of
from graphs.persona_chat.context import ChatContext
from graphs.segment_survey.context import concurrency_gate, concurrency_limit
from graphs.segment_survey.respondents import Respondent, gather_respondents
from prompts import render_prompt
from runtime.errors import ServiceError
from runtime.models import parse_model_name
from runtime.services import services_of

MAX_PERSONAS = 15
DEFAULT_PERSONAS = 5


class FocusGroupInputError(ServiceError):
    """The focus group's input cannot be run (422)."""

    status = 422


def check_input(state: FocusGroupState) -> tuple[str, int]:
    question = str(state.get("question") or "").strip()
    if not question:
        raise FocusGroupInputError("question: a focus group needs a question.")
    per_cluster = state.get("personas_per_cluster")
    per_cluster = DEFAULT_PERSONAS if per_cluster is None else int(per_cluster)
    if not 1 <= per_cluster <= MAX_PERSONAS:
        raise FocusGroupInputError(f"personas_per_cluster: invite 1 to {MAX_PERSONAS} personas per cluster.")
    return question, per_cluster


def most_representative(members: list[Respondent], n: int) -> list[Respondent]:
    """The `n` personas standing for the most records (ties: lower id), in id order."""
    chosen = sorted(members, key=lambda r: (-r["weight"], r["persona_id"]))[:n]
    return sorted(chosen, key=lambda r: r["persona_id"])


async def select_participants(state: FocusGroupState, runtime: Runtime[FocusGroupContext]) -> dict[str, Any]:
    question, per_cluster = check_input(state)
    surveyed, participants = await gather_respondents(
        await services_of(runtime.context), state, lambda members: most_representative(members, per_cluster)
    )
    return {
        "question": question,
        "personas_per_cluster": per_cluster,
        "surveyed": surveyed,
        "participants": participants,
        "responses": None,  # empties responses of an earlier run on the same thread
    }


async def fan_out(state: FocusGroupState) -> list[Send] | str:
    tasks = [
        Send("respond", RespondTask(respondent=r, question=state["question"])) for r in state.get("participants") or []
    ]
    return tasks or "find_themes"


async def respond(task: RespondTask, runtime: Runtime[FocusGroupContext], config: RunnableConfig) -> dict[str, Any]:
    """One persona answers in character, through persona_chat with its guards."""
    from graphs.persona_chat.graph import graph as persona_chat

    context = focus_group_context(getattr(runtime, "context", None), config)
    services = await services_of(context)
    model = context.model or services.settings.chat_model
    local = parse_model_name(model).provider == "local"
    respondent = task["respondent"]
    message = render_prompt("focus_group_question", question=task["question"])
    chat_context = ChatContext(
        services=services,
        model=model,
        temperature=context.temperature,
        max_tokens=max(16, min(1000, context.max_tokens)),
    )
    async with concurrency_gate(getattr(runtime, "context", None), concurrency_limit(context.max_concurrency, local)):
        out = await persona_chat.ainvoke(
            {"persona_id": respondent["persona_id"], "messages": [HumanMessage(content=message)]},
            context=chat_context,
        )
    record = ResponseRecord(
        cluster_id=respondent["cluster_id"],
        persona_id=respondent["persona_id"],
        persona_name=respondent["persona_name"],
        answer=str(out.get("reply") or "").strip(),
    )
    return {"responses": [record]}


async def find_themes(state: FocusGroupState, runtime: Runtime[FocusGroupContext], config: RunnableConfig) -> dict:
    """Each cluster's answers (persona order) and their themes."""
    context = focus_group_context(getattr(runtime, "context", None), config)
    by_cluster: dict[int, list[ResponseRecord]] = defaultdict(list)
    for record in state.get("responses") or []:
        by_cluster[record["cluster_id"]].append(record)
    services = await services_of(context) if by_cluster else None
    clusters: list[ClusterDiscussion] = []
    for info in state.get("surveyed") or []:
        records = sorted(by_cluster.get(info["cluster_id"], []), key=lambda r: r["persona_id"])
        sentences: list[Sentence] = [s for r in records for s in sentences_of(r["persona_id"], r["answer"])]
        vectors: list[list[float]] = []
        if sentences and services is not None:
            vectors = await services.require_embeddings().aembed_documents([s.text for s in sentences])
        # scikit-learn's clustering is CPU work: off the event loop, so other runs keep streaming
        themes = await asyncio.to_thread(
            build_themes,
            sentences,
            vectors,
            distance=context.theme_distance,
            max_themes=max(1, context.max_themes),
            ignore_words=[r["persona_name"] for r in records],
        )
        clusters.append(
            ClusterDiscussion(
                cluster_id=info["cluster_id"],
                cluster_name=info["cluster_name"],
                responses=[
                    Response(persona_id=r["persona_id"], persona_name=r["persona_name"], answer=r["answer"])
                    for r in records
                ],
                themes=themes,
            )
        )
    return {"question": state["question"], "clusters": clusters}
