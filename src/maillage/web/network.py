"""The network's evaluation page: roadmap progress, activity, access and response times.

It shows the indicators of ``maillage report`` (:mod:`maillage.reports.evaluation`) for one
year, computed from the operational store at each view, with the report's own charts. Only
aggregates leave the server, so planners see it too. The share of patients in under-served
communes needs zoning classes: they come from the latest finished diagnosis job rather than a
diagnosis run inside the request (too long for a web request).
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from maillage.api.auth import Principal
from maillage.api.site_import import MODALITIES
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.results import JobResult
from maillage.reports import evaluation
from maillage.reports.report import Evaluation, charts, latest_year
from maillage.store.database import transaction
from maillage.territory.communes import load_communes
from maillage.territory.geography import departements
from maillage.web import jobs
from maillage.web.navigation import ANALYSTS
from maillage.web.rendering import allowed, render

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin",
          "juil.", "août", "sept.", "oct.", "nov.", "déc.")  # fmt: skip


def zoning_classes(diagnosis: JobResult) -> pd.Series:
    """Zoning class per commune code, from a diagnosis job's ``communes.csv``."""
    table = pd.read_csv(
        diagnosis.directory / "communes.csv",
        usecols=["code_commune", "classe"],
        dtype={"code_commune": str, "classe": str},
    )
    return table.set_index("code_commune").classe


def activity_charts(year: int, activity: dict[str, pd.DataFrame]) -> dict[str, Markup]:
    """The report's SVG charts (monthly activity by site, year per site).

    They read only the period and the activity, so the report's other parts stay empty here.
    """
    shown = Evaluation(
        area="",
        period=year,
        synthetic=False,
        roadmap={},
        activity=activity,
        under_served={},
        delay={},
        expertise={},
        supply=pd.DataFrame(),
        access=pd.DataFrame(),
        simulation={},
    )
    return charts(shown)


def _years(network: evaluation.Network, zone: ZoneInfo, year: int) -> list[int]:
    """Years with at least one teleconsultation, and the one shown, newest first."""
    starts = network.teleconsultations.start.dropna().dt.tz_convert(zone)
    return sorted({*starts.dt.year.astype(int).tolist(), year}, reverse=True)


@router.get("/reseau", response_class=HTMLResponse)
def network_page(
    request: Request,
    _principal: Analyst,
    annee: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    """The year's evaluation indicators (default: the year of the latest teleconsultation)."""
    zone = request.app.state.settings.zone
    with transaction(request.app.state.sessions) as session:
        network = evaluation.load_network(session)
    year = annee or latest_year(network, zone)
    period = evaluation.Period(year, zone)
    of_commune = load_communes().set_index("code_commune").departement
    activity = evaluation.activity(network, period, of_commune)
    diagnosis = JobResult.latest(DIAGNOSIS, jobs.files_dir(request))
    context: dict[str, Any] = {
        "annee": year,
        "annees": _years(network, zone, year),
        "feuille_de_route": evaluation.roadmap(network.sites, period),
        "activite": activity,
        "mois": MONTHS,
        "modalites": MODALITIES,
        "departements": departements().set_index("code").nom.to_dict(),
        "graphiques": activity_charts(year, activity),
        "diagnostic": diagnosis.summary if diagnosis else None,
        "patients": (
            evaluation.under_served_share(network, period, zoning_classes(diagnosis))
            if diagnosis
            else None
        ),
        "delai": evaluation.appointment_delay(network, period),
        "expertise": evaluation.expertise_response(network, period),
        "synthetique": bool(network.sites.synthetic.any()),
    }
    return render(request, "reseau.html", context)
