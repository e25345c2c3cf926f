"""Initial schema: FHIR resources, versions, search index, users, audit chain, projects.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fhir_resource",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("body", JSON, nullable=False),
    )
    op.create_index("ix_fhir_resource_last_updated", "fhir_resource", ["last_updated"])
    op.create_table(
        "fhir_resource_version",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True),
        sa.Column("last_updated", sa.DateTime, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("body", JSON, nullable=False),
    )
    op.create_table(
        "fhir_search",
        sa.Column("pk", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255)),
        sa.Column("value", sa.String(255)),
        sa.Column("low", sa.DateTime),
        sa.Column("high", sa.DateTime),
        sa.ForeignKeyConstraint(
            ["resource_type", "resource_id"],
            ["fhir_resource.resource_type", "fhir_resource.id"],
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_fhir_search_value", "fhir_search", ["resource_type", "param", "value"])
    op.create_index("ix_fhir_search_date", "fhir_search", ["resource_type", "param", "low", "high"])
    op.create_index("ix_fhir_search_resource", "fhir_search", ["resource_type", "resource_id"])
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("practitioner", sa.String(130)),
        sa.Column("patient", sa.String(130)),
        sa.Column("site", sa.String(130)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime, nullable=False),
        sa.Column("body", JSON, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "project",
        "audit_chain",
        "app_user",
        "fhir_search",
        "fhir_resource_version",
        "fhir_resource",
    ):
        op.drop_table(table)
