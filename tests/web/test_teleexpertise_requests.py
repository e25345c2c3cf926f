"""Télé-expertise from both sides: the GP asks with a PDF, the specialist finds it in an inbox
sorted by due date and answers, the GP reads the answer; refusals are French and keep the form."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from care_network import build, expertise, person, tomorrow
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import PASSWORD, Site, csrf_of, login, store

from maillage.care.acts import SPECIALTY_SYSTEM
from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.store.users import create_user

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DERMATOLOGY = {
    "system": SPECIALTY_SYSTEM,
    "code": "SM15",
    "display": "Dermatologie et vénéréologie",
}


@pytest.fixture
def net(site: Site) -> Site:
    build(site)
    store(
        site,
        person(
            "Practitioner",
            "derm",
            "Léa",
            "Moreau",
            qualification=[{"code": {"coding": [DERMATOLOGY]}}],
        ),
    )
    return site


def account(site: Site, role: str, **links: str) -> TestClient:
    """A logged-in browser of ``role`` linked to ``links`` (a doctor, a site)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    with transaction(site.app.state.sessions) as session:
        create_user(session, email, PASSWORD, role, **links)
    client = site.client()
    login(client, email)
    return client


def ask(client: TestClient, files: list[tuple[str, bytes, str]], **fields: str) -> object:
    token = csrf_of(client.get("/teleexpertises/nouvelle?patient=p1").text)
    form = {"csrf_token": token, "patient": "p1", "urgence": "routine"} | fields
    uploads = [("pieces", file) for file in files] or None
    return client.post("/teleexpertises/nouvelle", data=form, files=uploads, follow_redirects=False)


def read(site: Site, kind: str, ident: str) -> dict:
    with transaction(site.app.state.sessions) as session:
        return resources.read(session, kind, ident).body


def test_the_gp_asks_with_a_pdf_the_specialist_answers_the_gp_reads_it(net: Site) -> None:
    gp = account(net, "practitioner", practitioner="Practitioner/gp")
    found = gp.get("/teleexpertises/nouvelle?nom=dupont")
    assert "Jeanne Dupont" in found.text and "?patient=p1" in found.text
    assert "Ailleurs" not in gp.get("/teleexpertises/nouvelle?nom=ailleurs").text  # the policy
    form = gp.get("/teleexpertises/nouvelle?patient=p1")
    assert "Dr Léa Moreau — Dermatologie et vénéréologie" in form.text

    sent = ask(
        gp,
        [("lesion.pdf", PDF, "application/pdf")],
        specialiste="Practitioner/derm",
        question="Lésion pigmentée du dos : exérèse ?",
        urgence="urgent",
    )
    assert sent.status_code == 303, sent.text
    task_id = sent.headers["location"].rsplit("/", 1)[1]
    task = read(net, "Task", task_id)
    assert task["owner"] == {"reference": "Practitioner/derm"} and task["priority"] == "urgent"
    due = datetime.fromisoformat(task["restriction"]["period"]["end"].replace("Z", "+00:00"))
    assert due <= datetime.now(UTC) + timedelta(days=1)  # urgent: a day, not the default seven
    asked = read(net, "ServiceRequest", task["basedOn"][0]["reference"].split("/")[1])
    assert asked["performerType"]["coding"][0]["code"] == "SM15"
    assert "Lésion pigmentée du dos" in gp.get(sent.headers["location"]).text

    specialist = account(net, "practitioner", practitioner="Practitioner/derm")
    inbox = specialist.get("/teleexpertises")
    assert "Lésion pigmentée du dos : exérèse ?" in inbox.text
    assert "Louis Généraliste" in inbox.text and "urgente" in inbox.text
    page = specialist.get(f"/teleexpertises/{task_id}")
    link = re.search(rf'href="(/teleexpertises/{task_id}/pieces/[^"]+)"', page.text)
    assert link and "lesion.pdf" in page.text
    download = specialist.get(link.group(1))
    assert download.content == PDF and download.headers["content-type"] == "application/pdf"
    token = csrf_of(page.text)
    answer = {"csrf_token": token, "action": "repondre", "texte": "Exérèse conseillée."}
    assert "Vous avez répondu" in specialist.post(f"/teleexpertises/{task_id}", data=answer).text

    mine = gp.get("/teleexpertises/demandees")
    assert "Dr Léa Moreau" in mine.text and "Répondue" in mine.text
    detail = gp.get(f"/teleexpertises/{task_id}")
    assert "Réponse de Dr Léa Moreau" in detail.text and "Exérèse conseillée." in detail.text
    assert 'name="action"' not in detail.text  # the requester reads; only the specialist acts
    assert gp.get(link.group(1)).content == PDF

    other = net.logged_in("practitioner")  # Practitioner/d1: neither asked nor asked for
    assert other.get(f"/teleexpertises/{task_id}").status_code == 403
    assert other.get(link.group(1)).status_code == 403


