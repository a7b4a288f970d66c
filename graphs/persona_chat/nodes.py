"""persona_chat's nodes: load_persona -> read_attachments -> retrieve -> generate -> guard -> finalize.

load_persona starts each turn by resetting its per-turn outputs (references, tool calls,
rag_hit, blocked events), so a step the graph skips never leaves an earlier turn's results
behind. Reading attachments, searching documents and searching the web are LangChain tools
(`tools/`), so they show in traces; this module decides when and with what they are called:
the search query is the user's own message, and the only URLs read are the caller's own
attachments; nothing found in reference text ever becomes a tool argument.

Reference text (documents, web results, attachment text, the persona card's lorebook entries that
fired, `graphs/persona_chat/lorebook.py`) reaches the model only inside the
system message's marked block, and `guard` checks every reply before it is final
(`graphs/persona_chat/guard.py`: checks outside the model, which a model cannot be talked out of).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.constants import TAG_NOSTREAM
from langgraph.runtime import Runtime

from graphs.persona_chat.context import ChatContext, resolve_context
from graphs.persona_chat.fact_guard import MAX_REWRITES, FactJudge, best_attempt, fact_record, judge_for, trimmed
from graphs.persona_chat.facts import FactCheck
from graphs.persona_chat.guard import (
    Finding,
    GuardSpec,
    MarkedReferences,
    Source,
    StreamGuard,
    build_spec,
    mark_references,
    new_canary,
    new_delimiter,
    profile_fragments,
    record,
    trim,
)
from graphs.persona_chat.lorebook import fire_lorebook
from graphs.persona_chat.retrieval import emit_progress, rag_miss, retrieve_documents, search_the_web
from graphs.persona_chat.state import BlockedEvent, PersonaChatState, PersonaProfile, ToolCallRecord, Usage
from prompts import render_prompt
from runtime.errors import NotFoundError
from runtime.models import local_base_url, make_chat_model, parse_model_name
from runtime.services import services_of, settings_of
from runtime.token_count import count_tokens_with_model
from store.personas import get_chat_profile
from tools.attachments import read_attachments as read_attachments_tool

HISTORY_TOKEN_BUDGET = 1200
# Pass as `durability=` when running a turn: one checkpoint write when the turn ends
# instead of one per node (halves the per-turn overhead, see bench/chat_overhead.py);
# a turn that crashes midway is simply not remembered.
CHAT_DURABILITY: Final = "exit"
GENERATE_NODE = "generate"
# `configurable` flag of a caller that streams the reply: the graph then sends it as checked
# `{"type": "text"}` custom events (`StreamGuard` holds back what the checks may still cut), and
# never rewrites it, since what was sent stays sent
STREAM_CHECKED_KEY = "stream_checked"
DISCLOSURE_KINDS = frozenset({"canary_leak", "secret_leak", "prompt_leak"})


class PersonaNotFound(NotFoundError):
    """The persona named by `persona_id` does not exist (or no persona was given)."""


async def load_persona(state: PersonaChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    """Load the persona (and version) from the database on every turn, so edits apply at once;
    without `persona_id`, an inline `persona` from the input is used."""
    persona_id = state.get("persona_id")
    turn_reset: dict[str, Any] = {
        "references": [],
        "tool_calls": [],
        "rag_hit": rag_miss(),
        "blocked": [],
        "lorebook": [],
    }
    if persona_id is None and state.get("persona"):
        return turn_reset
    if persona_id is None:
        raise PersonaNotFound("persona_chat needs `persona_id` or an inline `persona`.")
    services = await services_of(runtime.context)
    row = await get_chat_profile(services.pool, int(persona_id), state.get("persona_version"))
    if row is None:
        raise PersonaNotFound(f"Persona {persona_id} not found.")
    profile: PersonaProfile = {
        "id": row["id"],
        "kind": row["kind"],
        "name": row["name"],
        "system_prompt": row["system_prompt"],
        "model": row["model"],
        "temperature": row["temperature"],
        "version": row["version"],
        "attributes": row["attributes"] or {},
    }
    update: dict[str, Any] = {"persona": profile, **turn_reset}
    rag = profile["attributes"].get("rag")
    if isinstance(rag, dict):  # a studio persona's rag settings decide its collections
        update.update(rag=rag, collections=list(rag.get("db_collections") or []))
    return update


def _profile(state: PersonaChatState) -> str:
    return state.get("system_prompt_override") or (state.get("persona") or {}).get("system_prompt", "")


def _system_text(
    state: PersonaChatState,
    context: ChatContext,
    canary: str,
    marked: MarkedReferences | None = None,
    profile: str | None = None,
) -> str:
    """The system message; every caller-supplied text (persona, instructions, style, references)
    is a value inside the templates, never template text. `profile` replaces the persona's text
    (a second try gets it as fragments)."""
    persona = state.get("persona") or {}
    style = context.communication_style
    instructions = state.get("additional_instructions")
    return render_prompt(
        "persona_chat_system",
        canary=canary,
        persona_name=persona.get("name", "the persona"),
        persona_prompt=_profile(state) if profile is None else profile,
        style_block=render_prompt("persona_chat_style", style=style) if style else "",
        instructions_block=render_prompt("persona_chat_instructions", instructions=instructions, canary=canary)
        if instructions
        else "",
        references_block=render_prompt("persona_chat_references", references=marked.text, marker=marked.delimiter)
        if marked is not None
        else "",
    )


def reference_sources(state: PersonaChatState) -> list[Source]:
    """The turn's reference text by channel: lorebook entries that fired, retrieved documents, web
    results, attachment text."""
    sources = [
        Source("lorebook", f"Lorebook: {entry['name']}", entry["content"]) for entry in state.get("lorebook") or []
    ]
    sources += [
        Source("document" if ref.get("collection") else "web", str(ref.get("title", "")), str(ref.get("content", "")))
        for ref in state.get("references") or []
    ]
    for part in state.get("attachment_parts") or []:
        if isinstance(part, dict) and part.get("type") == "text":
            name = str(part.get("filename") or "attachment")
            sources.append(
                Source("attachment", f"Attached file {name}", str(part.get("quoted_text", part.get("text"))))
            )
    return sources


def user_texts(state: PersonaChatState) -> list[str]:
    return [m.text for m in state.get("messages") or [] if isinstance(m, HumanMessage)]


def turn_guard(
    state: PersonaChatState, context: ChatContext, canary: str, *, drop: tuple[str, ...] = ()
) -> tuple[GuardSpec, MarkedReferences | None]:
    """The turn's marked references and the checks its reply must pass. The protected text is the
    system message without its references: template, persona, style and per-turn instructions."""
    sources = reference_sources(state)
    marked = mark_references(sources, new_delimiter(), drop=drop) if sources else None
    # The canary is new every turn; split off, the rest of the system text reads the same each
    # turn, so its features come from `protected_features`' cache (the canary is a secret of its own).
    system = _system_text(state, context, canary)
    protected = system.split(canary) if canary else [system]
    spec = build_spec(
        protected=protected,
        canary=canary,
        user_texts=user_texts(state),
        marked=marked,
        sources=sources,
    )
    return spec, marked


# The spec `generate` built for a turn, by the turn's canary, for the guard node to check the reply
# with; a turn whose guard runs elsewhere (resumed in another process) builds it again.
_TURN_SPECS: OrderedDict[str, GuardSpec] = OrderedDict()
_TURN_SPECS_KEPT = 1024


def _keep_spec(canary: str, spec: GuardSpec) -> None:
    _TURN_SPECS[canary] = spec
    while len(_TURN_SPECS) > _TURN_SPECS_KEPT:  # turns cut short never come for theirs
        _TURN_SPECS.popitem(last=False)


def choose_model(state: PersonaChatState, context: ChatContext) -> tuple[str, float | None]:
    persona = state.get("persona") or {}
    model = context.model or persona.get("model") or settings_of(context).chat_model
    temperature = context.temperature if context.temperature is not None else persona.get("temperature")
    return model, temperature


async def read_attachments(
    state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig
) -> dict[str, Any]:
    """Parts already prepared by an API are kept; raw `attachments` are read by the tool."""
    attachments = state.get("attachments") or []
    if not attachments:
        return {"attachment_parts": state.get("attachment_parts") or []}
    context = resolve_context(runtime.context, config)
    model, _ = choose_model(state, context)
    request = {"attachments": list(attachments), "model": model, "settings": settings_of(context)}
    parts = await read_attachments_tool.ainvoke(request, config)
    return {"attachment_parts": parts}


async def retrieve(state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig) -> dict[str, Any]:
    """Documents and/or web results, as the persona or the request allows."""
    references: list[dict[str, Any]] = []
    tool_calls: list[ToolCallRecord] = []
    update: dict[str, Any] = {}
    documents = await retrieve_documents(state, config, runtime.context)
    for part in (documents, await search_the_web(state, config, runtime.context)):
        references.extend(part.get("references", []))
        tool_calls.extend(part.get("tool_calls", []))
        update.update({k: v for k, v in part.items() if k not in ("references", "tool_calls")})
    return {**update, "references": references, "tool_calls": tool_calls}


def with_attachment_parts(messages: Sequence[BaseMessage], parts: list[dict[str, Any]] | None) -> list[BaseMessage]:
    """The messages with the image `parts` appended to the last human message (attachment text is
    reference material: it goes to the system message's marked block). Text-only content stays
    a plain string: servers without multimodal support, llama.cpp's among them, refuse list
    content; images keep the list form for vision models."""
    parts = [p for p in parts or [] if not (isinstance(p, dict) and p.get("type") == "text")]
    if not parts:
        return list(messages)
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage):
            content = (
                message.content if isinstance(message.content, list) else [{"type": "text", "text": message.content}]
            )
            merged: list[Any] = [*content, *parts]
            if all(isinstance(part, dict) and part.get("type") == "text" for part in merged):
                updated = HumanMessage(content="".join(part["text"] for part in merged), id=message.id)
            else:
                updated = HumanMessage(content=merged, id=message.id)
            return [*messages[:index], updated, *messages[index + 1 :]]
    return list(messages)


def recent_history(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The latest messages within HISTORY_TOKEN_BUDGET, starting on a human message."""
    # A history that fits and starts on a human message is what trimming would return; checking
    # that first skips trim_messages' own set-up (signature inspection), a tenth of a millisecond
    # before every first token.
    if messages and messages[0].type == "human" and count_tokens_approximately(messages) <= HISTORY_TOKEN_BUDGET:
        return list(messages)
    return trim_messages(
        messages,
        strategy="last",
        token_counter=count_tokens_approximately,
        max_tokens=HISTORY_TOKEN_BUDGET,
        start_on="human",
        include_system=False,
    )


def _prompt(
    state: PersonaChatState,
    context: ChatContext,
    canary: str,
    marked: MarkedReferences | None,
    note: str = "",
    profile: str | None = None,
) -> list[BaseMessage]:
    history = recent_history(state["messages"])
    return [
        SystemMessage(content=_system_text(state, context, canary, marked, profile) + note),
        *with_attachment_parts(history, state.get("attachment_parts")),
    ]


def storable(text: str) -> str:
    """A model's text as Postgres can store it: a NUL a model may emit would fail the turn's write."""
    return text.replace("\x00", "")


async def _model(state: PersonaChatState, context: ChatContext) -> tuple[str, Any]:
    model_name, temperature = choose_model(state, context)
    if parse_model_name(model_name).provider == "local" and local_base_url() is None:
        await services_of(context)  # a graph run outside the service (Studio) starts the local model here
    return model_name, make_chat_model(
        model_name, temperature=temperature, max_tokens=context.max_tokens, settings=settings_of(context)
    )


async def generate(state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig) -> dict[str, Any]:
    context = resolve_context(runtime.context, config)
    model_name, model = await _model(state, context)
    # fired here, where the turn's model (whose tokenizer counts the book's budget) is known
    lorebook = await fire_lorebook(state, model_name)
    state = cast(PersonaChatState, {**state, "lorebook": lorebook})
    canary = new_canary()
    spec, marked = turn_guard(state, context, canary)
    _keep_spec(canary, spec)
    emit_progress("Generating response...")
    prompt = _prompt(state, context, canary, marked)
    streamed: dict[str, Any] = {}
    if streams_checked(config):
        reply, sent, stopped = await _stream_checked(model, prompt, config, spec)
        streamed = {"streamed": sent, "stream_blocked": stopped}
    else:
        reply = await model.ainvoke(prompt, config)
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(reply.content))
    if "\x00" in reply.text:
        reply = reply.model_copy(update={"content": storable(reply.text)})
    # a draft until the guard has checked it: only `guard` writes the reply into `messages`, so no
    # stream of the graph's values shows an unchecked reply
    usage = await _usage(model_name, prompt, reply)
    return {"draft": reply, "model": model_name, "usage": usage, "canary": canary, "lorebook": lorebook, **streamed}


