"""persona_chat's schemas: what a caller sets (input), what a turn returns (output), and the
internal state the nodes share. Studio's input form shows only `PersonaChatInput`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import NotRequired, TypedDict


class PersonaProfile(TypedDict, total=False):
    """A persona as the chat sees it: loaded from the database, or given inline."""

    id: int | None
    kind: str
    name: str
    system_prompt: str
    model: str | None
    temperature: float | None
    version: int | None
    attributes: dict[str, Any]


class Attachment(TypedDict, total=False):
    """An image or PDF for this turn: `data` is a base64 data URL or an https URL."""

    type: Literal["image", "file"]
    data: str
    filename: str
    mime_type: str


class RagSettings(TypedDict, total=False):
    """A studio persona's document settings, as stored in its `attributes["rag"]`."""

    db_collections: list[str]
    query_threshold: float | None
    query_metric: Literal["cosine", "euclidean"]
    k: int


class ToolCallRecord(TypedDict):
    """One tool call of the turn's log: the tool, its arguments and what it gave (document search:
    `result`; web search: `result_count`, or `error`)."""

    name: str
    args: dict[str, object]
    result: NotRequired[dict[str, int]]
    result_count: NotRequired[int]
    error: NotRequired[str]


class BlockedEvent(TypedDict):
    """An injection the guard caught: where it came from, what it was, and what was done."""

    channel: str
    kind: str
    action: str


class FactCheckRecord(TypedDict):
    """The fact guard's record of a turn: the facts checked, the replies generated, the first
    draft's and the final reply's problems (in words and by kind), the action taken and whether
    the final reply still has a problem."""

    facts: list[str]
    generations: int
    first: list[str]
    final: list[str]
    first_kinds: list[str]
    final_kinds: list[str]
    action: str
    flagged: bool


class Reference(TypedDict, total=False):
    """A retrieved document chunk or web result, quoted to the model as reference material."""

    title: str
    content: str
    uri: str
    preview_url: str
    collection: str
    cosine_similarity: float
    euclidean_distance: float


class LorebookEntry(TypedDict):
    """A card lorebook entry that fired this turn: its id (the entry's `id`, else its index in the
    book), its name (`name`, `comment` or first key) and the content the model read."""

    id: str
    name: str
    content: str


class Usage(TypedDict):
    """Tokens of this turn; `source` says how they were counted: "provider" (reported by the
    model's API), "tokenizer" (the model's own tokenizer) or "approximate"."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    source: str


class PersonaChatInput(TypedDict):
    """One turn: the new user message plus who answers (a stored `persona_id`, or an inline `persona`)."""

    messages: Annotated[list[AnyMessage], add_messages]
    persona_id: NotRequired[int | None]
    persona_version: NotRequired[int | None]
    persona: NotRequired[PersonaProfile | None]
    system_prompt_override: NotRequired[str | None]
    additional_instructions: NotRequired[str | None]
    attachments: NotRequired[list[Attachment]]
    # attachments an API has already read into message parts (checked before the turn starts)
    attachment_parts: NotRequired[list[dict[str, Any]]]
    use_documents: NotRequired[bool]
    use_web: NotRequired[bool]


class PersonaChatOutput(TypedDict):
    """The conversation and this turn's reply, references, rag hit, lorebook entries, tool-call log
    and usage."""

    messages: Annotated[list[AnyMessage], add_messages]
    reply: NotRequired[str]
    references: NotRequired[list[Reference]]
    tool_calls: NotRequired[list[ToolCallRecord]]
    rag_hit: NotRequired[dict[str, str] | None]
    lorebook: NotRequired[list[LorebookEntry]]  # the persona card's lorebook entries that fired
    model: NotRequired[str]
    usage: NotRequired[Usage]
    blocked: NotRequired[list[BlockedEvent]]
    fact_check: NotRequired[FactCheckRecord]


class PersonaChatState(PersonaChatInput, PersonaChatOutput):
    """Everything the nodes share. `collections` and `rag` are the loaded persona's own document
    settings, never a caller's; `canary`, `streamed` and `stream_blocked` serve the guard."""

    collections: NotRequired[list[str] | None]
    rag: NotRequired[RagSettings | None]
    draft: NotRequired[AnyMessage | None]  # generate's reply until the guard passes or replaces it
    canary: NotRequired[str]  # this turn's marker in the system message (generate sets it)
    streamed: NotRequired[str]  # what a streaming caller was sent of the draft (`STREAM_CHECKED_KEY`)
    stream_blocked: NotRequired[bool]  # the stream guard stopped sending the draft
