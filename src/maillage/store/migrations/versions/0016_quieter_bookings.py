"""Bookings that neither queue for the notification lock, nor rewrite a slot's status twice, nor
compare actors' names (issue 23).

- ``maillage_book`` (migrations 0014-0015) quiets the slot calendar's trigger (migration 0011)
  for its own transaction; its caller announces the schedules after the commit,
  :meth:`maillage.store.slot_answers.SlotAnswers.announce`. A ``NOTIFY`` makes a transaction's
  commit take PostgreSQL's one notification lock until its WAL is flushed, so every booking
  waited in line behind the others (the replayed booking reached 0.82 of the rate it reaches
  without). Every other writer of the calendar still notifies through the trigger.
- A slot's status is held by the slot calendar alone
  (:data:`maillage.store.search_params.CALENDAR_ONLY`): its search-index rows go, and
  ``maillage_book`` no longer rewrites them (a heap row and two B-tree insertions for each slot
  a booking took; +8 % replayed bookings).
- ``booked_period``'s exclusion constraint (migration 0002) compares a 64-bit hash of the
  actor (``hashtextextended``) instead of its text: its GiST index compares integers, not
  detoasted strings (+10 % replayed bookings). Two actors whose hashes collide could only be
  refused the same time, about once in 10^19 overlaps, never both held.

Revision ID: 0016_quieter_bookings
Revises: 0015_leaner_bookings
Create Date: 2026-12-06
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0016_quieter_bookings"
down_revision = "0015_leaner_bookings"
branch_labels = None
depends_on = None

QUIET = "maillage.slot_calendar_notify"
"""The transaction-local setting that quiets the trigger: its callers announce."""
_BEFORE = import_module("maillage.store.migrations.versions.0015_leaner_bookings").FUNCTION
_BEGIN = "BEGIN\n"
_STATUS_ROW = (
    "    UPDATE fhir_search SET value = 'busy'\n"
    "      WHERE resource_type = 'Slot' AND resource_id = slot_id AND param = 'status';\n"
)
FUNCTION = _BEFORE.replace(
    _BEGIN, f"{_BEGIN}  PERFORM set_config('{QUIET}', 'by caller', true);\n"
).replace(_STATUS_ROW, "")
TRIGGER = (
    "CREATE TRIGGER slot_calendar_notify AFTER INSERT OR UPDATE OR DELETE ON slot_calendar"
    " FOR EACH ROW{when} EXECUTE FUNCTION slot_calendar_notify()"
)
CONSTRAINT = (
    "ALTER TABLE booked_period ADD CONSTRAINT booked_period_no_overlap"
    " EXCLUDE USING gist ({actor} WITH =, tsrange(starts, ends) WITH &&)"
)


def upgrade() -> None:
    op.execute("DELETE FROM fhir_search WHERE resource_type = 'Slot' AND param = 'status'")
    if op.get_bind().dialect.name != "postgresql":
        return
    if _BEFORE.count(_BEGIN) != 1 or _BEFORE.count(_STATUS_ROW) != 1:
        raise ValueError("maillage_book is not the function of migration 0015")
    op.execute(FUNCTION)
    _trigger(f" WHEN (current_setting('{QUIET}', true) IS DISTINCT FROM 'by caller')")
    _constraint("hashtextextended(actor, 0)")


def downgrade() -> None:
    op.execute(
        "INSERT INTO fhir_search (resource_type, resource_id, param, value)"
        " SELECT 'Slot', id, 'status', status FROM slot_calendar WHERE status IS NOT NULL"
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_BEFORE)
    _trigger("")
    _constraint("actor")


def _trigger(when: str) -> None:
    op.execute("DROP TRIGGER slot_calendar_notify ON slot_calendar")
    op.execute(TRIGGER.format(when=when))


def _constraint(actor: str) -> None:
    op.execute("ALTER TABLE booked_period DROP CONSTRAINT booked_period_no_overlap")
    op.execute(CONSTRAINT.format(actor=actor))
