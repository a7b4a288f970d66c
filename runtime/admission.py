"""Admission control: at most N chat turns run at once in this process; the next is refused at
once (the caller answers 503 with Retry-After) instead of queueing for connections and model
capacity it would time out waiting for. A slot is released exactly once, however the turn ends."""

from __future__ import annotations

from dataclasses import dataclass


class Admission:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self.refused = 0  # since start

    def try_enter(self) -> Slot | None:
        """A slot, or None when `limit` turns already run (no waiting: single-threaded on the loop)."""
        if self.running >= self.limit:
            self.refused += 1
            return None
        self.running += 1
        return Slot(self)


@dataclass
class Slot:
    admission: Admission
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.admission.running -= 1
