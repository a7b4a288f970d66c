"""Ages as English writes them in decades ("twenties", "30s", "early forties", "mid-50s"),
read alike by the query parser and by the chat's fact checker."""

from __future__ import annotations

DECADE_WORDS = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}
TEENS = (13, 19)


def decade_span(decade: str, part: str | None = None) -> tuple[int, int]:
    """The ages a decade covers, inclusive: "forties", "40", "40s" or "40's" is 40-49; "early"
    is its first five years, "late" its last five, "mid" 43-47; "teens" is 13-19."""
    part = (part or "").strip(" -").lower()
    if decade == "teens":
        lo, hi = TEENS
        return {"early": (lo, lo + 2), "mid": (lo + 1, hi - 2), "late": (hi - 2, hi)}.get(part, (lo, hi))
    start = DECADE_WORDS[decade] if decade in DECADE_WORDS else int(decade[:2])
    if part == "early":
        return start, start + 4
    if part == "late":
        return start + 5, start + 9
    if part == "mid":
        return start + 3, start + 7
    return start, start + 9
