"""Schemathesis against the server's OpenAPI (issue 14): every operation, with generated
paths, queries and bodies, sent as an admin (the widest access) to the sample network,
answers without a server error.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same
requests every run). The FHIR routes' ``resource_type`` and ``resource_id`` are drawn half the
time from the served types and the network's ids, so that requests reach records rather than
stopping at a 404. The operations are driven from one test per back-end (schemathesis's pytest
fixture loader does not run under this pytest).
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from api_server import Server
from fhir_samples import network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maillage.care.policy import SUPPORTED_TYPES

EXAMPLES = 50
"""Generated cases per operation."""


def _aimed(case: schemathesis.Case, kind: str | None, rid: str | None) -> schemathesis.Case:
    """The case with a served resource type and a known id, where it names them and the draw
    gave one."""
    parameters = case.path_parameters or {}
    if kind is not None and "resource_type" in parameters:
        parameters["resource_type"] = kind
    if rid is not None and "resource_id" in parameters:
        parameters["resource_id"] = rid
    return case


@pytest.mark.slow
def test_no_operation_answers_a_server_error(
    server: Server, admin: dict[str, str], database_url: str
) -> None:
    samples = network()
    for body in samples:
        server.put(body, admin)
    kinds = st.none() | st.sampled_from(sorted(SUPPORTED_TYPES))
    ids = st.none() | st.sampled_from([body["id"] for body in samples])
    schema = schemathesis.openapi.from_asgi("/openapi.json", server.app)
    answers: Counter[int] = Counter()
    errors: list[str] = []
    for result in schema.get_all_operations():
        cases = st.builds(_aimed, result.ok().as_strategy(), kinds, ids)

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=admin)
            answers[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(f"{case.as_curl_command()} → {response.status_code}")

        call()
    print(f"\nschemathesis on {database_url.split(':')[0]}: {answers.total()} requests", answers)
    assert answers.total() >= 1000
    assert errors == [], "\n".join(errors)
