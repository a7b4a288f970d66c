"""Imported and exported files: which format an uploaded file is, with its size capped and its
JSON checked before anything else reads it; the exported file's name, media type and bytes."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from runtime.errors import ServiceError
from use_cases.portable.card import Card, read_card, to_v3
from use_cases.portable.png import SIGNATURE, read_card_png, write_card_png

BUNDLE_FORMAT = "persona-bundle/v1"
MAX_IMPORT_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64

# card_v2 and png (a V2 card in a PNG) stay the default: every card tool reads V2, and a V3
# card's additions (group greetings, nickname, assets) are nothing a persona made here has.
ExportFormat = Literal["card_v2", "card_v3", "png", "png_v3", "bundle"]
TOO_LARGE = "The file is larger than the import limit of {limit} bytes"


@dataclass(frozen=True)
class ImportedCard:
    card: Card
    png: bool


@dataclass(frozen=True)
class ImportedBundle:
    kind: str
    bundle: dict[str, Any]


Imported = ImportedCard | ImportedBundle


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    body: bytes


def too_large() -> ServiceError:
    return ServiceError(TOO_LARGE.format(limit=MAX_IMPORT_BYTES))


def check_json(value: Any, where: str = "the file", depth: int = 0) -> None:
    """JSON Postgres can store as text and jsonb: no NUL characters, no lone surrogates, and no
    absurd nesting, in keys and values alike."""
    if depth > MAX_JSON_DEPTH:
        raise ServiceError(f"{where} is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ServiceError(f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ServiceError(f"{where} contains invalid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json(key, where, depth + 1)
            check_json(item, f"{where}.{key}" if depth < 3 else where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, where, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ServiceError(f"{where} contains a number JSON does not allow")


def _json(raw: bytes, what: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(f"{what} is not UTF-8 text") from None
    try:
        # NaN and Infinity are not JSON; the parser would accept them
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ServiceError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise ServiceError(f"{what} is not valid JSON ({str(exc)[:80]})") from None
    check_json(value, what)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def read_import(raw: bytes) -> Imported:
    """What an uploaded file holds: a card (JSON or PNG) or a bundle."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise too_large()
    if not raw.strip():
        raise ServiceError("The file is empty")
    if raw.startswith(SIGNATURE):
        return ImportedCard(read_card(_json(read_card_png(raw), "The PNG's card")), png=True)
    if raw[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ServiceError(
            "Zip archives (such as .charx cards) are not read here: send a card JSON, a PNG card or a bundle"
        )
    if raw[:2] == b"\x1f\x8b":
        raise ServiceError("Compressed (gzip) files are not read here: send a card JSON, a PNG card or a bundle")
    value = _json(raw, "The file")
    if isinstance(value, dict) and "format" in value and "spec" not in value:
        if value["format"] != BUNDLE_FORMAT:
            raise ServiceError(f"Unsupported bundle format {str(value['format'])[:40]!r}; expected {BUNDLE_FORMAT}")
        kind = value.get("kind")
        if kind not in ("studio", "ghostwriter", "twin"):
            raise ServiceError('The bundle\'s "kind" must be studio, ghostwriter or twin')
        return ImportedBundle(str(kind), value)
    return ImportedCard(read_card(value), png=False)


def json_bytes(value: Any, *, compact: bool = False) -> bytes:
    if compact:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False).encode("utf-8")


def file_stem(name: str) -> str:
    """A safe ASCII file name stem from a persona's name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:60]
    return stem or "persona"


def export_file(fmt: ExportFormat, name: str, value: dict[str, Any]) -> ExportFile:
    """The exported file: `value` is the V2 card (card_v2, card_v3, png, png_v3) or the bundle.
    card_v3 is the card in its V3 form; png_v3 carries both forms (`ccv3` and `chara` chunks)."""
    stem = file_stem(name)
    if fmt in ("png", "png_v3"):
        v3 = json_bytes(to_v3(value), compact=True) if fmt == "png_v3" else None
        return ExportFile(f"{stem}.png", "image/png", write_card_png(json_bytes(value, compact=True), name, v3))
    if fmt == "card_v3":
        return ExportFile(f"{stem}.card.json", "application/json", json_bytes(to_v3(value)))
    suffix = "card" if fmt == "card_v2" else "bundle"
    return ExportFile(f"{stem}.{suffix}.json", "application/json", json_bytes(value))
