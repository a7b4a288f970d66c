"""An account's ghostwriter persona as a file: export its current version as a card (JSON or PNG)
or every version as a bundle, and restore a bundle for an existing account.

The card carries the system prompt in `description` (as card tools read it) and, in our
extension, the account, version, style traits and style exemplars (the voice examples posts are
written with). The bundle (`persona-bundle/v1`, kind ghostwriter) holds the account's profile and
every version as stored (prompt, style traits, refinement summary, measured details, time);
restoring it gives the account exactly those versions and the same current version, in one
transaction. An account that has a persona keeps it unless `force` is given.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from runtime.errors import NotFoundError, ServiceError
from runtime.services import Services
from store import transfer as transfer_store
from store.accounts import AccountRow, get_account
from store.transfer import GhostwriterVersion
from store.types import Pool
from use_cases.ghostwriter.errors import ACCOUNT_NOT_FOUND
from use_cases.ghostwriter.personas import require_persona
from use_cases.portable import values
from use_cases.portable.card import MAX_PROMPT_CHARS, build_card
from use_cases.portable.files import BUNDLE_FORMAT, ExportFile, ExportFormat, ImportedBundle, export_file, read_import

EXISTS = "Persona already exists for this account. Use force=true to replace it with the bundle."


@dataclass(frozen=True)
class Restored:
    account_id: str
    persona_version: int
    versions_imported: int


async def _account(pool: Pool, account_id: str) -> AccountRow:
    account = await get_account(pool, account_id)
    if account is None:
        raise NotFoundError(ACCOUNT_NOT_FOUND)
    return account


async def export_persona(services: Services, account_id: str, fmt: ExportFormat) -> ExportFile:
    pool = services.pool
    account = await _account(pool, account_id)
    current = await require_persona(pool, account_id)
    name = account["display_name"] or f"@{account['handle']}"
    if fmt != "bundle":
        details = current["details"] or {}
        card = build_card(
            name=name,
            notes=f"Ghostwriter persona of @{account['handle']}, version {current['version']}: "
            f"{current['refinement_summary'] or ''}".rstrip(": "),
            system_prompt=current["system_prompt"],
            kept=None,
            ours={
                "kind": "ghostwriter",
                "system_prompt": current["system_prompt"],
                "account": {"id": account["id"], "handle": account["handle"], "display_name": account["display_name"]},
                "version": current["version"],
                "style_traits": current["style_traits"],
                "style_exemplars": details.get("voice_examples") or [],
                "confidence_score": details.get("confidence_score"),
            },
            creator=f"@{account['handle']}",
            character_version=str(current["version"]),
            tags=["ghostwriter"],
        )
        return export_file(fmt, name, card)
    rows = await transfer_store.all_versions(pool, current["persona_id"])
    bundle = {
        "format": BUNDLE_FORMAT,
        "kind": "ghostwriter",
        "account": {
            "id": account["id"],
            "handle": account["handle"],
            "display_name": account["display_name"],
            "avatar_url": account["avatar_url"],
        },
        "current_version": current["version"],
        "versions": [
            {
                "version": v["version"],
                "system_prompt": v["system_prompt"],
                "style_traits": v["style_traits"],
                "refinement_summary": v["refinement_summary"],
                "details": v["details"],
                "created_at": values.utc_text(v["created_at"]),
            }
            for v in rows
        ],
    }
    return export_file("bundle", name, bundle)


# what the service reads of a version's details, and the type each must have
_COUNTS = ("posts_analyzed_count", "posts_analyzed", "heldout_posts")
_NUMBERS = ("confidence_score", "avg_engagement")
_TEXT_LISTS = ("samples", "voice_examples")


def _details(details: Any, where: str) -> dict[str, Any]:
    """The details a version is read with; a key the service reads, when present, has its type."""
    if not isinstance(details, dict):
        raise ServiceError(f"{where} must be an object")

    def bad(key: str, ok: bool, wanted: str) -> None:
        if key in details and not ok:
            raise ServiceError(f"{where}.{key} must be {wanted}")

    for key in _COUNTS:
        value = details.get(key)
        bad(key, isinstance(value, int) and not isinstance(value, bool) and value >= 0, "a whole number >= 0")
    for key in _NUMBERS:
        value = details.get(key)
        bad(key, isinstance(value, (int, float)) and not isinstance(value, bool), "a number")
    for key in _TEXT_LISTS:
        value = details.get(key)
        bad(key, isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of strings")
    bad("engagement_aware", isinstance(details.get("engagement_aware"), bool), "true or false")
    bad("metrics", isinstance(details.get("metrics"), dict), "an object")
    if "latest_post_at" in details:
        bad("latest_post_at", isinstance(details["latest_post_at"], str), "an ISO 8601 timestamp")
        values.timestamp(details["latest_post_at"], f"{where}.latest_post_at")
    return details


def _version(raw: Any, index: int) -> GhostwriterVersion:
    where = f"versions[{index}]"
    if not isinstance(raw, dict):
        raise ServiceError(f"{where} must be an object")
    number = values.version_number(raw.get("version"), f"{where}.version")
    traits = raw.get("style_traits") or []
    if not isinstance(traits, list) or not all(isinstance(t, str) for t in traits):
        raise ServiceError(f"{where}.style_traits must be a list of strings")
    details = _details(raw.get("details") or {}, f"{where}.details")
    summary = raw.get("refinement_summary")
    return GhostwriterVersion(
        version=number,
        system_prompt=values.text(
            raw.get("system_prompt"), f"{where}.system_prompt", required=True, limit=MAX_PROMPT_CHARS
        ),
        style_traits=list(traits),
        refinement_summary=None if summary is None else values.text(summary, f"{where}.refinement_summary"),
        details=details,
        created_at=values.timestamp(raw.get("created_at"), f"{where}.created_at"),
    )


async def import_bundle(services: Services, account_id: str, raw: bytes, *, force: bool) -> Restored:
    """Restore a ghostwriter bundle's versions for an existing account (the bundle's own)."""
    pool = services.pool
    account = await _account(pool, account_id)
    imported = await asyncio.to_thread(read_import, raw)  # up to 16 MiB of JSON: off the event loop
    if not isinstance(imported, ImportedBundle):
        raise ServiceError("The ghostwriter imports bundles (persona-bundle/v1, kind ghostwriter), not cards")
    if imported.kind != "ghostwriter":
        raise ServiceError(f"This is a {imported.kind} bundle, not a ghostwriter bundle")
    bundle = imported.bundle
    source = bundle.get("account")
    source_id = source.get("id") if isinstance(source, dict) else None
    if source_id != account_id:
        raise ServiceError(f"The bundle is for account {str(source_id)[:40]}, not {account_id}")
    versions, current = values.bundle_versions(bundle, _version, lambda v: v["version"])
    try:
        restored = await transfer_store.restore_ghostwriter(pool, account, versions, current, replace=force)
    except transfer_store.PersonaExists:
        raise ServiceError(EXISTS) from None
    if restored is None:  # the account was deleted meanwhile
        raise NotFoundError(ACCOUNT_NOT_FOUND)
    return Restored(account_id, int(current), len(versions))
