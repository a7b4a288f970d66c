"""Use cases of the OpenAI-compatible mount (`server/openai_compat`): every persona the caller may
use as a model, and one chat completion with one of them.

A model id names the API a persona belongs to and its key in that API: `studio/<persona_id>`,
`ghostwriter/<account_id>`, `twin/<persona_id>`. Which of the three a caller may use follows
from the credential it sent (`Caller`); within an API the API's own rule applies (every studio
user may chat with every studio persona, as `use_cases.studio.personas.find_persona` says).

The client sends the whole conversation with every request, so a turn is stateless: the last
user message is the turn, the user and assistant messages before it are the history, and every
system (or developer) message is the user's instructions, quoted below the persona's own profile
as the graph's `additional_instructions`; nothing a client sends replaces the persona's prompt.

A ghostwriter turn is the ghostwriter API's own (`start_chat`: its budget, lengths and model
checks). A studio or twin turn runs the same `ChatTurn` over the persona_chat nodes compiled
without a checkpointer (`graphs.ghostwriter_chat`): the persona is loaded by id, so its prompt,
retrieval settings and guards apply as in its own API, and no thread, checkpoint or history row
is written. Usage is the graph's record of the turn (the provider's figures, else its own count
with the model's tokenizer); an estimate only when the graph recorded none.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.state import PersonaChatState
from runtime.errors import BUSY, ConfigError, NotFoundError, ServiceError, UnavailableError
from runtime.models import make_chat_model
from runtime.services import Services
from runtime.token_count import count_prompt_tokens, count_texts
from store import studio as studio_store
from store.clusters import cluster_personas, get_segment_persona, list_clusters
from store.types import Pool
from use_cases.ghostwriter.chat import ChatRequest, ChatTurn, start_chat
from use_cases.ghostwriter.personas import list_personas as ghostwriter_personas
from use_cases.studio.access import CurrentUser
from use_cases.studio.chat import MAX_MESSAGE_CHARS as STUDIO_MAX_MESSAGE_CHARS
from use_cases.studio.personas import find_persona

Kind = Literal["studio", "ghostwriter", "twin"]
Speaker = Literal["user", "assistant"]
KINDS: tuple[Kind, ...] = ("studio", "ghostwriter", "twin")

# The ghostwriter API's limit on `additional_instructions`, for every kind: the instructions are
# quoted into the persona's system message and paid for on every turn.
MAX_INSTRUCTIONS_CHARS = 2000
GHOSTWRITER_MAX_TOKENS = 8000  # the ghostwriter chat's own `max_tokens` bound
TWIN_MAX_MESSAGE_CHARS = 8000  # the twin chat's own message bound

INSTRUCTION_ROLES = frozenset({"system", "developer"})


# ---------------------------------------------------------------- errors


class CompletionError(ServiceError):
    """A request this mount cannot serve (400), naming the request field at fault."""

    def __init__(self, detail: str, *, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(detail)
        self.param = param
        self.code = code


class ModelNotFound(NotFoundError):
    param = "model"
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model '{model}' does not exist or you do not have access to it.")


class ModelNotAllowed(ServiceError):
    """The credential sent does not open the API the model belongs to (decided from the id
    alone, so it says nothing about whether such a persona exists)."""

    status = 403
    param = "model"
    code = "model_not_allowed"

    def __init__(self, kind: str) -> None:
        super().__init__(f"Your API key does not give access to {kind} models.")


# ---------------------------------------------------------------- who calls, and which models


@dataclass(frozen=True)
class Caller:
    """What the bearer token opened: a studio user, the ghostwriter API key (kept as sent: budgets
    are kept per key) and/or the twins."""

    studio_user: CurrentUser | None = None
    ghostwriter_key: bytes | None = None
    twins: bool = False

    def may_use(self, kind: str) -> bool:
        return {
            "studio": self.studio_user is not None,
            "ghostwriter": self.ghostwriter_key is not None,
            "twin": self.twins,
        }.get(kind, False)


@dataclass(frozen=True)
class PersonaModel:
    id: str
    name: str
    owned_by: Kind
    created: int = 0  # unix seconds; 0 where the listing has no creation time


@dataclass(frozen=True)
class ModelRef:
    kind: Kind
    key: str


def model_ref(model: str) -> ModelRef:
    """The API and key a model id names; 404 for anything else."""
    kind, _, key = model.partition("/")
    for known in KINDS:
        if kind == known and key:
            return ModelRef(known, key)
    raise ModelNotFound(model)


def _check_access(caller: Caller, model: str) -> ModelRef:
    ref = model_ref(model)
    if not caller.may_use(ref.kind):
        raise ModelNotAllowed(ref.kind)
    return ref


async def _studio_models(pool: Pool) -> list[PersonaModel]:
    # Every studio persona: any signed-in studio user may chat with any of them. The query belongs
    # in store/studio.py (a `list_all` next to `list_owned`); it is here while that module is not
    # this feature's to change.
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, name, created_at FROM personas WHERE kind = %s ORDER BY id", (studio_store.KIND,)
        )
        rows = await cur.fetchall()
    return [PersonaModel(f"studio/{r['id']}", r["name"], "studio", int(r["created_at"].timestamp())) for r in rows]


async def _ghostwriter_models(services: Services) -> list[PersonaModel]:
    models = []
    for row in await ghostwriter_personas(services):
        handle = f"@{row['handle']}"
        name = f"{row['display_name']} ({handle})" if row["display_name"] else handle
        models.append(PersonaModel(f"ghostwriter/{row['account_id']}", name, "ghostwriter"))
    return models


async def _twin_models(pool: Pool) -> list[PersonaModel]:
    models = []
    for cluster in await list_clusters(pool):
        for persona in await cluster_personas(pool, cluster["id"]):
            name = f"{persona['name']} ({cluster['name']})"
            models.append(PersonaModel(f"twin/{persona['persona_id']}", name, "twin"))
    return models


async def list_models(services: Services, caller: Caller) -> list[PersonaModel]:
    """Every persona the caller may chat with: studio personas, then ghostwriters, then twins."""
    models: list[PersonaModel] = []
    if caller.may_use("studio"):
        models += await _studio_models(services.pool)
    if caller.may_use("ghostwriter"):
        models += await _ghostwriter_models(services)
    if caller.may_use("twin"):
        models += await _twin_models(services.pool)
    return models


async def find_model(services: Services, caller: Caller, model: str) -> PersonaModel:
    """One model of `list_models` (403 for an API the caller may not use, else 404)."""
    _check_access(caller, model)
    found = next((m for m in await list_models(services, caller) if m.id == model), None)
    if found is None:
        raise ModelNotFound(model)
    return found


# ---------------------------------------------------------------- the conversation


@dataclass(frozen=True)
class CompletionRequest:
    """A chat completion as the client asked for it; `messages` are (role, text) in order."""

    model: str
    messages: Sequence[tuple[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class Conversation:
    message: str
    history: tuple[tuple[Speaker, str], ...]
    instructions: str | None

    def check_lengths(self, max_chars: int) -> None:
        """The persona API's bound on a message, for the turn and every history message."""
        for text in (*(t for _, t in self.history), self.message):
            if len(text) > max_chars:
                raise CompletionError(f"A message exceeds the {max_chars} character limit", param="messages")

    def as_messages(self) -> list[AnyMessage]:
        history: list[AnyMessage] = [HumanMessage(t) if r == "user" else AIMessage(t) for r, t in self.history]
        return [*history, HumanMessage(self.message)]


