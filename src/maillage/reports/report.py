"""The evaluation report: indicators, charts and maps as HTML, then the same page as PDF.

The access part re-runs the diagnosis with the period's measured teleconsultations counted as
GP supply at their sites (:func:`maillage.planning.scenario.site_supply`, 4,800 acts per FTE),
after leaving out the acts of doctors the GP supply already holds
(:func:`maillage.reports.evaluation.telemedicine_supply`). It is a SIMULATION, labelled so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import matplotlib
import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from maillage import french_format
from maillage.access import zoning
from maillage.access.measure import measure_of
from maillage.care.projects import REQUEST_LABELS, STAGE_LABELS
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import Diagnosis, run_diagnosis, thresholds_for, weights_for
from maillage.outputs.atomic import atomic_directory
from maillage.outputs.choropleth import Marker, choropleth_svg
from maillage.outputs.serialise import to_json
from maillage.planning.scenario import ACTS_PER_FTE, site_supply
from maillage.reports import evaluation, rule_flags
from maillage.tabular import STANDARD, CsvDialect, write_csv
from maillage.territory.communes import load_communes

matplotlib.use("svg")
from matplotlib import pyplot as plt  # after choosing the file-only backend

SIMULATION_LABEL = (
    "SIMULATION : accès recalculé en comptant les téléconsultations mesurées comme offre de "
    "médecine générale dans la commune du site ; ce n'est pas une prévision"
)
SYNTHETIC_LABEL = (
    "SYNTHETIC : ce rapport utilise des données inventées (réseau de démonstration ou offre de "
    "soins synthétique), pas des patients, sites ni praticiens réels"
)
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("maillage.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


@dataclass(frozen=True)
class Evaluation:
    """Everything the report shows, computed once for the HTML, PDF, CSV and JSON."""

    area: str
    period: int
    synthetic: bool
    roadmap: dict
    activity: dict[str, pd.DataFrame]
    under_served: dict
    delay: dict
    expertise: dict
    supply: pd.DataFrame
    access: pd.DataFrame
    simulation: dict
    flags: dict[str, int]
    projects: dict


def latest_year(network: evaluation.Network, zone: ZoneInfo) -> int:
    """The year of the most recent teleconsultation (the default period), else the current one."""
    starts = network.teleconsultations.start.dropna()
    return int(starts.max().tz_convert(zone).year) if len(starts) else pd.Timestamp.now(zone).year


def access_change(
    params: DiagnosisParameters, before: Diagnosis, supply: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """Access per commune without and with the counted teleconsultations as supply."""
    extra = site_supply(supply.code_commune.to_numpy(), supply.counted.to_numpy(dtype=float))
    after = run_diagnosis(params, extra_supply=extra)
    thresholds = thresholds_for(params)
    table = before.communes[["code_commune", "nom", "departement", "population", "geometry"]].copy()
    table["access_before"] = before.communes.access.to_numpy()
    table["access_after"] = after.communes.access.to_numpy()
    for name in ("before", "after"):
        table[f"classe_{name}"] = zoning.classify(table[f"access_{name}"].to_numpy(), thresholds)
    leaving = (table.classe_before == "sous-dotee") & (table.classe_after != "sous-dotee")
    population = table.population.fillna(0.0)
    summary = {
        "label": SIMULATION_LABEL,
        "acts_per_fte": ACTS_PER_FTE,
        "teleconsultations": int(supply.teleconsultations.sum()),
        "counted_as_supply": int(supply.counted.sum()),
        "fte_equivalent": float(supply.counted.sum() / ACTS_PER_FTE),
        "communes_improved": int((table.access_after > table.access_before).sum()),
        "communes_leaving_sous_dotee": int(leaving.sum()),
        "population_leaving_sous_dotee": float(population[leaving].sum()),
    }
    return table, summary


def evaluate(
    session: Session,
    params: DiagnosisParameters,
    year: int | None,
    zone: ZoneInfo,
    targets: evaluation.Targets | None = None,
) -> Evaluation:
    """Compute every indicator of the report for the diagnosis area and the period, the
    roadmap against ``targets`` (default: the roadmap's 200 sites, 100 new)."""
    before = run_diagnosis(params)
    area_codes = set(before.communes.code_commune)
    network = evaluation.in_area(evaluation.load_network(session), area_codes)
    period = evaluation.Period(year or latest_year(network, zone), zone)
    communes = load_communes()
    _, cutoff = weights_for(params)
    reach = evaluation.supply_reach_km(max(cutoff, params.no_care_minutes))
    supply = evaluation.telemedicine_supply(network, period, communes, area_codes, reach)
    access, simulation = access_change(params, before, supply)
    simulation["rule"] = (
        "Seules les téléconsultations de médecine générale (acte TCG) comptent. "
        f"Actes des médecins exerçant à moins de {reach:.0f} km à vol d'oiseau de la zone "
        "exclus : l'offre de médecine générale les compte déjà (toute leur activité, là où ils "
        "exercent). Seuls comptent les actes des médecins exerçant plus loin ou sans commune "
        "d'exercice connue."
    )
    classes = before.communes.set_index("code_commune").classe
    return Evaluation(
        area=before.summary.get("area", ""),
        period=period.year,
        synthetic=bool(network.sites.synthetic.any()) or before.synthetic,
        roadmap=evaluation.roadmap(network.sites, period, targets),
        activity=evaluation.activity(
            network, period, communes.set_index("code_commune").departement
        ),
        under_served=evaluation.under_served_share(network, period, classes),
        delay=evaluation.appointment_delay(network, period),
        expertise=evaluation.expertise_response(network, period),
        supply=supply,
        access=access,
        simulation=simulation,
        flags=rule_flags.rule_flags(network, period),
        projects=evaluation.project_summary(evaluation.load_projects(session)),
    )


def indicators_table(result: Evaluation) -> pd.DataFrame:
    """One row per headline figure: what the CSV holds and the report's first table shows."""
    rows = [
        ("sites_ouverts", "réseau", result.roadmap["open"], "sites"),
        ("sites_nouveaux", "réseau", result.roadmap["new"], "sites"),
        ("sites_existants", "réseau", result.roadmap["existing"], "sites"),
        ("objectif_sites", "réseau", result.roadmap["target"], "sites"),
        ("avancement_feuille_de_route", "réseau", result.roadmap["progress"], "part"),
        ("objectif_sites_nouveaux", "réseau", result.roadmap["target_new"], "sites"),
        ("avancement_sites_nouveaux", "réseau", result.roadmap["progress_new"], "part"),
        ("projets", "réseau", result.projects["projects"], "projets"),
        ("personnes_formees", "réseau", result.projects["trained"], "personnes"),
        ("financements", "réseau", result.projects["funding_total"], "euros"),
        ("patients_teleconsultes", "réseau", result.under_served["patients"], "patients"),
        ("part_patients_zone_sous_dotee", "réseau", result.under_served["share"], "part"),
        ("delai_rendez_vous_median", "réseau", result.delay["median"], "jours"),
        ("delai_rendez_vous_p90", "réseau", result.delay["p90"], "jours"),
        ("tele_expertises_demandees", "réseau", result.expertise["requests"], "demandes"),
        ("tele_expertises_sans_reponse", "réseau", result.expertise["unanswered"], "demandes"),
        ("delai_reponse_tele_expertise_median", "réseau", result.expertise["median"], "heures"),
        ("delai_reponse_tele_expertise_p90", "réseau", result.expertise["p90"], "heures"),
    ]
    rows += [(f"signalement_{key}", "réseau", n, "signalements") for key, n in result.flags.items()]
    projects = result.projects
    rows += [("projets", f"étape {s}", n, "projets") for s, n in projects["by_stage"].items()]
    rows += [("financements", f"financeur {f}", e, "euros") for f, e in projects["funding"].items()]
    rows += [
        ("demandes_hotline", f"statut {s}", n, "demandes") for s, n in projects["hotline"].items()
    ]
    per_site = result.activity["per_site"]
    rows += list(
        zip(
            ["teleconsultations"] * len(per_site),
            "site " + per_site.name,
            per_site.teleconsultations,
            ["actes"] * len(per_site),
            strict=True,
        )
    )
    by_dep = result.activity["by_departement"]
    rows += [("teleconsultations", f"département {d}", n, "actes") for d, n in by_dep.to_numpy()]
    by_mod = result.activity["by_modality"]
    rows += [("teleconsultations", f"modalité {m}", n, "actes") for m, n in by_mod.to_numpy()]
    table = pd.DataFrame(rows, columns=["indicateur", "perimetre", "valeur", "unite"], dtype=object)
    table.insert(0, "annee", result.period)
    table["donnees"] = "SYNTHETIC" if result.synthetic else "mesurées"
    return table


def _svg(figure: plt.Figure) -> Markup:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return Markup(text[text.index("<svg") :])


def charts(result: Evaluation) -> dict[str, Markup]:
    """Monthly activity of the network by site, and the year's total per site (SVG); none
    when the period has no activity."""
    monthly = result.activity["monthly"]
    if monthly.empty:
        return {}
    figure, axes = plt.subplots(figsize=(8, 3.2))
    monthly.T.plot.bar(stacked=True, ax=axes, width=0.8, colormap="tab20")
    axes.set(xlabel="mois", ylabel="téléconsultations", title=f"Téléconsultations {result.period}")
    axes.legend(fontsize=7, ncol=2, frameon=False)
    monthly_svg = _svg(figure)
    per_site = result.activity["per_site"].set_index("name").teleconsultations
    figure, axes = plt.subplots(figsize=(8, 0.35 * max(len(per_site), 3) + 0.8))
    per_site.sort_values().plot.barh(ax=axes, color="#225ea8")
    axes.set(xlabel="téléconsultations de l'année", ylabel="")
    return {"monthly": monthly_svg, "per_site": _svg(figure)}


def maps(result: Evaluation, sites: pd.DataFrame) -> list[tuple[str, Markup, list[tuple]]]:
    """Access per commune before and with the measured telemedicine supply, and the gain
    (the per-commune effect, on a sequential scale), sites on top."""
    markers = [
        Marker(lon, lat, name) for name, lon, lat in sites[["name", "lon", "lat"]].to_numpy()
    ]
    measure = measure_of("apl", "generaliste", zoning.default_thresholds("apl", "generaliste"))
    result_maps = []
    for name, title in (
        ("before", "Accès mesuré (sans télémédecine)"),
        ("after", "SIMULATION : accès avec la télémédecine mesurée"),
    ):
        table = result.access.assign(
            access=result.access[f"access_{name}"], classe=result.access[f"classe_{name}"]
        )
        svg, legend = choropleth_svg(table, markers=markers, measure=measure)
        result_maps.append((title, Markup(svg), legend))
    gain = result.access.assign(access=result.access.access_after - result.access.access_before)
    svg, legend = choropleth_svg(
        gain, classe="", markers=markers, measure=replace(measure, name="gain d'APL")
    )
    result_maps.append(("SIMULATION : gain d'accès par commune", Markup(svg), legend))
    return result_maps


def _shown(value: float | int | None) -> str:
    """A figure as the tables print it: integers whole, shares and delays to 3 digits."""
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def render_html(result: Evaluation) -> str:
    """The French report page: self-contained (inline SVG, no script, no external file)."""
    sites = result.supply.merge(
        load_communes()[["code_commune", "lon", "lat"]], on="code_commune", how="left"
    )
    indicators = indicators_table(result)
    improved = result.access[result.access.access_after > result.access.access_before]
    gains = improved.assign(gain=improved.access_after - improved.access_before)
    return _TEMPLATES.get_template("report.html.j2").render(
        result=result,
        indicators=indicators.assign(valeur=indicators.valeur.map(_shown)),
        charts=charts(result),
        maps=maps(result, sites.dropna(subset=["lon", "lat"])),
        gains=gains.sort_values("gain", ascending=False).head(20),
        simulation_label=SIMULATION_LABEL,
        synthetic_label=SYNTHETIC_LABEL,
        stages=STAGE_LABELS,
        requests=REQUEST_LABELS,
        number=french_format.number,
        percent=french_format.percent,
    )


def write_report(
    result: Evaluation, out: Path, dialect: CsvDialect = STANDARD, *, overwrite: bool = False
) -> list[Path]:
    """report.html, report.pdf, indicators.csv/json and access_simulation.csv, all at once
    (CSV in ``dialect``; ``out`` new, or a previous report replaced with ``overwrite``)."""
    import weasyprint

    page = render_html(result)
    with atomic_directory(out, "report", overwrite=overwrite) as tmp:
        (tmp / "report.html").write_text(page, encoding="utf-8")
        weasyprint.HTML(string=page).write_pdf(tmp / "report.pdf")
        write_csv(indicators_table(result), tmp / "indicators.csv", dialect)
        access = result.access.drop(columns="geometry").assign(
            simulation="SIMULATION", donnees="SYNTHETIC" if result.synthetic else "mesurées"
        )
        write_csv(access, tmp / "access_simulation.csv", dialect)
        document = {
            "label": SYNTHETIC_LABEL if result.synthetic else None,
            "area": result.area,
            "period": result.period,
            "roadmap": result.roadmap,
            "projects": result.projects,
            "activity": {
                k: v.to_dict(orient="records") for k, v in result.activity.items() if k != "monthly"
            }
            | {"monthly": result.activity["monthly"].reset_index().to_dict(orient="records")},
            "under_served": result.under_served,
            "appointment_delay": result.delay,
            "tele_expertise_response": result.expertise,
            "telemedicine_supply": result.supply.to_dict(orient="records"),
            "simulation": result.simulation,
        }
        (tmp / "indicators.json").write_text(to_json(document), encoding="utf-8")
    return [
        out / name
        for name in (
            "report.html",
            "report.pdf",
            "indicators.csv",
            "indicators.json",
            "access_simulation.csv",
        )
    ]
