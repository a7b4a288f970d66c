"""Paths the tests share, the same from every folder a test module sits in."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"
CARDS = DATA / "cards"  # hand-written character cards
