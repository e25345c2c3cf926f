"""The per-type rules of a write, registered in one table: :data:`RULES`.

Every type gets validation, the access policy, attachments moved to the file store and the
audit (:mod:`maillage.care.work`); the types listed here add their own steps: booking on
Appointment (and undoing a no-show or a cancellation), the identity-vigilance rules on
Patient, Task states and pools, télé-expertise acts, Encounter lifecycle, device-measurement
ingestion, the compte rendu outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from maillage.care import (
    appointments,
    booking,
    comptes_rendus,
    confirmations,
    encounters,
    identity,
    ingestion,
    teleexpertise,
    undo,
)
from maillage.care.identity import IdentityService
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.store.models import Resource

if TYPE_CHECKING:
    from maillage.care.repository import Repository

Body = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One write under way, as the per-type rules see it: ``body`` (None: deleted) replaces
    ``previous`` (None: new) as resource ``resource_id``."""

    session: Session
    settings: Settings
    principal: Principal
    resource_id: str
    body: Body | None
    previous: Body | None
    vigilance: bool = False
    identity: IdentityService | None = None

    @property
    def new_body(self) -> Body:
        assert self.body is not None
        return self.body


@dataclass(frozen=True)
class TypeRules:
    """The rules of one resource type, each run at its step of a write.

    ``prepare`` checks and completes the body before it is stored (may refuse); ``duplicate``
    finds the stored copy a create re-sends; ``book`` moves slots and held periods (also on
    delete); ``saved`` runs once the version is written (indexes, outbox); ``committed`` once
    the transaction is, with the written bodies (jobs to queue).
    """

    prepare: Callable[[Change], Body] | None = None
    duplicate: Callable[[Change], Resource | None] | None = None
    book: Callable[[Change], None] | None = None
    saved: Callable[[Change, Resource], None] | None = None
    committed: Callable[[Repository, list[Body]], None] | None = None


def _task(change: Change) -> Body:
    teleexpertise.check_taking(change.previous, change.new_body, change.principal)
    return teleexpertise.prepare_task(
        change.session, change.settings, change.new_body, change.previous
    )


def _book(change: Change) -> None:
    booking.apply(
        change.session, change.resource_id, change.body, change.previous, change.settings.zone
    )


def _appointment(change: Change) -> Body:
    undoing = undo.reopens(change.previous, change.new_body)
    if undoing:
        assert change.previous is not None
        window = timedelta(minutes=change.settings.undo_minutes)
        undo.check(
            change.session,
            change.principal,
            window,
            change.resource_id,
            change.previous,
            change.new_body,
        )
    return appointments.prepare(change.new_body, change.previous, undoing=undoing)


def _observation(change: Change) -> Body:
    ingestion.check_device_observation(change.new_body)
    return change.new_body


def _patient(change: Change) -> Body:
    identity.check(
        change.new_body, change.previous, vigilance=change.vigilance, service=change.identity
    )
    return change.new_body


def _evaluate_alerts(repository: Repository, bodies: list[Body]) -> None:
    repository.queue_evaluations(ingestion.measured_patients(bodies))


RULES: dict[str, TypeRules] = {
    "Patient": TypeRules(prepare=_patient),
    "Appointment": TypeRules(
        prepare=_appointment,
        book=_book,
        saved=lambda c, row: confirmations.enqueue(c.session, c.settings, row, c.previous),
    ),
    "Encounter": TypeRules(prepare=lambda c: encounters.prepare(c.new_body, c.previous)),
    "ServiceRequest": TypeRules(prepare=lambda c: teleexpertise.prepare_request(c.new_body)),
    "Task": TypeRules(prepare=_task),
    "Observation": TypeRules(
        prepare=_observation,
        duplicate=lambda c: ingestion.stored_copy(c.session, c.new_body),
        saved=lambda c, row: ingestion.index_measurement(c.session, row),
        committed=_evaluate_alerts,
    ),
    "DocumentReference": TypeRules(
        saved=lambda c, row: comptes_rendus.enqueue(c.session, c.settings, row, c.previous)
    ),
}
"""The per-type rules, one entry per type that has any (every type gets validation, the access
policy, attachments moved to the file store and the audit)."""
NO_RULES = TypeRules()
