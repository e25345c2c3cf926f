"""A browser that hits an unknown address or a malformed query gets a French page; FHIR and
API clients keep their OperationOutcome whatever the path."""

from __future__ import annotations

from html import unescape

from web_site import Site

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unknown_address_is_a_french_page_for_a_browser(site: Site) -> None:
    page = site.client().get("/nulle-part", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    text = unescape(page.text)
    assert "Cette page n'existe pas" in text and "Retour à l'accueil" in text
    assert "Not Found" not in text


def test_a_malformed_query_is_a_french_page_for_a_browser(site: Site) -> None:
    admin = site.logged_in("admin")
    page = admin.get("/journal", params={"page": "premiere"}, headers=HTML)
    assert page.status_code == 422
    assert "n'est pas valable" in unescape(page.text)
    emptied = admin.get("/journal", params={"du": "", "au": "", "compte": ""}, headers=HTML)
    assert emptied.status_code == 200  # a form sends its empty fields
    wrong = admin.get("/journal", params={"du": "hier"}, headers=HTML)
    assert wrong.status_code == 422 and "La date de début" in unescape(wrong.text)


def test_machine_clients_keep_their_operation_outcome(site: Site) -> None:
    for path in ("/fhir/Nothing", "/api/nothing"):
        answer = site.client().get(path, headers=HTML)
        assert answer.status_code in (401, 404, 406), path
        assert answer.json()["resourceType"] == "OperationOutcome", path
    plain = site.client().get("/nulle-part", headers={"Accept": "application/json"})
    assert plain.status_code == 404 and plain.json()["resourceType"] == "OperationOutcome"
