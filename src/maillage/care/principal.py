"""The acting principal: an account and the resources it acts as (its care relationships)."""

from __future__ import annotations

from dataclasses import dataclass

from maillage.store.users import Role


@dataclass(frozen=True)
class Principal:
    """The authenticated account of a request, a page or a job, and the resources it acts as."""

    user_id: int
    email: str
    role: Role
    practitioner: str | None = None
    patient: str | None = None
    site: str | None = None
    organization: str | None = None

    @property
    def acts_as(self) -> frozenset[str]:
        """References that give care relationships: own Practitioner, site, site's organisation."""
        return frozenset(r for r in (self.practitioner, self.site, self.organization) if r)
