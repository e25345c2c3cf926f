"""Slot calendar: the schedule, status and start of each live Slot in one indexed row.

Filled from the search index of the slots already stored.

Revision ID: 0006_slot_calendar
Revises: 0005_audit_lanes
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_slot_calendar"
down_revision = "0005_audit_lanes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slot_calendar",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("schedule", sa.String(130)),
        sa.Column("status", sa.String(64)),
        sa.Column("start_low", sa.DateTime),
        sa.Column("start_high", sa.DateTime),
        sa.Column("last_updated", sa.DateTime, nullable=False),
    )
    op.create_index(
        "ix_slot_calendar_search",
        "slot_calendar",
        ["schedule", "status", "start_low"],
        postgresql_include=["start_high", "last_updated"],
    )
    op.execute(
        """
        INSERT INTO slot_calendar (id, schedule, status, start_low, start_high, last_updated)
        SELECT r.id,
          (SELECT min(value) FROM fhir_search s WHERE s.resource_type = 'Slot'
             AND s.resource_id = r.id AND s.param = 'schedule'),
          (SELECT min(value) FROM fhir_search s WHERE s.resource_type = 'Slot'
             AND s.resource_id = r.id AND s.param = 'status'),
          (SELECT min(low) FROM fhir_search s WHERE s.resource_type = 'Slot'
             AND s.resource_id = r.id AND s.param = 'start'),
          (SELECT max(high) FROM fhir_search s WHERE s.resource_type = 'Slot'
             AND s.resource_id = r.id AND s.param = 'start'),
          r.last_updated
        FROM fhir_resource r WHERE r.resource_type = 'Slot' AND NOT r.deleted
        """
    )


def downgrade() -> None:
    op.drop_table("slot_calendar")
