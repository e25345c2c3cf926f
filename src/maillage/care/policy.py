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
- AuditEvent is read by admins and the data protection officer (``dpo``) only, and written by
  the server only; the DPO reads nothing else.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, aliased

from maillage.care.principal import Principal
from maillage.store.models import RECORDED_BY, STATUS_BY, Resource, SearchEntry, utcnow
from maillage.store.search import param_is
from maillage.store.search_params import ACTOR, PATIENT, parse_date_range, public_params
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

Body = dict[str, Any]
UTC = ZoneInfo("UTC")
FULL_ACCESS = frozenset({Role.ADMIN, Role.COORDINATOR})
#: Those who read the audit trail: who read or changed which record.
AUDITORS = frozenset({Role.ADMIN, Role.DPO})
CARE_ROLES = frozenset({Role.SITE_PROFESSIONAL, Role.PRACTITIONER})
CREATE, UPDATE, DELETE = "c", "u", "d"


def _row(care: str = "", patient: str = "") -> dict[Role, str]:
    """Who may create (c), change (u) and delete (d) a type: the operators always; care roles
    and patients as given; planners and the DPO never."""
    everything = CREATE + UPDATE + DELETE
    return {
        Role.ADMIN: everything,
        Role.COORDINATOR: everything,
        Role.SITE_PROFESSIONAL: care,
        Role.PRACTITIONER: care,
        Role.PATIENT: patient,
        Role.PLANNER: "",
        Role.DPO: "",
    }


WRITES: dict[str, dict[Role, str]] = {
    **{kind: _row() for kind in REGISTRY_TYPES},
    "Patient": _row("cu"),
    "Consent": _row("cud", "cu"),
    "Appointment": _row("cud", "cu"),
    "Encounter": _row("cud"),
    "DocumentReference": _row("cud"),
    "Binary": _row("cud"),
    "List": _row("cud"),
    "ServiceRequest": _row("cud"),
    "Task": _row("cud"),
    "Observation": _row("cud", "cud"),
    "Flag": _row("cud"),
    "CareTeam": _row("cud"),
    "CarePlan": _row("cud"),
    "Communication": _row("cud", "cud"),
}
"""THE write table (copied in the README): the actions each role may take on each type, before
the rules of :func:`write_refusal` (compartment, recorder, a patient's cancellations)."""


def is_patient_data(resource_type: str) -> bool:
    """Whether reads and writes of this type are patient data (restricted and audited)."""
    return resource_type in PATIENT_TYPES


def type_refusal(principal: Principal, resource_type: str, *, write: bool) -> str | None:
    """Why the role may not read (or write) this type at all, or None when it may."""
    role = principal.role
    if resource_type in READ_ONLY_TYPES:
        if write:
            return f"{resource_type} is written by the server only"
        return None if role in AUDITORS else f"only admins and the DPO read {resource_type}"
    if role is Role.DPO:
        return "the DPO reads the audit trail only"
    if is_patient_data(resource_type) and role is Role.PLANNER:
        return "planners work on aggregates and never see patient data"
    if write and not WRITES[resource_type][role]:
        return f"role {role} may not write {resource_type}"
    return None


def recorder(body: Body | None) -> str | None:
    """The account (its id) that recorded a stored resource; None for records older than the
    tag, which count as a professional's."""
    return _tagged(body, RECORDED_BY)


def status_changer(body: Body | None) -> str | None:
    """The account (its id) whose write of this Appointment version changed its status; None
    when this version did not change it."""
    return _tagged(body, STATUS_BY)


def _tagged(body: Body | None, system: str) -> str | None:
    for tag in ((body or {}).get("meta") or {}).get("tag") or []:
        if isinstance(tag, dict) and tag.get("system") == system:
            return str(tag.get("code"))
    return None


SERVER_TAGS = frozenset({RECORDED_BY, STATUS_BY})
"""The ``meta.tag`` systems that only the server writes, and that never leave it."""


def _other_tags(meta: Body) -> list[Any]:
    return [
        tag
        for tag in meta.get("tag") or []
        if not (isinstance(tag, dict) and tag.get("system") in SERVER_TAGS)
    ]


def unstamped(body: Body) -> Body:
    """``body`` as it leaves the server: the server's tags are its own bookkeeping."""
    meta = body.get("meta")
    if not isinstance(meta, dict) or (recorder(body) is None and status_changer(body) is None):
        return body
    tags = _other_tags(meta)
    kept = {k: v for k, v in meta.items() if k != "tag"} | ({"tag": tags} if tags else {})
    return {**body, "meta": kept}


