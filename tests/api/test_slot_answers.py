"""Kept answers of slot searches (PostgreSQL): served again until a write of one of the
schedule's slots drops them, at once in the process that wrote, through ``NOTIFY`` in the
others; a slot a stale answer still shows gets 409 at booking, never a second booking."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from api_server import Server
from fastapi.testclient import TestClient
from fhir_samples import appointment
from sqlalchemy import make_url, text

from maillage.server import create_app
from maillage.store.database import make_engine
from maillage.store.slot_answers import SlotAnswers

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
FREE = "/fhir/Slot?schedule=Schedule/doctor-schedule&status=free"


@pytest.fixture
def other(net: Server) -> Iterator[TestClient]:
    """A second server process on the same database: its own pools and kept answers."""
    app = create_app(net.settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _free(client: TestClient, headers: dict[str, str]) -> list[str]:
    found = client.get(FREE, headers=headers)
    assert found.status_code == 200, found.text
    return [entry["resource"]["id"] for entry in found.json()["entry"]]


def _within(seconds: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _booking(patient: str) -> dict[str, Any]:
    body = appointment("x", patient, "doctor", "site-2", "2026-03-02T09:00:00+01:00")
    del body["id"]
    return {**body, "status": "booked", "slot": [{"reference": "Slot/slot-1"}]}


@pytest.mark.postgres
@ON_POSTGRESQL
def test_an_answer_is_kept_until_the_schedule_is_announced(
    net: Server, coordinator: dict[str, str]
) -> None:
    """Changed under the server (the trigger off), the slot still shows: the answer is kept;
    once PostgreSQL announces the schedule, it is read again."""
    assert _within(5, lambda: net.app.state.slot_answers.listening)
    assert _free(net.client, coordinator) == ["slot-1"]
    engine = make_engine(net.settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("UPDATE slot_calendar SET status = 'busy' WHERE id = 'slot-1'"))
    assert _free(net.client, coordinator) == ["slot-1"]  # kept
    with engine.begin() as connection:
        connection.execute(text("NOTIFY slot_calendar, 'Schedule/doctor-schedule'"))
    assert _within(5, lambda: _free(net.client, coordinator) == [])
    engine.dispose()


@pytest.mark.postgres
@ON_POSTGRESQL
def test_a_stale_answer_costs_a_409_never_a_double_booking(
    net: Server, other: TestClient, coordinator: dict[str, str]
) -> None:
    assert _within(5, lambda: other.app.state.slot_answers.listening)  # type: ignore[attr-defined]
    assert _free(net.client, coordinator) == _free(other, coordinator) == ["slot-1"]
    booked = net.client.post("/fhir/Appointment", json=_booking("patient-2"), headers=coordinator)
    assert booked.status_code == 201, booked.text
    assert _free(net.client, coordinator) == []  # the writer's process: dropped at the commit
    assert _within(5, lambda: _free(other, coordinator) == [])  # the other: at the notification
    # A client that read the other process's answer before the notification books slot-1 too.
    again = other.post("/fhir/Appointment", json=_booking("patient-1"), headers=coordinator)
    assert again.status_code == 409, again.text
    engine = make_engine(net.settings.sqlalchemy_url)
    with engine.connect() as connection:
        holding = connection.execute(
            text(
                "SELECT count(*) FROM fhir_search s JOIN fhir_resource r ON r.resource_type ="
                " s.resource_type AND r.id = s.resource_id WHERE s.param = 'slot'"
                " AND s.value = 'Slot/slot-1' AND NOT r.deleted AND r.body->>'status' = 'booked'"
            )
        ).scalar_one()
    engine.dispose()
    assert holding == 1
    cancelled = {**booked.json(), "status": "cancelled"}
    path = f"/fhir/Appointment/{cancelled['id']}"
    assert other.put(path, json=cancelled, headers=coordinator).status_code == 200
    assert _free(other, coordinator) == ["slot-1"]  # freed by this process: read at once
    assert _within(5, lambda: _free(net.client, coordinator) == ["slot-1"])


def test_a_page_read_across_a_drop_is_not_kept() -> None:
    answers = SlotAnswers(60)
    answers.listening = True
    mark = answers.mark("Schedule/a")
    answers.drop({"Schedule/a"})  # a commit while the page was read
    answers.keep("Schedule/a", "k", mark, "old page")
    assert answers.get("Schedule/a", "k") is None
    answers.keep("Schedule/a", "k", answers.mark("Schedule/a"), "page")
    assert answers.get("Schedule/a", "k") == "page"
    mark = answers.mark("Schedule/b")
    answers.forget()  # the listening connection went down and up meanwhile
    answers.keep("Schedule/b", "k", mark, "old page")
    assert answers.get("Schedule/b", "k") is None and answers.get("Schedule/a", "k") is None
    answers.listening = False
    assert answers.mark("Schedule/a") is None


@pytest.mark.postgres
@ON_POSTGRESQL
def test_a_booking_is_announced_once_after_its_commit(
    net: Server, coordinator: dict[str, str]
) -> None:
    """The booking's call leaves the trigger quiet (migration 0016): the only announcement is
    its process's, after the commit; any other write of the calendar still notifies."""
    url = make_url(net.settings.sqlalchemy_url).set(drivername="postgresql")
    url = url.render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN slot_calendar")
        booked = net.client.post(
            "/fhir/Appointment", json=_booking("patient-2"), headers=coordinator
        )
        assert booked.status_code == 201, booked.text
        heard = [n.payload for n in listener.notifies(timeout=1.0)]
        assert heard == ["Schedule/doctor-schedule"]
        with psycopg.connect(url, autocommit=True) as writer:
            writer.execute("UPDATE slot_calendar SET status = 'free' WHERE id = 'slot-1'")
        assert [n.payload for n in listener.notifies(timeout=1.0)] == ["Schedule/doctor-schedule"]
