"""A lean search index: every write of a resource rewrites some of its ``fhir_search`` rows, and
each row written costs a B-tree insertion per index and a foreign-key check (issue 23: 22 rows
× 4 indexes and 22 checks of a booking's 151 WAL records). So:

- no surrogate key (nothing reads it) and no foreign key to ``fhir_resource`` (resources are
  never erased, only marked deleted, and the store removes their index rows itself);
- the value index only over rows with a value, the date index only over rows with a date: a
  row goes into one of them, not both.

Revision ID: 0013_lean_search_index
Revises: 0012_audit_outbox
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_lean_search_index"
down_revision = "0012_audit_outbox"
branch_labels = None
depends_on = None

COLUMNS = ("resource_type", "resource_id", "param", "system", "value", "low", "high")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for key in sa.inspect(op.get_bind()).get_foreign_keys("fhir_search"):
            op.drop_constraint(str(key["name"]), "fhir_search", type_="foreignkey")
        op.drop_column("fhir_search", "pk")
        _drop_indexes(("ix_fhir_search_value", "ix_fhir_search_date"))
    else:  # SQLite alters a table by copying it
        _copy_table(lean=True)
    _create_indexes(partial=True)


def downgrade() -> None:
    orphans = (
        "DELETE FROM fhir_search WHERE NOT EXISTS (SELECT 1 FROM fhir_resource r"
        " WHERE r.resource_type = fhir_search.resource_type AND r.id = fhir_search.resource_id)"
    )
    op.execute(orphans)
    if op.get_bind().dialect.name == "postgresql":
        _drop_indexes(("ix_fhir_search_value", "ix_fhir_search_date"))
        op.execute("ALTER TABLE fhir_search ADD COLUMN pk BIGSERIAL PRIMARY KEY")
        op.create_foreign_key(
            None,
            "fhir_search",
            "fhir_resource",
            ["resource_type", "resource_id"],
            ["resource_type", "id"],
            ondelete="CASCADE",
        )
    else:
        _copy_table(lean=False)
    _create_indexes(partial=False)


def _drop_indexes(names: tuple[str, ...]) -> None:
    for name in names:
        op.drop_index(name, table_name="fhir_search")


def _create_indexes(partial: bool) -> None:
    value = sa.text("value IS NOT NULL") if partial else None
    date = sa.text("low IS NOT NULL") if partial else None
    op.create_index(
        "ix_fhir_search_value",
        "fhir_search",
        ["resource_type", "param", "value"],
        postgresql_where=value,
        sqlite_where=value,
    )
    op.create_index(
        "ix_fhir_search_date",
        "fhir_search",
        ["resource_type", "param", "low", "high"],
        postgresql_where=date,
        sqlite_where=date,
    )


def _copy_table(lean: bool) -> None:
    """SQLite: the table rebuilt without (``lean``) or with its key and foreign key, rows kept,
    its other indexes made again."""
    op.rename_table("fhir_search", "fhir_search_old")
    for name in ("ix_fhir_search_value", "ix_fhir_search_date", "ix_fhir_search_resource"):
        op.drop_index(name, table_name="fhir_search_old")
    op.drop_index("ix_fhir_search_actor", table_name="fhir_search_old")
    key = [] if lean else [sa.Column("pk", BIG_ID, primary_key=True, autoincrement=True)]
    references = (
        []
        if lean
        else [
            sa.ForeignKeyConstraint(
                ["resource_type", "resource_id"],
                ["fhir_resource.resource_type", "fhir_resource.id"],
                ondelete="CASCADE",
            )
        ]
    )
    op.create_table(
        "fhir_search",
        *key,
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255)),
        sa.Column("value", sa.String(255)),
        sa.Column("low", sa.DateTime),
        sa.Column("high", sa.DateTime),
        *references,
    )
    columns = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO fhir_search ({columns}) SELECT {columns} FROM fhir_search_old")
    op.drop_table("fhir_search_old")
    op.create_index("ix_fhir_search_resource", "fhir_search", ["resource_type", "resource_id"])
    actor = sa.text("param = '_actor'")
    op.create_index(
        "ix_fhir_search_actor",
        "fhir_search",
        ["value", "resource_type", "resource_id"],
        sqlite_where=actor,
    )
