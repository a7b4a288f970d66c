"""Ghostwriter chat: request -> persona_chat input, model choice, budget reservation and settlement."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langgraph.graph.state import CompiledStateGraph

from tools.attachments import AttachmentError, prepare_attachments
from graphs.persona_chat.context import ChatContext
from graphs.ghostwriter_chat.graph import graph as ghostwriter_chat_graph
from runtime.errors import ConfigError
from runtime.models import make_chat_model, parse_model_name
from runtime.services import Services
from server.ghostwriter.schemas import ChatBody, LLMConfig, bad_request
from store import budgets

BUDGET_EXCEEDED = {"error": "budget_exceeded", "message": "Budget limit exceeded"}
PROVIDER_FAILED = "The model provider failed to generate a response"

def chat_graph() -> CompiledStateGraph:
    """persona_chat's nodes in a shorter graph, no checkpointer (`graphs.ghostwriter_chat`)."""
    return ghostwriter_chat_graph


def resolve_model(config: LLMConfig, default: str) -> str:
    """`provider:model` from llm_config; null fields use the server default."""
    if not config.provider and not config.model:
        return default
    base = parse_model_name(default)
    if config.model and ":" in config.model and not config.provider:
        name = config.model
    elif config.provider and not config.model:
        provider = parse_model_name(f"{config.provider}:x").provider
        if provider != base.provider:
            raise bad_request("llm_config.model is required when llm_config.provider is not the server default")
        name = default
    else:
        name = f"{config.provider or base.provider}:{config.model}"
    try:
        return str(parse_model_name(name))
    except ConfigError as exc:
        raise bad_request(str(exc)) from None


@dataclass
class ChatPlan:
    account: dict[str, Any]
    graph_input: dict[str, Any]
    context: ChatContext
    model_name: str
    include_debug: bool
    input_tokens: int
    key_hash: str | None = None
    reserved: int = 0
    settled: bool = field(default=False)

    @property
    def display_model(self) -> str:
        return parse_model_name(self.model_name).model


def _history(body: ChatBody) -> list[AnyMessage]:
    messages: list[AnyMessage] = [HumanMessage(item.content) if item.role == "user" else AIMessage(item.content)
                                  for item in body.conversation_history]
    return [*messages, HumanMessage(body.message or "")]


async def plan_chat(services: Services, account: dict[str, Any], persona: dict[str, Any], body: ChatBody,
                    api_key: bytes) -> ChatPlan:
    """Validate everything that can fail before generation starts, then reserve budget."""
    settings = services.settings
    config = body.llm_config or LLMConfig()
    model_name = resolve_model(config, settings.chat_model)
    try:
        make_chat_model(model_name, temperature=config.temperature, max_tokens=body.max_tokens, settings=settings)
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    try:
        parts = await prepare_attachments([a.model_dump() for a in body.attachments], model_name, settings)
    except AttachmentError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None
    messages = _history(body)
    sources = body.data_sources
    graph_input = {
        # The persona row is already loaded: pass it inline so the graph skips another query.
        "persona": {"id": persona["persona_id"], "kind": "ghostwriter", "name": f"@{account['handle']}",
                    "system_prompt": persona["system_prompt"], "version": persona["version"], "attributes": {}},
        "messages": messages,
        "system_prompt_override": config.system_prompt, "additional_instructions": config.additional_instructions,
        "attachment_parts": parts, "use_documents": bool(sources and sources.documents),
        "use_web": bool(sources and sources.web), "references": [], "tool_calls": [],
    }
    prompt_text = (config.system_prompt or persona["system_prompt"]) + (config.additional_instructions or "")
    input_tokens = count_tokens_approximately([SystemMessage(prompt_text), *messages])
    plan = ChatPlan(account=account, graph_input=graph_input, include_debug=body.include_debug,
                    context=ChatContext(model=model_name, temperature=config.temperature,
                                        max_tokens=body.max_tokens, communication_style=config.communication_style),
                    model_name=model_name, input_tokens=input_tokens)
    limit = settings.bo_budget_tokens
    if limit is not None:
        plan.key_hash = budgets.key_hash(api_key)
        plan.reserved = input_tokens + body.max_tokens
        if not await budgets.reserve(services.pool, plan.key_hash, settings.bo_budget_period, limit, plan.reserved):
            raise HTTPException(status_code=429, detail=BUDGET_EXCEEDED)
    return plan


def usage_of(plan: ChatPlan, state: dict[str, Any] | None, streamed_text: str = "") -> int:
    """Tokens used: the provider's reported usage, else an approximate count of prompt and reply."""
    usage = (state or {}).get("usage") or {}
    total = int(usage.get("total_tokens") or 0) or int(usage.get("input_tokens") or 0) + int(
        usage.get("output_tokens") or 0)
    if total:
        return total
    reply = (state or {}).get("reply") or streamed_text
    return plan.input_tokens + (count_tokens_approximately([AIMessage(reply)]) if reply else 0)


async def settle(services: Services, plan: ChatPlan, used: int) -> None:
    if plan.key_hash is None or plan.settled:
        return
    plan.settled = True
    await budgets.settle(services.pool, plan.key_hash, services.settings.bo_budget_period, plan.reserved, used)


def public_references(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"title": r.get("title", ""), "uri": r.get("uri", ""), "preview_url": r.get("preview_url", "")}
            for r in state.get("references") or []]


async def run_chat(services: Services, plan: ChatPlan) -> dict[str, Any]:
    """The non-streaming response body; provider failures become 502 without internals."""
    started = time.perf_counter()
    state: dict[str, Any] | None = None
    try:
        state = await chat_graph().ainvoke(plan.graph_input, context=plan.context)
    except asyncio.CancelledError:
        raise
    except Exception:
        raise HTTPException(status_code=502, detail=PROVIDER_FAILED) from None
    finally:
        await asyncio.shield(settle(services, plan, usage_of(plan, state)))
    body: dict[str, Any] = {
        "success": True, "response": state.get("reply", ""), "account_id": plan.account["id"],
        "handle": plan.account["handle"], "model": plan.display_model,
        "generation_time": round(time.perf_counter() - started, 3),
    }
    if plan.include_debug:
        body["tool_calls"] = state.get("tool_calls") or []
    return body
