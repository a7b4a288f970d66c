"""Who is calling, and the studio's one ownership rule: an admin manages everything, anyone
else what they own. Objects a caller may not manage answer as if they did not exist."""

from __future__ import annotations

from dataclasses import dataclass

from use_cases.studio.security import Role


@dataclass(frozen=True)
class CurrentUser:
    id: str
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def may_manage(self, owner_id: str | None) -> bool:
        """True for an admin, and for the owner of an object (or a creator_id naming oneself)."""
        return self.is_admin or owner_id == self.id


# The command line acts as the operator: it reaches the database itself, so it may do what an
# admin may (export any persona, see every collection of a bundle).
OPERATOR = CurrentUser(id="", username="(command line)", role=Role.admin)
