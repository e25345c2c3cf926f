"""Slot calendar in index order: the id joins the key of ``ix_slot_calendar_search``, so that
"a schedule's free slots by start" (ties broken by id) is read in the index's order, with no
sort.

Revision ID: 0010_slot_calendar_order
Revises: 0009_second_factor
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0010_slot_calendar_order"
down_revision = "0009_second_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_slot_calendar_search", "slot_calendar")
    op.create_index(
        "ix_slot_calendar_search",
        "slot_calendar",
        ["schedule", "status", "start_low", "id"],
        postgresql_include=["start_high", "last_updated"],
    )


def downgrade() -> None:
    op.drop_index("ix_slot_calendar_search", "slot_calendar")
    op.create_index(
        "ix_slot_calendar_search",
        "slot_calendar",
        ["schedule", "status", "start_low"],
        postgresql_include=["start_high", "last_updated"],
    )
