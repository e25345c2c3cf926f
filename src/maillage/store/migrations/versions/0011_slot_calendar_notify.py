"""Slot calendar notifications: on PostgreSQL a trigger announces the schedule of each slot
calendar row written or removed (``NOTIFY slot_calendar``, delivered at commit), so that every
server process drops its kept answers of that schedule's slot searches, whoever wrote.

Revision ID: 0011_slot_calendar_notify
Revises: 0010_slot_calendar_order
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0011_slot_calendar_notify"
down_revision = "0010_slot_calendar_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION slot_calendar_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP <> 'INSERT' AND OLD.schedule IS NOT NULL THEN
            PERFORM pg_notify('slot_calendar', OLD.schedule);
          END IF;
          IF TG_OP <> 'DELETE' AND NEW.schedule IS NOT NULL THEN
            PERFORM pg_notify('slot_calendar', NEW.schedule);
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER slot_calendar_notify AFTER INSERT OR UPDATE OR DELETE ON slot_calendar"
        " FOR EACH ROW EXECUTE FUNCTION slot_calendar_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER slot_calendar_notify ON slot_calendar")
    op.execute("DROP FUNCTION slot_calendar_notify()")
