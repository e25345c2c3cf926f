"""The site's patients: find one among same-name patients, register one, record consent.

A site professional searches by name (birth or used name, first names), birth date, INS or
local identifier; every match the policy lets them see comes back, twenty a page (no cap),
with what tells same-name patients apart: birth date, commune and identity status. Registering
writes a Patient under the site's organisation, with the identity status the RNIV rules allow
(« qualifiée » only through an INSi identity service, :mod:`maillage.care.identity`); consent
to telemedicine is a new Consent each time (:mod:`maillage.care.consents`). Everything goes
through the principal's repository, audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import consents
from maillage.care.errors import Conflict, DomainError
from maillage.care.french import IDENTITY_RELIABILITY, identity_status
from maillage.care.identifiers import INS_NIR_SYSTEM, INS_SYSTEMS, IdentityStatus, validate_nir
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.web import records
from maillage.web.navigation import NURSES
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Nurse = Annotated[Principal, Depends(allowed(NURSES))]
Body = dict[str, Any]
PAGE_SIZE = 20
STATUS_LABELS = {
    IdentityStatus.PROVISOIRE: "Provisoire",
    IdentityStatus.RECUPEREE: "Récupérée",
    IdentityStatus.VALIDEE: "Validée",
    IdentityStatus.QUALIFIEE: "Qualifiée",
}
#: The form's identity statuses: FR Core's codes of the RNIV statuses.
STATUS_CODES = {
    "PROV": IdentityStatus.PROVISOIRE,
    "RECUP": IdentityStatus.RECUPEREE,
    "VALI": IdentityStatus.VALIDEE,
    "QUAL": IdentityStatus.QUALIFIEE,
}
SEXES = {"female": "Féminin", "male": "Masculin", "unknown": "Indéterminé"}
LOCAL_ID = "urn:maillage:local-id:"
"""Prefix of the system of a site's own patient number (IPP), followed by its organisation."""
QUALIFIED_REFUSED = (
    "Une identité devient « qualifiée » seulement après vérification de l'INS par le "
    "téléservice INSi, qui n'est pas raccordé : enregistrez-la comme « validée »."
)


def names(body: Body) -> tuple[str, str, str]:
    """Birth name, used name (when it differs) and first names of a Patient (FR Core: the
    ``official`` name is the birth name, the ``usual`` one the name in use)."""
    all_names = body.get("name") or []
    birth = next(
        (n for n in all_names if n.get("use") == "official"), all_names[0] if all_names else {}
    )
    used: Body = next((n for n in all_names if n.get("use") == "usual"), {})
    used_family = used.get("family", "") if used.get("family") != birth.get("family") else ""
    return birth.get("family", ""), used_family, " ".join(birth.get("given") or [])


def summary(body: Body) -> Body:
    """What a result row shows, enough to tell same-name patients apart."""
    birth_name, used_name, given = names(body)
    born = body.get("birthDate")
    home: Body = next(iter(body.get("address") or []), {})
    return {
        "id": body["id"],
        "nom_naissance": birth_name or "—",
        "nom_usage": used_name,
        "prenoms": given,
        "naissance": french_format.day(date.fromisoformat(born)) if born else "—",
        "sexe": SEXES.get(body.get("gender", ""), "—"),
        "commune": home.get("city", "—"),
        "statut": STATUS_LABELS[identity_status(body)],
        "nom": records.person_name(body),
    }


def search_query(text: str, born: str, identifier: str) -> list[tuple[str, str]]:
    """The Patient search of the form: every word of ``text`` in a name (birth or used name,
    first names: prefix, accents and case ignored), the birth date, an identifier's value."""
    query = [("name", word) for word in text.replace(",", " ").split()]
    if born:
        query.append(("birthdate", f"eq{_day(born, 'La date de naissance').isoformat()}"))
    if identifier.strip():
        query.append(("identifier", "".join(identifier.split())))
    return query


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise PageError(422, f"{what} doit être une date (jj/mm/aaaa).") from error


