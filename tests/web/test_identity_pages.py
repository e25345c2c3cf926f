"""The site's patients (issue 17): a nurse finds one patient among same-name patients by birth
date, pages through every match (no cap), registers a patient with the RNIV rules, and records
or withdraws consent, which the booking rules then obey. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from care_network import build, person
from test_booking_form_statements import counted
from web_site import Site, csrf_of, store

from maillage.care.identifiers import nir_key
from maillage.web.identities import FIELDS, FormRefusal, patient_body

BIRTH_DATES = ("1931-02-11", "1938-07-30", "1944-12-01", "1952-05-19")


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """The identity pages read the store: both back-ends."""
    return site_on_each_database


def lamberts(net: Site) -> None:
    """Four « Jeanne LAMBERT » of the site, born on different days, and one elsewhere."""
    msp = {"reference": "Organization/msp"}
    bodies = [
        person(
            "Patient",
            f"lambert-{n}",
            "Jeanne",
            "LAMBERT",
            birthDate=born,
            gender="female",
            managingOrganization=msp,
            address=[{"city": f"Commune {n}"}],
        )
        for n, born in enumerate(BIRTH_DATES)
    ]
    other = {"reference": "Organization/other"}
    bodies.append(
        person(
            "Patient",
            "lambert-x",
            "Jeanne",
            "LAMBERT",
            birthDate="1938-07-30",
            managingOrganization=other,
        )
    )
    store(net, *bodies)


def many(net: Site, count: int, start: int = 0) -> None:
    """``count`` patients of the site named ROUX."""
    msp = {"reference": "Organization/msp"}
    first = date(1940, 1, 1)
    store(
        net,
        *(
            person(
                "Patient",
                f"roux-{n}",
                "Louis",
                "ROUX",
                birthDate=(first + timedelta(days=n)).isoformat(),
                managingOrganization=msp,
            )
            for n in range(start, start + count)
        ),
    )


def rows(html: str) -> list[str]:
    return [i for i in re.findall(r"<a href=\"/identites/([^\"/]+)\">", html) if i != "nouvelle"]


def test_a_same_name_patient_is_found_by_birth_date(site: Site) -> None:
    net = build(site)
    lamberts(net)
    nurse = net.logged_in("site-professional")
    everyone = nurse.get("/identites", params={"nom": "jeanne lambert"})
    assert everyone.status_code == 200
    assert sorted(rows(everyone.text)) == [f"lambert-{n}" for n in range(4)]  # not lambert-x
    for shown in ("11/02/1931", "30/07/1938", "01/12/1944", "19/05/1952", "Commune 3"):
        assert shown in everyone.text
    assert "4 patients trouvés" in everyone.text
    one = nurse.get("/identites", params={"nom": "Lambert", "naissance": "1938-07-30"})
    assert rows(one.text) == ["lambert-1"]
    assert 'href="/teleconsultations/nouvelle?patient=lambert-1"' in one.text
    wrong = nurse.get("/identites", params={"naissance": "30/07/1938"})
    assert wrong.status_code == 422 and "date" in wrong.text


def test_every_match_is_paged_and_none_is_cut(site: Site) -> None:
    net = build(site)
    many(net, 45)
    nurse = net.logged_in("site-professional")
    seen: list[str] = []
    for page in (1, 2, 3):
        html = nurse.get("/identites", params={"nom": "roux", "page": page}).text
        assert "45 patients trouvés" in html
        seen += rows(html)
    assert sorted(seen) == sorted(f"roux-{n}" for n in range(45))
    assert "Page suivante" not in nurse.get("/identites?nom=roux&page=3").text


def test_the_search_page_costs_the_same_statements_whatever_the_patients(site: Site) -> None:
    net = build(site)
    many(net, 5)
    nurse = net.logged_in("site-professional")
    nurse.get("/identites")
    with counted(net) as few:
        assert nurse.get("/identites").status_code == 200
    many(net, 60, start=5)
    with counted(net) as more:
        assert nurse.get("/identites").status_code == 200
    print(f"/identites: {len(few)} statements with 6 patients, {len(more)} with 66")
    assert len(more) == len(few)


def registration(nurse, **typed: str):  # type: ignore[no-untyped-def]
    token = csrf_of(nurse.get("/identites/nouvelle").text)
    form = {
        "csrf_token": token,
        "nom_naissance": "Lambert",
        "prenoms": "Jeanne Marie",
        "nom_usage": "Petit",
        "naissance": "1947-04-03",
        "sexe": "female",
        "statut": "VALI",
        "ins": "",
        "ipp": "IPP-0042",
        "commune": "Carignan",
        "code_postal": "08110",
        "courriel": "jeanne.petit@example.org",
        "telephone": "",
    } | typed
    return nurse.post("/identites", data=form, follow_redirects=False)


def test_a_nurse_registers_a_patient_and_finds_her_again(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    nir = "2470408105012"
    done = registration(nurse, ins=f"{nir} {nir_key(nir)}")
    assert done.status_code == 303, done.text
    ident = done.headers["location"].rsplit("/", 1)[1]
    record = nurse.get(f"/identites/{ident}").text
    for shown in ("LAMBERT", "PETIT", "Jeanne Marie", "03/04/1947", "Validée", "IPP-0042"):
        assert shown in record
    assert nir not in record  # the INS of an unqualified identity does not leave the server
    by_used_name = nurse.get("/identites", params={"nom": "petit jeanne"}).text
    assert rows(by_used_name) == [ident]
    by_ins = nurse.get("/identites", params={"identifiant": nir + nir_key(nir)}).text
    assert rows(by_ins) == [ident]
    by_local = nurse.get("/identites", params={"identifiant": "IPP-0042"}).text
    assert rows(by_local) == [ident]
    other = net.logged_in("site-professional")
    assert ident in rows(other.get("/identites").text)  # a colleague of the same site


@pytest.mark.parametrize(
    ("typed", "status", "message"),
    [
        ({"statut": "QUAL", "ins": "247040810501213"}, 409, "téléservice INSi"),
        ({"ins": "247040810501299"}, 422, "clé de contrôle"),
        ({"statut": "RECUP"}, 422, "a un matricule INS"),
        ({"naissance": (date.today() + timedelta(days=2)).isoformat()}, 422, "dans le futur"),
    ],
)
def test_a_refused_registration_keeps_what_was_typed(
    site: Site, typed: dict[str, str], status: int, message: str
) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    if typed.get("statut") == "QUAL":  # a valid NIR, so that only the status is refused
        body = "2470408105012"
        typed = typed | {"ins": body + nir_key(body)}
    refused = registration(nurse, **typed)
    assert refused.status_code == status
    assert message in refused.text
    assert 'value="IPP-0042"' in refused.text and 'value="jeanne.petit@example.org"' in refused.text
    assert rows(nurse.get("/identites").text) == ["p1"]  # nothing stored


def test_consent_is_recorded_and_withdrawn_and_booking_obeys_it(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/identites/p1").text
    assert "Aucun consentement enregistré" in page
    token = csrf_of(page)
    for decision, shown in (("accorde", "Consentement donné."), ("retire", "Consentement retiré")):
        done = nurse.post(
            "/identites/p1/consentement",
            data={"csrf_token": token, "decision": decision},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert shown in nurse.get("/identites/p1").text
    form = nurse.get("/teleconsultations/nouvelle").text
    choice = re.search(r'name="creneau" value="([^"]+)"', form)
    assert choice
    booked = nurse.post(
        "/teleconsultations",
        data={"csrf_token": csrf_of(form), "patient": "p1", "creneau": choice.group(1)},
    )
    assert booked.status_code == 422
    assert nurse.get("/identites/p9").status_code == 403  # another organisation's patient


def test_a_birth_date_is_in_the_future_only_after_the_networks_day() -> None:
    # The day is the network's (Paris), given by the page: just after midnight in Paris a
    # baby born that day is not "in the future" while the machine's UTC date is still the eve.
    typed = dict.fromkeys(FIELDS, "") | {
        "nom_naissance": "Petit",
        "prenoms": "Jeanne",
        "naissance": "2027-03-02",
        "sexe": "female",
    }
    assert patient_body(typed, "Organization/o", date(2027, 3, 2))["birthDate"] == "2027-03-02"
    with pytest.raises(FormRefusal, match="dans le futur"):
        patient_body(typed, "Organization/o", date(2027, 3, 1))
