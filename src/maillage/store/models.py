"""Tables: FHIR resources, their versions and search index, users, audit chain and outbox,
projects, remote-monitoring measurements, rules and alerts, the e-mail outbox.

Datetimes are stored naive in UTC on both back-ends so that SQLite's text comparison and
PostgreSQL's timestamp comparison order them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from maillage.store.search_params import ACTOR

RECORDED_BY = "urn:maillage:recorded-by"
"""The ``meta.tag`` system naming the account that recorded a resource (set by the server)."""
STATUS_BY = "urn:maillage:status-by"
"""The ``meta.tag`` system naming the account whose write changed an Appointment's status (set
by the server on that version only): who may undo a no-show or a cancellation."""
Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now, naive UTC, as every column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base shared by the models and the Alembic environment."""


def table_of(model: type[Base]) -> Table:
    """The :class:`Table` behind a mapped class, for Core statements (insert, update, delete).

    SQLAlchemy types ``Model.__table__`` as any ``FromClause`` (a class may be mapped to a join
    or a select); every model here is mapped to one table, checked once at import.
    """
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


class Resource(Base):
    """The current version of one FHIR resource; ``deleted`` keeps records instead of erasing."""

    __tablename__ = "fhir_resource"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(DateTime, index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[dict[str, Any]] = mapped_column(Json)


def on_backend(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for a database of ``dialect``: the schema the models
    describe there, without what they keep for the other back-end (``info={"only": ...}``)."""

    def include(found: Any, *_: Any) -> bool:
        return getattr(found, "info", {}).get("only", dialect) == dialect

    return include


class StoredResource(Protocol):
    """What readers need of a stored resource: a :class:`Resource` or a plain row of its table."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: dict[str, Any]


class ResourceVersion(Base):
    """Every version ever written, so that retention holds even across updates and deletes."""

    __tablename__ = "fhir_resource_version"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[dict[str, Any]] = mapped_column(Json)


class SearchEntry(Base):
    """One extracted search-parameter value of a current resource, so searches are plain SQL.

    Tokens fill ``system``/``value``, strings and references ``value`` (normalised), dates the
    closed range ``low``..``high``. The ``_actor`` rows have their own index by value
    (migration 0007): a care role's search starts from the references it acts as, whatever the
    resource type, which the general index's first column would need.

    The table is lean because every write of a resource rewrites some of its rows (migration
    0013): no surrogate key nor foreign key (the store removes a resource's rows itself, see
    :mod:`maillage.store.resources`), and each value row sits in the value index only, each
    date row in the date index only (partial indexes; a search on them names ``value IS NOT
    NULL`` or ``low IS NOT NULL``, see :func:`maillage.store.search.matching`). The mapper's key
    is for SQLAlchemy alone: rows are only ever read as columns, never loaded as objects.
    """

    __tablename__ = "fhir_search"
    __table_args__ = (
        Index(
            "ix_fhir_search_value",
            "resource_type",
            "param",
            "value",
            postgresql_where=text("value IS NOT NULL"),
            sqlite_where=text("value IS NOT NULL"),
        ),
        Index(
            "ix_fhir_search_date",
            "resource_type",
            "param",
            "low",
            "high",
            postgresql_where=text("low IS NOT NULL"),
            sqlite_where=text("low IS NOT NULL"),
        ),
        Index("ix_fhir_search_resource", "resource_type", "resource_id"),
        Index(
            "ix_fhir_search_actor",
            "value",
            "resource_type",
            "resource_id",
            postgresql_where=text(f"param = '{ACTOR}'"),
            sqlite_where=text(f"param = '{ACTOR}'"),
        ),
    )

    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(255))
    low: Mapped[datetime | None] = mapped_column(DateTime)
    high: Mapped[datetime | None] = mapped_column(DateTime)

    __mapper_args__ = {  # noqa: RUF012 (SQLAlchemy reads it once, at mapping)
        "primary_key": [resource_type, resource_id, param, system, value, low, high]
    }


class BookedPeriod(Base):
    """When a participant (patient, practitioner) is held by a booked appointment.

    On PostgreSQL an exclusion constraint (migration 0002) forbids two overlapping periods for one
    actor, so the database itself refuses double booking, and its index answers "who is held
    then"; on SQLite writes are serialised, the overlap is checked before insert, and an index
    of its own (actor, end) answers it. No surrogate key (migration 0015): nothing reads it,
    and each booking wrote it for every participant. The mapper's key is for SQLAlchemy alone.
    """

    __tablename__ = "booked_period"
    __table_args__ = (Index("ix_booked_period_actor", "actor", "ends", info={"only": "sqlite"}),)

    appointment_id: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(130))
    starts: Mapped[datetime] = mapped_column(DateTime)
    ends: Mapped[datetime] = mapped_column(DateTime)

    __mapper_args__ = {"primary_key": [appointment_id, actor]}  # noqa: RUF012 (as above)


