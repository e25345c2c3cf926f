"""The dataset registry's pages (``/jeux-de-donnees``): the analysts read what each registered
file holds (they choose them in the diagnosis and plan forms); admins add one by upload and
remove one.

The upload is the file itself as the request body (the page's script sends it with
``XMLHttpRequest``, whose upload events drive the progress bar), streamed to a temporary file
beside the registry's objects under its own limit (``MAILLAGE_MAX_DATASET_UPLOAD_BYTES``,
enforced by the request-limits middleware for this path only), then registered by the
registry's own validation through :class:`maillage.care.datasets.Datasets` (admins only,
audited). The temporary file is removed whatever happens.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import PurePath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care.datasets import Datasets
from maillage.care.errors import DomainError
from maillage.care.principal import Principal, Role
from maillage.datasets.catalogue import Dataset, DatasetError
from maillage.errors import InputError
from maillage.web import records
from maillage.web.diagnostics import PROFESSION_LABELS
from maillage.web.navigation import ADMINS, ANALYSTS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import CSRF_HEADER, check_csrf, checked_form

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
Admin = Annotated[Principal, Depends(allowed(ADMINS))]
UPLOAD_PATH = "/jeux-de-donnees/televersement"
#: Written to disk a MiB at a time, off the event loop.
WRITE_BYTES = 1 << 20

KIND_LABELS = {
    "annuaire": "Annuaire Santé (extrait des professionnels)",
    "supply-csv": "Offre déclarée (CSV)",
    "ages": "Population par âge (INSEE)",
    "matrix": "Matrice de temps de trajet",
    "finess": "FINESS (établissements)",
    "sites": "Sites (CSV)",
}
#: The manifest's counts, singular and plural (French: 0 and 1 take the singular).
COUNT_LABELS = {
    "activity_rows": ("ligne d'activité", "lignes d'activité"),
    "practitioner_rows": ("praticien", "praticiens"),
    "fte": ("ETP", "ETP"),
    "communes_with_supply": ("commune dotée", "communes dotées"),
    "rows": ("ligne", "lignes"),
    "facilities": ("établissement", "établissements"),
    "geolocated": ("géolocalisé", "géolocalisés"),
    "communes": ("commune", "communes"),
    "population": ("habitant", "habitants"),
    "pairs": ("paire", "paires"),
    "ids": ("lieu", "lieux"),
    "sites": ("site", "sites"),
}


def _datasets(repository: PageRepo) -> Datasets:
    return Datasets(repository)


Registry = Annotated[Datasets, Depends(_datasets)]


def _counts(counts: dict[str, Any]) -> str:
    """``{"fte": 21.0, "communes": 11}`` as « 21 ETP, 11 communes »."""
    return ", ".join(
        f"{french_format.number(value, 1)} {COUNT_LABELS.get(key, (key, key))[value > 1]}"
        for key, value in counts.items()
    )


def _view(dataset: Dataset, zone: ZoneInfo) -> dict[str, Any]:
    """A dataset in the pages' words: French dates (``zone``'s time), numbers and names."""
    flat = {k: v for k, v in dataset.rows.items() if not isinstance(v, dict)}
    professions = [
        (PROFESSION_LABELS.get(name, name), _counts(counts))
        for name, counts in dataset.rows.items()
        if isinstance(counts, dict) and any(counts.values())
    ]
    dropped = [
        {
            "profession": PROFESSION_LABELS.get(d.get("profession", ""), ""),
            "reason": d.get("reason", ""),
            "count": french_format.number(d.get("count", 0), 1),
            "rule": bool(d.get("placed_by_rule")),
        }
        for d in dataset.dropped
    ]
    return {
        "jeu": dataset,
        "type": KIND_LABELS.get(dataset.kind, dataset.kind),
        "date": french_format.day(date.fromisoformat(dataset.as_of)) if dataset.as_of else "—",
        "ajout": french_format.day_and_time(
            datetime.fromisoformat(dataset.added_at).astimezone(zone)
        ),
        "lignes": _counts(flat),
        "professions": professions,
        "ecartees": dropped,
        "taille": _binary_size(dataset.size_bytes),
    }


def _refused(error: DomainError | DatasetError) -> PageError:
    if isinstance(error, DatasetError):
        return PageError(404, "Ce jeu de données n'est pas enregistré.")
    return records.page_error(error, "Les jeux de données sont réservés aux analystes.")


def _binary_size(size: int) -> str:
    """« 2 Gio », « 6,9 Kio »: sizes in powers of 1024, as limits are set."""
    units = ("octets", "Kio", "Mio", "Gio", "Tio")
    rank = min((size.bit_length() - 1) // 10, len(units) - 1) if size else 0
    return f"{french_format.number(size / 1024**rank, 1)} {units[rank]}"


def _list_context(principal: Principal, registry: Datasets) -> dict[str, Any]:
    limit = registry.repository.settings.max_dataset_upload_bytes
    return {
        "jeux": [_view(d, registry.repository.settings.zone) for d in registry.list()],
        "types": KIND_LABELS,
        "admin": principal.role is Role.ADMIN,
        "limite": limit,
        "limite_texte": _binary_size(limit),
        "televersement": UPLOAD_PATH,
    }


@router.get("/jeux-de-donnees", response_class=HTMLResponse)
def dataset_list(request: Request, principal: Analyst, registry: Registry) -> HTMLResponse:
    """The registered datasets and, for admins, the upload form."""
    try:
        context = _list_context(principal, registry)
    except DomainError as error:
        raise _refused(error) from error
    return render(request, "jeux/liste.html", context)


@router.get("/jeux-de-donnees/{dataset_id}", response_class=HTMLResponse)
def dataset_detail(
    request: Request, dataset_id: str, principal: Analyst, registry: Registry
) -> HTMLResponse:
    """One dataset: its checksum, counts, rows left out or placed by rule and why."""
    try:
        dataset = registry.get(dataset_id)
    except (DomainError, DatasetError) as error:
        raise _refused(error) from error
    zone = registry.repository.settings.zone
    context = {**_view(dataset, zone), "admin": principal.role is Role.ADMIN}
    return render(request, "jeux/jeu.html", context)


@router.post("/jeux-de-donnees/{dataset_id}/suppression")
def dataset_remove(
    dataset_id: str,
    _admin: Admin,
    registry: Registry,
    _form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Forget the dataset and delete the registry's copy (audited)."""
    try:
        registry.remove(dataset_id)
    except (DomainError, DatasetError) as error:
        raise _refused(error) from error
    return RedirectResponse("/jeux-de-donnees", status_code=303)