def stamped(body: Body, previous: Body | None, principal: Principal) -> Body:
    """``body`` with its recorder: the one of ``previous`` (the stored resource, even deleted)
    when there is one, else the principal's account; and, on an Appointment update that
    changes the status, the principal's account as its changer. A client's own tags of these
    systems are dropped, never trusted."""
    meta = dict(body.get("meta") or {})
    who = str(principal.user_id) if previous is None else recorder(previous)
    tags = _other_tags(meta) + ([{"system": RECORDED_BY, "code": who}] if who else [])
    if _changes_status(body, previous):
        tags.append({"system": STATUS_BY, "code": str(principal.user_id)})
    meta.pop("tag", None)
    return {**body, "meta": meta | ({"tag": tags} if tags else {})}


def _changes_status(body: Body, previous: Body | None) -> bool:
    return (
        body.get("resourceType") == "Appointment"
        and previous is not None
        and previous.get("status") != body.get("status")
    )


def write_refusal(
    principal: Principal, resource_type: str, action: str, previous: Body | None, body: Body | None
) -> str | None:
    """Why the principal may not take ``action`` (c, u or d) on this resource (``previous``
    as stored, None for a create; ``body`` the new version, None for a delete), or None.

    The table :data:`WRITES` first; then a patient changes or deletes only what they recorded
    themselves, except cancelling their own future appointment; and clinical records are
    deleted only by their recorder or an admin (always softly).
    """
    role = principal.role
    if resource_type in READ_ONLY_TYPES or action not in WRITES[resource_type][role]:
        verb = {CREATE: "create", UPDATE: "change", DELETE: "delete"}[action]
        return f"role {role} may not {verb} {resource_type}"
    mine = previous is not None and recorder(previous) == str(principal.user_id)
    cancelling = resource_type == "Appointment" and body is not None and _cancels(previous, body)
    if role is Role.PATIENT and action != CREATE and not mine and not cancelling:
        return "a patient changes only what they recorded themselves"
    if action == DELETE and is_patient_data(resource_type) and role is not Role.ADMIN and not mine:
        return "a record is deleted only by whoever recorded it, or an admin"
    return None


def _cancels(previous: Body | None, body: Body) -> bool:
    """Whether ``body`` only cancels a future appointment (its start still to come)."""
    if previous is None or body.get("status") != "cancelled":
        return False
    start = previous.get("start")
    if start is not None and parse_date_range(str(start), UTC)[0] <= utcnow():
        return False
    changing = ("meta", "status", "cancelationReason")
    unchanged = {k: v for k, v in previous.items() if k not in changing}
    return unchanged == {k: v for k, v in body.items() if k not in changing}


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
        .where(
            patient.param == PATIENT,
            param_is(actor.param, ACTOR),
            actor.value.in_(principal.acts_as),
        )
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
    else:  # found first, whatever the planner estimates: the care role's own patients
        linked = _linked_patients(principal, via=_via(resource_type)).cte("linked_patients")
        allowed = select(linked.prefix_with("MATERIALIZED", dialect="postgresql").c.value)
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
    decided = refused_by_role(principal, patients)
    if decided is not None:
        return decided
    linked = linked_patients(principal, patients, resource_type)
    return patients - set(session.execute(linked).scalars())


def refused_by_role(principal: Principal, patients: set[str]) -> set[str] | None:
    """The patients refused whatever the stored care relationships (None: a care role, whose
    relationships, :func:`linked_patients`, decide)."""
    if not patients or principal.role in FULL_ACCESS:
        return set()
    if principal.role is Role.PATIENT:
        return patients - {principal.patient}
    if principal.role not in CARE_ROLES:
        return patients
    return None


def linked_patients(principal: Principal, patients: set[str], resource_type: str) -> Select[Any]:
    """Those of ``patients`` a care role is linked to (in ``resource_type``), as a query."""
    return _linked_patients(principal, patients, via=_via(resource_type))


def schedule_refusal(principal: Principal, schedule: Body) -> str | None:
    """Why the principal may not set this Schedule's availability (its template, its
    exceptions), or None: the network's operators set any, a doctor only their own."""
    if principal.role in FULL_ACCESS:
        return None
    actors = {(a or {}).get("reference") for a in schedule.get("actor") or []}
    if principal.role is Role.PRACTITIONER and principal.practitioner in actors:
        return None
    return "only the network's operators, or the doctor whose schedule it is, set availability"


def may_register_patient(principal: Principal, actors: set[str]) -> bool:
    """A professional registers a new patient only under their own site, organisation or name."""
    return principal.role in FULL_ACCESS or bool(actors & principal.acts_as)


def search_parameters(resource_type: str) -> list[tuple[str, str]]:
    """The search parameters clients may use on a supported type: (name, FHIR search type)."""
    return [(param.name, param.kind) for param in public_params(resource_type)]
