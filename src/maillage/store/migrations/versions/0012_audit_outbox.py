"""The audit outbox: a request's AuditEvent is one appended row in its transaction, chained
later by one writer (``maillage outbox audit``), instead of a stored resource, its version,
its index rows and a hash-chain link inside every audited request.

On PostgreSQL each row keeps its inserting transaction's id, so that the chainer takes only
rows of finished transactions (below ``pg_snapshot_xmin``).

Revision ID: 0012_audit_outbox
Revises: 0011_slot_calendar_notify
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012_audit_outbox"
down_revision = "0011_slot_calendar_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    txid = sa.text("pg_current_xact_id()::text::bigint") if postgres else None
    op.create_table(
        "audit_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("txid", sa.BigInteger, server_default=txid),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("body", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM audit_outbox")).scalar():
        raise RuntimeError("the audit outbox holds unchained events: run `maillage outbox audit`")
    op.drop_table("audit_outbox")