def streams_checked(config: RunnableConfig) -> bool:
    return bool((config.get("configurable") or {}).get(STREAM_CHECKED_KEY))


def emit_text(text: str, generated: str = "") -> None:
    """A `custom` event with reply text a streaming caller may send now, and the model's newly
    generated text, which is never sent (it lets a turn cut short be charged for what the model
    wrote)."""
    if text or generated:
        get_stream_writer()({"type": "text", "content": text, "generated": generated})


async def _stream_checked(
    model: Any, prompt: list[BaseMessage], config: RunnableConfig, spec: GuardSpec
) -> tuple[AIMessage, str, bool]:
    """Stream the model's reply, emitting what `StreamGuard` lets through as it comes: (the whole
    reply, the text sent, whether the stream guard stopped sending)."""
    stream_guard = StreamGuard()
    stream_guard.arm(spec)
    whole: AIMessageChunk | None = None
    unreported = ""  # generated since the last event: told with the next text sent
    async for chunk in model.astream(prompt, config):
        whole = chunk if whole is None else whole + chunk
        unreported += chunk.text
        safe = stream_guard.feed(chunk.text)
        if safe:
            emit_text(safe, unreported)
            unreported = ""
    if whole is None:
        return AIMessage(content=""), "", stream_guard.blocked
    reply = AIMessage(
        content=whole.text,
        id=whole.id,
        usage_metadata=whole.usage_metadata,
        response_metadata=whole.response_metadata,
    )
    return reply, stream_guard.released, stream_guard.blocked


