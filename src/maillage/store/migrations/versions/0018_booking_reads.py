"""The reads of a booking's rules as one PostgreSQL function, ``maillage_booking_reads``
(issue 23).

A booking reads, in one statement, its participants, one hop further (a role's practitioner,
a patient's organisation) and its patients' consents (:mod:`maillage.store.booking_call`).
That statement, two common table expressions, a lateral join and two unions, took PostgreSQL
about four times as long to plan as to run. The server prepares it once a connection, but a
client that sends it as text pays the planning each time, and the booking's replay
(``bench/booking_replay.py``, simple protocol like its TPC-B anchor) did: the read alone, with
its draw, reached 2,400 transactions a second under pgbench on the bench machine. As a PL/pgSQL
function, whose plan the backend keeps (generic, as on the server's connections), the same
read reached 5,900-8,200.

The ``CASE`` of the hops and the pattern of a followed reference are this function's copy of
:data:`maillage.store.booking_call.HOPS` and ``RELATIVE``; a test compares them.

Revision ID: 0018_booking_reads
Revises: 0017_slots_of_any_schedule
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018_booking_reads"
down_revision = "0017_slots_of_any_schedule"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION maillage_booking_reads(asked_types text[], asked_ids text[], patients text[])
RETURNS TABLE (resource_type varchar, id varchar, version_id integer, last_updated timestamp,
  deleted boolean, body jsonb, consent_of text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH asked AS (
    SELECT f.resource_type, f.id, f.version_id, f.last_updated, f.deleted, f.body
    FROM fhir_resource AS f
    WHERE f.resource_type = ANY(asked_types) AND f.id = ANY(asked_ids) AND NOT f.deleted
  ), hop AS (
    SELECT split_part(reference, '/', 1) AS resource_type,
      split_part(reference, '/', 2) AS id
    FROM (
      SELECT CASE a.resource_type
        WHEN 'PractitionerRole' THEN a.body->'practitioner'->>'reference'
        WHEN 'Patient' THEN a.body->'managingOrganization'->>'reference'
      END AS reference FROM asked AS a
    ) AS followed
    WHERE reference ~ '^[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}$'
  )
  SELECT a.resource_type, a.id, a.version_id, a.last_updated, a.deleted, a.body, NULL::text
  FROM asked AS a
  UNION ALL
  SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.body, NULL
  FROM fhir_resource AS r JOIN hop AS h ON r.resource_type = h.resource_type AND r.id = h.id
  WHERE NOT r.deleted
  UNION ALL
  SELECT c.resource_type, c.id, c.version_id, c.last_updated, c.deleted, c.body,
    asked_patient.reference
  FROM unnest(patients) AS asked_patient(reference) CROSS JOIN LATERAL (
    SELECT * FROM fhir_resource AS f
    WHERE f.resource_type = 'Consent' AND NOT f.deleted AND f.id = ANY(ARRAY(
      SELECT s.resource_id FROM fhir_search AS s
      WHERE s.resource_type = 'Consent' AND s.param = 'patient'
        AND s.value = asked_patient.reference))
  ) AS c;
END $$
"""
"""The participants asked for (each type with each id: the caller keeps the pairs it asked),
the live resources they reference one hop further, and each patient's consents marked with the
patient (their ids as an InitPlan, which PostgreSQL plans faster than a join)."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION maillage_booking_reads(text[], text[], text[])")
