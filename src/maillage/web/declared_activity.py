"""The annual activity of a doctor, declared by the network's coordinator (or an admin): the
figure the 20 % ceiling of remote acts is checked against on the doctor's page. It is kept on
the Practitioner as the extension ``urn:maillage:declared-annual-activity``, written through
the repository like any registry change (the registry is the operators' to write)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care import remote_flags
from maillage.care.principal import Principal
from maillage.web import records
from maillage.web.navigation import OPERATORS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(allowed(OPERATORS))]


@router.get("/praticiens/{practitioner_id}/activite", response_class=HTMLResponse)
def form(
    request: Request, practitioner_id: str, _principal: Operator, repository: PageRepo
) -> HTMLResponse:
    """The doctor's declared annual activity and the form to change it."""
    body = records.get(repository, "Practitioner", practitioner_id)
    context = {
        "praticien": body,
        "nom": records.person_name(body),
        "activite": remote_flags.declared_activity(body),
    }
    return render(request, "soins/activite_declaree.html", context)


@router.post("/praticiens/{practitioner_id}/activite", response_class=HTMLResponse)
def declare(
    request: Request,
    practitioner_id: str,
    _principal: Operator,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Store the declared annual activity (a positive whole number of acts)."""
    text = str(form.get("activite", "")).strip()
    if not text.isdigit() or int(text) <= 0 or int(text) > 100_000:
        raise PageError(422, "Indiquez l'activité annuelle en nombre d'actes (de 1 à 100 000).")
    body = records.get(repository, "Practitioner", practitioner_id)
    with records.refusals(), records.writing(repository) as writer:
        writer.update(body, {"extension": remote_flags.declaring(body, int(text))})
    return RedirectResponse(f"/praticiens/{practitioner_id}/activite", status_code=303)
