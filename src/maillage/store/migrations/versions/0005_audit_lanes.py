"""Audit chain in parallel lanes: one chain serialised every audited write of the server.

The links move to ``audit_link`` with a ``lane`` column; the existing chain becomes lane 0,
link for link, so its hashes stay valid.

Revision ID: 0005_audit_lanes
Revises: 0004_outbox
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_lanes"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_link",
        sa.Column("lane", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("lane", "prev_hash", name="uq_audit_link_prev_hash"),
    )
    op.execute(
        "INSERT INTO audit_link (lane, seq, event_id, prev_hash, hash) "
        "SELECT 0, seq, event_id, prev_hash, hash FROM audit_chain"
    )
    op.drop_table("audit_chain")


def downgrade() -> None:
    lanes = op.get_bind().execute(sa.text("SELECT count(DISTINCT lane) FROM audit_link")).scalar()
    if lanes and lanes > 1:
        raise RuntimeError("the audit trail has several lanes: one chain cannot hold them")
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(
        "INSERT INTO audit_chain (seq, event_id, prev_hash, hash) "
        "SELECT seq, event_id, prev_hash, hash FROM audit_link"
    )
    op.drop_table("audit_link")
