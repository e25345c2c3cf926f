"""Pro Santé Connect login: each account's national identifier (idNat_PS, unique) and the
pending flag of accounts created at a first login, awaiting an admin's validation.

Revision ID: 0008_psc_login
Revises: 0007_compartment_indexes
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_psc_login"
down_revision = "0007_compartment_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("psc_id", sa.String(80)))
    op.add_column(
        "app_user",
        sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_app_user_psc_id", "app_user", ["psc_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_app_user_psc_id", table_name="app_user")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("pending")
        batch.drop_column("psc_id")