@router.get("/identites", response_class=HTMLResponse)
def patient_search(
    request: Request,
    _principal: Nurse,
    repository: PageRepo,
    nom: Annotated[str, Query(max_length=100)] = "",
    naissance: Annotated[str, Query(max_length=10)] = "",
    identifiant: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The site's patients matching the search, by birth date, twenty a page."""
    query = search_query(nom, naissance, identifiant)
    paging = [
        ("_sort", "birthdate"),
        ("_count", str(PAGE_SIZE)),
        ("_offset", str((page - 1) * PAGE_SIZE)),
    ]
    with records.refusals():
        found = repository.search("Patient", [*query, *paging])
    asked = {"nom": nom, "naissance": naissance, "identifiant": identifiant}
    pages = max(1, -(-found.matches // PAGE_SIZE))
    context = {
        "patients": [summary(repository.outgoing(row.body)) for row in found.rows],
        "total": found.matches,
        "premier": (page - 1) * PAGE_SIZE + 1,
        "page": page,
        "pages": pages,
        "recherche": asked,
        "lien": urlencode({k: v for k, v in asked.items() if v}),
    }
    return render(request, "soins/identites.html", context)


def _organization(principal: Principal) -> str:
    if principal.organization is None:
        raise PageError(
            403,
            "Votre site n'est rattaché à aucune organisation : l'enregistrement est impossible.",
        )
    return principal.organization


@router.get("/identites/nouvelle", response_class=HTMLResponse)
def registration_form(request: Request, principal: Nurse) -> HTMLResponse:
    """The registration form of a new patient of the site."""
    _organization(principal)
    return _registration(request, {"statut": "PROV", "sexe": ""})


def _registration(
    request: Request, typed: dict[str, str], error: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "saisie": typed,
        "erreur": error,
        "statuts": {code: STATUS_LABELS[s] for code, s in STATUS_CODES.items()},
        "sexes": SEXES,
    }
    return render(request, "soins/identite_nouvelle.html", context, status=status)


class FormRefusal(Exception):
    """A registration field the network would refuse, in French."""


def patient_body(typed: dict[str, str], organization: str, today: date) -> Body:
    """The Patient a registration form describes (:class:`FormRefusal` for a wrong field);
    a birth date after ``today`` (the network's day) is refused."""
    birth_name, given = typed["nom_naissance"].strip(), typed["prenoms"].split()
    if not birth_name or not given:
        raise FormRefusal("Le nom de naissance et le ou les prénoms sont obligatoires.")
    try:
        born = date.fromisoformat(typed["naissance"])
    except ValueError as error:
        raise FormRefusal("La date de naissance est obligatoire (jj/mm/aaaa).") from error
    if born > today:
        raise FormRefusal("La date de naissance est dans le futur.")
    if typed["sexe"] not in SEXES:
        raise FormRefusal("Choisissez le sexe.")
    status = typed["statut"] if typed["statut"] in STATUS_CODES else "PROV"
    ins = "".join(typed["ins"].split()).upper()
    identifiers = []
    if ins:
        try:
            validate_nir(ins)
        except ValueError as error:
            raise FormRefusal(
                "Le matricule INS doit compter 15 caractères dont une clé de contrôle juste."
            ) from error
        identifiers.append({"system": INS_NIR_SYSTEM, "value": ins})
    elif STATUS_CODES[status] in (IdentityStatus.RECUPEREE, IdentityStatus.QUALIFIEE):
        raise FormRefusal("Une identité « récupérée » ou « qualifiée » a un matricule INS.")
    if typed["ipp"].strip():
        org_id = organization.partition("/")[2]
        identifiers.append({"system": f"{LOCAL_ID}{org_id}", "value": typed["ipp"].strip()})
    name = [{"use": "official", "family": birth_name.upper(), "given": given}]
    if typed["nom_usage"].strip():
        name.append({"use": "usual", "family": typed["nom_usage"].strip().upper(), "given": given})
    body: Body = {
        "resourceType": "Patient",
        "name": name,
        "gender": typed["sexe"],
        "birthDate": born.isoformat(),
        "managingOrganization": {"reference": organization},
        "extension": [
            {
                "url": IDENTITY_RELIABILITY,
                "extension": [{"url": "identityStatus", "valueCoding": {"code": status}}],
            }
        ],
    }
    if identifiers:
        body["identifier"] = identifiers
    address = {
        k: typed[f] for k, f in (("city", "commune"), ("postalCode", "code_postal")) if typed[f]
    }
    if address:
        body["address"] = [{"use": "home", **address}]
    telecom = [
        {"system": system, "value": typed[field]}
        for system, field in (("email", "courriel"), ("phone", "telephone"))
        if typed[field]
    ]
    if telecom:
        body["telecom"] = telecom
    return body


FIELDS = (
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "naissance",
    "sexe",
    "statut",
    "ins",
    "ipp",
    "commune",
    "code_postal",
    "courriel",
    "telephone",
)


@router.post("/identites", response_class=HTMLResponse)
def register(
    request: Request,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Register the patient, or show the form again, as typed, with the reason."""
    organization = _organization(principal)
    typed = {field: str(form.get(field, "")).strip()[:200] for field in FIELDS}
    try:
        today = repository.settings.today()
        body = patient_body(typed, organization, today)
        with records.writing(repository) as writer:
            row = writer.save(body)
    except FormRefusal as refusal:
        return _registration(request, typed, str(refusal), 422)
    except DomainError as error:
        qualified = isinstance(error, Conflict) and typed["statut"] == "QUAL"
        failure = records.page_error(error, QUALIFIED_REFUSED if qualified else None)
        return _registration(request, typed, failure.message, failure.status)
    return RedirectResponse(f"/identites/{row.id}", status_code=303)


def consent_history(repository: Repository, patient_id: str) -> list[Body]:
    """The patient's consents to telemedicine, oldest first (one audited search)."""
    found = records.everything(repository, "Consent", [("patient", f"Patient/{patient_id}")])
    return [c for c in found if consents.current([c]) is not None]


@router.get("/identites/{patient_id}", response_class=HTMLResponse)
def patient_record(
    request: Request, patient_id: str, _principal: Nurse, repository: PageRepo
) -> HTMLResponse:
    """A patient's identity, identifiers and consent to telemedicine."""
    body = records.get(repository, "Patient", patient_id)
    history = consent_history(repository, patient_id)
    zone = repository.settings.zone
    decisions = [
        {
            "accorde": consents.given(c),
            "le": records.french_moment(c.get("dateTime"), zone),
        }
        for c in reversed(history)
    ]
    identifiers = [
        {
            "systeme": "INS" if i.get("system") in INS_SYSTEMS else "Identifiant local",
            "valeur": i.get("value"),
        }
        for i in body.get("identifier") or []
    ]
    context = {
        "patient": summary(body),
        "identifiants": identifiers,
        "consentement": consents.given(consents.current(history)),
        "decisions": decisions,
        "courriel": next(
            (t.get("value") for t in body.get("telecom") or [] if t.get("system") == "email"), None
        ),
    }
    return render(request, "soins/identite.html", context)


@router.post("/identites/{patient_id}/consentement", response_class=HTMLResponse)
def record_consent(
    patient_id: str,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Record the patient's consent to telemedicine, or its withdrawal (a new Consent)."""
    decision = str(form.get("decision", ""))
    if decision not in ("accorde", "retire"):
        raise PageError(422, "Choisissez d'enregistrer ou de retirer le consentement.")
    body = consents.consent_body(
        f"Patient/{patient_id}", principal.organization, granted=decision == "accorde"
    )
    with records.refusals(), records.writing(repository) as writer:
        writer.save(body)
    return RedirectResponse(f"/identites/{patient_id}", status_code=303)
