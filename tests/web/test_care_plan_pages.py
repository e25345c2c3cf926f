"""Care plans written from the follow-up page by the patient's care team, on SQLite and
PostgreSQL: a member creates a plan with its activities, marks one done and closes the plan;
a form read before a colleague's change is refused in French, not applied over it; bad input
is a French form error; others are refused by the team policy — every write and refusal
audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from care_network import build, follow
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import Site, audited, csrf_of

from maillage.store.database import transaction
from maillage.store.models import Resource

Body = dict[str, Any]


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    return site_on_each_database


@pytest.fixture
def net(site: Site) -> Site:
    return follow(build(site))


def plans(net: Site) -> list[Body]:
    with transaction(net.app.state.sessions) as session:
        rows = session.execute(select(Resource).where(Resource.resource_type == "CarePlan"))
        return [row.body for row in rows.scalars()]


def create(client: TestClient, **fields: Any) -> Any:
    token = csrf_of(client.get("/patients/p1/plans/nouveau").text)
    form = {"csrf_token": token, "titre": "Insuffisance cardiaque", "description": ""}
    return client.post("/patients/p1/plans", data=form | fields, follow_redirects=False)


ROWS = {"activite": ["Pesée quotidienne", "Éducation thérapeutique", ""]}
ROWS["statut"] = ["not-started", "in-progress", "not-started"]


def test_a_member_creates_a_plan_marks_an_activity_done_and_closes_it(net: Site) -> None:
    doctor = net.logged_in("practitioner")  # Practitioner/d1, in p1's care team
    created = create(doctor, debut="2026-12-01", fin="2027-03-01", **ROWS)
    assert created.status_code == 303, created.text
    [plan] = plans(net)
    assert plan["status"] == "active" and plan["intent"] == "plan"
    assert plan["subject"] == {"reference": "Patient/p1"}
    assert plan["author"] == {"reference": "Practitioner/d1"}
    assert plan["careTeam"] == [{"reference": "CareTeam/ct1"}]
    assert plan["period"] == {"start": "2026-12-01", "end": "2027-03-01"}
    assert [a["detail"] for a in plan["activity"]] == [
        {"description": "Pesée quotidienne", "status": "not-started"},
        {"description": "Éducation thérapeutique", "status": "in-progress"},
    ]
    assert audited(net, "create", f"CarePlan/{plan['id']}") == ["0"]
    page = doctor.get("/patients/p1").text
    assert "Insuffisance cardiaque" in page and "du 01/12/2026 au 01/03/2027" in page
    assert "Pesée quotidienne — <strong>À faire</strong>" in page

    form_page = doctor.get(f"/patients/p1/plans/{plan['id']}").text
    version = re.search(r'name="version" value="(\d+)"', form_page)
    assert version and version.group(1) == "1"
    assert 'value="Éducation thérapeutique"' in form_page
    done = {
        "csrf_token": csrf_of(form_page),
        "version": "1",
        "titre": "Insuffisance cardiaque",
        "statut_plan": "completed",
        "activite": ["Pesée quotidienne", "Éducation thérapeutique", "Appeler le cardiologue"],
        "statut": ["completed", "in-progress", "not-started"],
    }
    saved = doctor.post(f"/patients/p1/plans/{plan['id']}", data=done, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    [plan] = plans(net)
    assert plan["meta"]["versionId"] == "2" and plan["status"] == "completed"
    assert "period" not in plan  # the period was emptied
    assert [a["detail"]["status"] for a in plan["activity"]] == [
        "completed",
        "in-progress",
        "not-started",
    ]
    assert audited(net, "update", f"CarePlan/{plan['id']}") == ["0"]
    page = doctor.get("/patients/p1").text
    assert "Statut : Terminé" in page and "Pesée quotidienne — <strong>Faite</strong>" in page


def test_a_form_read_before_a_colleagues_change_is_refused_in_french(net: Site) -> None:
    doctor = net.logged_in("practitioner")
    assert create(doctor, **ROWS).status_code == 303
    [plan] = plans(net)
    path = f"/patients/p1/plans/{plan['id']}"
    token = csrf_of(doctor.get(path).text)
    first = {"csrf_token": token, "version": "1", "titre": "IC", **ROWS}
    first["statut"] = ["completed", "in-progress", "not-started"]
    assert doctor.post(path, data=first, follow_redirects=False).status_code == 303
    stale = {**first, "titre": "Titre sur une version périmée", "statut": ROWS["statut"]}
    refused = doctor.post(path, data=stale, follow_redirects=False)
    assert refused.status_code == 412
    assert "modifié entre-temps" in refused.text and "Version enregistrée" in refused.text
    assert 'value="Titre sur une version périmée"' in refused.text  # what was typed is kept
    assert 'name="version" value="2"' in refused.text  # saved again once checked
    [kept] = plans(net)
    assert kept["title"] == "IC" and kept["activity"][0]["detail"]["status"] == "completed"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"titre": "  "}, "Donnez au plan un titre"),
        ({"debut": "2027-02-01", "fin": "2027-01-01"}, "La fin du plan précède son début."),
        ({"debut": "01/02/2027"}, "La date de début n&#39;est pas une date"),
        ({"statut": ["done", "in-progress", "not-started"]}, "Le statut de l&#39;activité"),
        ({"activite": ["x" * 501, "", ""]}, "dépasse 500 caractères"),
        ({"activite": ["Pesée"], "statut": []}, "Le formulaire est incomplet"),
    ],
)
def test_bad_input_is_a_french_form_error_and_stores_nothing(
    net: Site, fields: Body, message: str
) -> None:
    refused = create(net.logged_in("practitioner"), **(ROWS | fields))
    assert refused.status_code == 422 and message in refused.text
    assert 'name="titre"' in refused.text  # the form, shown again
    assert plans(net) == []


def test_others_are_refused_by_the_team_policy_and_audited(net: Site) -> None:
    doctor = net.logged_in("practitioner")
    assert create(doctor, **ROWS).status_code == 303
    [plan] = plans(net)
    nurse = net.logged_in("site-professional")  # p1's site, not in the care team
    token = csrf_of(nurse.get("/").text)
    assert nurse.get("/patients/p1/plans/nouveau").status_code == 403
    assert nurse.get(f"/patients/p1/plans/{plan['id']}").status_code == 403
    form = {"csrf_token": token, "titre": "Intrus", **ROWS}
    assert nurse.post("/patients/p1/plans", data=form).status_code == 403
    changed = nurse.post(f"/patients/p1/plans/{plan['id']}", data=form | {"version": "1"})
    assert changed.status_code == 403
    assert "0" in audited(net, "create", f"CarePlan/{plan['id']}")
    assert "8" in audited(net, "read", f"CarePlan/{plan['id']}")  # refusals audited
    assert "8" in audited(net, "create", "Patient/p1")
    assert [p["title"] for p in plans(net)] == ["Insuffisance cardiaque"]
    planner = net.logged_in("planner")
    assert planner.get("/patients/p1/plans/nouveau").status_code == 403
