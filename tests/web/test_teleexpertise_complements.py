"""« Complément demandé », on SQLite and PostgreSQL: the specialist asks the requester for more,
the GP sees it flagged in « Mes télé-expertises », reads the question and sends the complement
with a PDF; the request goes back to the specialist (on hold → in progress), who reads the
complement and its file under the question and answers; both sides see the exchanges in order.
Refusals are French and keep what was typed; every write is audited."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from care_network import build, expertise
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import PASSWORD, Site, audited, csrf_of, login

from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.store.users import create_user

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
QUESTION = "Kaliémie récente ?"

Body = dict[str, Any]


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    return site_on_each_database


@pytest.fixture
def net(site: Site) -> Site:
    build(site)
    expertise(site)  # t1: the GP's question to Practitioner/d1 about Patient/p1
    return site


def the_gp(site: Site) -> TestClient:
    email = f"gp-{uuid.uuid4().hex[:8]}@example.org"
    with transaction(site.app.state.sessions) as session:
        create_user(session, email, PASSWORD, "practitioner", practitioner="Practitioner/gp")
    client = site.client()
    login(client, email)
    return client


def task(net: Site) -> Body:
    with transaction(net.app.state.sessions) as session:
        return resources.read(session, "Task", "t1").body


def ask_for_more(net: Site) -> TestClient:
    """The specialist (Practitioner/d1) asks the GP for a complement."""
    specialist = net.logged_in("practitioner")
    token = csrf_of(specialist.get("/teleexpertises/t1").text)
    asked = {"csrf_token": token, "action": "completer", "texte": QUESTION}
    assert specialist.post("/teleexpertises/t1", data=asked).status_code == 200
    assert task(net)["status"] == "on-hold"
    return specialist


def send(gp: TestClient, text: str, files: list[tuple[str, bytes, str]], **extra: str) -> Any:
    page = gp.get("/teleexpertises/t1").text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version, "the complement form carries the version it shows"
    form = {"csrf_token": csrf_of(page), "version": version.group(1), "complement": text}
    uploads = [("pieces", file) for file in files] or None
    return gp.post(
        "/teleexpertises/t1/complement",
        data=form | extra,
        files=uploads,
        follow_redirects=False,
    )


def test_the_gp_answers_the_question_and_the_specialist_reads_then_answers(net: Site) -> None:
    specialist = ask_for_more(net)
    gp = the_gp(net)
    mine = gp.get("/teleexpertises/demandees").text
    assert "1 demande attend un complément de votre part." in mine
    assert 'Complément demandé <strong class="alerte">à compléter</strong>' in mine
    page = gp.get("/teleexpertises/t1").text
    assert "Complément demandé par Claire Martin" in page and QUESTION in page
    assert "Envoyer le complément" in page

    sent = send(gp, "Kaliémie à 3,2 mmol/L hier.", [("bilan.pdf", PDF, "application/pdf")])
    assert sent.status_code == 303, sent.text
    resumed = task(net)
    assert resumed["status"] == "in-progress" and "statusReason" not in resumed
    kinds = [i["type"]["text"] for i in resumed["input"]]
    assert kinds == ["complément", "pièce jointe du complément"]
    # accepted, started, on hold (the specialist), then resumed by the GP
    assert audited(net, "update", "Task/t1") == ["0"] * 4
    page = gp.get("/teleexpertises/t1").text
    assert "Votre complément a été envoyé" in page and "Envoyer le complément" not in page

    inbox = specialist.get("/teleexpertises").text
    assert "En cours <strong>complément reçu</strong>" in inbox
    detail = specialist.get("/teleexpertises/t1").text
    question = detail.index("Complément demandé par Claire Martin")
    answer = detail.index("Complément envoyé par Louis Généraliste")
    assert question < answer and "Kaliémie à 3,2 mmol/L hier." in detail[answer:]
    link = re.search(r'href="(/teleexpertises/t1/pieces/[^"]+)"[^>]*>bilan.pdf', detail)
    assert link and specialist.get(link.group(1)).content == PDF
    assert "Le demandeur a envoyé le complément demandé" in detail

    token = csrf_of(detail)
    reply = {"csrf_token": token, "action": "repondre", "texte": "Supplémenter en potassium."}
    assert "Vous avez répondu" in specialist.post("/teleexpertises/t1", data=reply).text
    assert task(net)["status"] == "completed"
    read = gp.get("/teleexpertises/t1").text
    assert "Supplémenter en potassium." in read and "Kaliémie à 3,2 mmol/L hier." in read
    assert read.index(QUESTION) < read.index("Kaliémie à 3,2") < read.index("Supplémenter")
    assert gp.get(link.group(1)).content == PDF


def test_refusals_are_french_keep_the_text_and_change_nothing(net: Site) -> None:
    gp = the_gp(net)
    token = csrf_of(gp.get("/teleexpertises/t1").text)
    early = {"csrf_token": token, "version": "1", "complement": "Trop tôt"}
    refused = gp.post("/teleexpertises/t1/complement", data=early)
    assert refused.status_code == 409 and "n&#39;attend pas de complément" in refused.text

    specialist = ask_for_more(net)
    empty = send(gp, "  ", [])
    assert empty.status_code == 422 and "Écrivez le complément demandé" in empty.text
    text = "Photo de la lésion jointe."
    wrong = send(gp, text, [("notes.txt", b"texte", "text/plain")])
    assert wrong.status_code == 415 and "« notes.txt » n&#39;est ni un PDF" in wrong.text
    assert text in wrong.text  # what was typed is kept
    stale = send(gp, text, [], version="1")
    assert stale.status_code == 412 and "changé entre-temps" in stale.text and text in stale.text
    assert task(net)["status"] == "on-hold" and "input" not in task(net)
    with transaction(net.app.state.sessions) as session:
        kinds = select(Resource.id).where(Resource.resource_type == "DocumentReference")
        assert session.execute(kinds).all() == []  # nothing half-written

    own = {"csrf_token": csrf_of(specialist.get("/").text), "version": "3", "complement": text}
    assert specialist.post("/teleexpertises/t1/complement", data=own).status_code == 403
    nurse = net.logged_in("site-professional")  # no professional record: told why
    token = csrf_of(nurse.get("/").text)
    outsider = nurse.post("/teleexpertises/t1/complement", data=own | {"csrf_token": token})
    assert outsider.status_code == 403
    assert task(net)["status"] == "on-hold"
