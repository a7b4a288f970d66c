"""Chat with an account persona: one turn through the `ghostwriter_chat` graph (persona_chat's
nodes in a shorter graph, without a checkpointer: the API sends the whole history every time).

`start_chat` checks everything that can fail before generation starts (account, persona, model,
attachments) and reserves the worst case of the key's budget; the returned `ChatTurn` runs once,
as a whole (`run`) or as events while the model writes (`stream`), and settles the budget to the
tokens used however it ends: reply, provider error or a client that went away.

The graph's guard checks every reply (disclosure of the persona's prompt or the turn's
instructions, planted instructions carried out). A streamed reply is checked by the graph as it
is written, which sends only checked text (`STREAM_CHECKED_KEY`: its last words are held back, so
a disclosure is cut before it is sent); this module relays that text, and the turn's `completed`
text is the graph's reply: what was sent, plus a refusal after a finding.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anyio
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from graphs.ghostwriter_chat.graph import graph as ghostwriter_chat
from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.nodes import STREAM_CHECKED_KEY
from graphs.persona_chat.state import PersonaChatState
from runtime.admission import Slot
from runtime.database import is_database_unavailable
from runtime.errors import (
    BUSY,
    DATABASE_UNAVAILABLE,
    INTERNAL,
    ConfigError,
    NotFoundError,
    ServiceError,
    UnavailableError,
)
from runtime.models import make_chat_model, parse_model_name
from runtime.services import Services
from runtime.token_count import approximate_tokens, count_prompt_tokens, count_texts
from runtime.upstream import is_upstream_failure, raise_as_upstream_failure
from store import ghostwriter as gw_store
from tools.attachments import prepare_attachments
from use_cases.ghostwriter import budget
from use_cases.ghostwriter.errors import ACCOUNT_NOT_FOUND, PERSONA_NOT_FOUND, PROVIDER_FAILED

log = logging.getLogger(__name__)

_END = object()  # the graph's stream is over
STREAM_QUEUE = 256  # graph events a stream may run ahead of its client
STOP_WAIT = 10.0  # seconds a closed stream waits for the graph's task to end

# Tokens reserved for the text a turn's searches may add to its prompt (settled to what they added).
RETRIEVAL_ALLOWANCE = {"documents": 1_200, "web": 2_000}


@dataclass(frozen=True)
class ChatRequest:
    """One turn as the caller asks for it; empty `provider` and `model` use the server's model."""

    message: str
    history: Sequence[tuple[Literal["user", "assistant"], str]] = ()
    attachments: Sequence[Mapping[str, Any]] = ()
    max_tokens: int = 500
    provider: str | None = None
    model: str | None = None
    temperature: float = 0.2
    communication_style: str | None = None
    system_prompt: str | None = None
    additional_instructions: str | None = None
    use_documents: bool = False
    use_web: bool = False


@dataclass(frozen=True)
class ChatReply:
    text: str
    model: str
    references: list[dict[str, str]]
    tool_calls: list[dict[str, Any]]
    generation_time: float = 0.0
    blocked: list[dict[str, str]] = field(default_factory=list)  # the guard's events: channel, kind, action
    fact_check: dict[str, Any] | None = None  # the fact guard's record (character breaks, rewrites)


@dataclass(frozen=True)
class ChatEvent:
    """`progress` (a retrieval step), `text` (a chunk of the reply as the model writes it),
    `completed` (with the reply) or `error` (a sentence safe to show)."""

    kind: Literal["progress", "text", "completed", "error"]
    text: str = ""
    reply: ChatReply | None = None


def resolve_model(provider: str | None, model: str | None, default: str) -> str:
    """`provider:model` from the request; empty fields use the server default."""
    if not provider and not model:
        return default
    base = parse_model_name(default)
    if model and ":" in model and not provider:
        name = model
    elif provider and not model:
        if parse_model_name(f"{provider}:x").provider != base.provider:
            raise ServiceError("llm_config.model is required when llm_config.provider is not the server default")
        name = default
    else:
        name = f"{provider or base.provider}:{model}"
    try:
        return str(parse_model_name(name))
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None


def public_references(state: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"title": r.get("title", ""), "uri": r.get("uri", ""), "preview_url": r.get("preview_url", "")}
        for r in state.get("references") or []
    ]


