"""The access map shows the registry's existing sites and a finished plan's planned sites."""

from __future__ import annotations

import json
import os
import re
import uuid

import numpy as np
import pandas as pd
import pytest
from web_site import Site, location, store

from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.plan import PLAN
from maillage.jobs.results import MAPS_FILE, MapPanel, write_maps
from maillage.outputs.choropleth import choropleth_svg
from maillage.territory.communes import load_communes

SITES = [
    location("carignan", "Cabine de Carignan", "Carignan",
             position={"longitude": 5.17, "latitude": 49.63}),
    location("rocroi", "Ancien site de Rocroi", "Rocroi", status="inactive",
             position={"longitude": 4.52, "latitude": 49.93}),
    location("rennes", "MSP de Rennes", "Rennes", position={"longitude": -1.68, "latitude": 48.11}),
    location("sedan", "EHPAD de Sedan", "Sedan"),
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "Dupont", "given": ["Jeanne"]}]},
]  # fmt: skip
PLANNED = pd.DataFrame(
    {
        "rank": [1, 2],
        "site_id": ["c1", "c2"],
        "name": ["Rocroi", "Vouziers"],
        "code_commune": ["08367", "08490"],
        "lon": [4.52, 4.70],
        "lat": [49.93, 49.40],
    }
)


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL."""
    return site_on_each_database


@pytest.fixture(scope="module")
def ardennes_svg() -> str:
    communes = load_communes()
    table = communes[communes.departement == "08"].reset_index(drop=True)
    return choropleth_svg(table.assign(access=np.linspace(0, 5, len(table)), classe="dotee"))[0]


def diagnosed(site: Site, svg: str) -> str:
    """A finished diagnosis job's files, as the worker leaves them; returns its id."""
    job_id = uuid.uuid4().hex
    out = DIAGNOSIS.directory(site.files_dir, job_id)
    out.mkdir(parents=True)
    summary = {"area": "Ardennes (08)", "method": "apl", "profession": "generaliste",
               "communes": 449, "totals_by_class": {"dotee": 270_000}}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_maps(out, [MapPanel("Accessibilité par commune", svg, [("Dotée", "#1a9850")])])
    return job_id


def planned(site: Site, sites: pd.DataFrame) -> str:
    """A finished plan job's files (``sites.csv``, summary, maps); returns its id."""
    job_id = uuid.uuid4().hex
    out = PLAN.directory(site.files_dir, job_id)
    out.mkdir(parents=True)
    sites.to_csv(out / "sites.csv", index=False)
    summary = {"area": "Ardennes (08)", "sites": len(sites)}
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_maps(out, [])
    return job_id


@pytest.fixture
def mapped(site: Site, ardennes_svg: str) -> tuple[Site, str]:
    store(site, *SITES)
    diagnosed(site, ardennes_svg)
    return site, planned(site, PLANNED)


def markers(html: str, shape: str) -> list[tuple[float, float, str]]:
    """(x, y, title) of the site markers of one shape on the page."""
    x, y = ("cx", "cy") if shape == "circle" else ("x", "y")
    pattern = rf'<{shape} class="site" {x}="([-\d.]+)" {y}="([-\d.]+)"[^>]*><title>([^<]*)</title>'
    return [(float(a), float(b), t) for a, b, t in re.findall(pattern, html)]


def test_the_map_shows_existing_and_planned_sites(mapped: tuple[Site, str]) -> None:
    site, plan_id = mapped
    page = site.logged_in("planner").get("/carte")
    assert page.status_code == 200
    html = page.text
    legend = re.search(r'aria-label="Légende des sites">(.*?)</div>', html, re.S).group(1)
    assert "Sites existants" in legend and "Sites prévus" in legend

    existing = markers(html, "circle")
    assert [t for _x, _y, t in existing] == ["Site existant — Cabine de Carignan"]
    planned_sites = markers(html, "rect")
    assert [t for _x, _y, t in planned_sites] == [
        "Site prévu n° 1 — Rocroi (08367)",
        "Site prévu n° 2 — Vouziers (08490)",
    ]
    (carignan_x, carignan_y, _), = existing  # fmt: skip
    (rocroi_x, rocroi_y, _), (vouziers_x, vouziers_y, _) = planned_sites
    assert rocroi_x < vouziers_x < carignan_x  # west to east
    assert rocroi_y < carignan_y < vouziers_y  # north to south

    assert "Sites existants : 1 site du" in html
    assert "Ancien site de Rocroi" not in html and "MSP de Rennes" not in html
    assert f'Sites prévus : 2 sites sur ces cartes, du <a href="/plans/{plan_id}">' in html
    assert "plan de 2 sites — Ardennes (08)" in html
    assert "Dupont" not in html and "Jeanne" not in html


def test_a_chosen_plan_replaces_the_latest(mapped: tuple[Site, str]) -> None:
    site, first = mapped
    later = PLAN.directory(site.files_dir, planned(site, PLANNED.iloc[1:])) / MAPS_FILE
    os.utime(later, (later.stat().st_atime, later.stat().st_mtime + 60))
    client = site.logged_in("coordinator")
    assert len(markers(client.get("/carte").text, "rect")) == 1
    chosen = client.get("/carte", params={"plan": first}).text
    assert len(markers(chosen, "rect")) == 2
    missing = client.get("/carte", params={"plan": "f" * 32})
    assert missing.status_code == 404 and "Ce plan n&#39;existe pas" in missing.text


def test_without_a_plan_only_existing_sites_are_drawn(site: Site, ardennes_svg: str) -> None:
    store(site, *SITES)
    job_id = diagnosed(site, ardennes_svg)
    client = site.logged_in("admin")
    for path in ("/carte", f"/diagnostics/{job_id}"):
        html = client.get(path).text
        assert len(markers(html, "circle")) == 1 and markers(html, "rect") == []
        assert "aucun plan n'a encore été calculé" in html
        assert '<a href="/plans/nouveau">Planifier des sites</a>' in html


def test_maps_drawn_before_sites_could_be_added_still_show(site: Site) -> None:
    store(site, *SITES)
    diagnosed(site, '<figure class="panel"><svg viewBox="0 0 10 10"></svg></figure>')
    html = site.logged_in("planner").get("/carte").text
    assert "Accès aux soins — Ardennes (08)" in html
    assert "Sites existants : 0 site du" in html and markers(html, "circle") == []


@pytest.mark.parametrize("role", ["patient", "practitioner", "site-professional"])
def test_care_roles_do_not_see_the_map(mapped: tuple[Site, str], role: str) -> None:
    site, _plan = mapped
    assert site.logged_in(role).get("/carte").status_code == 403
