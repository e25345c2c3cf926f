"""Second factor of password logins: each account's TOTP secret (encrypted), when it was
confirmed, the last time step accepted (a code is used once) and its recovery codes (hashed).

Revision ID: 0009_second_factor
Revises: 0008_psc_login
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_second_factor"
down_revision = "0008_psc_login"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as table:
        table.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        table.add_column(sa.Column("totp_confirmed", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("totp_step", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("totp_recovery", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as table:
        for column in ("totp_recovery", "totp_step", "totp_confirmed", "totp_secret"):
            table.drop_column(column)