def test_refusals_name_the_field_and_keep_what_was_typed(net: Site) -> None:
    gp = account(net, "practitioner", practitioner="Practitioner/gp")
    question = "Plaque érythémateuse du coude"
    wrong = ask(gp, [("notes.txt", b"texte", "text/plain")], specialiste="Practitioner/derm",
                question=question)  # fmt: skip
    assert wrong.status_code == 415
    assert "« notes.txt » n&#39;est ni un PDF ni une image" in wrong.text and question in wrong.text
    nobody = ask(gp, [], question=question)
    assert nobody.status_code == 422
    assert "Choisissez un spécialiste ou une spécialité" in nobody.text
    no_team = ask(gp, [], specialite="SM15", question=question)
    assert no_team.status_code == 422 and "Aucune équipe de cette spécialité" in no_team.text
    empty = ask(gp, [], specialiste="Practitioner/derm", question="  ")
    assert empty.status_code == 422 and "Écrivez la question" in empty.text
    unknown = ask(gp, [], specialiste="Practitioner/p9", question=question)
    assert unknown.status_code == 422 and "annuaire" in unknown.text
    with transaction(net.app.state.sessions) as session:
        kinds = select(Resource.resource_type).where(
            Resource.resource_type.in_(["Task", "ServiceRequest", "DocumentReference"])
        )
        assert session.execute(kinds).all() == []  # nothing half-written

    nurse = net.logged_in("site-professional")  # a site, no Practitioner record
    refused = nurse.get("/teleexpertises/nouvelle")
    assert refused.status_code == 403 and "aucun professionnel de santé" in refused.text


def test_a_specialty_alone_goes_to_its_team(net: Site) -> None:
    store(
        net,
        {
            "resourceType": "PractitionerRole",
            "id": "derm-team",
            "active": True,
            "practitioner": {"reference": "Practitioner/derm"},
            "specialty": [{"coding": [DERMATOLOGY]}],
        },
    )
    gp = account(net, "practitioner", practitioner="Practitioner/gp")
    sent = ask(gp, [], specialite="SM15", question="Eczéma résistant aux dermocorticoïdes")
    assert sent.status_code == 303, sent.text
    task = read(net, "Task", sent.headers["location"].rsplit("/", 1)[1])
    assert task["owner"] == {"reference": "PractitionerRole/derm-team"}
    specialist = account(net, "practitioner", practitioner="Practitioner/derm")
    inbox = specialist.get("/teleexpertises").text
    assert "Demandes adressées à votre équipe (1)" in inbox and "Eczéma résistant" in inbox


def test_the_inbox_puts_the_soonest_due_first_and_flags_the_overdue(net: Site) -> None:
    expertise(net)  # t1, due the day after tomorrow
    late = read(net, "Task", "t1") | {
        "id": "t2",
        "restriction": {"period": {"end": f"{tomorrow() - timedelta(days=3)}T08:00:00Z"}},
    }
    store(net, late)
    doctor = net.logged_in("practitioner")
    rows = doctor.get("/teleexpertises").text.split("<tr>")[2:]
    assert "/teleexpertises/t2" in rows[0] and "en retard" in rows[0]
    assert "/teleexpertises/t1" in rows[1] and "en retard" not in rows[1]
    assert "Louis Généraliste" in rows[0]  # the requester, a person
