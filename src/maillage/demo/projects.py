"""The demonstration network's roadmap projects: one per site, and two MSP projects under way.

Each site's project went through the roadmap's stages up to the day the site opened (and was
evaluated a year later, when that day has come), with the funding the ARS and the Région
granted, two people trained and, at two sites, a request to the regional hotline. The MSP
projects are dated back from the day of seeding, so that the roadmap always shows work in
progress. Names end with « SYNTHÉTIQUE »: the funders and people are invented.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from maillage.care.principal import Principal
from maillage.care.projects import ProjectIn, Projects

#: Days before a site's opening at which it reached each stage before ``operating``.
LEAD_DAYS = {
    "identified": 300,
    "accompanied": 240,
    "funded": 180,
    "equipped": 90,
    "staff-trained": 30,
}
LABEL = " — SYNTHÉTIQUE"
_TRAINEES = (("Camille Roux", "Infirmière"), ("Julien Blanc", "Aide-soignant"))


def site_project(name: str, location: str, kind: str, opened: date, today: date) -> dict[str, Any]:
    """A site's project, up to its opening (and its evaluation a year on, once due)."""
    reached = [(s, opened - timedelta(days=d)) for s, d in LEAD_DAYS.items()]
    reached.append(("operating", opened))
    if opened + timedelta(days=365) <= today:
        reached.append(("evaluated", opened + timedelta(days=365)))
    funded = dict(reached)["funded"]
    funding = [("ARS Grand Est", "15000.00"), ("Région Grand Est", "10000.00")]
    if kind == "ehpad":
        funding.append(("FEDER", "8000.00"))
    trained = dict(reached)["staff-trained"]
    return {
        "name": f"Site de télémédecine — {name}{LABEL}",
        "kind": "site",
        "location": location,
        "stages": [{"stage": s, "date": d.isoformat()} for s, d in reached],
        "funding": [
            {"amount_euros": amount, "funder": funder, "granted": funded.isoformat()}
            for funder, amount in funding
        ],
        "trained": [
            {"name": person, "role": role, "trained": trained.isoformat()}
            for person, role in _TRAINEES
        ],
    }


def in_progress(today: date) -> list[dict[str, Any]]:
    """Two MSP projects not open yet, dated back from ``today``."""

    def stages(*names: str) -> list[dict[str, str]]:
        days = range(30 * len(names), 0, -30)
        return [
            {"stage": n, "date": (today - timedelta(days=d)).isoformat()}
            for n, d in zip(names, days, strict=True)
        ]

    return [
        {
            "name": f"Création de la MSP de Fumay{LABEL}",
            "kind": "msp-creation",
            "stages": stages("identified", "accompanied"),
            "support_requests": [
                {
                    "opened": (today - timedelta(days=10)).isoformat(),
                    "subject": "Quel poste de télémédecine pour une MSP de quatre cabinets ?",
                }
            ],
        },
        {
            "name": f"Extension de la MSP de Wassy{LABEL}",
            "kind": "msp-extension",
            "stages": stages("identified", "accompanied", "funded"),
            "funding": [
                {
                    "amount_euros": "40000.00",
                    "funder": "FEDER",
                    "granted": (today - timedelta(days=30)).isoformat(),
                }
            ],
        },
    ]


def seed_projects(
    sessions: sessionmaker[Session],
    coordinator: Principal,
    sites: list[dict[str, Any]],
    today: date,
) -> int:
    """Record the demo's projects as its coordinator (``sites``: each site's ``name``,
    ``location`` reference, ``kind`` and ``opened`` day); how many were recorded."""
    bodies = [site_project(**site, today=today) for site in sites] + in_progress(today)
    bodies[0]["support_requests"] = [
        {
            "opened": bodies[0]["stages"][-1]["date"],
            "subject": "La caméra de la cabine ne s'affiche plus dans la salle vidéo",
            "status": "answered",
            "answer": "Pilote de la caméra mis à jour à distance par la hotline",
        }
    ]
    projects = Projects(sessions, coordinator)
    for body in bodies:
        projects.create(ProjectIn.model_validate(body))
    return len(bodies)