async def guard(state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig) -> dict[str, Any]:
    """Check the draft reply for prompt-injection findings (`guard.check_reply`) and, in one loop
    with them, against the persona's facts and character (`fact_guard`, `facts.py`).

    A draft that discloses protected text, carries out a planted instruction, contradicts a fact
    or talks as an assistant is written again (once for an injection finding, up to `MAX_REWRITES`
    times while a fact problem remains; not when the caller streamed it: what was sent stays sent), with every finding named in the rewrite notes, the
    persona's text given as fragments after a disclosure and the planted sentences dropped after
    a planted instruction. The first attempt free of injection findings and fact problems wins.
    Without one: among the attempts free of injection findings, the one with the fewest fact
    problems, cut down to its consistent sentences when enough is left (`trimmed`), else kept as
    it is and flagged (`kept_best`); when every attempt has an injection finding, a reply that
    only repeated profile text loses those sentences when enough is left (`trimmed`), anything
    else becomes a refusal in character. Injection events are logged, counted by channel and
    kind and listed in `blocked`; the fact guard's outcome is the turn's `fact_check` record."""
    context = resolve_context(runtime.context, config)
    draft = state.get("draft")
    if not isinstance(draft, AIMessage):
        draft = AIMessage(content="")
    canary = state.get("canary") or ""
    spec = _TURN_SPECS.pop(canary, None) or turn_guard(state, context, canary)[0]
    judge = judge_for(state.get("persona"), _profile(state), _last_user_text(state))
    events: list[BlockedEvent] = [
        {"channel": ch, "kind": "instruction_neutralised", "action": "removed"} for ch in sorted(set(spec.neutralised))
    ]
    findings = spec.check(draft.text)
    first = judge.check(draft.text)
    if not findings and first.ok:
        record(events)
        if streams_checked(config):
            ended = _end_stream(state, draft.text, draft.text, refused=False)
            draft = draft if ended == draft.text else AIMessage(content=ended, id=draft.id)
        return {
            "messages": [draft],
            "draft": None,
            "blocked": events,
            "fact_check": fact_record(judge, first, first, 1, "passed"),
        }
    update: dict[str, Any] = {}
    attempts: list[Attempt] = [(draft.text, findings, first)]
    # what a streaming caller sent stays sent, so no rewrite
    streaming = streams_checked(config)
    if not streaming:
        usage = await _rewrite(state, context, config, canary, spec, judge, attempts)
        if usage is not None:
            update["usage"] = usage
    chosen = _choose(attempts, spec, judge)
    final, repaired = judge.check(chosen.text), False
    text = chosen.text
    if any(c.kind == "name" for c in final.contradictions) and not streaming:
        # the persona's name is not left to the model: a wrong or missing name is put right
        fixed = judge.repaired(text)
        if fixed != text and not spec.check(fixed) and judge.check(fixed).cost() < final.cost():
            text, final, repaired = fixed, judge.check(fixed), True
    if not final.ok:
        fact_action = "kept_best" if len(attempts) > 1 else "flagged"
    elif first.ok:
        fact_action = "passed"
    else:
        fact_action = "repaired" if repaired else chosen.fact_action
    events += [{"channel": f.channel, "kind": f.kind, "action": chosen.action} for f in findings]
    record(events)
    if streaming:
        text = _end_stream(state, draft.text, text, refused=bool(findings))
    message = draft if text == draft.text else AIMessage(content=text, id=draft.id)
    return {
        **update,
        "messages": [message],
        "draft": None,
        "blocked": events,
        "fact_check": fact_record(judge, first, final, len(attempts), fact_action),
    }


