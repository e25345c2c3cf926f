"""Who may do what: resource types per role, and the patient compartment for everyone else.

- ``admin`` and ``coordinator`` run the network: every resource, every patient (audited).
- ``planner`` works on aggregates and maps: the registry only, never patient data.
- ``site-professional`` and ``practitioner`` see the patients linked to them: through a resource
  naming both the patient and their site, its organisation or their Practitioner (appointment,
  encounter, document, the patient's managing organisation or general practitioner).
- Follow-up records (CareTeam, CarePlan, Communication) are narrower: a professional reads them
  only as a member of one of the patient's care teams, not through any other care relationship.
- ``patient`` sees their own compartment and may write their own Consent and Appointment, and
  send Communications and device Observations about themselves.
- AuditEvent is read by admins only and written by the server only.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, aliased

from maillage.care.principal import Principal
from maillage.store.models import Resource, SearchEntry
from maillage.store.search_params import ACTOR, PATIENT, public_params
from maillage.store.users import Role

REGISTRY_TYPES = (
    "Organization",
    "Location",
    "HealthcareService",
    "Practitioner",
    "PractitionerRole",
    "Schedule",
    "Slot",
)
TEAM_TYPES = ("CareTeam", "CarePlan", "Communication")
PATIENT_TYPES = (
    "Patient",
    "Consent",
    "Appointment",
    "Encounter",
    "DocumentReference",
    "Binary",
    "List",
    "ServiceRequest",
    "Task",
    "Observation",
    "Flag",
    *TEAM_TYPES,
)
READ_ONLY_TYPES = ("AuditEvent",)
SUPPORTED_TYPES = REGISTRY_TYPES + PATIENT_TYPES + READ_ONLY_TYPES

FULL_ACCESS = frozenset({Role.ADMIN, Role.COORDINATOR})
CARE_ROLES = frozenset({Role.SITE_PROFESSIONAL, Role.PRACTITIONER})
_WRITERS: dict[str, frozenset[Role]] = {
    **dict.fromkeys(REGISTRY_TYPES, FULL_ACCESS),
    "Patient": FULL_ACCESS | CARE_ROLES,
    "Consent": FULL_ACCESS | CARE_ROLES | {Role.PATIENT},
    "Appointment": FULL_ACCESS | CARE_ROLES | {Role.PATIENT},
    "Encounter": FULL_ACCESS | CARE_ROLES,
    "DocumentReference": FULL_ACCESS | CARE_ROLES,
    "Binary": FULL_ACCESS | CARE_ROLES,
    "List": FULL_ACCESS | CARE_ROLES,
    "ServiceRequest": FULL_ACCESS | CARE_ROLES,
    "Task": FULL_ACCESS | CARE_ROLES,
    "Observation": FULL_ACCESS | CARE_ROLES | {Role.PATIENT},
    "Flag": FULL_ACCESS | CARE_ROLES,
    "CareTeam": FULL_ACCESS | CARE_ROLES,
    "CarePlan": FULL_ACCESS | CARE_ROLES,
    "Communication": FULL_ACCESS | CARE_ROLES | {Role.PATIENT},
}


def is_patient_data(resource_type: str) -> bool:
    """Whether reads and writes of this type are patient data (restricted and audited)."""
    return resource_type in PATIENT_TYPES


def type_refusal(principal: Principal, resource_type: str, *, write: bool) -> str | None:
    """Why the role may not read (or write) this type at all, or None when it may."""
    role = principal.role
    if resource_type in READ_ONLY_TYPES:
        if write:
            return f"{resource_type} is written by the server only"
        return None if role is Role.ADMIN else f"only admins read {resource_type}"
    if is_patient_data(resource_type) and role is Role.PLANNER:
        return "planners work on aggregates and never see patient data"
    if write and role not in _WRITERS[resource_type]:
        return f"role {role} may not write {resource_type}"
    return None


def _linked_patients(
    principal: Principal, among: set[str] | None = None, *, via: str | None = None
) -> Select[str | None]:
    """Patients sharing a resource (of type ``via`` when given) with one of the references the
    principal acts as."""
    patient, actor = aliased(SearchEntry), aliased(SearchEntry)
    query = (
        select(patient.value)
        .join(
            actor,
            (actor.resource_type == patient.resource_type)
            & (actor.resource_id == patient.resource_id),
        )
        .where(patient.param == PATIENT, actor.param == ACTOR, actor.value.in_(principal.acts_as))
    )
    if via is not None:
        query = query.where(actor.resource_type == via)
    return query if among is None else query.where(patient.value.in_(among)).distinct()


def search_restriction(principal: Principal, resource_type: str) -> ColumnElement[bool] | None:
    """Extra WHERE clause limiting a search to the principal's patients (None: no limit)."""
    if not is_patient_data(resource_type) or principal.role in FULL_ACCESS:
        return None
    if principal.role is Role.PATIENT:
        allowed: Select[str | None] | list[str | None] = [principal.patient]
    else:
        allowed = _linked_patients(principal, via=_via(resource_type))
    in_compartment = select(SearchEntry.resource_id).where(
        SearchEntry.resource_type == resource_type,
        SearchEntry.param == PATIENT,
        SearchEntry.value.in_(allowed),
    )
    return Resource.id.in_(in_compartment)


def _via(resource_type: str) -> str | None:
    """Follow-up records are shared through a care team only."""
    return "CareTeam" if resource_type in TEAM_TYPES else None


def refused_patients(
    session: Session, principal: Principal, patients: set[str], resource_type: str = ""
) -> set[str]:
    """The patients among ``patients`` this principal may not see (in ``resource_type``)."""
    if not patients or principal.role in FULL_ACCESS:
        return set()
    if principal.role is Role.PATIENT:
        return patients - {principal.patient}
    if principal.role not in CARE_ROLES:
        return patients
    linked = _linked_patients(principal, patients, via=_via(resource_type))
    return patients - set(session.execute(linked).scalars())


def may_register_patient(principal: Principal, actors: set[str]) -> bool:
    """A professional registers a new patient only under their own site, organisation or name."""
    return principal.role in FULL_ACCESS or bool(actors & principal.acts_as)


def search_parameters(resource_type: str) -> list[tuple[str, str]]:
    """The search parameters clients may use on a supported type: (name, FHIR search type)."""
    return [(param.name, param.kind) for param in public_params(resource_type)]
