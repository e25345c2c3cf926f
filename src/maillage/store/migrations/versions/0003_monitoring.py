"""Remote monitoring: measurement identities (one stored copy), alert rules, alerts with at most
one open per rule and patient.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_monitoring"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measurement",
        sa.Column("observation_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(130), nullable=False),
        sa.Column("device", sa.String(130), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("effective", sa.String(40), nullable=False),
        sa.UniqueConstraint("subject", "device", "code", "effective"),
    )
    op.create_index("ix_measurement_subject", "measurement", ["subject"])
    op.create_table(
        "alert_rule",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(130), nullable=False),
        sa.Column("care_plan", sa.String(130)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("above", sa.Float),
        sa.Column("below", sa.Float),
        sa.Column("change", sa.Float),
        sa.Column("window_hours", sa.Float),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_index("ix_alert_rule_patient", "alert_rule", ["patient"])
    op.create_table(
        "alert",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rule_id", sa.String(64), sa.ForeignKey("alert_rule.id"), nullable=False),
        sa.Column("patient", sa.String(130), nullable=False),
        sa.Column("flag", sa.String(130), nullable=False),
        sa.Column("communication", sa.String(130), nullable=False),
        sa.Column("opened", sa.DateTime, nullable=False),
        sa.Column("acknowledged", sa.DateTime),
        sa.Column("acknowledged_by", sa.String(320)),
        sa.Column("escalated", sa.DateTime),
        sa.Column("closed", sa.DateTime),
    )
    op.create_index("ix_alert_patient", "alert", ["patient"])
    op.create_index(
        "ux_alert_open",
        "alert",
        ["rule_id", "patient"],
        unique=True,
        sqlite_where=sa.text("closed IS NULL"),
        postgresql_where=sa.text("closed IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("alert")
    op.drop_table("alert_rule")
    op.drop_table("measurement")