def _end_stream(state: PersonaChatState, draft: str, text: str, *, refused: bool) -> str:
    """Send what a streamed reply still owes; the turn's reply. After a finding (`text` is then the
    guard's refusal) or the stream guard's own stop: what was sent with a refusal after it. Else
    the rest the stream guard held back, now that the whole reply has passed the checks."""
    sent = state.get("streamed") or ""
    if refused or state.get("stream_blocked"):
        refusal = text if refused else render_prompt("persona_chat_refusal").strip()
        addition = ("\n\n" if sent.strip() else "") + refusal
        emit_text(addition)
        return (sent + addition).strip()
    emit_text(draft[len(sent) :])
    return text


Attempt = tuple[str, list[Finding], FactCheck]


async def _rewrite(
    state: PersonaChatState,
    context: ChatContext,
    config: RunnableConfig,
    canary: str,
    spec: GuardSpec,
    judge: FactJudge,
    attempts: list[Attempt],
) -> Usage | None:
    """Ask for the reply again, with notes naming every finding so far, until an attempt is free
    of injection findings and fact problems (one rewrite for an injection finding, up to
    `MAX_REWRITES` for a fact problem); appends each attempt. The turn's usage with the
    rewrites', or None when nothing was asked."""
    seen = list(attempts[0][1])  # every injection finding so far: each rewrite avoids all of them
    persona_name = (state.get("persona") or {}).get("name", "the persona")
    usage: Usage | None = None
    for rewrite in range(MAX_REWRITES):
        _, last_findings, last_check = attempts[-1]
        if rewrite and last_check.ok:
            break  # an injection finding gets one rewrite; a fact problem up to MAX_REWRITES
        disclosure = any(f.kind in DISCLOSURE_KINDS for f in seen)
        planted = any(f.kind not in DISCLOSURE_KINDS for f in seen)
        drop = tuple(p.value for p in spec.payloads if p.kind != "language") if planted else ()
        _, marked = turn_guard(state, context, canary, drop=drop)
        notes = []
        if disclosure:
            notes.append(render_prompt("persona_chat_retry_disclosure", persona_name=persona_name))
        if planted:
            notes.append(render_prompt("persona_chat_retry_planted", persona_name=persona_name))
        if not last_check.ok:
            notes.append(judge.note(persona_name, last_check))
        profile = profile_fragments(_profile(state)) if disclosure else None
        model_name, model = await _model(state, context)
        prompt = _prompt(state, context, canary, marked, "".join(notes), profile)
        retry = await model.with_config(tags=[TAG_NOSTREAM]).ainvoke(prompt, config)
        retry_text = storable(retry.text if isinstance(retry, AIMessage) else str(retry.content))
        if isinstance(retry, AIMessage):
            usage = _add_usage(usage or state.get("usage"), await _usage(model_name, prompt, retry))
        retry_findings = spec.check(retry_text) if retry_text.strip() else [*last_findings]
        seen += [f for f in retry_findings if f.kind not in {s.kind for s in seen}]
        attempts.append((retry_text, retry_findings, judge.check(retry_text)))
        if retry_text.strip() and not retry_findings and attempts[-1][2].ok:
            break
    return usage


