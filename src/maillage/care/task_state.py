"""FHIR R4 Task status transitions, used to check every update of a télé-expertise Task.

Transcribed from the Task state machine of FHIR R4 (https://hl7.org/fhir/R4/task.html,
section "Task state machine", and the status definitions at
https://hl7.org/fhir/R4/valueset-task-status.html):

* a request goes draft → requested → received → accepted, or straight to ``ready`` when
  assignment and acceptance are a given; the potential performer may reject it while it is
  requested or received;
* ``cancelled`` ends a task before work starts; once started (in-progress, on-hold) a task ends
  as ``completed`` or ``failed``;
* ``on-hold`` pauses started work and returns to ``in-progress``;
* ``entered-in-error`` may be set from any state: it corrects a record, not the work.

Keeping the same status is always allowed, so an update that changes other fields passes.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    READY = "ready"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered-in-error"


S = TaskStatus
_NEXT: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.DRAFT: frozenset({S.REQUESTED, S.READY, S.CANCELLED}),
    S.REQUESTED: frozenset({S.RECEIVED, S.ACCEPTED, S.REJECTED, S.READY, S.CANCELLED}),
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.READY, S.IN_PROGRESS, S.CANCELLED}),
    S.READY: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.FAILED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.COMPLETED: frozenset(),
    S.ENTERED_IN_ERROR: frozenset(),
}
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    old: nexts | {S.ENTERED_IN_ERROR} if old is not S.ENTERED_IN_ERROR else nexts
    for old, nexts in _NEXT.items()
}
"""Allowed next statuses for each status (the same status aside)."""

TERMINAL = frozenset(s for s, nexts in TRANSITIONS.items() if nexts <= {S.ENTERED_IN_ERROR})


class TransitionError(ValueError):
    """A refused status change; ``allowed`` lists what the task may become instead."""

    def __init__(self, old: TaskStatus, new: TaskStatus, reason: str) -> None:
        self.old, self.new = old, new
        self.allowed = sorted(TRANSITIONS[old])
        super().__init__(reason)


def check_transition(old: str, new: str, *, status_reason: object = None) -> None:
    """Refuse a Task status change the state machine does not allow.

    ``status_reason`` is the new Task.statusReason: putting a task on hold must say why
    (for télé-expertise, the information the expert asks for).
    """
    old_status, new_status = TaskStatus(old), TaskStatus(new)
    if old_status is not new_status and new_status not in TRANSITIONS[old_status]:
        allowed = ", ".join(sorted(TRANSITIONS[old_status])) or "none (final status)"
        raise TransitionError(
            old_status,
            new_status,
            f"Task status cannot change from {old_status} to {new_status}; allowed: {allowed}",
        )
    if new_status is S.ON_HOLD and not status_reason:
        raise TransitionError(
            old_status, new_status, "Task put on-hold needs a statusReason saying what is awaited"
        )
