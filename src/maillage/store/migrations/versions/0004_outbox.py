"""The e-mail outbox: comptes rendus written with their document, delivered by a worker.

Revision ID: 0004_outbox
Revises: 0003_monitoring
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_outbox"
down_revision = "0003_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(130), nullable=False),
        sa.Column("patient", sa.String(130), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("message", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("sent", sa.DateTime),
    )
    op.create_index("ix_outbox_message_source", "outbox_message", ["source"])
    op.create_index("ix_outbox_due", "outbox_message", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox_message")