def _stream_events(part: tuple[str, Any], state: dict[str, Any], generated: list[str]) -> list[ChatEvent]:
    """The events one part of the graph's stream gives: reply text the graph has checked, and
    progress. A state update is kept in `state`; the model's raw text, which is never sent, is
    kept in `generated` to charge a turn cut short for what the model wrote."""
    mode, chunk = part
    if mode == "custom" and isinstance(chunk, dict):
        if chunk.get("generated"):
            generated.append(str(chunk["generated"]))
        if chunk.get("content"):
            return [ChatEvent("text" if chunk.get("type") == "text" else "progress", str(chunk["content"]))]
    elif mode == "updates":
        state.update({k: v for update in chunk.values() if isinstance(update, dict) for k, v in update.items()})
    return []


@dataclass
class ChatTurn:
    services: Services
    account_id: str
    handle: str
    graph_input: PersonaChatState
    context: ChatContext
    model_name: str
    input_tokens: int
    reservation: budget.Reservation | None = field(default=None)
    slot: Slot | None = field(default=None)  # this turn's place among the chats running at once
    _settlement: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def model(self) -> str:
        """The model's name without its provider, as the contract shows it."""
        return parse_model_name(self.model_name).model

    async def tokens_used(self, state: Mapping[str, Any] | None, generated: str = "") -> int:
        """The usage the graph recorded (the provider's, or its own count with the model's
        tokenizer), else the prompt (with any retrieved text) plus what the model generated."""
        usage = (state or {}).get("usage") or {}
        total = int(usage.get("total_tokens") or 0) or int(usage.get("input_tokens") or 0) + int(
            usage.get("output_tokens") or 0
        )
        if total:
            return total
        retrieved = [str(r.get("content") or "") for r in (state or {}).get("references") or []]
        texts = [(state or {}).get("reply") or generated, *retrieved]
        counts, _ = await count_texts(self.model_name, texts)
        return self.input_tokens + sum(counts)

    def finish(self, state: Mapping[str, Any] | None, generated: str = "") -> asyncio.Task[None]:
        """End the turn (once): free its slot and settle its budget in a task of its own, which a
        closed stream or a cancelled request cannot stop. Await the task to know it is done."""
        if self.slot is not None:
            self.slot.release()
        if self._settlement is None:
            self._settlement = budget.settle_soon(self._settle(dict(state or {}), generated))
        return self._settlement

    async def _settle(self, state: Mapping[str, Any], generated: str) -> None:
        if self.reservation is None or self.reservation.settled:
            return
        try:
            used = await self.tokens_used(state, generated)
        except Exception:  # a count that fails must not lose the charge: the estimate stands in
            used = self.input_tokens + approximate_tokens(generated)
        task = budget.settle(self.services, self.reservation, used)
        if task is not None:
            await task

    async def run(self) -> ChatReply:
        """The whole reply; a provider failure is a 502 without internals, a database that cannot
        serve now a 503."""
        started = time.perf_counter()
        state: dict[str, Any] | None = None
        try:
            state = dict(await ghostwriter_chat.ainvoke(self.graph_input, context=self.context))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_as_upstream_failure(exc, PROVIDER_FAILED)
        finally:
            await asyncio.shield(self.finish(state))
        return ChatReply(
            text=state.get("reply", ""),
            model=self.model,
            references=public_references(state),
            tool_calls=state.get("tool_calls") or [],
            generation_time=round(time.perf_counter() - started, 3),
            blocked=state.get("blocked") or [],
            fact_check=state.get("fact_check"),
        )

    async def stream(self) -> AsyncGenerator[ChatEvent, None]:
        """Progress and reply chunks as they pass the guard, then `completed` (or one `error`).
        Closing the iterator closes the graph's stream, which cancels the model call; the turn
        is then charged for the prompt and what the model had generated."""
        state: dict[str, Any] = {}
        generated: list[str] = []
        graph_input: PersonaChatState = self.graph_input
        # The graph runs in a task of its own, fed to this generator through a queue: closing or
        # cancelling this generator then cancels that task once, as asyncio does, and LangGraph
        # cancels the model call. (Starlette cancels a stream whose client left through an anyio
        # cancel scope, which keeps cancelling LangGraph's clean-up too: the model call went on.)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=STREAM_QUEUE)
        producer = asyncio.ensure_future(self._pump(graph_input, queue))
        try:
            while True:
                part = await queue.get()
                if part is _END:
                    break
                if isinstance(part, BaseException):
                    raise part
                for event in _stream_events(cast(tuple[str, Any], part), state, generated):
                    yield event
            reply_text = state.get("reply", "")
            blocked = state.get("blocked") or []
            yield ChatEvent(
                "completed",
                reply=ChatReply(
                    text=reply_text,
                    model=self.model,
                    references=public_references(state),
                    tool_calls=state.get("tool_calls") or [],
                    blocked=blocked,
                    fact_check=state.get("fact_check"),
                ),
            )
        except Exception as exc:
            if is_database_unavailable(exc):
                log.warning("ghostwriter chat stream: database unavailable: %s", exc)
                yield ChatEvent("error", DATABASE_UNAVAILABLE)
            else:
                log.exception("ghostwriter chat stream failed")
                yield ChatEvent("error", PROVIDER_FAILED if is_upstream_failure(exc) else INTERNAL)
        finally:
            if not producer.done():
                producer.cancel()
                with anyio.CancelScope(shield=True):
                    await asyncio.wait({producer}, timeout=STOP_WAIT)
            self.finish(state, "".join(generated))

    async def _pump(self, graph_input: PersonaChatState, queue: asyncio.Queue[Any]) -> None:
        """Run the graph's stream into `queue`, then `_END` (or the exception that ended it)."""
        try:
            parts = cast(
                AsyncGenerator[Any, None],
                ghostwriter_chat.astream(
                    graph_input,
                    {"configurable": {STREAM_CHECKED_KEY: True}},
                    context=self.context,
                    stream_mode=["custom", "updates"],
                ),
            )
            async with aclosing(parts):
                async for part in parts:
                    await queue.put(part)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(exc)
            return
        await queue.put(_END)