@router.post(UPLOAD_PATH, response_class=HTMLResponse)
async def dataset_upload(
    request: Request,
    principal: Admin,
    registry: Registry,
    kind: Annotated[str, Query(alias="type", max_length=20)],
    name: Annotated[str, Query(alias="fichier", min_length=1, max_length=255)],
    label: Annotated[str, Query(alias="libelle", max_length=200)] = "",
    as_of: Annotated[str, Query(alias="date", max_length=10)] = "",
) -> HTMLResponse:
    """Stream the body to disk, register it and answer the fragment the page shows: the new
    dataset, or the validation's error (file, line, column) with nothing registered."""
    check_csrf(request, request.headers.get(CSRF_HEADER, ""))
    if kind not in KIND_LABELS:
        return _answer(request, 422, ["Choisissez un type de jeu de données de la liste."])
    origin = PurePath(name.replace("\\", "/")).name  # a browser may send its full path
    try:
        with registry.upload(PurePath(origin).suffix.lower()) as path:
            async with await anyio.open_file(path, "wb") as file:
                pending = bytearray()
                async for chunk in request.stream():
                    pending += chunk
                    if len(pending) >= WRITE_BYTES:
                        await file.write(pending)
                        pending.clear()
                await file.write(pending)
            dataset, new = await run_in_threadpool(
                registry.add, path, kind, label.strip() or None, as_of or None, origin
            )
    except DomainError as error:
        raise _refused(error) from error
    except (InputError, DatasetError) as error:
        return _answer(request, 422, [str(error)])
    found = _view(dataset, registry.repository.settings.zone) | {"nouveau": new}
    return _answer(request, 201 if new else 200, [], found)


def _answer(
    request: Request, status: int, errors: list[str], found: dict[str, Any] | None = None
) -> HTMLResponse:
    return render(request, "jeux/_resultat.html", {"erreurs": errors, **(found or {})}, status)
