"""Locust scenario of :mod:`bench.bench_booking`: each user searches a schedule's first free
slots from one of the first days on (``start=ge…``, as a patient wants the soonest), then books
one of the ten (``POST /fhir/Appointment``, status booked, the slot named), so users collide.
With ``BENCH_MODE=search`` users only search (the read-only load, as pgbench's select-only).

Users wait for nothing between requests (a closed loop, like pgbench's clients). A 409 is the
expected answer when another user took the slot first: it is reported as the failure
"409 conflict (expected)" so that its count shows apart, and any other failure is a real one.
The seed is read from the JSON file named by ``BENCH_SEED`` (written by the benchmark).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from urllib.parse import urlencode

from locust import FastHttpUser, constant, task

with open(os.environ["BENCH_SEED"], encoding="utf-8") as _handle:
    SEED = json.load(_handle)
_TOKENS = itertools.cycle(SEED["tokens"])
SEARCH_ONLY = os.environ.get("BENCH_MODE") == "search"
TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}


class Booker(FastHttpUser):
    """A coordinator booking teleconsultations for patients, as fast as the server answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {next(_TOKENS)}"}

    @task
    def search_then_book(self) -> None:
        index = random.randrange(len(SEED["schedules"]))
        free = self.search(index)
        if free and not SEARCH_ONLY:
            self.book(index, random.choice(free))

    def search(self, index: int) -> list[dict]:
        """The first free slots of one schedule from one of the first days on."""
        query = urlencode(
            {
                "schedule": f"Schedule/{SEED['schedules'][index]}",
                "start": f"ge{random.choice(SEED['days'][:5])}",
                "status": "free",
                "_count": "10",
            }
        )
        with self.client.get(
            f"/fhir/Slot?{query}", headers=self.auth, name="search", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return []
            return [entry["resource"] for entry in response.json().get("entry", [])]

    def book(self, index: int, slot: dict) -> None:
        """Book ``slot`` for a random patient with the schedule's doctor."""
        appointment = {
            "resourceType": "Appointment",
            "status": "booked",
            "serviceType": [TELECONSULTATION],
            "start": slot["start"],
            "end": slot["end"],
            "slot": [{"reference": f"Slot/{slot['id']}"}],
            "participant": [
                {
                    "actor": {"reference": f"Patient/{random.choice(SEED['patients'])}"},
                    "status": "accepted",
                },
                {
                    "actor": {"reference": f"Practitioner/{SEED['practitioners'][index]}"},
                    "status": "accepted",
                },
            ],
        }
        with self.client.post(
            "/fhir/Appointment",
            data=json.dumps(appointment),
            headers={**self.auth, "Content-Type": "application/fhir+json"},
            name="book",
            catch_response=True,
        ) as response:
            if response.status_code == 409:
                response.failure("409 conflict (expected)")
            elif response.status_code != 201:
                response.failure(f"{response.status_code} {response.text[:200]}")