@dataclass(frozen=True)
class _Chosen:
    text: str
    action: str  # what happened to the injection findings: regenerated, trimmed or replaced
    fact_action: str  # what happened to the fact problems, when the chosen text is consistent


def _choose(attempts: list[Attempt], spec: GuardSpec, judge: FactJudge) -> _Chosen:
    """The reply the turn keeps: the best attempt free of injection findings (cut down to its
    consistent sentences when it still has fact problems and enough is left), else the profile
    text trimmed out of a reply that only leaked it, else a refusal in character."""
    draft_text, findings, _ = attempts[0]
    clean = [(text, check) for text, found, check in attempts if text.strip() and not found]
    if clean:
        best_text, best_check = clean[best_attempt(clean)]
        if not best_check.ok:
            cut = trimmed(best_text, best_check, judge)
            if cut and not spec.check(cut):
                return _Chosen(cut, "regenerated", "trimmed")
        return _Chosen(best_text, "regenerated", "regenerated")
    if len(attempts) > 1 and {f.kind for f in findings} == {"prompt_leak"}:
        cut = trim(attempts[-1][0], spec) or trim(draft_text, spec)
        if cut:
            return _Chosen(cut, "trimmed", "replaced")
    disclosure = any(f.kind in DISCLOSURE_KINDS for f in findings)
    refusal = render_prompt("persona_chat_refusal" if disclosure else "persona_chat_refusal_planted").strip()
    return _Chosen(refusal, "replaced", "replaced")


