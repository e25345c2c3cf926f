"""Fewer rows written per booking, and SQLite's index to find who is held when (issue 23).

- ``booked_period`` loses its surrogate key: nothing reads it, and each booking wrote it (a
  sequence value and a B-tree insertion) for every participant held.
- "Who of these people is held then", asked before a booking on the ordinary path, reads the
  exclusion constraint's GiST index on PostgreSQL (migration 0002); SQLite had no index on the
  actor and read the whole table: it gets (actor, end).
- Typed reference parameters answered by the rows of an untyped one over the same paths
  (:data:`maillage.store.search_params.ANSWERED_BY`: an appointment's ``patient``,
  ``practitioner`` and ``location``, read from its ``actor`` rows) lose their own rows.
- ``maillage_book`` (migration 0014) no longer asks who of the people is held then before
  holding them: the exclusion constraint probes the same as it inserts (the check cost a
  booking about 0.2 ms of PostgreSQL's time, a quarter of the call's), and its refusal,
  SQLSTATE 23P01, leads the caller to name the holders
  (:func:`maillage.care.booking_call.clash_refusal`).

Revision ID: 0015_leaner_bookings
Revises: 0014_booking_function
Create Date: 2026-12-06
"""

from __future__ import annotations

from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision = "0015_leaner_bookings"
down_revision = "0014_booking_function"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: (resource type, typed parameter, the parameter answering it, the type it keeps), as of
#: this revision.
ANSWERED = (
    ("Appointment", "patient", "actor", "Patient"),
    ("Appointment", "practitioner", "actor", "Practitioner"),
    ("Appointment", "location", "actor", "Location"),
    ("AuditEvent", "patient", "entity", "Patient"),
)


_BEFORE = import_module("maillage.store.migrations.versions.0014_booking_function").FUNCTION
#: 0014's check of who is held then, before holding the people: from its first line to its end.
_CHECK = ("    SELECT string_agg(", "    END IF;\n")


def _function(text: str, *cuts: tuple[str, str]) -> str:
    """``text`` (a ``CREATE FUNCTION``) as a replacement, without each cut (from its first
    line, found once, to its end)."""
    for start, end in cuts:
        if text.count(start) != 1:
            raise ValueError(f"not once in maillage_book: {start!r}")
        first = text.index(start)
        text = text[:first] + text[text.index(end, first) + len(end) :]
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


FUNCTION = _function(_BEFORE, _CHECK, ("  clashes text;", "\n"))
"""``maillage_book`` as of this revision."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
    with op.batch_alter_table("booked_period") as table:
        table.drop_column("pk")
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_booked_period_actor", "booked_period", ["actor", "ends"])
    for resource_type, typed, _, _ in ANSWERED:
        op.execute(
            sa.text(
                "DELETE FROM fhir_search WHERE resource_type = :type AND param = :param"
                " AND value IS NOT NULL"
            ).bindparams(type=resource_type, param=typed)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(_BEFORE))
    for resource_type, typed, source, kept in ANSWERED:
        op.execute(
            sa.text(
                "INSERT INTO fhir_search (resource_type, resource_id, param, value)"
                " SELECT resource_type, resource_id, :param, value FROM fhir_search"
                " WHERE resource_type = :type AND param = :source AND value LIKE :kept"
            ).bindparams(type=resource_type, param=typed, source=source, kept=f"{kept}/%")
        )
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_booked_period_actor", "booked_period")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE booked_period ADD COLUMN pk BIGSERIAL PRIMARY KEY")
        return
    with op.batch_alter_table("booked_period", recreate="always") as table:
        table.add_column(sa.Column("pk", BIG_ID, primary_key=True, autoincrement=True))
