"""The booking's writes as one PostgreSQL function, ``maillage_book`` (issue 23).

Sent statement by statement, a booking cost the server a dozen round trips and most of its CPU
per booking in SQLAlchemy and thread hand-offs. :mod:`maillage.store.booking_call` calls this
function once with what Python prepared (the appointment's stored body and index rows, its
held people and period, the confirmation e-mails and the AuditEvent); the function takes each
slot under a row lock (checked free and around the appointment, then made busy: row, version,
its ``status`` index row and calendar row, the only ones a booking changes), holds the people
for the period (the exclusion constraint of migration 0002 still refuses overlaps between
concurrent transactions), writes the appointment (row, version, index rows), the e-mails and
the audit outbox row, and returns the schedules of the slots it took. A refusal raises
SQLSTATE ``MB409`` (conflict) or ``MB422`` (business rule) with the ordinary path's own text.
SQLite has no such function: the repository writes there statement by statement.

Revision ID: 0014_booking_function
Revises: 0013_lean_search_index
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0014_booking_function"
down_revision = "0013_lean_search_index"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION maillage_book(booking jsonb, messages bytea[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  appointment text := booking->>'id';
  written timestamp := (booking->>'now')::timestamp;
  starts_at timestamp := (booking->>'starts')::timestamp;
  ends_at timestamp := (booking->>'ends')::timestamp;
  actors text[] := ARRAY(SELECT jsonb_array_elements_text(booking->'actors'));
  slot_id text;
  slot record;
  slot_start timestamp;
  slot_end timestamp;
  stored jsonb;
  clashes text;
  schedules text[] := '{}';
BEGIN
  FOR slot_id IN SELECT jsonb_array_elements_text(booking->'slots') LOOP
    SELECT r.version_id, r.deleted, r.body INTO slot FROM fhir_resource r
      WHERE r.resource_type = 'Slot' AND r.id = slot_id FOR UPDATE;
    IF NOT FOUND OR slot.deleted THEN
      RAISE EXCEPTION USING ERRCODE = 'MB422', MESSAGE = format('cannot book Slot/%s: Slot/%s %s',
        slot_id, slot_id, CASE WHEN slot.deleted THEN 'was deleted' ELSE 'is not known' END);
    END IF;
    IF (slot.body->>'status') IS DISTINCT FROM 'free' THEN
      RAISE EXCEPTION USING ERRCODE = 'MB409', MESSAGE = format('Slot/%s is %s, not free',
        slot_id, coalesce(slot.body->>'status', 'None'));
    END IF;
    IF starts_at IS NOT NULL AND slot.body ? 'start' AND slot.body ? 'end' THEN
      slot_start := (slot.body->>'start')::timestamptz AT TIME ZONE 'UTC';
      slot_end := (slot.body->>'end')::timestamptz AT TIME ZONE 'UTC';
      IF NOT (slot_start <= starts_at AND ends_at <= slot_end) THEN
        RAISE EXCEPTION USING ERRCODE = 'MB422', MESSAGE = format(
          'the appointment (%s–%s UTC) is outside Slot/%s (%s–%s UTC)',
          to_char(starts_at, 'YYYY-MM-DD HH24:MI'), to_char(ends_at, 'HH24:MI'), slot_id,
          to_char(slot_start, 'YYYY-MM-DD HH24:MI'), to_char(slot_end, 'HH24:MI'));
      END IF;
    END IF;
    stored := jsonb_set(slot.body, '{status}', '"busy"') || jsonb_build_object('meta',
      coalesce(slot.body->'meta', '{}') || jsonb_build_object(
        'versionId', (slot.version_id + 1)::text, 'lastUpdated', booking->>'instant'));
    UPDATE fhir_resource SET version_id = slot.version_id + 1, last_updated = written,
      body = stored WHERE resource_type = 'Slot' AND id = slot_id;
    INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, deleted, body)
      VALUES ('Slot', slot_id, slot.version_id + 1, written, false, stored);
    UPDATE fhir_search SET value = 'busy'
      WHERE resource_type = 'Slot' AND resource_id = slot_id AND param = 'status';
    UPDATE slot_calendar SET status = 'busy', last_updated = written WHERE id = slot_id;
    schedules := schedules || (slot.body->'schedule'->>'reference');
  END LOOP;
  IF starts_at IS NOT NULL AND cardinality(actors) > 0 THEN
    SELECT string_agg(format('%s (Appointment/%s)', p.actor, p.appointment_id), ', '
        ORDER BY p.actor) INTO clashes
      FROM booked_period p
      WHERE p.actor = ANY(actors) AND p.starts < ends_at AND p.ends > starts_at;
    IF clashes IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'MB409', MESSAGE = 'already booked then: ' || clashes;
    END IF;
    INSERT INTO booked_period (appointment_id, actor, starts, ends)
      SELECT appointment, a, starts_at, ends_at FROM unnest(actors) AS a;
  END IF;
  INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, body)
    VALUES ('Appointment', appointment, 1, written, false, booking->'body');
  INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, deleted, body)
    VALUES ('Appointment', appointment, 1, written, false, booking->'body');
  INSERT INTO fhir_search (resource_type, resource_id, param, system, value, low, high)
    SELECT 'Appointment', appointment, x.param, x.system, x.value, x.low, x.high
    FROM jsonb_to_recordset(booking->'index')
      AS x(param text, system text, value text, low timestamp, high timestamp);
  INSERT INTO outbox_message (id, created, source, patient, recipient, message, status,
      attempts, next_attempt_at)
    SELECT m.id, written, 'Appointment/' || appointment, m.patient, m.recipient,
      messages[m.n], m.status, 0, written
    FROM jsonb_to_recordset(booking->'messages')
      AS m(n int, id text, patient text, recipient text, status text);
  INSERT INTO audit_outbox (created, body) VALUES (written, booking->'audit');
  RETURN schedules;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION maillage_book(jsonb, bytea[])")
