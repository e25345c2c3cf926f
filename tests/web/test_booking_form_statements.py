"""The booking form reads every doctor's and room's openings in a constant number of SQL
statements (issue 13: it was about four per doctor), and offers all of them."""

from __future__ import annotations

from care_network import build, person, schedule, slot
from web_site import Site, counted, store


def more_doctors(net: Site, count: int) -> None:
    """``count`` more remote doctors, each free at 08:00 tomorrow like the room."""
    bodies = []
    for n in range(count):
        ident = f"x{n}"
        bodies += [
            person("Practitioner", ident, "Docteur", f"Numéro {n}"),
            schedule(f"dr-{ident}", f"Practitioner/{ident}"),
            slot(f"{ident}-08", f"dr-{ident}", "08"),
        ]
    store(net, *bodies)


def form_statements(net: Site) -> tuple[int, str]:
    nurse = net.logged_in("site-professional")
    nurse.get("/teleconsultations/nouvelle")  # the session and its principal are warm
    with counted(net) as statements:
        page = nurse.get("/teleconsultations/nouvelle")
    assert page.status_code == 200
    return len(statements), page.text


def test_the_booking_form_reads_all_openings_in_a_constant_number_of_statements(
    site: Site,
) -> None:
    net = build(site)
    two, page = form_statements(net)
    assert page.count('name="creneau"') == 3  # d1 and d2 at 08:00, d1 at 09:00
    more_doctors(net, 20)
    twenty_two, page = form_statements(net)
    assert page.count('name="creneau"') == 23  # every doctor's opening, none capped
    assert "Numéro 19" in page
    print(f"booking form: {two} statements with 2 doctors, {twenty_two} with 22")
    assert twenty_two == two
