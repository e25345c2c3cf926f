"""Booked periods per participant, with PostgreSQL's exclusion constraint against overlaps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "booked_period",
        sa.Column("pk", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(130), nullable=False),
        sa.Column("starts", sa.DateTime, nullable=False),
        sa.Column("ends", sa.DateTime, nullable=False),
    )
    op.create_index("ix_booked_period_appointment_id", "booked_period", ["appointment_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE booked_period ADD CONSTRAINT booked_period_no_overlap "
            "EXCLUDE USING gist (actor WITH =, tsrange(starts, ends) WITH &&)"
        )


def downgrade() -> None:
    op.drop_table("booked_period")