def _last_user_text(state: PersonaChatState) -> str:
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _add_usage(first: Usage | None, second: Usage) -> Usage:
    if not first:
        return second
    return {
        "input_tokens": first["input_tokens"] + second["input_tokens"],
        "output_tokens": first["output_tokens"] + second["output_tokens"],
        "total_tokens": first["total_tokens"] + second["total_tokens"],
        "source": first["source"] if first["source"] == second["source"] else "approximate",
    }


async def _usage(model_name: str, prompt: list[BaseMessage], reply: AIMessage) -> Usage:
    """The provider's usage; counted when it reports none (llama.cpp sends none when streaming)."""
    reported: Mapping[str, Any] = reply.usage_metadata or {}
    input_tokens, output_tokens = int(reported.get("input_tokens", 0)), int(reported.get("output_tokens", 0))
    if input_tokens or output_tokens:
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": int(reported.get("total_tokens", 0)) or input_tokens + output_tokens,
            "source": "provider",
        }
    counted = await count_tokens_with_model(model_name, prompt, reply)
    return {
        "input_tokens": counted.input_tokens,
        "output_tokens": counted.output_tokens,
        "total_tokens": counted.input_tokens + counted.output_tokens,
        "source": counted.source,
    }


def finalize(state: PersonaChatState) -> dict[str, Any]:
    """The reply text of this turn (usage was recorded by generate)."""
    last = state["messages"][-1]
    text = last.text if isinstance(last, AIMessage) else ""
    return {"reply": text.strip()}
