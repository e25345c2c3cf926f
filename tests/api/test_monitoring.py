"""Remote monitoring end to end: a heart-failure patient's scale posts through a gateway, a real
rq worker (burst mode, local Redis) raises one alert to the care team, escalation follows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from api_server import SECRET, Server
from fhir_samples import (
    care_plan,
    care_team,
    location,
    organization,
    patient,
    post_bundle,
    practitioner,
    weighing,
)
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job

from maillage.care.monitoring import LOINC, WEIGHT
from maillage.jobs.queue import JobSettings, job_queue
from maillage.store.database import transaction
from maillage.store.models import Alert, Measurement


@pytest.fixture
def queue(server: Server, monkeypatch: pytest.MonkeyPatch, missing_service: Any) -> Iterator[Queue]:
    """A private queue the server enqueues on and a worker (same environment) runs."""
    settings = JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex[:12]}")
    try:
        Redis.from_url(settings.redis_url).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {settings.redis_url}: {error}")
    for name, value in {
        "MAILLAGE_DATABASE_URL": server.settings.database_url,
        "MAILLAGE_SECRET_KEY": SECRET,
        "MAILLAGE_JOBS_QUEUE": settings.jobs_queue,
        "MAILLAGE_ALERT_ESCALATION_MINUTES": "30",
    }.items():
        monkeypatch.setenv(name, value)
    queue = job_queue(settings)
    server.app.state.job_queue = queue
    yield queue
    for key in queue.connection.scan_iter(f"*{queue.name}*"):
        queue.connection.delete(key)
    for job_id in queue.finished_job_registry.get_job_ids():
        queue.connection.delete(Job.key_for(job_id))


def _work(queue: Queue) -> None:
    Worker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
    assert queue.failed_job_registry.count == 0, [
        Job.fetch(i, connection=queue.connection).latest_result().exc_string
        for i in queue.failed_job_registry.get_job_ids()
    ]


@pytest.fixture
def team(server: Server, coordinator: dict[str, str]) -> dict[str, dict[str, str]]:
    for body in (
        organization("msp"),
        organization("ch", kind="CH"),
        location("msp-site", "msp"),
        location("ch-site", "ch"),
        practitioner("gp", "10000000017"),
        practitioner("cardio", "10000000025"),
        practitioner("other", "10000000033"),
        {**patient("p1", "msp"), "generalPractitioner": [{"reference": "Practitioner/gp"}]},
        care_team("hf-team", "p1", "Practitioner/gp", "Practitioner/cardio"),
        care_plan("hf-plan", "p1", "hf-team", "Practitioner/cardio"),
    ):
        server.put(body, coordinator)
    return {
        "gp": server.headers("practitioner", practitioner="Practitioner/gp"),
        "cardio": server.headers("practitioner", practitioner="Practitioner/cardio"),
        "outsider": server.headers("practitioner", practitioner="Practitioner/other"),
        "gateway": server.headers("patient", patient="Patient/p1"),
        "coordinator": coordinator,
    }


def test_scale_resends_then_gains_weight_one_alert(
    server: Server, team: dict[str, dict[str, str]], queue: Queue
) -> None:
    rule = {
        "care_plan": "CarePlan/hf-plan",
        "kind": "trend",
        "code": WEIGHT,
        "unit": "kg",
        "change": 2.0,
        "window_hours": 72,
        "title": "Prise de poids ≥ 2 kg en 3 jours",
    }
    assert (
        server.client.post("/api/monitoring/rules", json=rule, headers=team["outsider"]).status_code
        == 403
    )
    created = server.client.post("/api/monitoring/rules", json=rule, headers=team["cardio"])
    assert created.status_code == 201, created.text
    assert created.json()["patient"] == "Patient/p1"

    first = weighing(80.0, "2026-03-02T07:30:00+01:00", "m1")
    answers = [post_bundle(server, [first], team["gateway"]) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    statuses = [a.json()["entry"][0]["response"]["status"] for a in answers]
    assert statuses == ["201 Created", "200 OK", "200 OK"]
    assert len({a.json()["entry"][0]["resource"]["id"] for a in answers}) == 1
    _work(queue)
    assert server.client.get("/fhir/Flag?patient=p1", headers=team["gp"]).json()["total"] == 0

    # The same measurement under another wrapper: conditional create on the identifier.
    again = {**weighing(80.0, "2026-03-02T06:30:00Z", "m1")}
    again["request"]["ifNoneExist"] = "identifier=urn:scale:hf-100|m1"
    gain = [
        again,
        weighing(81.2, "2026-03-03T07:31:00+01:00", "m2"),
        weighing(82.5, "2026-03-04T07:29:00+01:00", "m3"),
    ]
    answer = post_bundle(server, gain, team["gateway"])
    assert answer.status_code == 200, answer.text
    assert [e["response"]["status"] for e in answer.json()["entry"]] == [
        "200 OK",
        "201 Created",
        "201 Created",
    ]
    _work(queue)
    # A further gain and a re-sent bundle: still the same single open alert.
    post_bundle(server, gain[1:], team["gateway"])
    post_bundle(server, [weighing(83.1, "2026-03-05T07:30:00+01:00", "m4")], team["gateway"])
    _work(queue)

    series = server.client.get(
        f"/fhir/Observation?patient=p1&code={LOINC}|{WEIGHT}&date=ge2026-03-02&date=lt2026-03-05"
        "&_sort=date",
        headers=team["cardio"],
    ).json()
    values = [e["resource"]["valueQuantity"]["value"] for e in series["entry"]]
    assert values == [80.0, 81.2, 82.5]
    with transaction(server.app.state.sessions) as session:
        assert session.query(Measurement).count() == 4

    flags = server.client.get("/fhir/Flag?patient=p1&status=active", headers=team["gp"]).json()
    assert flags["total"] == 1
    worded = flags["entry"][0]["resource"]["code"]["text"]  # French, in local time
    assert worded.startswith("Prise de poids ≥ 2 kg en 3 jours : 82,5 kg le mercredi 4 mars 2026")
    assert "à 07:29 (contre 80 kg)" in worded
    messages = server.client.get(
        "/fhir/Communication?patient=p1&category=urn:maillage:monitoring|alert", headers=team["gp"]
    ).json()
    assert messages["total"] == 1
    recipients = {r["reference"] for r in messages["entry"][0]["resource"]["recipient"]}
    assert recipients == {"Practitioner/gp", "Practitioner/cardio"}
    alerts = server.client.get(
        "/api/monitoring/alerts?patient=Patient/p1", headers=team["gp"]
    ).json()
    assert len(alerts) == 1
    assert (
        server.client.get(
            "/api/monitoring/alerts?patient=Patient/p1", headers=team["outsider"]
        ).status_code
        == 403
    )
    assert (
        server.client.get("/fhir/Observation?patient=p1", headers=team["outsider"]).json()["total"]
        == 0
    )

    # Nobody acknowledges within the delay: the worker escalates to the coordinator, once.
    scheduled = queue.scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1
    alert_id = alerts[0]["id"]
    with transaction(server.app.state.sessions) as session:
        opened = session.get(Alert, alert_id)
        assert opened is not None
        opened.opened -= timedelta(hours=1)
    job = Job.fetch(scheduled[0], connection=queue.connection)
    queue.scheduled_job_registry.remove(job)
    queue.enqueue_job(job)
    queue.enqueue(job.func, alert_id)
    _work(queue)
    escalations = server.client.get(
        "/fhir/Communication?category=urn:maillage:monitoring|alert-escalation",
        headers=team["coordinator"],
    ).json()
    assert escalations["total"] == 1

    outsider = server.client.post(
        f"/api/monitoring/alerts/{alert_id}/acknowledge", headers=team["outsider"]
    )
    assert outsider.status_code == 403
    seen = server.client.post(f"/api/monitoring/alerts/{alert_id}/acknowledge", headers=team["gp"])
    assert seen.status_code == 200 and seen.json()["acknowledged"]
    closed = server.client.post(f"/api/monitoring/alerts/{alert_id}/close", headers=team["cardio"])
    assert closed.status_code == 200 and closed.json()["closed"]
    flag = server.client.get(f"/fhir/{alerts[0]['flag']}", headers=team["gp"]).json()
    assert flag["status"] == "inactive"
    # Once closed, the handled episode does not fire again on re-evaluation.
    post_bundle(server, gain[1:], team["gateway"])
    _work(queue)
    assert (
        len(
            server.client.get(
                "/api/monitoring/alerts?patient=Patient/p1", headers=team["gp"]
            ).json()
        )
        == 1
    )


def test_the_team_lists_and_changes_a_rule(server: Server, team: dict[str, dict[str, str]]) -> None:
    rule = {
        "patient": "Patient/p1",
        "kind": "threshold",
        "code": WEIGHT,
        "unit": "kg",
        "above": 90.0,
        "title": "Poids trop élevé",
    }
    created = server.client.post("/api/monitoring/rules", json=rule, headers=team["cardio"])
    assert created.status_code == 201, created.text
    path = f"/api/monitoring/rules/{created.json()['id']}"
    lower = {**rule, "above": None, "below": 60.0, "title": "Poids trop bas"}
    assert server.client.put(path, json=lower, headers=team["outsider"]).status_code == 403
    moved = {**lower, "patient": "Patient/p2"}
    assert server.client.put(path, json=moved, headers=team["gp"]).status_code == 422
    assert server.client.put(path + "x", json=lower, headers=team["gp"]).status_code == 404
    changed = server.client.put(path, json=lower, headers=team["gp"])
    assert changed.status_code == 200, changed.text
    listed = server.client.get("/api/monitoring/rules?patient=Patient/p1", headers=team["gp"])
    assert [(r["above"], r["below"], r["title"]) for r in listed.json()] == [
        (None, 60.0, "Poids trop bas")
    ]
    outsider = server.client.get(
        "/api/monitoring/rules?patient=Patient/p1", headers=team["outsider"]
    )
    assert outsider.status_code == 403


def test_impossible_rules_are_refused(server: Server, team: dict[str, dict[str, str]]) -> None:
    """A rule on an unknown care plan or with a non-finite threshold is a 422, never stored."""
    rule = {"kind": "threshold", "code": WEIGHT, "unit": "kg", "above": 90.0, "title": "Poids"}
    unknown = {**rule, "care_plan": "CarePlan/none"}
    response = server.client.post("/api/monitoring/rules", json=unknown, headers=team["cardio"])
    assert response.status_code == 422, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    endless = json.dumps({**rule, "patient": "Patient/p1"}).replace("90.0", "Infinity")
    headers = {**team["cardio"], "Content-Type": "application/json"}
    response = server.client.post("/api/monitoring/rules", content=endless, headers=headers)
    assert response.status_code == 422, response.text
    trend = {**rule, "patient": "Patient/p1", "kind": "trend", "change": 2.0}
    endless_window = {**trend, "window_hours": 1e18}
    response = server.client.post("/api/monitoring/rules", json=endless_window, headers=headers)
    assert response.status_code == 422, response.text
    assert "window_hours" in response.json()["issue"][0]["expression"][0]
    listed = server.client.get("/api/monitoring/rules?patient=Patient/p1", headers=team["cardio"])
    assert listed.json() == []


def test_anonymous_monitoring_requests_are_audited(server: Server) -> None:
    """A refusal on the monitoring routes is audited as on /fhir: who, what, when, outcome."""
    response = server.client.get("/api/monitoring/alerts?patient=Patient/p1")
    assert response.status_code == 401
    forged = {"Authorization": "Bearer forged"}
    assert server.client.post("/api/monitoring/alerts/a1/close", headers=forged).status_code == 401
    admin = server.headers("admin")
    found = server.client.get("/fhir/AuditEvent?outcome=8&_sort=date", headers=admin).json()
    events = [entry["resource"] for entry in found["entry"]]
    assert [e["subtype"][0]["code"] for e in events] == ["search-type", "update"]
    assert events[0]["entity"] == [{"what": {"reference": "Patient/p1"}}]
    assert events[0]["agent"][0]["who"] == {"display": "anonymous"}
    assert events[1]["outcomeDesc"].startswith("401 invalid token")
