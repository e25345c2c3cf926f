"""Administration of the user accounts (``/admin/comptes``): list, create, role and links,
deactivate, password reset; and the page where an account's owner chooses a password through
the one-time link the admin handed them.

A thin door over :class:`maillage.care.accounts.Accounts` (admins only, every change audited);
no password is ever shown, only the reset link, once, to the admin who asked for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.api.deps import AppSettings, Sessions
from maillage.api.errors import status_of
from maillage.care.accounts import Account, AccountError, Accounts, Links, reset_account
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.web import records
from maillage.web.navigation import ADMINS, ROLE_LABELS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(allowed(ADMINS))]
PAGE_SIZE = 50
RESET_PATH = "/connexion/mot-de-passe"


def _accounts(repository: PageRepo) -> Accounts:
    return Accounts(repository)


AdminAccounts = Annotated[Accounts, Depends(_accounts)]


#: The refusals of the accounts' rules, in the pages' words.
MESSAGES = {
    403: "Un administrateur ne change ni le rôle ni l'accès de son propre compte.",
    404: "Ce compte n'existe pas.",
}


@contextmanager
def _refusals() -> Iterator[None]:
    """Show a refused change as an error page: the accounts' rules (422) in their own words,
    the network's (403, 404…) in the pages' words."""
    try:
        yield
    except AccountError as error:
        raise PageError(422, error.french) from error
    except DomainError as error:
        raise records.page_error(error, MESSAGES.get(status_of(error))) from error


def _choices(repository: Repository) -> dict[str, Any]:
    """The roles, and the sites and doctors an account may be linked to (by reference and
    name, and their names by reference)."""
    sites = [(f"Location/{b['id']}", b.get("name") or b["id"]) for b in repository.sites()]
    doctors = [
        (f"Practitioner/{b['id']}", records.person_name(b))
        for b in records.everything(repository, "Practitioner", [])
    ]
    return {
        "sites": sorted(sites, key=lambda choice: choice[1]),
        "medecins": sorted(doctors, key=lambda choice: choice[1]),
        "noms": dict(sites + doctors),
        "roles": ROLE_LABELS,
    }


def _links(form: FormData) -> Links:
    """The links a form names (empty fields: none)."""
    values = {
        name: str(form.get(name, "")).strip() or None
        for name in ("practitioner", "patient", "site")
    }
    return Links(**values)


def _view(account: Account) -> dict[str, Any]:
    return {"compte": account, "role": ROLE_LABELS.get(account.role, account.role.value)}


@router.get("/admin/comptes", response_class=HTMLResponse)
def account_list(
    request: Request,
    _admin: Admin,
    accounts: AdminAccounts,
    repository: PageRepo,
    courriel: Annotated[str, Query(max_length=320)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The accounts by e-mail, fifty per page, and the form that creates one."""
    with records.refusals():
        found, total = accounts.page((page - 1) * PAGE_SIZE, PAGE_SIZE, courriel)
    context = {
        "comptes": [_view(account) for account in found],
        "total": total,
        "courriel": courriel,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        **_choices(repository),
    }
    return render(request, "admin/comptes.html", context)


@router.post("/admin/comptes", response_class=HTMLResponse)
def account_create(
    request: Request,
    _admin: Admin,
    accounts: AdminAccounts,
    form: Annotated[FormData, Depends(checked_form)],
) -> HTMLResponse:
    """Create an account and show, once, the link with which its owner sets a password."""
    email = str(form.get("email", "")).strip()
    with _refusals():
        account, token = accounts.create(email, str(form.get("role", "")), _links(form))
    context = {**_view(account), "lien": _reset_link(request, token), "nouveau": True}
    return render(request, "admin/lien.html", context, status=201)


@router.get("/admin/comptes/{user_id}", response_class=HTMLResponse)
def account_detail(
    request: Request,
    user_id: int,
    _admin: Admin,
    accounts: AdminAccounts,
    repository: PageRepo,
) -> HTMLResponse:
    """One account: its role and links, and the forms that change them."""
    with _refusals():
        account = accounts.read(user_id)
    context = {**_view(account), **_choices(repository)}
    return render(request, "admin/compte.html", context)


@router.post("/admin/comptes/{user_id}/role")
def account_assign(
    user_id: int,
    _admin: Admin,
    accounts: AdminAccounts,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Change the account's role and links."""
    with _refusals():
        accounts.assign(user_id, str(form.get("role", "")), _links(form))
    return RedirectResponse(f"/admin/comptes/{user_id}", status_code=303)


@router.post("/admin/comptes/{user_id}/etat")
def account_activate(
    user_id: int,
    _admin: Admin,
    accounts: AdminAccounts,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Deactivate (``actif=non``) or reactivate (``actif=oui``) the account."""
    with _refusals():
        accounts.activate(user_id, form.get("actif") == "oui")
    return RedirectResponse(f"/admin/comptes/{user_id}", status_code=303)


@router.post("/admin/comptes/{user_id}/reinitialisation", response_class=HTMLResponse)
def account_reset(
    request: Request,
    user_id: int,
    _admin: Admin,
    accounts: AdminAccounts,
    _form: Annotated[FormData, Depends(checked_form)],
) -> HTMLResponse:
    """Void the account's password and show, once, the link that sets a new one."""
    with _refusals():
        token = accounts.reset(user_id)
        account = accounts.read(user_id)
    context = {**_view(account), "lien": _reset_link(request, token), "nouveau": False}
    return render(request, "admin/lien.html", context)


def _reset_link(request: Request, token: str) -> str:
    return str(request.url_for("password_form").include_query_params(jeton=token))


@router.get(RESET_PATH, response_class=HTMLResponse, name="password_form")
def password_form(
    request: Request, jeton: Annotated[str, Query(max_length=1000)] = ""
) -> HTMLResponse:
    """The form in which the account's owner chooses a password."""
    return render(request, "mot_de_passe.html", {"jeton": jeton})


@router.post(RESET_PATH, response_class=HTMLResponse)
def password_set(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Set the password the reset link allows (once); then the owner logs in with it."""
    token = str(form.get("jeton", ""))
    password = str(form.get("password", ""))
    if password != str(form.get("confirmation", "")):
        message = "Les deux mots de passe ne sont pas identiques."
        return render(request, "mot_de_passe.html", {"jeton": token, "erreur": message}, status=422)
    try:
        reset_account(sessions, settings, token, password)
    except AccountError as error:
        context = {"jeton": token, "erreur": error.french}
        return render(request, "mot_de_passe.html", context, status=422)
    return RedirectResponse("/connexion", status_code=303)
