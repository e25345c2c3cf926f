"""« Journal des accès »: admins and the data protection officer read who opened which record,
filter the trail and export it; nobody else reaches it, and the DPO reads no care data."""

from __future__ import annotations

import csv
import io
import re

import pytest
from care_network import build, follow
from web_site import PASSWORD, Site, login

LINE = re.compile(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>"
                  r'<td class="references">(.*?)</td><td>(.*?)</td>', re.S)  # fmt: skip


@pytest.fixture
def followed(site: Site) -> Site:
    return follow(build(site))


def journal_lines(html: str) -> list[tuple[str, ...]]:
    return LINE.findall(html)


def test_the_dpo_finds_who_opened_a_patients_record_and_exports_it(followed: Site) -> None:
    coordinator = followed.user("coordinator")
    client = followed.client()
    login(client, coordinator)
    assert client.get("/patients/p1").status_code == 200
    dpo = followed.logged_in("dpo")

    page = dpo.get("/journal", params={"compte": coordinator, "patient": "p1"})
    assert page.status_code == 200
    lines = journal_lines(page.text)
    assert lines, "the coordinator's reading of Patient/p1 is in the journal"
    for _date, account, role, action, records, outcome in lines:
        assert account == coordinator and role == "coordination du réseau"
        assert "Patient/p1" in records or action == "recherche"
        assert outcome == "accordé"
    assert {"lecture", "recherche"} & {line[3] for line in lines}

    export = dpo.get("/journal/export", params={"compte": coordinator, "format": "excel-fr"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) >= len(lines)
    assert {row["Compte"] for row in rows} == {coordinator}
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", rows[0]["Date"])


def bearer(site: Site, role: str) -> dict[str, str]:
    """The API's Authorization header for a new account of ``role``."""
    token = site.client().post(
        "/auth/token", data={"username": site.user(role), "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_filters_narrow_the_journal_by_outcome_and_action(followed: Site) -> None:
    followed.logged_in("coordinator").get("/patients/p1")
    stranger = bearer(followed, "patient")  # Patient/p1's account asks for another's record
    assert followed.client().get("/fhir/Patient/p9", headers=stranger).status_code in (403, 404)
    admin = followed.logged_in("admin")
    refused = journal_lines(admin.get("/journal", params={"resultat": "8"}).text)
    granted = journal_lines(admin.get("/journal", params={"resultat": "0", "action": "R"}).text)
    assert granted and all(line[5] == "accordé" and line[3] == "lecture" for line in granted)
    assert refused and all(line[5] == "refusé" for line in refused)
    assert any("Patient/p9" in line[4] for line in refused)


@pytest.mark.parametrize("role", ["coordinator", "planner", "site-professional", "patient"])
def test_only_admins_and_the_dpo_open_the_journal(site: Site, role: str) -> None:
    client = site.logged_in(role)
    assert client.get("/journal").status_code == 403
    assert client.get("/journal/export").status_code == 403


def test_the_dpo_reads_no_care_data(followed: Site) -> None:
    dpo = followed.logged_in("dpo")
    assert dpo.get("/patients/p1").status_code == 403
    api = bearer(followed, "dpo")  # the API's policy is the same repository's
    assert followed.client().get("/fhir/Patient", headers=api).status_code == 403
    assert followed.client().get("/fhir/Location", headers=api).status_code == 403
    trail = followed.client().get("/fhir/AuditEvent", headers=api)
    assert trail.status_code == 200 and trail.json()["total"] > 0
