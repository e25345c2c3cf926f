"""Scale-out (issue 23): two ``maillage serve`` instances behind HAProxy (Debian's package, on
loopback) sharing one PostgreSQL. A race of bookings of one slot, spread round robin over both,
still has exactly one winner, and SQL finds no double booking."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from api_server import SECRET, Served, Server, free_port
from bench.bench_booking import double_bookings
from bench.load_balancer import HEADER, Balancer, haproxy, haproxy_command
from fhir_samples import appointment

ATTEMPTS = 12


@pytest.fixture
def balancer(
    net: Server, database_url: str, tmp_path: Path, missing_service: Callable[[str], NoReturn]
) -> Iterator[Balancer]:
    """HAProxy before two server processes on the test's database (one worker each)."""
    if haproxy_command() is None:
        missing_service("haproxy is missing (Debian package haproxy)")
    environment = {
        "MAILLAGE_DATABASE_URL": database_url,
        "MAILLAGE_SECRET_KEY": SECRET,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
    }
    instances = [Served(free_port(), environment) for _ in range(2)]
    try:
        for instance in instances:
            instance.start()
        with haproxy([instance.port for instance in instances], tmp_path) as running:
            yield running
    finally:
        for instance in instances:
            instance.kill()


def _booking(patient: str) -> dict[str, Any]:
    body = appointment("x", patient, "doctor", "site-2", "2026-03-02T09:00:00+01:00")
    del body["id"]
    return {**body, "status": "booked", "slot": [{"reference": "Slot/slot-1"}]}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_race_across_two_instances_has_one_winner(
    balancer: Balancer, database_url: str, coordinator: dict[str, str]
) -> None:
    barrier = threading.Barrier(ATTEMPTS)
    answers: list[tuple[int, str]] = []

    def book(patient: str) -> None:
        with httpx.Client(base_url=balancer.base, headers=coordinator, timeout=60) as client:
            client.get("/fhir/metadata")  # connected before the start, so that all send at once
            barrier.wait()
            answer = client.post("/fhir/Appointment", json=_booking(patient))
            answers.append((answer.status_code, answer.headers.get(HEADER, "")))

    threads = [threading.Thread(target=book, args=(f"p{n}",)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [201] + [409] * (ATTEMPTS - 1), answers
    # Round robin, request by request: each instance answered half of the race (and half of
    # the connections' first requests), 409s from both.
    assert Counter(name for _, name in answers) == {"instance-1": 6, "instance-2": 6}
    assert {name for status, name in answers if status == 409} == {"instance-1", "instance-2"}
    assert balancer.answers() == {"instance-1": ATTEMPTS, "instance-2": ATTEMPTS}
    found = double_bookings(database_url)
    assert found["booked appointments"] == 1
    assert found["busy slots"] == 1
    assert found["slots held twice"] == found["people booked twice at once"] == 0
