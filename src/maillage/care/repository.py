"""The one door to the network's data: a repository bound to the acting principal.

In the spirit of Medplum's ``ctx.repo`` (``packages/server/src/fhir/repo.ts``): a
:class:`Repository` is built per request, page or job from the session factory, the settings
and the principal (user, role, links, client address), and every read, search, create, update,
delete and transaction of network data goes through it. It applies, itself and in this order:

1. the access policy (:mod:`maillage.care.policy`): the role may touch the type, and the
   patient compartment for everyone who does not run the network;
2. validation (:mod:`maillage.care.validation`) and the per-type rules, registered in one table,
   :data:`maillage.care.rules.RULES` (booking on Appointment, Task states, device ingestion…);
3. the audit trail (:mod:`maillage.care.audit`): an access to patient data is audited whether
   allowed or refused, a refusal in its own transaction, since the work's one is rolled back.

It raises the domain's errors (:mod:`maillage.care.errors`); the doors map them to HTTP
statuses or French pages. The same calls serve the API, the pages, the CLI and the jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar, cast

import anyio.to_thread
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError
from sqlalchemy import Connection, Engine, Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import (
    alerts,
    appointments,
    attachments,
    booking_call,
    bundles,
    french,
    policy,
    reminders,
    scheduling,
    site_import,
    teleexpertise,
    undo,
    validation,
)
from maillage.care.alerts import RuleIn
from maillage.care.calls import Call
from maillage.care.codes import TELE_EXPERTISE, VIRTUAL, WORKFLOW_SYSTEM
from maillage.care.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
    Unprocessable,
)
from maillage.care.identity import IdentityService
from maillage.care.principal import Principal, Role
from maillage.care.rules import NO_RULES, RULES, Change
from maillage.care.work import Work, Written, version_of
from maillage.config import Settings
from maillage.store import audit as audit_trail
from maillage.store import resources, search, slot_calendar
from maillage.store.database import (
    autocommit,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from maillage.store.models import (
    Alert,
    AlertRule,
    OutboxMessage,
    Resource,
    ResourceVersion,
    StoredResource,
    User,
    utcnow,
)
from maillage.store.resources import instant as instant  # re-exported: the doors' dates
from maillage.store.search import Criterion
from maillage.store.slot_answers import SlotAnswers

logger = logging.getLogger(__name__)
T = TypeVar("T")
Body = dict[str, Any]
DEFAULT_COUNT, MAX_COUNT = 50, 500
TOTALS = ("none", "estimate", "accurate")
"""FHIR's ``_total`` values: only ``accurate`` makes a slot search count its matches."""