class SlotCalendar(Base):
    """One row per live Slot with the values a booking search filters on, side by side.

    "The free slots of this schedule from that day on" is then one range scan of one index;
    the search index above needs one probe per slot and parameter (measured 2.7 ms against
    0.1 ms for a month of one doctor's slots). The store keeps it with the search index, and
    it alone holds a slot's status (migration 0016).
    """

    __tablename__ = "slot_calendar"
    __table_args__ = (
        Index(
            "ix_slot_calendar_search",
            "schedule",
            "status",
            "start_low",
            "id",
            postgresql_include=["start_high", "last_updated"],
        ),
        # The network's free slots from a day on, whatever the schedule (migration 0017).
        Index(
            "ix_slot_calendar_status",
            "status",
            "start_low",
            "id",
            postgresql_include=["start_high"],
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    schedule: Mapped[str | None] = mapped_column(String(130))
    status: Mapped[str | None] = mapped_column(String(64))
    start_low: Mapped[datetime | None] = mapped_column(DateTime)
    start_high: Mapped[datetime | None] = mapped_column(DateTime)
    last_updated: Mapped[datetime] = mapped_column(DateTime)


class User(Base):
    """An account, its role and the FHIR resources it acts as."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    practitioner: Mapped[str | None] = mapped_column(String(130))
    patient: Mapped[str | None] = mapped_column(String(130))
    site: Mapped[str | None] = mapped_column(String(130))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The Pro Santé Connect national identifier (idNat_PS) the account logs in with.
    psc_id: Mapped[str | None] = mapped_column(String(80), index=True, unique=True)
    #: Created at a first Pro Santé Connect login, inactive until an admin validates it.
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The TOTP secret, encrypted (:mod:`maillage.care.second_factor`); in use once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_confirmed: Mapped[datetime | None] = mapped_column(DateTime)
    #: The last TOTP time step accepted: a code is never accepted twice.
    totp_step: Mapped[int | None] = mapped_column(BigInteger)
    #: SHA-256 of the unused recovery codes.
    totp_recovery: Mapped[list[str] | None] = mapped_column(JSON)


class AuditLink(Base):
    """One link of a lane of the audit hash chain; the AuditEvent itself is a ``fhir_resource``
    row.

    ``(lane, prev_hash)`` is unique, so two writers racing for the same predecessor cannot fork
    a lane.
    """

    __tablename__ = "audit_link"
    __table_args__ = (UniqueConstraint("lane", "prev_hash", name="uq_audit_link_prev_hash"),)

    lane: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditOutboxRow(Base):
    """An AuditEvent queued by the transaction it audits (one row, nothing lost: same
    transaction), turned into a stored, chained AuditEvent later by :func:`audit.chain`.

    ``txid`` is the inserting transaction's id on PostgreSQL (``pg_current_xact_id()``, a
    server default set by migration 0012), so that the chainer takes only rows of finished
    transactions; None on SQLite.
    """

    __tablename__ = "audit_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    txid: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(Json)


class Project(Base):
    """A roadmap project (site or MSP), kept as validated JSON: it is not a FHIR resource."""

    __tablename__ = "project"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[dict[str, Any]] = mapped_column(Json)


class Measurement(Base):
    """The identity of a stored device measurement, unique so that a re-sent one is stored once.

    (subject, device, code, effective) is :func:`maillage.care.monitoring.measurement_key`.
    """

    __tablename__ = "measurement"
    __table_args__ = (UniqueConstraint("subject", "device", "code", "effective"),)

    observation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(130), index=True)
    device: Mapped[str] = mapped_column(String(130))
    code: Mapped[str] = mapped_column(String(32))
    effective: Mapped[str] = mapped_column(String(40))


class AlertRule(Base):
    """A remote-monitoring rule for one patient (optionally under a care plan).

    ``kind`` threshold uses ``above``/``below``; trend uses ``change`` within ``window_hours``.
    """

    __tablename__ = "alert_rule"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient: Mapped[str] = mapped_column(String(130), index=True)
    care_plan: Mapped[str | None] = mapped_column(String(130))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    above: Mapped[float | None] = mapped_column(Float)
    below: Mapped[float | None] = mapped_column(Float)
    change: Mapped[float | None] = mapped_column(Float)
    window_hours: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """An alert raised by a rule for a patient; at most one open (``closed`` null) per pair,
    enforced by a partial unique index on both back-ends."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "ux_alert_open",
            "rule_id",
            "patient",
            unique=True,
            sqlite_where=text("closed IS NULL"),
            postgresql_where=text("closed IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), ForeignKey("alert_rule.id"))
    patient: Mapped[str] = mapped_column(String(130), index=True)
    flag: Mapped[str] = mapped_column(String(130))
    communication: Mapped[str] = mapped_column(String(130))
    opened: Mapped[datetime] = mapped_column(DateTime)
    acknowledged: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    escalated: Mapped[datetime | None] = mapped_column(DateTime)
    closed: Mapped[datetime | None] = mapped_column(DateTime)


class OutboxMessage(Base):
    """An e-mail written in the transaction that produced it, sent later by the outbox worker.

    ``message`` is the whole RFC 5322 message, so a retry sends exactly the same bytes (same
    Message-ID). Status, attempts and next attempt follow :mod:`maillage.care.outbox`.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(130), index=True)
    patient: Mapped[str] = mapped_column(String(130))
    recipient: Mapped[str] = mapped_column(String(320))
    message: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent: Mapped[datetime | None] = mapped_column(DateTime)


RESOURCES = table_of(Resource)
VERSIONS = table_of(ResourceVersion)
SEARCH_INDEX = table_of(SearchEntry)
BOOKED_PERIODS = table_of(BookedPeriod)
SLOT_CALENDAR = table_of(SlotCalendar)
USERS = table_of(User)
AUDIT_LINKS = table_of(AuditLink)
AUDIT_OUTBOX = table_of(AuditOutboxRow)
