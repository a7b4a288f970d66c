"""A segment twin as a file: its card (JSON or PNG) or a bundle of its versions.

The card's `description` is the twin's system prompt, `creator_notes` its summary, and our
extension holds its facts (gender, age band, cluster, the segment attributes it stands for), so
a card tool, or the studio's import, gets the whole twin. Twins are made from segment data
(`personas twin build/import`), so there is no twin import.
"""

from __future__ import annotations

from runtime.errors import NotFoundError
from store import transfer as transfer_store
from store.personas import get_chat_profile
from store.types import Pool
from use_cases.portable.card import build_card
from use_cases.portable.files import BUNDLE_FORMAT, ExportFile, ExportFormat, export_file
from use_cases.portable.values import utc_text


async def export_persona(pool: Pool, persona_id: int, fmt: ExportFormat) -> ExportFile:
    row = await get_chat_profile(pool, persona_id)
    if row is None or row["kind"] != "twin":
        raise NotFoundError(f"Persona {persona_id} not found")
    facts = dict(row["attributes"] or {})
    if fmt != "bundle":
        tags = ["segment twin"] + ([str(facts["cluster_name"])] if facts.get("cluster_name") else [])
        card = build_card(
            name=row["name"],
            notes=row["description"],
            system_prompt=row["system_prompt"],
            kept=None,
            ours={
                "kind": "twin",
                "system_prompt": row["system_prompt"],
                "model": row["model"],
                "temperature": row["temperature"],
                "facts": facts,
            },
            creator="",
            character_version=str(row["version"]),
            tags=tags,
        )
        return export_file(fmt, row["name"], card)
    versions = await transfer_store.all_versions(pool, persona_id)
    bundle = {
        "format": BUNDLE_FORMAT,
        "kind": "twin",
        "persona": {"persona_id": row["id"], "name": row["name"], "summary": row["description"], "facts": facts},
        "current_version": row["version"],
        "versions": [
            {"version": v["version"], "system_prompt": v["system_prompt"], "created_at": utc_text(v["created_at"])}
            for v in versions
        ],
    }
    return export_file("bundle", row["name"], bundle)
