"""`--persona KIND:ID[@VERSION]`: run a suite against one stored persona version.

`studio:12@3` is version 3 of studio persona 12, `ghostwriter:100000000002@2` version 2 of that
account's ghostwriter persona, `twin:94` a twin's current version. The version is read from the
service's database (DATABASE_URL, or the embedded one in DATA_DIR) with every setting it
recorded: system prompt, model, temperature, and the facts a twin (or a studio persona imported
from a twin card) carries, or a ghostwriter version's voice examples.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import ConfigError

REF = re.compile(r"^(studio|ghostwriter|twin):([A-Za-z0-9_-]{1,64})(?:@([0-9]{1,9}))?$")


@dataclass(frozen=True)
class PersonaTarget:
    kind: str
    id: str
    version: int
    name: str
    system_prompt: str
    model: str | None = None
    temperature: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    voice_examples: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}@{self.version}"

    def record(self) -> dict[str, Any]:
        """What a run records of its persona (the prompt by its hash: runs are shared files)."""
        return {
            "ref": self.ref,
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "model": self.model,
            "temperature": self.temperature,
            "system_prompt_sha256": hashlib.sha256(self.system_prompt.encode("utf-8")).hexdigest()[:12],
        }


def is_persona_ref(text: str) -> bool:
    return REF.match(text) is not None


def parse_ref(text: str) -> tuple[str, str, int | None]:
    match = REF.match(text.strip())
    if match is None:
        raise ConfigError(
            f"--persona takes KIND:ID[@VERSION] with KIND studio, ghostwriter or twin "
            f"(for example studio:12@3), got {text!r}."
        )
    kind, ident, version = match.groups()
    return kind, ident, int(version) if version else None


def _facts(attributes: dict[str, Any]) -> dict[str, Any]:
    """The facts the chat's guard holds this persona to (`graphs.persona_chat.facts.persona_facts`)."""
    from graphs.persona_chat.facts import persona_facts

    return persona_facts(attributes)


async def load_target(ref: str) -> PersonaTarget:
    """The persona version `ref` names, read from the service's database."""
    from runtime.services import Services
    from runtime.settings import get_settings
    from store import ghostwriter as gw_store
    from store.personas import get_chat_profile
    from store.transfer import all_versions

    kind, ident, version = parse_ref(ref)
    services = Services.create(get_settings())
    try:
        await services.start(with_model=False, with_embeddings=False)
        pool = services.pool
        if kind == "ghostwriter":
            persona_id = await gw_store.persona_id_for(pool, ident)
            if persona_id is None:
                raise ConfigError(f"Account {ident} has no ghostwriter persona.")
        elif not ident.isdigit():
            raise ConfigError(f"There is no {kind} persona {ident}.")
        else:
            persona_id = int(ident)
        row = await get_chat_profile(pool, persona_id, version)
        if row is None or row["kind"] != kind:
            if version is not None and await get_chat_profile(pool, persona_id) is not None:
                raise ConfigError(f"The {kind} persona {ident} has no version {version}.")
            raise ConfigError(f"There is no {kind} persona {ident}.")
        examples: list[str] = []
        if kind == "ghostwriter":
            details = next(v["details"] for v in await all_versions(pool, persona_id) if v["version"] == row["version"])
            examples = list((details or {}).get("voice_examples") or [])
    finally:
        await services.stop()
    return PersonaTarget(
        kind=kind,
        id=ident,
        version=row["version"],
        name=row["name"],
        system_prompt=row["system_prompt"],
        model=row["model"],
        temperature=row["temperature"],
        facts=_facts(row["attributes"] or {}),
        voice_examples=examples,
    )