def read_conversation(messages: Sequence[tuple[str, str]]) -> Conversation:
    """The turn, its history and the user's instructions. The user and assistant messages must end
    with the user's: an assistant message last (a reply to continue) has no turn to answer."""
    instructions = [text.strip() for role, text in messages if role in INSTRUCTION_ROLES and text.strip()]
    turns = [(index, role, text) for index, (role, text) in enumerate(messages) if role in ("user", "assistant")]
    if not any(role == "user" for _, role, _ in turns):
        raise CompletionError("messages must include a user message", param="messages")
    index, role, text = turns[-1]
    if role != "user":
        raise CompletionError(
            "The last user or assistant message must be the user's: continuing an assistant message is not supported",
            param=f"messages[{index}]",
        )
    if not text.strip():
        raise CompletionError("The last user message is empty", param=f"messages[{index}].content")
    joined = "\n\n".join(instructions)
    if len(joined) > MAX_INSTRUCTIONS_CHARS:
        raise CompletionError(
            f"The system messages exceed the {MAX_INSTRUCTIONS_CHARS} character limit of the user's instructions",
            param="messages",
        )
    history = tuple((cast(Speaker, r), t) for _, r, t in turns[:-1] if t.strip())
    return Conversation(text.strip(), history, joined or None)


# ---------------------------------------------------------------- one turn


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    usage: TokenUsage


@dataclass
class PersonaTurn(ChatTurn):
    """A `ChatTurn` (run once, as a whole or streamed; slot and budget released however it ends)
    that keeps the graph's usage record when it ends: `ChatTurn` settles the budget with it but
    does not hand it out, and a completion reports it."""

    graph_usage: dict[str, Any] | None = field(default=None, init=False)

    @classmethod
    def adopt(cls, turn: ChatTurn) -> PersonaTurn:
        """The same turn (its slot and budget reservation with it) as a PersonaTurn; `turn` must
        not be used afterwards."""
        return cls(**{f.name: getattr(turn, f.name) for f in fields(ChatTurn) if f.init})

    def finish(self, state: Mapping[str, Any] | None, generated: str = "") -> asyncio.Task[None]:
        usage = (state or {}).get("usage")
        if self.graph_usage is None and isinstance(usage, Mapping):
            self.graph_usage = dict(usage)
        return super().finish(state, generated)

    async def token_usage(self, reply: str) -> TokenUsage:
        """The graph's record; when there is none, the counted prompt plus the reply counted."""
        usage = self.graph_usage or {}
        prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        if not prompt and not completion:
            (completion,), _ = await count_texts(self.model_name, [reply])
            prompt = self.input_tokens
        return TokenUsage(prompt, completion, int(usage.get("total_tokens") or 0) or prompt + completion)

    async def complete(self) -> Completion:
        reply = await self.run()
        return Completion(reply.text, await self.token_usage(reply.text))


