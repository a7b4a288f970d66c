"""Character Card V3 (https://github.com/kwaroran/character-card-spec-v3), V2
(https://github.com/malfoyslastname/character-card-spec-v2) and V1 cards.

A V2 card is `{"spec": "chara_card_v2", "spec_version": "2.0", "data": {...}}`; a V1 card has no
`spec` and six top-level fields (name, description, personality, scenario, first_mes,
mes_example). A V3 card is `{"spec": "chara_card_v3", "spec_version": "3.0", "data": {...}}`: V2's
fields plus `group_only_greetings`, `nickname`, `creator_notes_multilingual`, `source`,
`creation_date`, `modification_date` and `assets`. Reading a card checks its shape and normalises
it to V2 `data` with every field present; unknown keys (other tools' additions, V3's fields,
a lorebook entry's `use_regex`) are kept, so a card travels through unchanged. V3 `assets` are
the exception: this service keeps no images or files, so they are dropped, with a warning when
any is more than the default icon (`ccdefault:`). `to_v3` writes the V3 form of a V2 card.

Our own settings ride in `data.extensions["persona_service"]` (kind, system prompt, model,
temperature, rag, facts, style exemplars); other tools keep extensions they do not know.

Text in a card is data. Nothing here (or anywhere in the service) renders it as a template: `{x}`
and `{{...}}` stay as they are, except the two macros every card tool substitutes, `{{char}}`
and `{{user}}` (and V1's `<BOT>`, `<USER>`), which are replaced as plain text when a card's
fields are assembled into a system prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from domain.lorebook import card_macros
from runtime.errors import ServiceError

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
V1 = "chara_card_v1"
SPEC_V3 = "chara_card_v3"
SPEC_V3_VERSION = "3.0"
EXTENSION_KEY = "persona_service"

TEXT_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
)
LIST_FIELDS = ("alternate_greetings", "tags")
META_FIELDS = ("creator", "character_version")
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# the fields folded into a system prompt (`assemble_prompt`)
PROMPT_FIELDS = ("system_prompt", "description", "personality", "scenario", "mes_example", "post_history_instructions")

MAX_NAME_CHARS = 200
MAX_PROMPT_CHARS = 60_000

_ORIGINAL = re.compile(r"\{\{\s*original\s*\}\}", re.IGNORECASE)


@dataclass(frozen=True)
class Card:
    """A card read from a file: its spec (`chara_card_v3`, `chara_card_v2` or `chara_card_v1`),
    V2 `data` with every field present (V3's own fields kept beside them) and what could not be
    read as it came (`warnings`)."""

    spec: str
    data: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.data["name"])


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ServiceError(f"{where}.{key} must be a string")
    return value


def _texts(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ServiceError(f"{where}.{key} must be a list of strings")
    return list(value)


def _normalise(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """V2 `data` in the spec's field order, every field present, unknown keys kept."""
    data: dict[str, Any] = {key: _text(raw, key, where) for key in TEXT_FIELDS}
    for key in LIST_FIELDS:
        data[key] = _texts(raw, key, where)
    book = raw.get("character_book")
    if book is not None:
        if not isinstance(book, dict):
            raise ServiceError(f"{where}.character_book must be an object")
        if "entries" in book and not isinstance(book["entries"], list):
            raise ServiceError(f"{where}.character_book.entries must be a list")
        data["character_book"] = book
    for key in META_FIELDS:
        data[key] = _text(raw, key, where)
    extensions = raw.get("extensions")
    if extensions is None:
        extensions = {}
    if not isinstance(extensions, dict):
        raise ServiceError(f"{where}.extensions must be an object")
    data["extensions"] = extensions
    for key, value in raw.items():  # other tools' additions travel along
        if key not in data and key != "character_book":
            data[key] = value
    name = data["name"].strip()
    if not name:
        raise ServiceError(f"The card has no name ({where}.name)")
    if len(name) > MAX_NAME_CHARS or any(ord(ch) < 32 for ch in name):
        raise ServiceError(f"{where}.name must be one line of at most {MAX_NAME_CHARS} characters")
    data["name"] = name
    return data


def _optional(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    value = data.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ServiceError(f"data.{key} must be {what}")


def _v3_data(raw: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """V3 `data` checked and normalised (V2 fields as `_normalise` makes them, V3's beside them),
    its assets dropped; and the warning saying so."""
    data = _normalise({k: v for k, v in raw.items() if k != "assets"}, "data")
    data["group_only_greetings"] = _texts(raw, "group_only_greetings", "data")
    _optional(data, "nickname", str, "a string")
    _optional(data, "creation_date", (int, float), "a number (Unix time in seconds)")
    _optional(data, "modification_date", (int, float), "a number (Unix time in seconds)")
    if data.get("source") is not None:
        _texts(data, "source", "data")
    notes = data.get("creator_notes_multilingual")
    if notes is not None and (not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values())):
        raise ServiceError("data.creator_notes_multilingual must be an object of strings")
    assets = raw.get("assets")
    if assets is None:
        return data, ()
    if not isinstance(assets, list) or not all(isinstance(a, dict) for a in assets):
        raise ServiceError("data.assets must be a list of objects")
    dropped = [a for a in assets if a.get("uri") != "ccdefault:"]
    if not dropped:
        return data, ()
    kinds = ", ".join(sorted({str(a.get("type") or "unknown")[:40] for a in dropped}))
    return data, (
        f"The card's {len(dropped)} asset(s) ({kinds}) were dropped: this service keeps no card assets, "
        "so an exported card has only its default icon",
    )


def read_card(obj: Any) -> Card:
    """Check a card (V3, V2, or V1 without `spec`) and normalise it to V2 data."""
    if not isinstance(obj, dict):
        raise ServiceError("A character card must be a JSON object")
    spec = obj.get("spec")
    if spec is None:
        if isinstance(obj.get("data"), dict):
            raise ServiceError(f'The card has no spec; a V2 card says "spec": "{SPEC}"')
        if "name" not in obj:
            raise ServiceError("Not a character card: no spec and no name")
        return Card(V1, _normalise({key: obj.get(key) for key in V1_FIELDS}, "card"))
    if spec == SPEC_V3:
        return _read_v3(obj)
    if spec != SPEC:
        raise ServiceError(
            f"Unsupported card spec {str(spec)[:40]!r}: this service reads {SPEC_V3}, {SPEC} and V1 cards"
        )
    version = obj.get("spec_version")
    if not isinstance(version, str) or not version.startswith("2"):
        raise ServiceError(f'Unsupported spec_version {str(version)[:20]!r} for {SPEC} (expected "{SPEC_VERSION}")')
    data = obj.get("data")
    if not isinstance(data, dict):
        raise ServiceError("The card has no data object (data)")
    return Card(SPEC, _normalise(data, "data"))


def _read_v3(obj: dict[str, Any]) -> Card:
    # the spec: a later 3.x (or newer) version is read as far as 3.0 goes, an older one is refused
    version = obj.get("spec_version")
    try:
        number = float(version) if isinstance(version, str) else float("nan")
    except ValueError:
        number = float("nan")
    if not number >= 3.0:
        raise ServiceError(
            f'Unsupported spec_version {str(version)[:20]!r} for {SPEC_V3} (expected "{SPEC_V3_VERSION}")'
        )
    data = obj.get("data")
    if not isinstance(data, dict):
        raise ServiceError("The card has no data object (data)")
    normalised, warnings = _v3_data(data)
    return Card(SPEC_V3, normalised, warnings)


def to_v3(card: dict[str, Any]) -> dict[str, Any]:
    """The V3 form of a V2 card (`build_card`): the same data with V3's required
    `group_only_greetings`; V3 fields a card was imported with are already in its data."""
    data = dict(card["data"])
    data["group_only_greetings"] = list(data.get("group_only_greetings") or [])
    return {"spec": SPEC_V3, "spec_version": SPEC_V3_VERSION, "data": data}


def _macros(text: str, name: str) -> str:
    """{{char}} and {{user}} as plain text (replaced by a function, so nothing in `name` is re-read)."""
    return card_macros(text, name)


def _assembled(data: dict[str, Any], name: str) -> str:
    """The system prompt a card's fields make: its own system prompt (without `{{original}}`),
    description, personality, scenario, example dialogue and post-history instructions, in
    that order, blank-line separated; `{{char}}` becomes the name (a V3 card's `nickname` when it
    has one) and `{{user}}` "the user". A card with only a description gives that description
    unchanged (macros aside)."""
    parts = [
        (_ORIGINAL.sub("", data.get("system_prompt") or "").strip(), ""),
        ((data.get("description") or "").strip(), ""),
        ((data.get("personality") or "").strip(), f"{name}'s personality: "),
        ((data.get("scenario") or "").strip(), "Scenario: "),
        ((data.get("mes_example") or "").strip(), "Example dialogue:\n"),
        ((data.get("post_history_instructions") or "").strip(), ""),
    ]
    nickname = data.get("nickname")
    char = nickname.strip() if isinstance(nickname, str) and nickname.strip() else name
    return _macros("\n\n".join(label + text for text, label in parts if text), char)


def assemble_prompt(data: dict[str, Any], name: str) -> str:
    """`_assembled`, refused when longer than a system prompt may be."""
    prompt = _assembled(data, name)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ServiceError(
            f"The card's text makes a system prompt of {len(prompt)} characters, more than {MAX_PROMPT_CHARS}"
        )
    return prompt


def check_kept(kept: Any, where: str) -> dict[str, Any]:
    """A persona's kept card fields (`split_card`) from a bundle, checked as a card's are."""
    if not isinstance(kept, dict):
        raise ServiceError(f"{where} must be an object")
    _normalise({**kept, "name": "kept"}, where)
    return kept


def split_card(data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(our extension or None, the card's other fields) of normalised V2 data: `name` and
    `creator_notes` become the persona's name and description; the rest is kept as the persona's
    card, so exporting it again gives the same card."""
    extensions = dict(data["extensions"])
    ours = extensions.pop(EXTENSION_KEY, None)
    if ours is not None and not isinstance(ours, dict):
        raise ServiceError(f"data.extensions.{EXTENSION_KEY} must be an object")
    kept = {key: value for key, value in data.items() if key not in ("name", "creator_notes")}
    kept["extensions"] = extensions
    return ours, kept


def build_card(
    *,
    name: str,
    notes: str,
    system_prompt: str,
    kept: dict[str, Any] | None,
    ours: dict[str, Any],
    creator: str,
    character_version: str,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """A V2 card of a persona. `kept` is the card it was imported from (`split_card`), if any:
    its fields are written as they came while they still make the persona's system prompt.
    Otherwise (a persona made here, or whose prompt was edited since) `description` carries the
    system prompt, as every card tool reads it, and the other prompt fields are empty."""
    data: dict[str, Any] = _normalise({**(kept or {}), "name": name}, "data")
    if kept is None or _assembled(kept, name) != system_prompt:
        data.update(dict.fromkeys(PROMPT_FIELDS, ""), description=system_prompt)
    if kept is None:
        data.update(creator=creator, character_version=character_version, tags=list(tags or []))
    data["creator_notes"] = notes
    data["extensions"] = {**data["extensions"], EXTENSION_KEY: ours}
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}
