"""Actor index: the search index's ``_actor`` rows by value.

A care role's search starts from the references the principal acts as (its site, organisation
or Practitioner): the resources naming them as ``_actor``, then those resources' patients, then
the searched type's resources of those patients. The general index leads with the resource
type, which the first step does not know: without this partial index PostgreSQL read the whole
search index for it (12–21 s for a site professional's ``Observation?_count=10``).

Revision ID: 0007_compartment_indexes
Revises: 0006_slot_calendar
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_compartment_indexes"
down_revision = "0006_slot_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = sa.text("param = '_actor'")
    op.create_index(
        "ix_fhir_search_actor",
        "fhir_search",
        ["value", "resource_type", "resource_id"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_fhir_search_actor", table_name="fhir_search")
