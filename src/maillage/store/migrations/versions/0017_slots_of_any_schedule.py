"""The free slots of the whole network from a day on, read from an index.

"Any free teleconsultation slot from tomorrow, whoever the doctor" (``Slot?status=free&
start=ge…``, no schedule) is a coordinator's search. The slot calendar's index (migrations
0006, 0010) leads with the schedule, so PostgreSQL answered it by reading the whole calendar
and sorting it (90 ms for 300,000 slots on the bench machine, growing with the network). This
index leads with the status, then the start in the page's order: a range read, stopped at the
page's end, from the index alone (the start's upper bound is kept in it, for ``ge``/``gt``).
It costs a booking one more B-tree insertion for each slot it takes: 79 WAL records and
14.0 KiB a replayed booking instead of 77 and 13.2 KiB; replayed bookings a second moved within
the runs' noise (742 with it, 642 without; ``MAILLAGE_BENCH_REPLAY_ONLY=1 python -m bench
booking``).

Revision ID: 0017_slots_of_any_schedule
Revises: 0016_quieter_bookings
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017_slots_of_any_schedule"
down_revision = "0016_quieter_bookings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_slot_calendar_status",
        "slot_calendar",
        ["status", "start_low", "id"],
        postgresql_include=["start_high"],
    )


def downgrade() -> None:
    op.drop_index("ix_slot_calendar_status", table_name="slot_calendar")
