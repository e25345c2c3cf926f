"""One access to the network's data in progress: who, what, and its audit.

A :class:`Call` checks that the principal may touch the type at all, the patient compartment of
what it reads or writes, and records the access in the audit trail when the type is patient
data: in the work's own transaction when allowed, in a transaction of its own when refused
(the work's is rolled back). Store and search errors become domain errors here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from maillage.care import audit, policy
from maillage.care.errors import (
    DomainError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    PreconditionFailed,
    ReadOnly,
    Unauthenticated,
    VersionConflict,
)
from maillage.care.principal import Principal
from maillage.store import audit as audit_trail
from maillage.store import resources, search
from maillage.store.database import transaction
from maillage.store.search_params import patients_of

if TYPE_CHECKING:
    from maillage.care.repository import Repository

Body = dict[str, Any]
STORE_ERRORS: dict[type[resources.StoreError], type[DomainError]] = {
    resources.NotFound: NotFound,
    resources.Gone: Gone,
    resources.VersionConflict: VersionConflict,
    resources.PreconditionFailed: PreconditionFailed,
}


@dataclass
class Call:
    """One access in progress: its type (None: not one resource type), interaction, and the
    entities touched so far, audited when the type is patient data."""

    repository: Repository
    resource_type: str | None
    interaction: str
    entities: list[str] = field(default_factory=list)
    audited: bool = False
    note: str | None = None
    _reported: BaseException | None = None

    @property
    def principal(self) -> Principal:
        assert self.repository.principal is not None
        return self.repository.principal

    def authorize(self, *, write: bool) -> Principal:
        """The principal, once the role is allowed the type; otherwise an audited refusal. A
        reader of the audit trail gets the audit outbox drained first, so that it sees every
        committed event (AuditEvent is read-only: ``write`` never reaches here with it)."""
        kind = self.resource_type
        if kind is not None and kind not in policy.SUPPORTED_TYPES:
            raise NotFound(f"resource type {kind!r} is not supported")
        if kind is not None and write and kind in policy.READ_ONLY_TYPES:
            raise ReadOnly(f"{kind} is written by the server only")
        with self.failures():
            repository = self.repository
            if repository.refusal is not None:
                raise repository.refusal
            if repository.principal is None:
                raise Unauthenticated("authentication required")
            reason = (
                None
                if kind is None
                else policy.type_refusal(repository.principal, kind, write=write)
            )
            if reason:
                raise Forbidden(reason)
        if kind == "AuditEvent":  # the trail as committed: every queued event chained first
            audit_trail.drain(repository.sessions, repository.settings.zone)
        return repository.principal

    def succeeded(self, session: Session) -> None:
        """Audit a successful access to patient data in the work's own transaction."""
        if self.audited:
            audit.record(
                session,
                self.access(),
                self.entities,
                audit.SUCCESS,
                self.note,
            )

    def access(self) -> audit.Access:
        repository = self.repository
        return audit.Access(repository.principal, repository.address, self.interaction)

    @contextmanager
    def failures(self) -> Iterator[None]:
        """Turn store and search errors into domain errors, and audit the refusal of a
        patient-data access (once, in its own transaction)."""
        try:
            yield
        except resources.StoreError as error:
            refusal = STORE_ERRORS.get(type(error), Invalid)(str(error))
            self.report(refusal)
            raise refusal from error
        except search.SearchError as error:
            refusal = Invalid(str(error))
            self.report(refusal)
            raise refusal from error
        except DomainError as error:
            self.report(error)
            raise

    def report(self, error: DomainError) -> None:
        """Audit the refusal ``error`` (once), in a transaction of its own."""
        if not self.audited or error is self._reported:
            return
        self._reported = error
        serious = isinstance(error, (Unauthenticated, Forbidden))
        outcome = audit.SERIOUS_FAILURE if serious else audit.MINOR_FAILURE
        repository = self.repository
        with transaction(repository.sessions) as session:
            audit.record(
                session,
                self.access(),
                self.entities,
                outcome,
                repository.explain(error),
            )

    def compartment(self, resource_id: str, body: Body) -> set[str]:
        """The patients a resource of the call's type is about."""
        assert self.resource_type is not None
        return patients_of(self.resource_type, resource_id, body, self.repository.settings.zone)

    def check_patients(
        self, session: Session, patients: set[str], as_type: str | None = None
    ) -> None:
        """Refuse unless the principal may see every one of ``patients`` (in ``as_type``, by
        default the call's type)."""
        as_type = self.resource_type if as_type is None else as_type
        self.admit(
            patients, policy.refused_patients(session, self.principal, patients, as_type or "")
        )

    def admit(self, patients: set[str], refused: set[str]) -> None:
        """Note ``patients`` as touched, and refuse when ``refused`` (those of them the
        principal may not see, :func:`maillage.care.policy.refused_patients`) is not empty."""
        self.entities.extend(sorted(patients))
        kind = self.resource_type
        unowned = not patients and kind != "Patient" and policy.is_patient_data(kind or "")
        if unowned and self.principal.role not in policy.FULL_ACCESS:
            raise Forbidden("this record names no patient; only the network's operators see it")
        if refused:
            # The audit names the patients (entities); the answer does not say whose it is.
            raise Forbidden("no care relationship with the patient of this record")

    def check_team(self, session: Session, patient: str) -> None:
        """Refuse unless the principal runs the network or is in one of the patient's teams."""
        self.entities.append(patient)
        principal = self.principal
        allowed = policy.FULL_ACCESS | policy.CARE_ROLES
        if principal.role not in allowed or policy.refused_patients(
            session, principal, {patient}, "CareTeam"
        ):
            raise Forbidden(f"only the care team of {patient} follows its monitoring")