async def _ghostwriter_turn(
    services: Services, caller: Caller, request: CompletionRequest, ref: ModelRef, conversation: Conversation
) -> PersonaTurn:
    assert caller.ghostwriter_key is not None  # _check_access
    conversation.check_lengths(services.settings.ghostwriter_max_message_chars)
    if request.max_tokens is not None and request.max_tokens > GHOSTWRITER_MAX_TOKENS:
        raise CompletionError(
            f"max_tokens must be at most {GHOSTWRITER_MAX_TOKENS} for a ghostwriter", param="max_tokens"
        )
    options: dict[str, Any] = {}  # what the client left out keeps the ghostwriter API's defaults
    if request.max_tokens is not None:
        options["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        options["temperature"] = request.temperature
    chat = ChatRequest(
        message=conversation.message,
        history=conversation.history,
        additional_instructions=conversation.instructions,
        **options,
    )
    try:
        turn = await start_chat(services, ref.key, chat, caller.ghostwriter_key)
    except NotFoundError:  # no such account, or it has no persona
        raise ModelNotFound(request.model) from None
    return PersonaTurn.adopt(turn)


async def _persona_turn(
    services: Services,
    request: CompletionRequest,
    conversation: Conversation,
    *,
    persona_id: int,
    name: str,
    model_name: str,
    profile: str,
) -> PersonaTurn:
    """A stateless studio or twin turn: the persona is loaded by id inside the graph, as in its
    own API; the client's messages are the whole memory."""
    slot = services.chat_admission.try_enter()
    if slot is None:
        raise UnavailableError(BUSY, retry_after=1)
    try:
        try:
            make_chat_model(
                model_name, temperature=request.temperature, max_tokens=request.max_tokens, settings=services.settings
            )
        except ConfigError as exc:  # the persona's or the server's model, not the client's: 503
            raise ServiceError(str(exc), status=503) from exc
        messages = conversation.as_messages()
        graph_input: PersonaChatState = {
            "persona_id": persona_id,
            "messages": messages,
            "additional_instructions": conversation.instructions,
        }
        counted = [SystemMessage(profile + (conversation.instructions or "")), *messages]
        input_tokens, _ = await count_prompt_tokens(model_name, counted)
    except BaseException:
        slot.release()
        raise
    return PersonaTurn(
        services=services,
        account_id=request.model,  # ChatTurn's labels: this mount names the persona by model id
        handle=name,
        graph_input=graph_input,
        context=ChatContext(
            services=services, model=model_name, temperature=request.temperature, max_tokens=request.max_tokens
        ),
        model_name=model_name,
        input_tokens=input_tokens,
        slot=slot,
    )


async def _studio_turn(
    services: Services, request: CompletionRequest, ref: ModelRef, conversation: Conversation
) -> PersonaTurn:
    try:
        row = await find_persona(services.pool, ref.key)
    except NotFoundError:
        raise ModelNotFound(request.model) from None
    conversation.check_lengths(STUDIO_MAX_MESSAGE_CHARS)
    return await _persona_turn(
        services,
        request,
        conversation,
        persona_id=row["id"],
        name=row["name"],
        model_name=row["model"] or services.settings.chat_model,
        profile=row["system_prompt"],
    )


async def _twin_turn(
    services: Services, request: CompletionRequest, ref: ModelRef, conversation: Conversation
) -> PersonaTurn:
    # a studio or ghostwriter persona's id is no twin: not found, as in the twin API
    twin = await get_segment_persona(services.pool, int(ref.key)) if re.fullmatch(r"[0-9]{1,18}", ref.key) else None
    if twin is None:
        raise ModelNotFound(request.model)
    conversation.check_lengths(TWIN_MAX_MESSAGE_CHARS)
    return await _persona_turn(
        services,
        request,
        conversation,
        persona_id=twin["persona_id"],
        name=twin["name"],
        model_name=services.settings.chat_model,
        profile=twin["summary"],  # for the estimate only: the graph loads the twin's own prompt
    )


async def start_completion(services: Services, caller: Caller, request: CompletionRequest) -> PersonaTurn:
    """A turn ready to run (`complete`, or `stream` then `token_usage`): 403 for an API the
    caller's key does not open, 404 for an unknown model, 400 for a conversation without a turn
    or over a limit, 503 when CHAT_MAX_CONCURRENT turns already run, and for a ghostwriter 429
    when its key's budget cannot cover the turn. The caller must end the turn (`run`, `stream`,
    or `finish(None)` when it will run neither)."""
    ref = _check_access(caller, request.model)
    conversation = read_conversation(request.messages)
    if ref.kind == "ghostwriter":
        return await _ghostwriter_turn(services, caller, request, ref, conversation)
    if ref.kind == "studio":
        return await _studio_turn(services, request, ref, conversation)
    return await _twin_turn(services, request, ref, conversation)
