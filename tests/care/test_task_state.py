"""The FHIR R4 Task state machine, checked exhaustively."""

from __future__ import annotations

from itertools import product

import pytest

from maillage.care.task_state import TERMINAL, TaskStatus, TransitionError, check_transition

S = TaskStatus
# Written out independently of the module, from the R4 Task state diagram.
EXPECTED = {
    S.DRAFT: {S.REQUESTED, S.READY, S.CANCELLED},
    S.REQUESTED: {S.RECEIVED, S.ACCEPTED, S.REJECTED, S.READY, S.CANCELLED},
    S.RECEIVED: {S.ACCEPTED, S.REJECTED, S.CANCELLED},
    S.ACCEPTED: {S.READY, S.IN_PROGRESS, S.CANCELLED},
    S.READY: {S.IN_PROGRESS, S.CANCELLED},
    S.IN_PROGRESS: {S.ON_HOLD, S.COMPLETED, S.FAILED},
    S.ON_HOLD: {S.IN_PROGRESS, S.FAILED},
}


def _allowed(old: TaskStatus, new: TaskStatus) -> bool:
    if old is new:
        return True
    if new is S.ENTERED_IN_ERROR:
        return old is not S.ENTERED_IN_ERROR
    return new in EXPECTED.get(old, set())


@pytest.mark.parametrize(("old", "new"), list(product(TaskStatus, TaskStatus)))
def test_every_pair(old: TaskStatus, new: TaskStatus) -> None:
    reason = {"text": "ECG de meilleure qualité demandé"} if new is S.ON_HOLD else None
    if _allowed(old, new):
        check_transition(old.value, new.value, status_reason=reason)
    else:
        with pytest.raises(TransitionError) as refused:
            check_transition(old.value, new.value, status_reason=reason)
        assert refused.value.allowed == sorted(EXPECTED.get(old, set()) | _error_exit(old))
        assert str(old) in str(refused.value) and str(new) in str(refused.value)


def _error_exit(old: TaskStatus) -> set[TaskStatus]:
    return set() if old is S.ENTERED_IN_ERROR else {S.ENTERED_IN_ERROR}


def test_on_hold_needs_a_reason() -> None:
    with pytest.raises(TransitionError, match="statusReason"):
        check_transition("in-progress", "on-hold")
    check_transition("in-progress", "on-hold", status_reason={"text": "need the last creatinine"})


def test_tele_expertise_path() -> None:
    for old, new in [
        ("requested", "accepted"),
        ("accepted", "in-progress"),
        ("in-progress", "on-hold"),
        ("on-hold", "in-progress"),
        ("in-progress", "completed"),
    ]:
        check_transition(old, new, status_reason="x")


def test_final_statuses_and_unknown_codes() -> None:
    assert {S.REJECTED, S.CANCELLED, S.FAILED, S.COMPLETED, S.ENTERED_IN_ERROR} == TERMINAL
    with pytest.raises(TransitionError, match="none"):
        check_transition("entered-in-error", "draft")
    with pytest.raises(ValueError):
        check_transition("requested", "done")