def _messages(request: ChatRequest) -> list[AnyMessage]:
    history: list[AnyMessage] = [
        HumanMessage(content) if role == "user" else AIMessage(content) for role, content in request.history
    ]
    return [*history, HumanMessage(request.message)]


async def start_chat(services: Services, account_id: str, request: ChatRequest, api_key: bytes) -> ChatTurn:
    """A turn ready to run: 503 when CHAT_MAX_CONCURRENT turns already run (before any work), 404
    without the account or its persona, 400 for a model or attachment that cannot be used, 429
    when the key's budget cannot cover the prompt plus `max_tokens`. The caller must end the turn
    (`run`, `stream`, or `finish` when it will run neither)."""
    slot = services.chat_admission.try_enter()
    if slot is None:
        raise UnavailableError(BUSY, retry_after=1)
    try:
        turn = await _prepare_turn(services, account_id, request, api_key)
    except BaseException:
        slot.release()
        raise
    turn.slot = slot
    return turn


async def _prepare_turn(services: Services, account_id: str, request: ChatRequest, api_key: bytes) -> ChatTurn:
    settings = services.settings
    row = await gw_store.account_with_persona(services.pool, account_id)
    if row is None:
        raise NotFoundError(ACCOUNT_NOT_FOUND)
    if row["persona_id"] is None or row["system_prompt"] is None:
        raise NotFoundError(PERSONA_NOT_FOUND)
    model_name = resolve_model(request.provider, request.model, settings.chat_model)
    try:
        make_chat_model(model_name, temperature=request.temperature, max_tokens=request.max_tokens, settings=settings)
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None
    parts = await prepare_attachments([dict(a) for a in request.attachments], model_name, settings)
    messages = _messages(request)
    graph_input: PersonaChatState = {
        # The persona row is already loaded: pass it inline so the graph skips another query.
        "persona": {
            "id": row["persona_id"],
            "kind": "ghostwriter",
            "name": f"@{row['handle']}",
            "system_prompt": row["system_prompt"],
            "version": row["version"],
            "attributes": {},
        },
        "messages": messages,
        "system_prompt_override": request.system_prompt,
        "additional_instructions": request.additional_instructions,
        "attachment_parts": parts,
        "use_documents": request.use_documents,
        "use_web": request.use_web,
        "references": [],
        "tool_calls": [],
    }
    prompt_text = (request.system_prompt or row["system_prompt"]) + (request.additional_instructions or "")
    # the prompt as the model will see it, attachments included (their text goes in the system message)
    counted = [SystemMessage(prompt_text), *messages]
    if parts:
        counted.append(HumanMessage(content=list(parts)))
    input_tokens, _ = await count_prompt_tokens(model_name, counted)
    allowance = RETRIEVAL_ALLOWANCE["documents"] * request.use_documents + RETRIEVAL_ALLOWANCE["web"] * request.use_web
    turn = ChatTurn(
        services=services,
        account_id=row["id"],
        handle=row["handle"],
        graph_input=graph_input,
        context=ChatContext(
            services=services,
            model=model_name,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            communication_style=request.communication_style,
        ),
        model_name=model_name,
        input_tokens=input_tokens,
    )
    turn.reservation = await budget.reserve(services, api_key, input_tokens + allowance + request.max_tokens)
    return turn
