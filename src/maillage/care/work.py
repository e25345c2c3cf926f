"""Writes in one transaction, each with the full rules of a create or update.

A :class:`Work` is what :meth:`maillage.care.repository.Repository.writing` yields and what
creates, updates and transactions use underneath: the access rules of a write (old and new
patients must both be the principal's), then the type's rules, then the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy.orm import Session

from maillage.care import attachments, policy, validation
from maillage.care.calls import Call
from maillage.care.errors import Forbidden, Gone, Invalid, PreconditionFailed
from maillage.care.rules import NO_RULES, RULES, Change
from maillage.store import resources, search
from maillage.store.models import Resource, StoredResource
from maillage.store.search_params import ACTOR, extract
from maillage.store.users import Role

if TYPE_CHECKING:
    from maillage.care.repository import Repository

Body = dict[str, Any]


@dataclass(frozen=True)
class Written:
    """A stored resource version, and whether the write created the resource."""

    row: StoredResource
    created: bool


class Work:
    """Writes in one transaction, each with the full rules of a create or update."""

    def __init__(
        self, repository: Repository, session: Session, *, vigilance: bool = False
    ) -> None:
        self.repository, self.session = repository, session
        self.vigilance = vigilance  # the identity-vigilance action may change a qualified one
        self.call: Call | None = None
        self.written: list[Resource] = []

    def save(
        self, body: Body, resource_id: str | None = None, if_match: int | str | None = None
    ) -> Resource:
        """Create (``resource_id`` None) or update one resource; with ``if_match`` (the
        version the caller read), a resource changed meanwhile is refused."""
        kind = body["resourceType"]
        interaction = "create" if resource_id is None else "update"
        entities = [] if resource_id is None else [f"{kind}/{resource_id}"]
        self.call = self.repository._call(kind, interaction, entities)
        self.call.authorize(write=True)
        checked = validation.validate(kind, body, resource_id)
        row = self.store(self.call, checked, resource_id, version_of(if_match)).row
        assert isinstance(row, Resource)
        return row

    def update(self, read: Body, changes: Body) -> Resource:
        """Update a resource as the caller read it, with ``changes``, unless changed meanwhile."""
        body = {key: value for key, value in read.items() if key != "meta"} | changes
        return self.save(body, read["id"], if_match=int(read["meta"]["versionId"]))

    def store(
        self,
        call: Call,
        body: Body,
        resource_id: str | None,
        if_match: int | None = None,
        *,
        new_id: str | None = None,
    ) -> Written:
        """Write one validated resource: access rules, the type's rules, then the store. A
        re-sent device measurement returns the stored one, not created. ``new_id`` is the id
        a create gets (default: a new one)."""
        session, settings = self.session, self.repository.settings
        resource_type = body["resourceType"]
        current = resources.get(session, resource_type, resource_id) if resource_id else None
        created = current is None or current.deleted
        previous = None if created or current is None else current.body
        _check_identity(call, session, current, resource_type, resource_id)
        action = policy.CREATE if created else policy.UPDATE
        refusal = policy.write_refusal(call.principal, resource_type, action, previous, body)
        if refusal:
            raise Forbidden(refusal)
        _check_write(call, session, current, body)
        rules = RULES.get(resource_type, NO_RULES)
        target = resource_id or new_id or resources.new_id()
        change = Change(
            session,
            settings,
            call.principal,
            target,
            body,
            previous,
            vigilance=self.vigilance,
            identity=self.repository.identity,
        )
        if rules.prepare is not None:
            body = rules.prepare(change)
        body = policy.stamped(body, current.body if current else None, call.principal)
        body = attachments.store(settings, body)
        change = Change(session, settings, call.principal, target, body, previous)
        if created and resource_id is None and rules.duplicate is not None:
            stored = rules.duplicate(change)
            if stored is not None:
                call.entities.append(f"{resource_type}/{stored.id}")
                call.succeeded(session)
                return Written(stored, False)
        if rules.book is not None:
            rules.book(change)
        row = resources.save(
            session,
            body,
            settings.zone,
            resource_id=target,
            if_match=if_match,
            new=resource_id is None,
        )
        if rules.saved is not None:
            rules.saved(change, row)
        call.entities.append(f"{resource_type}/{row.id}")
        call.succeeded(session)
        self.written.append(row)
        return Written(row, created)

    def match(self, call: Call, condition: str) -> StoredResource | None:
        """The one resource matching a conditional create (``If-None-Exist``, a Bundle
        entry's ``ifNoneExist``): None when nothing matches, refused when several do."""
        assert call.resource_type is not None
        criteria, ids = search.parse(call.resource_type, parse_qsl(condition))
        statement = self.repository._statement(call.principal, call.resource_type, criteria, ids)
        ordering = search.order(call.resource_type, None)
        rows, total = search.page(self.session.connection(), statement, ordering, 2, 0)
        if total > 1:
            raise PreconditionFailed(f"ifNoneExist {condition!r} matches {total} resources")
        if not rows:
            return None
        call.entities.append(f"{rows[0].resource_type}/{rows[0].id}")
        call.check_patients(self.session, call.compartment(rows[0].id, rows[0].body))
        call.succeeded(self.session)
        return rows[0]


def _check_identity(
    call: Call,
    session: Session,
    current: Resource | None,
    resource_type: str,
    resource_id: str | None,
) -> None:
    """A client-chosen id never brings existing records into the writer's reach: a deleted
    resource is re-created only by whoever recorded it (or an admin), and a Patient id that
    stored records already name is created only by the network's operators."""
    principal = call.principal
    if current is not None and current.deleted:
        recorded_by = policy.recorder(current.body)
        if principal.role is not Role.ADMIN and recorded_by != str(principal.user_id):
            raise Gone(f"{resource_type}/{resource_id} was deleted; its id is not given again")
    elif (
        current is None
        and resource_id is not None
        and resource_type == "Patient"
        and principal.role not in policy.FULL_ACCESS
        and search.names_patient(session, f"Patient/{resource_id}")
    ):
        raise Forbidden(f"Patient/{resource_id} is already named by records: choose another id")


def _check_write(call: Call, session: Session, current: Resource | None, body: Body) -> None:
    """Compartment rules on writes: old and new patients must both be the principal's."""
    principal = call.principal
    if not call.audited:
        return
    kind = call.resource_type
    patients = set()
    if current is not None and not current.deleted:
        patients |= call.compartment(current.id, current.body)
    if kind == "Patient" and (current is None or current.deleted):
        zone = call.repository.settings.zone
        actors = {
            row.value
            for row in extract("Patient", "new", body, zone)
            if row.param == ACTOR and row.value
        }
        if not policy.may_register_patient(principal, actors):
            raise Forbidden("register a patient under your own site or as their doctor")
    else:
        patients |= call.compartment(current.id if current else "new", body)
    if principal.role is Role.PATIENT and not patients:
        raise Forbidden("a patient writes only resources about themselves")
    if kind == "Binary" and not patients and principal.role in policy.CARE_ROLES:
        raise Forbidden("a Binary needs a securityContext naming its Patient")
    new_team = kind == "CareTeam" and (current is None or current.deleted)
    # Anyone caring for the patient may form a team; changing one takes a member.
    call.check_patients(session, patients, as_type="" if new_team else None)


_ETAG = re.compile(r'(?:W/)?"([0-9]{1,10})"|([0-9]{1,10})', re.ASCII)
"""A version as ``If-Match`` names it: ``W/"3"``, ``"3"`` or ``3`` (versions fit in 32 bits)."""


def version_of(if_match: int | str | None) -> int | None:
    """The version an ``If-Match`` names: a number, or a weak ETag such as ``W/"3"``."""
    if if_match is None or isinstance(if_match, int):
        return if_match
    match = _ETAG.fullmatch(if_match)
    if match is None:
        raise Invalid(f'If-Match must be a version such as W/"3", not {if_match[:40]!r}')
    return int(match.group(1) or match.group(2))