class JobQueue(Protocol):
    """Where work for the worker goes (an rq ``Queue``): jobs are named by their dotted path,
    so the domain never imports the job runners."""

    def enqueue(self, f: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Search:
    """A parsed search: criteria, ``_id`` values, ``_sort``, the page asked for, and whether
    ``_total=accurate`` asks for the number of matches (a slot search counts them only then)."""

    criteria: tuple[Criterion, ...]
    ids: tuple[str, ...]
    sort: str | None = None
    count: int = DEFAULT_COUNT
    offset: int = 0
    counted: bool = False

    @property
    def page(self) -> tuple[int, int]:
        """``_count`` and ``_offset``."""
        return self.count, self.offset

    @classmethod
    def of(cls, resource_type: str, params: Sequence[tuple[str, str]]) -> Search:
        """The search ``params`` ask for (:class:`search.SearchError` when malformed), kept
        when the query is short: booking clients repeat the same searches (a schedule from a
        day), whose parsing was a twentieth of a slot search's CPU."""
        query = tuple(params)
        if sum(len(key) + len(value) for key, value in query) > KEPT_QUERY_CHARACTERS:
            return _parsed.__wrapped__(resource_type, query)
        return _parsed(resource_type, query)


KEPT_QUERY_CHARACTERS = 512
"""The longest query (keys and values) whose parsed search is kept: with at most
``maxsize`` of them, the kept searches stay under a megabyte whatever clients send."""


@lru_cache(maxsize=1024)
def _parsed(resource_type: str, query: tuple[tuple[str, str], ...]) -> Search:
    criteria, ids = search.parse(resource_type, list(query))
    named = dict(query)
    count = _bounded(named.get("_count"), DEFAULT_COUNT, 0, MAX_COUNT)
    offset = _bounded(named.get("_offset"), 0, 0, 10**9)
    total = named.get("_total", "none")
    if total not in TOTALS:
        raise search.SearchError(f"_total takes none, estimate or accurate, not {total!r}")
    return Search(
        tuple(criteria), tuple(ids), named.get("_sort"), count, offset, total == "accurate"
    )


def _bounded(raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise search.SearchError(f"expected a whole number, got {raw!r}")
    # Past 18 digits it is over any bound, and past 4,300 ``int`` refuses to read it.
    return min(max(int(raw), low), high) if len(raw) <= 18 else high


@dataclass(frozen=True)
class Page:
    """One page of a search's matches, and how many there are in all (None: not counted).

    ``following`` says whether a next page exists when the total is unknown; ``outgoing``,
    when the store gave them, are the rows' bodies as they leave the server, as JSON text to
    paste into the Bundle (the rows then hold only the type and id).
    """

    rows: list[StoredResource]
    total: int | None
    count: int
    offset: int
    following: bool = False
    outgoing: list[str] | None = None

    @property
    def matches(self) -> int:
        """The total of a search that counts (any but a slot search without ``_total``)."""
        if self.total is None:
            raise ValueError("this search did not count its matches")
        return self.total

    @property
    def more(self) -> bool:
        """Whether a next page exists."""
        return self.following if self.total is None else self.offset + self.count < self.total


def _plain(error: DomainError) -> str:
    return error.message


class Repository:
    """The network's data as one principal may see and change it.

    ``sessions`` opens the database sessions; ``principal`` is the acting account (None:
    anonymous, refused wherever data is touched), ``address`` where it acts from (the audit's
    network address), ``refusal`` the authentication failure of a caller whose credentials did
    not prove a principal (raised, and audited, at the first access). ``jobs`` is where work for
    the worker goes (alert evaluations), ``reads`` an asynchronous PostgreSQL pool for the
    searches that run on the event loop, ``answers`` the process's kept answers of slot
    searches (:mod:`maillage.store.slot_answers`), ``explain`` how a refusal reads in the audit
    trail (the API prefixes its status), ``identity`` the INSi teleservice (none shipped:
    :mod:`maillage.care.identity`).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        principal: Principal | None,
        *,
        address: str = "",
        refusal: Unauthenticated | None = None,
        jobs: JobQueue | None = None,
        reads: AsyncConnectionPool | None = None,
        answers: SlotAnswers | None = None,
        explain: Callable[[DomainError], str] = _plain,
        identity: IdentityService | None = None,
    ) -> None:
        self.sessions, self.settings, self.principal = sessions, settings, principal
        self.answers = answers
        self.identity = identity
        self.address, self.refusal, self.jobs, self.reads = address, refusal, jobs, reads
        self.explain = explain
        self._trusted = False

    @classmethod
    def system(
        cls, sessions: sessionmaker[Session], settings: Settings, *, jobs: JobQueue | None = None
    ) -> Repository:
        """The repository of the server's own work (the CLI's imports, the worker): no user
        behind it, trusted with the operations that are the operator's."""
        repository = cls(sessions, settings, None, address="maillage", jobs=jobs)
        repository._trusted = True
        return repository

    @property
    def engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def _call(
        self, resource_type: str | None, interaction: str, entities: Sequence[str] = ()
    ) -> Call:
        audited = resource_type is None or policy.is_patient_data(resource_type)
        return Call(self, resource_type, interaction, list(entities), audited)

    def outgoing(self, body: Body) -> Body:
        """A stored body as it leaves the server: French rules applied, attachments inlined."""
        return attachments.inline(self.settings, french.outgoing(policy.unstamped(body)))

    def outgoing_or_omit(self, body: Body) -> tuple[Body, list[str]]:
        """A stored body as it leaves in a search page, and why some attached content could
        not be inlined (those attachments go out without ``data``)."""
        return attachments.inline_or_omit(self.settings, french.outgoing(policy.unstamped(body)))

    def refused(
        self,
        resource_type: str,
        interaction: str,
        error: DomainError,
        entities: Sequence[str] = (),
    ) -> NoReturn:
        """Refuse an access for ``error`` found at the door (a body that is not JSON): the
        principal is checked first, as for any access, and the refusal is audited."""
        call = self._call(resource_type, interaction, entities)
        call.authorize(write=interaction in ("create", "update", "delete"))
        with call.failures():
            raise error

    # --- reads -----------------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> Resource:
        """The current version (refused without a care relationship; audited)."""
        call = self._call(resource_type, "read", [f"{resource_type}/{resource_id}"])
        call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            row = resources.read(session, resource_type, resource_id)
            call.check_patients(session, call.compartment(row.id, row.body))
            call.succeeded(session)
        return row

    def deliveries(self, document_id: str) -> list[tuple[str, str]]:
        """Where a document was queued in the outbox (recipient, delivery status), oldest
        first, for whoever may read it (audited as a read of it)."""
        call = self._call("DocumentReference", "read", [f"DocumentReference/{document_id}"])
        call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            row = resources.read(session, "DocumentReference", document_id)
            call.check_patients(session, call.compartment(row.id, row.body))
            found = session.execute(
                select(OutboxMessage.recipient, OutboxMessage.status)
                .where(OutboxMessage.source == f"DocumentReference/{document_id}")
                .order_by(OutboxMessage.created)
            ).all()
            call.succeeded(session)
        return [(recipient, status) for recipient, status in found]

    def vread(self, resource_type: str, resource_id: str, version: int) -> ResourceVersion:
        """One version, as it was written."""
        call = self._call(resource_type, "vread", [f"{resource_type}/{resource_id}"])
        call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            row = resources.read_version(session, resource_type, resource_id, version)
            call.check_patients(session, call.compartment(row.id, row.body))
            call.succeeded(session)
        return row

    def history(self, resource_type: str, resource_id: str) -> list[ResourceVersion]:
        """Every version of a resource, oldest first (audited as reads of it)."""
        call = self._call(resource_type, "vread", [f"{resource_type}/{resource_id}"])
        call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            current = resources.read(session, resource_type, resource_id)
            call.check_patients(session, call.compartment(current.id, current.body))
            versions = list(
                session.execute(
                    select(ResourceVersion)
                    .where(
                        ResourceVersion.resource_type == resource_type,
                        ResourceVersion.id == resource_id,
                    )
                    .order_by(ResourceVersion.version_id)
                ).scalars()
            )
            call.succeeded(session)
        return versions

    def search(self, resource_type: str, wanted: Search | Sequence[tuple[str, str]]) -> Page:
        """A page of the resources matching ``wanted`` (a :class:`Search`, or the parameters
        of one) that the principal may see: audited searches in a transaction with their
        AuditEvent, the others in one autocommit statement."""
        call = self._call(resource_type, "search-type")
        who = call.authorize(write=False)
        with call.failures():
            if not isinstance(wanted, Search):
                wanted = Search.of(resource_type, wanted)
            if call.audited:
                with transaction(self.sessions) as session:
                    found = self._found(call, who, session.connection(), wanted)
                    for row in found.rows:
                        call.entities.extend(sorted(call.compartment(row.id, row.body)))
                    call.succeeded(session)
            else:  # nothing to audit: one statement, outside any transaction
                with autocommit(self.engine) as connection:
                    found = self._found(call, who, connection, wanted)
        return found

    async def search_async(self, resource_type: str, params: Sequence[tuple[str, str]]) -> Page:
        """:meth:`search` from the event loop. On PostgreSQL a search for slots that the slot
        calendar can answer (a booking client's) runs on the loop through psycopg's
        asynchronous pool; the others in a worker thread."""
        if resource_type != "Slot" or self.reads is None:
            return await anyio.to_thread.run_sync(self.search, resource_type, params)
        call = self._call(resource_type, "search-type")
        assert not call.audited  # so authorize() and failures() do no I/O here
        call.authorize(write=False)
        with call.failures():
            wanted = Search.of(resource_type, params)
            if slot_calendar.answers(wanted.criteria, wanted.ids, wanted.sort):
                found = await self._slot_page(self.reads, wanted)
                outgoing = [row.outgoing for row in found.rows]
                return Page(found.rows, found.total, *wanted.page, found.more, outgoing)
        return await anyio.to_thread.run_sync(self.search, resource_type, wanted)

    async def _slot_page(self, reads: AsyncConnectionPool, wanted: Search) -> slot_calendar.Found:
        """A page of the slot calendar, kept per schedule when the search names one."""
        schedule = slot_calendar.schedule_of(wanted.criteria)
        key = (tuple(wanted.criteria), wanted.sort, wanted.page, wanted.counted)
        kept = self.answers and schedule and self.answers.get(schedule, key)
        if kept:
            return cast(slot_calendar.Found, kept)
        mark = self.answers.mark(schedule) if self.answers and schedule else None
        found = await slot_calendar.page_async(
            reads, wanted.criteria, self.settings.zone, wanted.sort, *wanted.page, wanted.counted
        )
        if self.answers and schedule:
            self.answers.keep(schedule, key, mark, found)
        return found

    def search_all(
        self, resource_type: str, params: Sequence[tuple[str, str]]
    ) -> list[StoredResource]:
        """Every match of a search the principal may see, unpaged, in one statement (a form
        that offers every doctor's opening must not lose rows to ``_count``'s ceiling); audited
        like :meth:`search`. ``_sort`` orders them; ``_count`` and ``_offset`` are refused."""
        call = self._call(resource_type, "search-type")
        who = call.authorize(write=False)
        with call.failures():
            named = dict(params)
            if "_count" in named or "_offset" in named:
                raise Invalid("an unpaged search takes no _count nor _offset")
            wanted = Search.of(resource_type, params)
            statement = self._statement(who, resource_type, wanted.criteria, wanted.ids)
            ordered = statement.order_by(*search.order(resource_type, wanted.sort))
            if call.audited:
                with transaction(self.sessions) as session:
                    rows = list(session.connection().execute(ordered).all())
                    for row in rows:
                        call.entities.extend(sorted(call.compartment(row.id, row.body)))
                    call.succeeded(session)
            else:
                with autocommit(self.engine) as connection:
                    rows = list(connection.execute(ordered).all())
        return cast(list[StoredResource], rows)

    def sites(self) -> list[Body]:
        """Every live site (Location) as it leaves the server: those the principal may see, or
        the whole registry for the server's own work (``maillage plan --existing registry``;
        sites are not patient data, so no audit is owed)."""
        return self._registry("Location")

    def practitioners(self) -> list[Body]:
        """Every live Practitioner, as :meth:`sites` reads sites (``maillage practitioners
        check``; the registry of professionals is not patient data)."""
        return self._registry("Practitioner")

    def _registry(self, resource_type: str) -> list[Body]:
        if not self._trusted:
            rows = self.search_all(resource_type, [])
        else:
            statement = search.statement(resource_type, [], [], self.settings.zone)
            with autocommit(self.engine) as connection:
                found = connection.execute(statement.order_by(*search.order(resource_type, None)))
                rows = cast(list[StoredResource], list(found.all()))
        return [self.outgoing(row.body) for row in rows]

    def _found(self, call: Call, who: Principal, connection: Connection, wanted: Search) -> Page:
        """The page: from the slot calendar when it can answer (counted only when asked),
        else from the search index, narrowed to what ``who`` may see."""
        assert call.resource_type is not None
        kind, zone = call.resource_type, self.settings.zone
        if kind == "Slot" and slot_calendar.answers(wanted.criteria, wanted.ids, wanted.sort):
            found = slot_calendar.page(
                connection, wanted.criteria, zone, wanted.sort, *wanted.page, wanted.counted
            )
            return Page(found.rows, found.total, *wanted.page, found.more)
        return self._indexed(who, kind, connection, wanted)

    def _indexed(self, who: Principal, kind: str, connection: Connection, wanted: Search) -> Page:
        """The page from the search index, narrowed to what ``who`` may see."""
        ordering = search.order(kind, wanted.sort)
        statement = self._statement(who, kind, wanted.criteria, wanted.ids)
        return Page(*search.page(connection, statement, ordering, *wanted.page), *wanted.page)

    def _statement(
        self,
        who: Principal,
        resource_type: str,
        criteria: Sequence[Criterion],
        ids: Sequence[str],
    ) -> Select[Resource]:
        restriction = policy.search_restriction(who, resource_type)
        return search.statement(resource_type, criteria, ids, self.settings.zone, restriction)

    # --- writes ----------------------------------------------------------------------------

    def create(
        self, resource_type: str, payload: Any, *, if_none_exist: str | None = None
    ) -> Written:
        """Validate and store a new resource with a server-assigned id; with ``if_none_exist``
        (a search), the one resource it matches is returned instead, when there is one."""
        return retried(partial(self._create, resource_type, payload, if_none_exist))

    def _create(self, resource_type: str, payload: Any, if_none_exist: str | None) -> Written:
        call = self._call(resource_type, "create")
        call.authorize(write=True)
        with call.failures():
            body = validation.validate(resource_type, payload)
            with transaction(self.sessions) as session:
                work = Work(self, session)
                match = work.match(call, if_none_exist) if if_none_exist else None
                if match is not None:
                    return Written(match, False)
                written = work.store(call, body, None)
        self._committed(work.written)
        return written

    def update(
        self,
        resource_type: str,
        resource_id: str,
        payload: Any,
        *,
        if_match: int | str | None = None,
    ) -> Written:
        """Validate and store a new version (or create with the caller's id); ``if_match``
        (a version, or its ETag ``W/"3"``) refuses it when the resource changed meanwhile."""
        return retried(partial(self._update, resource_type, resource_id, payload, if_match))

    def _update(
        self, resource_type: str, resource_id: str, payload: Any, if_match: int | str | None
    ) -> Written:
        call = self._call(resource_type, "update", [f"{resource_type}/{resource_id}"])
        call.authorize(write=True)
        with call.failures():
            body = validation.validate(resource_type, payload, resource_id)
            version = version_of(if_match)
            with transaction(self.sessions) as session:
                work = Work(self, session)
                written = work.store(call, body, resource_id, version)
        self._committed(work.written)
        return written

    def correct_identity(
        self, patient_id: str, payload: Any, reason: str, *, if_match: int | str | None = None
    ) -> Written:
        """The identity-vigilance action: a coordinator changes a Patient's traits or INS,
        even once « qualifiée », for a stated reason, which the audit trail keeps."""
        call = self._call("Patient", "update", [f"Patient/{patient_id}"])
        who = call.authorize(write=True)
        with call.failures():
            if who.role is not Role.COORDINATOR:
                raise Forbidden("the identity-vigilance action is a coordinator's")
            if not reason.strip():
                raise Invalid("the identity-vigilance action needs a reason")
            call.note = f"identity-vigilance: {reason.strip()}"
            body = validation.validate("Patient", payload, patient_id)
            version = version_of(if_match)
            with transaction(self.sessions) as session:
                work = Work(self, session, vigilance=True)
                written = work.store(call, body, patient_id, version)
        self._committed(work.written)
        return written

    async def book(
        self,
        payload: Any,
        appointment_id: str | None = None,
        *,
        if_match: int | str | None = None,
        if_none_exist: str | None = None,
    ) -> Written:
        """Write an Appointment (book, reschedule, cancel), awaited from the event loop: the
        slots, the held periods and the confirmations move with it in one transaction. A new
        booking on PostgreSQL is one database call from the loop (:mod:`booking_call`); the
        other writes run in a worker thread."""
        if appointment_id is None and if_none_exist is None and booking_call.eligible(self):
            return await booking_call.book(self, payload)
        if appointment_id is None:
            work = partial(self.create, "Appointment", payload, if_none_exist=if_none_exist)
        else:
            work = partial(self.update, "Appointment", appointment_id, payload, if_match=if_match)
        return await anyio.to_thread.run_sync(work)

    def undo_windows(self, appointment_ids: Sequence[str]) -> dict[str, datetime]:
        """Of these appointments, those whose no-show or cancellation the principal may still
        undo (:mod:`maillage.care.undo`), each with when its window closes (naive UTC): two
        statements over those the principal may see, audited as a search."""
        call = self._call("Appointment", "search-type")
        who = call.authorize(write=False)
        window = timedelta(minutes=self.settings.undo_minutes)
        windows: dict[str, datetime] = {}
        with call.failures(), transaction(self.sessions) as session:
            statement = self._statement(who, "Appointment", [], list(appointment_ids))
            rows = [r for r in session.scalars(statement) if r.body.get("status") in undo.UNDONE]
            found = undo.versions(session, [(row.id, row.version_id) for row in rows])
            for row in rows:
                changed = found.get((row.id, row.version_id))
                before = found.get((row.id, row.version_id - 1))
                if changed is not None and undo.refusal(who, window, changed, before) is None:
                    windows[row.id] = undo.deadline(changed, window)
                call.entities.extend(sorted(call.compartment(row.id, row.body)))
            call.succeeded(session)
        return windows

    def undo(self, appointment_id: str) -> Written:
        """Take an appointment back to its version before its no-show or cancellation: an
        update under the rule of :mod:`maillage.care.undo`, its slots and participants booked
        again by the booking rules (409 when taken meanwhile), audited like any update."""
        return retried(partial(self._undo, appointment_id))

    def _undo(self, appointment_id: str) -> Written:
        call = self._call("Appointment", "update", [f"Appointment/{appointment_id}"])
        call.authorize(write=True)
        with call.failures(), transaction(self.sessions) as session:
            current = resources.read(session, "Appointment", appointment_id)
            version = current.version_id
            before = undo.versions(session, [(appointment_id, version)]).get(
                (appointment_id, version - 1)
            )
            if before is None or not undo.reopens(current.body, before.body):
                raise Conflict(
                    f"Appointment/{appointment_id} has no no-show or cancellation to undo",
                    code="business-rule",
                )
            body = validation.validate("Appointment", before.body, appointment_id)
            work = Work(self, session)
            written = work.store(call, body, appointment_id, version)
        self._committed(work.written)
        return written

    def delete(self, resource_type: str, resource_id: str) -> None:
        """Delete softly: the resource leaves reads and searches, its versions are kept, and
        an appointment frees its slots and periods."""
        retried(partial(self._delete, resource_type, resource_id))

    def _delete(self, resource_type: str, resource_id: str) -> None:
        call = self._call(resource_type, "delete", [f"{resource_type}/{resource_id}"])
        who = call.authorize(write=True)
        with call.failures(), transaction(self.sessions) as session:
            current = resources.read(session, resource_type, resource_id)
            call.check_patients(session, call.compartment(current.id, current.body))
            refusal = policy.write_refusal(who, resource_type, policy.DELETE, current.body, None)
            if refusal:
                raise Forbidden(refusal)
            rules = RULES.get(resource_type, NO_RULES)
            if rules.book is not None:
                change = Change(session, self.settings, who, resource_id, None, current.body)
                rules.book(change)
            resources.delete(session, resource_type, resource_id)
            call.succeeded(session)

    @contextmanager
    def writing(self) -> Iterator[Work]:
        """Several writes in one transaction: all stored, or none when one is refused.

        A refusal is audited once the work's transaction has rolled back, so that the audit
        is kept and SQLite is not locked.
        """
        work: Work | None = None
        try:
            with transaction(self.sessions) as session:
                work = Work(self, session)
                yield work
        except Exception:
            if work is None or work.call is None:
                raise
            with work.call.failures():
                raise
        self._committed(work.written)

    def transaction(self, bundle: Any) -> list[Written]:
        """Process a transaction Bundle atomically: every entry (creates honouring
        ``ifNoneExist``, updates) goes through the same rules as a single write; the first
        refused entry rolls everything back and is the answer, prefixed with its index.
        ``urn:uuid:`` full URLs of created entries may be referenced by the other entries."""
        return retried(partial(self._transaction, bundle))

    def _transaction(self, bundle: Any) -> list[Written]:
        entries = bundles.entries(bundle, self._bundle_limit())
        calls = [
            self._call(
                entry["resource"]["resourceType"],
                "create" if entry["request"]["method"] == "POST" else "update",
            )
            for entry in entries
        ]
        for call in calls:  # before the transaction: a refusal is audited in its own
            call.authorize(write=True)
        at = 0
        results: list[Written] = []
        try:
            with transaction(self.sessions) as session:
                work = Work(self, session)
                targets = _targets(work, entries, calls)
                mapping = {
                    entry["fullUrl"]: f"{entry['resource']['resourceType']}/{target}"
                    for entry, (target, _) in zip(entries, targets, strict=True)
                    if str(entry.get("fullUrl", "")).startswith("urn:uuid:")
                }
                for index, (entry, call, (target, existing)) in enumerate(
                    zip(entries, calls, targets, strict=True)
                ):
                    at = index
                    if existing is not None:
                        results.append(Written(existing, False))
                        continue
                    put = entry["request"]["method"] == "PUT"
                    body = bundles.resolved(entry["resource"], mapping)
                    kind = entry["resource"]["resourceType"]
                    body = validation.validate(kind, body, target if put else None)
                    version = version_of(entry["request"].get("ifMatch")) if put else None
                    results.append(
                        work.store(call, body, target if put else None, version, new_id=target)
                    )
        except (DomainError, resources.StoreError, search.SearchError) as error:
            bundles.failed_entry(calls[at], at, error)
        self._committed(work.written)
        return results

    def _bundle_limit(self) -> int:
        """The most entries a transaction of this principal takes: patients send small ones."""
        patient = self.principal is not None and self.principal.role is Role.PATIENT
        settings = self.settings
        return settings.patient_bundle_max_entries if patient else settings.bundle_max_entries

    def _committed(self, rows: Sequence[StoredResource]) -> None:
        """Run the rules of what a committed transaction wrote (jobs to queue)."""
        by_type: dict[str, list[Body]] = {}
        for row in rows:
            by_type.setdefault(row.resource_type, []).append(row.body)
        for resource_type, bodies in by_type.items():
            committed = RULES.get(resource_type, NO_RULES).committed
            if committed is not None:
                committed(self, bodies)

    def queue_evaluations(self, patients: set[str]) -> None:
        """Queue one alert-rule evaluation per patient (none without a queue); a queue that
        cannot be reached is logged, the data stays stored."""
        if self.jobs is None:
            return
        for patient in sorted(patients):
            try:
                self.jobs.enqueue(alerts.EVALUATE_JOB, patient, retry=alerts.RETRY)
            except RedisError:
                logger.exception("alert evaluation for %s not queued: Redis unavailable", patient)

    # --- operations --------------------------------------------------------------------------

    def generate_slots(self, schedule_id: str, parameters: Any) -> Body:
        """Create the missing free Slots of a Schedule from an availability template (a FHIR
        ``Parameters``), outside its exceptions; the outcome counts created and existing ones.
        The operators set any schedule, a doctor their own (:func:`policy.schedule_refusal`)."""
        call = self._call("Schedule", "update")
        who = call.authorize(write=False)
        checked = validation.validate("Parameters", parameters)
        with call.failures(), transaction(self.sessions) as session:
            _may_plan(session, who, schedule_id)
            return scheduling.generate(session, self.settings, schedule_id, checked)

    def add_absence(self, schedule_id: str, absence: scheduling.Absence) -> Body:
        """Record an exception (holiday, absence) on a Schedule and withdraw its free slots
        (same rule as :meth:`generate_slots`); the outcome counts withdrawn and booked slots."""
        call = self._call("Schedule", "update")
        who = call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            _may_plan(session, who, schedule_id)
            return scheduling.add_absence(session, self.settings, schedule_id, absence)

    def remove_absence(self, schedule_id: str, absence: scheduling.Absence) -> Body:
        """Remove an exception from a Schedule and free again the slots it withdrew (same
        rule as :meth:`generate_slots`); the outcome counts them."""
        call = self._call("Schedule", "update")
        who = call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            _may_plan(session, who, schedule_id)
            return scheduling.remove_absence(session, self.settings, schedule_id, absence)

    def plannable_schedules(self) -> list[Body]:
        """The Schedules whose availability the principal may set: every one for the
        operators, a doctor's own (one statement)."""
        who = self._call("Schedule", "search-type").authorize(write=False)
        if who.role in policy.FULL_ACCESS:
            rows = self.search_all("Schedule", [])
        elif who.role is Role.PRACTITIONER and who.practitioner:
            rows = self.search_all("Schedule", [("actor", who.practitioner)])
        else:
            raise Forbidden("only the network's operators and doctors set availability")
        return [self.outgoing(row.body) for row in rows]

    def ics(self, appointment_id: str) -> bytes:
        """An appointment's iCalendar invitation, its video link the caller's own (audited as
        a read)."""
        call = self._call("Appointment", "read", [f"Appointment/{appointment_id}"])
        who = call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            row = resources.read(session, "Appointment", appointment_id)
            call.check_patients(session, call.compartment(row.id, row.body))
            content = appointments.ics(session, self.settings, row, who)
            call.succeeded(session)
        return content

    def overdue_tasks(self) -> Page:
        """Open Tasks past their due date that the principal may see (at most MAX_COUNT)."""
        call = self._call("Task", "search-type")
        who = call.authorize(write=False)
        restriction = policy.search_restriction(who, "Task")
        with call.failures():
            statement = teleexpertise.overdue(self.settings.zone, utcnow(), restriction)
            with transaction(self.sessions) as session:
                ordering = search.order("Task", None)
                rows, total = search.page(session.connection(), statement, ordering, MAX_COUNT, 0)
                for row in rows:
                    call.entities.extend(sorted(call.compartment(row.id, row.body)))
                call.succeeded(session)
        return Page(rows, total, MAX_COUNT, 0)

    def task_steps(self, task_id: str) -> dict[str, str]:
        """When a Task first reached each status (response times), from its history."""
        call = self._call("Task", "read", [f"Task/{task_id}"])
        call.authorize(write=False)
        with call.failures(), transaction(self.sessions) as session:
            row = resources.read(session, "Task", task_id)
            call.check_patients(session, call.compartment(row.id, row.body))
            reached = teleexpertise.steps(session, task_id)
            call.succeeded(session)
        return reached

    def pools(self) -> list[str]:
        """The pooled owners (services, roles) the principal belongs to."""
        call = self._call("Task", "search-type")
        who = call.authorize(write=False)
        with transaction(self.sessions) as session:
            return teleexpertise.pools_of(session, who)

    def billed_encounters(self, first: date, last: date) -> list[Resource]:
        """The finished teleconsultation Encounters of a period (for the operators' billing
        export), read as an audited search."""
        call = self._call("Encounter", "search-type")
        who = call.authorize(write=False)
        with call.failures():
            _billing_period(who, first, last)
            query = [
                ("class", VIRTUAL),
                ("status", "finished"),
                ("date", f"ge{first.isoformat()}"),
                ("date", f"le{last.isoformat()}"),
            ]
            criteria, _ = search.parse("Encounter", query)
            statement = search.statement("Encounter", criteria, [], self.settings.zone)
            with transaction(self.sessions) as session:
                ordered = statement.order_by(Resource.id)
                rows = cast(list[Resource], list(session.scalars(ordered)))
                for row in rows:
                    call.entities.extend(sorted(call.compartment(row.id, row.body)))
                call.succeeded(session)
        return rows

    def billed_expertises(self, first: date, last: date) -> list[tuple[Resource, Resource | None]]:
        """The télé-expertise Tasks answered in a period, each with the ServiceRequest it
        answers (for the billing export: TE2 of the requested doctor, RQD of the requester),
        read as an audited search."""
        call = self._call("Task", "search-type")
        who = call.authorize(write=False)
        with call.failures():
            _billing_period(who, first, last)
            query = [
                ("code", f"{WORKFLOW_SYSTEM}|{TELE_EXPERTISE}"),
                ("status", "completed"),
                ("period", f"ge{first.isoformat()}"),
                ("period", f"le{last.isoformat()}"),
            ]
            criteria, _ = search.parse("Task", query)
            statement = search.statement("Task", criteria, [], self.settings.zone)
            with transaction(self.sessions) as session:
                tasks = cast(list[Resource], list(session.scalars(statement.order_by(Resource.id))))
                focus = [_answered_request(t.body) for t in tasks]
                asked = search.statement(
                    "ServiceRequest", [], [f for f in focus if f], self.settings.zone
                )
                requests = {r.id: r for r in session.scalars(asked)} if any(focus) else {}
                pairs = [(t, requests.get(f)) for t, f in zip(tasks, focus, strict=True)]
                for task in tasks:
                    call.entities.extend(sorted(call.compartment(task.id, task.body)))
                call.succeeded(session)
        return pairs

    def import_sites(self, path: Path, sites: list[site_import.Site]) -> site_import.ImportReport:
        """Register sites from a checked file in one audited transaction (the operator's
        import, or an admin's or coordinator's)."""
        principal = self.principal
        if not self._trusted and (principal is None or principal.role not in policy.FULL_ACCESS):
            raise Forbidden("only the network's operators import sites")
        return site_import.import_sites(self.sessions, self.settings, path, sites)

    def aggregate(self, reader: Callable[[Session], T]) -> T:
        """Run ``reader`` (the network's evaluation: counts, delays, shares) over the whole
        network in one read transaction, for those who read aggregates: the network's
        operators and planners (and the server's own work). Only its aggregates may leave the
        server, so the caller never receives the rows themselves through this door."""
        principal = self.principal
        analysts = policy.FULL_ACCESS | {Role.PLANNER}
        if not self._trusted and (principal is None or principal.role not in analysts):
            raise Forbidden("the network's aggregates are for its operators and planners")
        with transaction(self.sessions) as session:
            return reader(session)

    def accesses_to_own_record(self, count: int = 100) -> Page:
        """For a patient, the latest AuditEvents naming their own record: who read or changed
        it (the RGPD's right of access). The search is fixed to their compartment, whatever
        the role's reading of AuditEvent; not audited itself, or each look would lengthen the
        list it shows."""
        principal = self.principal
        if principal is None or principal.role is not Role.PATIENT or not principal.patient:
            raise Forbidden("only a patient reads who accessed their own record")
        wanted = Search.of(
            "AuditEvent",
            [("patient", principal.patient), ("_sort", "-date"), ("_count", str(count))],
        )
        audit_trail.drain(self.sessions, self.settings.zone)  # every committed access
        with autocommit(self.engine) as connection:
            return self._indexed(principal, "AuditEvent", connection, wanted)

    def audit_backlog(self) -> audit_trail.Backlog:
        """The audit outbox's events not chained yet (how many, since when the oldest waits):
        the chainer's lag, for those who read the audit trail. Read as it stands: no drain."""
        if self.refusal is not None:
            raise self.refusal
        if self.principal is None:
            raise Unauthenticated("authentication required")
        reason = policy.type_refusal(self.principal, "AuditEvent", write=False)
        if reason:
            raise Forbidden(reason)
        with transaction(self.sessions) as session:
            return audit_trail.backlog(session)

    # --- remote monitoring -----------------------------------------------------------------

    def evaluate_alerts(self, patient: str) -> list[str]:
        """The worker's evaluation of a patient's rules: the ids of the alerts it opened."""
        self._require_trusted()
        with transaction(self.sessions) as session:
            return alerts.evaluate(session, self.settings, patient)

    def escalate_alert(self, alert_id: str) -> bool:
        """The worker's escalation of an alert left unacknowledged (once)."""
        self._require_trusted()
        with transaction(self.sessions) as session:
            return alerts.escalate(session, self.settings, alert_id)

    def queue_reminders(self, now: datetime) -> tuple[int, int]:
        """The server's pass at ``now`` (naive UTC): the day-before reminders and the
        coordinators' digest now due; how many of each were queued in the outbox."""
        self._require_trusted()
        with transaction(self.sessions) as session:
            return reminders.queue_due(session, self.settings, now)

    def _require_trusted(self) -> None:
        if not self._trusted:
            raise Forbidden("only the server's own work does this")

    def alert_rules(self, patient: str) -> list[AlertRule]:
        """A patient's alert rules, oldest first, for their care team (audited)."""
        query = select(AlertRule).where(AlertRule.patient == patient)
        return self._team_list(patient, query.order_by(AlertRule.created, AlertRule.id))

    def colleagues(self, emails: set[str]) -> dict[str, tuple[str | None, Role]]:
        """The Practitioner each of these accounts acts as (None for an account linked to no
        professional) and its role, by e-mail: how a page names who acknowledged an alert
        without showing an address (one statement; the accounts are not patient data)."""
        self._call(None, "search-type").authorize(write=False)
        if not emails:
            return {}
        query = select(User.email, User.practitioner, User.role).where(User.email.in_(emails))
        with autocommit(self.engine) as connection:
            rows = connection.execute(query).all()
        return {email: (practitioner, Role(role)) for email, practitioner, role in rows}

    def patient_alerts(self, patient: str) -> list[Alert]:
        """A patient's alerts, newest first, for their care team (audited)."""
        query = select(Alert).where(Alert.patient == patient).order_by(Alert.opened.desc())
        return self._team_list(patient, query)

    def _team_list(self, patient: str, query: Select[Any]) -> list[Any]:
        call = self._call(None, "search-type", [patient])  # a refused caller's audit names it
        call.authorize(write=False)
        call.entities.clear()  # named again once the team is checked
        with call.failures(), transaction(self.sessions) as session:
            call.check_team(session, patient)
            found = list(session.execute(query).scalars())
            call.succeeded(session)
        return found

    def create_rule(self, rule: RuleIn) -> AlertRule:
        """Store a rule for a patient, or for the patient of a care plan; the measurements
        already there are evaluated against it."""
        call = self._call(None, "create")
        call.authorize(write=True)
        with call.failures(), transaction(self.sessions) as session:
            patient = alerts.rule_patient(session, rule)
            call.check_team(session, patient)
            row = AlertRule(id=resources.new_id(), **{**rule.model_dump(), "patient": patient})
            session.add(row)
            session.flush()
            call.succeeded(session)
        self.queue_evaluations({patient})
        return row

    def update_rule(self, rule_id: str, rule: RuleIn) -> AlertRule:
        """Change a rule's thresholds or wording; it stays the same patient's. An alert
        already open stays open: the new thresholds count from the next measurement."""
        call = self._call(None, "update")
        call.authorize(write=True)
        with call.failures(), transaction(self.sessions) as session:
            row = session.get(AlertRule, rule_id)
            if row is None:
                raise NotFound(f"alert rule {rule_id} is not known")
            call.check_team(session, row.patient)
            if alerts.rule_patient(session, rule) != row.patient:
                raise Unprocessable("a rule cannot move to another patient; create a new one")
            for key, value in rule.model_dump(exclude={"patient"}).items():
                setattr(row, key, value)
            call.succeeded(session)
        self.queue_evaluations({row.patient})
        return row

    def acknowledge_alert(self, alert_id: str, *, closing: bool = False) -> Alert:
        """A team member has seen the alert (it will not be escalated); ``closing``: the
        episode is handled, its Flag becomes inactive."""
        call = self._call(None, "update")
        who = call.authorize(write=True)
        with call.failures(), transaction(self.sessions) as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise NotFound(f"alert {alert_id} is not known")
            call.check_team(session, alert.patient)
            alerts.acknowledge(session, self.settings, alert, who.email, closing=closing)
            call.entities.append(alert.flag)
            call.succeeded(session)
        return alert


RETRIES = 3
"""Times a write is run again after PostgreSQL aborted it to break a deadlock or a
serialisation failure, before the client gets 409."""
_TRANSIENT = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


def retried(work: Callable[[], T]) -> T:
    """``work`` (one transaction), run again when PostgreSQL aborted it for a deadlock or a
    serialisation failure with another transaction; 409 once :data:`RETRIES` are spent."""
    for attempt in range(RETRIES + 1):
        try:
            return work()
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in _TRANSIENT:
                raise
            logger.info("write aborted by the database (%s), attempt %d", error.orig, attempt)
            last = error
    raise Conflict("concurrent writes kept colliding; send the request again") from last


def system_repository(
    settings: Settings, *, jobs: JobQueue | None = None, migrate: bool = False
) -> Repository:
    """The server's own repository over the configured database (the worker's jobs, the
    CLI's imports); ``migrate`` first brings the schema to the latest migration."""
    engine = make_engine(settings.sqlalchemy_url)
    if migrate:
        upgrade(engine)
    return Repository.system(session_factory(engine), settings, jobs=jobs)


def _targets(
    work: Work, entries: list[Body], calls: list[Call]
) -> list[tuple[str, StoredResource | None]]:
    """Each entry's id, and the resource an ``ifNoneExist`` condition already matches."""
    found: list[tuple[str, StoredResource | None]] = []
    for entry, call in zip(entries, calls, strict=True):
        if entry["request"]["method"] == "PUT":
            found.append((entry["resource"]["id"], None))
            continue
        condition = entry["request"].get("ifNoneExist")
        match = work.match(call, condition) if condition else None
        found.append((match.id if match else resources.new_id(), match))
    return found


def _answered_request(task: dict[str, Any]) -> str:
    """The id of the ServiceRequest a Task answers (``basedOn``, else ``focus``), or ``""``."""
    for item in [*task.get("basedOn", []), task.get("focus") or {}]:
        kind, _, identifier = (item.get("reference") or "").partition("/")
        if kind == "ServiceRequest" and identifier:
            return identifier
    return ""


def _may_plan(session: Session, who: Principal, schedule_id: str) -> None:
    """Refuse unless ``who`` may set this Schedule's availability (404 when unknown)."""
    reason = policy.schedule_refusal(who, resources.read(session, "Schedule", schedule_id).body)
    if reason:
        raise Forbidden(reason)


def _billing_period(who: Principal, first: date, last: date) -> None:
    """Refuse a billing export to anyone but the operators, or over a reversed period."""
    if who.role not in policy.FULL_ACCESS:
        raise Forbidden("the billing export is for admins and coordinators")
    if last < first:
        raise Invalid("'to' must be on or after 'from'")
