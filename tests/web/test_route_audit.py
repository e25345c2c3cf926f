"""Every page and every API route, walked as every role over a small network (issue 13).

The routes are enumerated from the application's routers, not listed here, so a route added
later is walked too. Each is called about a patient of the nurse's organisation (``p1``, whose
care team is Practitioner/d1) and about one of another organisation (``p9``), with path
parameters filled from the seeded data (the FHIR routes for a Patient, an Appointment and a
Task) and minimal forms or bodies. Then:

* a response that shows a patient's name has an AuditEvent of that call naming the patient;
* a refusal of the network's policy (its French page or its OperationOutcome) is audited too;
* no principal without a care relationship with ``p9`` sees p9's name, error pages included.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from care_network import build, expertise, follow, person, tomorrow
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from web_site import PASSWORD, Site, csrf_of, login, store

from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import Alert, AlertRule, Resource, utcnow

Body = dict[str, Any]
ROLES = ("admin", "coordinator", "planner", "site-professional", "practitioner", "patient")
#: Who has a care relationship with each patient (the others must never see their name).
SEES = {
    "p1": {"admin", "coordinator", "site-professional", "practitioner", "patient"},
    "p9": {"admin", "coordinator"},
}
NAMES = {"p1": ("Dupont",), "p9": ("Ailleurs",)}
#: The policy's refusal, as a page shows it and as the API words it.
REFUSED = re.compile(r"Vous n'avez pas accès à ce dossier patient|no care relationship|care team")
#: Per patient, the seeded resources a path parameter names.
PARAMETERS = {
    "p1": {
        "appointment_id": "ap1",
        "task_id": "t1",
        "rule_id": "r1",
        "alert_id": "a1",
        "plan_id": "cp1",
    },
    "p9": {
        "appointment_id": "ap9",
        "task_id": "t9",
        "rule_id": "r9",
        "alert_id": "a9",
        "plan_id": "cp9",
    },
}
COMMON = {
    "version": "1",
    "schedule_id": "dr-d1",
    "practitioner_id": "d1",
    "site_id": "s1",
    "project_id": "unknown",
    "document_id": "unknown",
    "user_id": "1",
    "request_id": "unknown",
    "job_id": "0" * 32,
    "dataset_id": "unknown",
    "name": "communes.csv",
}
WRITES = {"POST", "PUT", "DELETE"}


def appointment(ident: str, patient: str, doctor: str, site: str | None) -> Body:
    start = f"{tomorrow()}T13:00:00Z"
    people = [f"Patient/{patient}", f"Practitioner/{doctor}", site]
    return {
        "resourceType": "Appointment",
        "id": ident,
        "status": "booked",
        "serviceType": [
            {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
        ],
        "start": start,
        "end": start.replace("13:00", "13:20"),
        "participant": [{"actor": {"reference": a}, "status": "accepted"} for a in people if a],
    }


def care_plan(ident: str, patient: str) -> Body:
    return {
        "resourceType": "CarePlan",
        "id": ident,
        "status": "active",
        "intent": "plan",
        "title": "Suivi",
        "subject": {"reference": f"Patient/{patient}"},
        "activity": [{"detail": {"status": "not-started", "description": "Pesée"}}],
    }


def other_organisation(site: Site) -> None:
    """Patient/p9's own records: an appointment with Practitioner/d2, a télé-expertise for d2,
    a care team of d2's with a care plan, a rule and its open alert (and p1's care plan)."""
    authored = f"{tomorrow() - timedelta(days=2)}T08:00:00Z"
    code = {"coding": [{"system": "urn:maillage:workflow", "code": "tele-expertise"}]}
    store(
        site,
        appointment("ap1", "p1", "d1", "Location/s1"),
        appointment("ap9", "p9", "d2", None),
        care_plan("cp1", "p1"),
        care_plan("cp9", "p9"),
        {
            "resourceType": "Task",
            "id": "t9",
            "status": "requested",
            "intent": "order",
            "code": code,
            "authoredOn": authored,
            "for": {"reference": "Patient/p9"},
            "owner": {"reference": "Practitioner/d2"},
        },
        {
            "resourceType": "CareTeam",
            "id": "ct9",
            "status": "active",
            "subject": {"reference": "Patient/p9"},
            "participant": [{"member": {"reference": "Practitioner/d2"}}],
        },
        {
            "resourceType": "Flag",
            "id": "f9",
            "status": "active",
            "code": {"text": "Hypertension"},
            "subject": {"reference": "Patient/p9"},
        },
        person("Practitioner", "d9", "Nina", "Autre"),
    )
    with transaction(site.app.state.sessions) as session:
        session.add(
            AlertRule(
                id="r9", patient="Patient/p9", kind="threshold", code="8480-6",
                unit="mm[Hg]", above=160.0, title="Tension",
            )
        )  # fmt: skip
        session.flush()
        session.add(
            Alert(
                id="a9", rule_id="r9", patient="Patient/p9", flag="Flag/f9",
                communication="Communication/c9", opened=utcnow(),
            )
        )  # fmt: skip


def routes(site: Site) -> list[tuple[str, str]]:
    """(method, path template) of every route of the application, from its routers; writes
    after reads, then deletions (they remove what the others read), logging out last."""
    found = []
    for context in iter_route_contexts(site.app.routes):
        methods = getattr(context.original_route, "methods", None) or set()
        found += [(method, context.path) for method in methods - {"HEAD"}]

    def order(route: tuple[str, str]) -> tuple[bool, bool, bool, str, str]:
        method, path = route
        return path == "/deconnexion", method == "DELETE", method in WRITES, path, method

    return sorted(set(found), key=order)


#: The FHIR types walked by the ``/fhir/{resource_type}…`` routes, with the parameter that
#: names their resource about each patient.
FHIR_TYPES = {"Patient": "patient_id", "Appointment": "appointment_id", "Task": "task_id"}


def paths(template: str, patient: str) -> list[str]:
    """The template filled for ``patient``: once per walked FHIR type where it names one."""
    common = {"patient_id": patient} | COMMON | PARAMETERS[patient]
    kinds = FHIR_TYPES if "{resource_type}" in template else {"Patient": "patient_id"}
    filled = []
    for kind, key in kinds.items():
        values = common | {"resource_type": kind, "resource_id": common[key]}
        filled.append(re.sub(r"{(\w+)}", lambda m, v=values: v[m.group(1)], template))
    return filled


def audit_ids(site: Site) -> set[str]:
    audit.drain(site.app.state.sessions, site.app.state.settings.zone)  # queued events chained
    with transaction(site.app.state.sessions) as session:
        rows = session.execute(
            select(Resource.id).where(Resource.resource_type == "AuditEvent")
        ).scalars()
        return set(rows)


def audited_patients(site: Site, ids: set[str]) -> set[str]:
    """The patients the AuditEvents ``ids`` name (directly or through the resource read)."""
    with transaction(site.app.state.sessions) as session:
        rows = session.execute(
            select(Resource.body).where(
                Resource.resource_type == "AuditEvent", Resource.id.in_(ids)
            )
        ).scalars()
        named = {
            entity["what"]["reference"]
            for body in rows
            for entity in body.get("entity", [])
            if "reference" in entity.get("what", {})
        }
    return {ref.split("/")[1] for ref in named if ref.startswith("Patient/")}


class Visitor:
    """One role's browser session and bearer token."""

    def __init__(self, site: Site, role: str) -> None:
        self.role, self.client = role, site.client()
        email = site.user(role)
        login(self.client, email)
        self.csrf = csrf_of(self.client.get("/").text)
        token = self.client.post("/auth/token", data={"username": email, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def call(self, method: str, path: str) -> Any:
        if path.startswith(("/fhir", "/api", "/auth")):
            body = None if method in ("GET", "DELETE") else {}
            return self.client.request(method, path, json=body, headers=self.headers)
        data = {"csrf_token": self.csrf} if method in WRITES else None
        return self.client.request(method, path, data=data, follow_redirects=False)


@pytest.fixture
def network(site: Site) -> Site:
    build(site)
    expertise(site)
    follow(site)
    other_organisation(site)
    return site


def test_every_route_as_every_role_audits_patient_data_and_leaks_no_name(
    network: Site,
) -> None:
    visitors = [Visitor(network, role) for role in ROLES]
    walked, shown, refusals = 0, 0, 0
    problems: list[str] = []
    for method, template in routes(network):
        for visitor in visitors:
            for path in [path for p in ("p1", "p9") for path in paths(template, p)]:
                before = audit_ids(network)
                response = visitor.call(method, path)
                walked += 1
                text = response.text
                new = audit_ids(network) - before
                where = f"{visitor.role} {method} {path} → {response.status_code}"
                for named, names in NAMES.items():
                    if not any(name in text for name in names):
                        continue
                    shown += 1
                    if visitor.role not in SEES[named]:
                        problems.append(f"{where} shows {named}'s name")
                    if named not in audited_patients(network, new):
                        problems.append(f"{where} shows {named} without an AuditEvent")
                if response.status_code == 403 and REFUSED.search(text):
                    refusals += 1
                    if not new:
                        problems.append(f"{where}: a refusal without an AuditEvent")
    print(f"{walked} calls, {shown} showing patient data, {refusals} policy refusals")
    assert not problems, "\n".join(problems)
    assert shown > 20 and refusals > 20  # the walk reached the records and the policy
