"""A FHIR-aware corpus of hostile requests, in named categories (issue 14).

Each case is a request the server must refuse with a 4xx OperationOutcome: what an attacker, a
careless client or a broken integration sends. The few in :data:`EDGES` are valid FHIR at its
edges (or what the R4 models take): answered either way, never with a server error. The cases
run against the sample network of :func:`fhir_samples.network` (``patient-2`` has records,
``doctor-schedule`` exists); ``role`` names whose token sends them. The corpus is generated,
not random: the same cases every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fhir_samples import (
    appointment,
    binary,
    document,
    observation,
    organization,
    patient,
)

from maillage.care.monitoring import LOINC, UCUM, WEIGHT

#: Digits that ``str.isdigit`` accepts and ``int`` reads, or not, that are not ASCII.
UNICODE_DIGITS = ("²", "١٢", "５", "৩", "⁴", "𝟗", "߁", "፲")


@dataclass(frozen=True)
class Case:
    """One hostile request: JSON ``body`` or ``raw`` bytes (sent as FHIR JSON)."""

    category: str
    name: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    role: str = "admin"

    @property
    def id(self) -> str:
        return f"{self.category}:{self.name}"


def _bundle(*entries: Any, kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _post(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def _weight(subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": WEIGHT}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-03-02T09:00:00+01:00",
        "valueQuantity": {"value": 72.5, "unit": "kg", "system": UCUM, "code": "kg"},
        **extra,
    }


def unicode_digits() -> list[Case]:
    cases = []
    for i, digit in enumerate(UNICODE_DIGITS):
        for name in ("_count", "_offset"):
            cases.append(Case("unicode-digits", f"{name}-{i}", "GET", f"/fhir/Slot?{name}={digit}"))
        cases.append(
            Case(
                "unicode-digits",
                f"if-match-{i}",
                "PUT",
                "/fhir/Organization/msp-1",
                body=organization("msp-1"),
                headers={"If-Match": f'W/"{digit}"'.encode()},
            )
        )
        cases.append(
            Case(
                "unicode-digits", f"version-{i}", "GET", f"/fhir/Patient/patient-2/_history/{digit}"
            )
        )
        cases.append(Case("unicode-digits", f"date-{i}", "GET", f"/fhir/Slot?start=20{digit}"))
    cases.append(
        Case("unicode-digits", "birthdate", "GET", "/fhir/Patient?birthdate=１９８０-01-01")
    )
    cases.append(
        Case(
            "unicode-digits",
            "billing-from",
            "GET",
            "/api/billing/acts?from=２０２６-01-01&to=2026-01-02",
        )
    )
    cases.append(
        Case(
            "unicode-digits",
            "body-date",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2", effectiveDateTime="２０２６-03-02"),
        )
    )
    return cases


def huge_numbers() -> list[Case]:
    big = "9" * 5000
    cases = [
        Case("huge-numbers", "count-5000-digits", "GET", f"/fhir/Slot?_count={big}"),
        Case("huge-numbers", "offset-5000-digits", "GET", f"/fhir/Slot?_offset={big}"),
        Case(
            "huge-numbers", "version-5000-digits", "GET", f"/fhir/Patient/patient-2/_history/{big}"
        ),
        Case("huge-numbers", "version-2-63", "GET", f"/fhir/Patient/patient-2/_history/{2**63}"),
        Case(
            "huge-numbers",
            "if-match-5000-digits",
            "PUT",
            "/fhir/Organization/msp-1",
            body=organization("msp-1"),
            headers={"If-Match": f'W/"{big}"'},
        ),
        Case(
            "huge-numbers",
            "if-match-2-63",
            "PUT",
            "/fhir/Organization/msp-1",
            body=organization("msp-1"),
            headers={"If-Match": f'W/"{2**63}"'},
        ),
        Case(
            "huge-numbers",
            "integer-5000-digits",
            "POST",
            "/fhir/Organization",
            raw=b'{"resourceType": "Organization", "name": "x", "extension": [{"url": "u", '
            b'"valueInteger": ' + big.encode() + b"}]}",
        ),
        Case(
            "huge-numbers",
            "integer-2-63",
            "POST",
            "/fhir/Organization",
            body={**organization("x"), "extension": [{"url": "u", "valueInteger": 2**63}]},
        ),
        Case(
            "huge-numbers",
            "negative-integer-2-63",
            "POST",
            "/fhir/Organization",
            body={**organization("x"), "extension": [{"url": "u", "valueInteger": -(2**63)}]},
        ),
        Case(
            "huge-numbers",
            "positive-int-zero",
            "POST",
            "/fhir/Organization",
            body={**organization("x"), "extension": [{"url": "u", "valuePositiveInt": 0}]},
        ),
        Case(
            "huge-numbers",
            "decimal-1e400",
            "POST",
            "/fhir/Observation",
            raw=json.dumps(_weight("Patient/patient-2")).replace("72.5", "1e400").encode(),
        ),
        Case(
            "huge-numbers",
            "decimal-nan",
            "POST",
            "/fhir/Observation",
            raw=json.dumps(_weight("Patient/patient-2")).replace("72.5", "NaN").encode(),
        ),
        Case(
            "huge-numbers",
            "decimal-infinity",
            "POST",
            "/fhir/Observation",
            raw=json.dumps(_weight("Patient/patient-2")).replace("72.5", "-Infinity").encode(),
        ),
        Case(
            "huge-numbers",
            "decimal-5000-digits",
            "POST",
            "/fhir/Observation",
            raw=json.dumps(_weight("Patient/patient-2")).replace("72.5", "0." + big).encode(),
        ),
        Case(
            "huge-numbers",
            "slot-minutes-huge",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=_generate(slot_minutes=2**40),
        ),
        Case(
            "huge-numbers",
            "slot-minutes-zero",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=_generate(slot_minutes=0),
        ),
        Case(
            "huge-numbers",
            "slot-minutes-text",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=_generate(slot_minutes="20"),
        ),
        Case(
            "huge-numbers",
            "rule-window-1e18",
            "POST",
            "/api/monitoring/rules",
            body=_rule(window_hours=1e18),
        ),
        Case(
            "huge-numbers",
            "rule-change-1e300",
            "POST",
            "/api/monitoring/rules",
            body=_rule(change=1e300),
        ),
        Case(
            "huge-numbers",
            "rule-window-negative",
            "POST",
            "/api/monitoring/rules",
            body=_rule(window_hours=-1),
        ),
        Case(
            "huge-numbers", "billing-numeric-days", "GET", f"/api/billing/acts?from={big}&to={big}"
        ),
        Case(
            "huge-numbers",
            "billing-timestamp-days",
            "GET",
            "/api/billing/acts?from=1e20&to=99999999999999",
        ),
        Case("huge-numbers", "count-negative", "GET", "/fhir/Slot?_count=-1"),
        Case("huge-numbers", "offset-negative", "GET", "/fhir/Slot?_offset=-5"),
        Case("huge-numbers", "count-float", "GET", "/fhir/Slot?_count=1.5"),
        Case("huge-numbers", "count-exponent", "GET", "/fhir/Slot?_count=1e3"),
    ]
    return cases


def _generate(
    start: Any = "2026-03-02", end: Any = "2026-03-06", slot_minutes: Any = 20, day: Any = "mon"
) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "start", "valueDate": start},
            {"name": "end", "valueDate": end},
            {"name": "slotMinutes", "valuePositiveInt": slot_minutes},
            {
                "name": "availability",
                "part": [
                    {"name": "daysOfWeek", "valueCode": day},
                    {"name": "availableStartTime", "valueTime": "09:00:00"},
                    {"name": "availableEndTime", "valueTime": "12:00:00"},
                ],
            },
        ],
    }


def _rule(**extra: Any) -> dict[str, Any]:
    return {
        "patient": "Patient/patient-2",
        "kind": "trend",
        "code": WEIGHT,
        "unit": "kg",
        "change": 2,
        "window_hours": 72,
        "title": "Prise de poids",
        **extra,
    }


def bad_dates() -> list[Case]:
    search = [
        "2026-13-01",
        "2026-02-30",
        "2026-00-10",
        "0000-01-01",
        "2026-01-01T25:00:00Z",
        "2026-01-01T10:00:00+25:00",
        "2026-01-01T10:00",
        "gt",
        "ge-2026",
        "eq2026-01-01T",
        "2026-1-1",
        "20260101",
        "1e10",
        "99999999",
        "-2026",
        "2026-01-01T10:00:00.Z",
    ]
    cases = [
        Case("bad-dates", f"slot-start-{i}", "GET", f"/fhir/Slot?start={value}")
        for i, value in enumerate(search)
    ]
    body_dates = {
        "birthdate-feb-30": ("Patient", "birthDate", "2026-02-30"),
        "birthdate-text": ("Patient", "birthDate", "hier"),
        "birthdate-number": ("Patient", "birthDate", 19800101),
        "birthdate-year-0": ("Patient", "birthDate", "0000-01-01"),
    }
    for name, (kind, key, value) in body_dates.items():
        body = {**patient("p-dates", "msp-1"), key: value}
        del body["id"]
        cases.append(Case("bad-dates", name, "POST", f"/fhir/{kind}", body=body))
    for name, value in {
        "effective-text": "demain",
        "effective-month-13": "2026-13-02T09:00:00+01:00",
        "effective-no-zone": "2026-03-02T09:00:00",
        "effective-offset-15": "2026-03-02T09:00:00+15:00",
        "effective-year-1-east": "0001-01-01T00:00:00+14:00",
        "effective-year-9999-west": "9999-12-31T23:59:59-14:00",
    }.items():
        cases.append(
            Case(
                "bad-dates",
                name,
                "POST",
                "/fhir/Observation",
                body=_weight("Patient/patient-2", effectiveDateTime=value),
            )
        )
    for name, start in {
        "appointment-year-1-east": "0001-01-01T00:00:00+14:00",
        "appointment-year-9999-west": "9999-12-31T23:59:59-14:00",
        "appointment-text": "bientôt",
    }.items():
        body = appointment("visit-x", "patient-2", "doctor", "site-2", "2026-03-02T10:00:00+01:00")
        body["start"] = start
        del body["id"]
        cases.append(Case("bad-dates", name, "POST", "/fhir/Appointment", body=body))
    for name, (start, end) in {
        "generate-end-before-start": ("2026-03-06", "2026-03-02"),
        "generate-year-1": ("0001-01-01", "0001-01-03"),
        "generate-text": ("lundi", "vendredi"),
        "generate-ten-years": ("2026-01-01", "2036-01-01"),
        "generate-numeric": (20260302, 20260306),
        "generate-null": (None, None),
        "generate-datetime": ("2026-03-02T00:00:00Z", "2026-03-06T00:00:00Z"),
        "generate-month": ("2026-03", "2026-04"),
    }.items():
        cases.append(
            Case(
                "bad-dates",
                name,
                "POST",
                "/fhir/Schedule/doctor-schedule/$generate-slots",
                body=_generate(start, end),
            )
        )
    zoned = _generate()
    for name, zone in {
        "zone-unknown": "Mars/Olympus",
        "zone-number": 2,
        "zone-path": "../../etc",
    }.items():
        body = {
            **zoned,
            "parameter": [*zoned["parameter"], {"name": "timezone", "valueCode": zone}],
        }
        cases.append(
            Case(
                "bad-dates",
                f"generate-{name}",
                "POST",
                "/fhir/Schedule/doctor-schedule/$generate-slots",
                body=body,
            )
        )
    for name, query in {
        "billing-feb-30": "from=2026-02-30&to=2026-03-01",
        "billing-year-0": "from=0000-01-01&to=2026-03-01",
        "billing-missing-to": "from=2026-01-01",
    }.items():
        cases.append(Case("bad-dates", name, "GET", f"/api/billing/acts?{query}"))
    return cases


def bad_references() -> list[Case]:
    references: dict[str, Any] = {
        "empty-id": "Patient/",
        "trailing-slash": "Patient/patient-2/",
        "lower-case-type": "patient/patient-2",
        "double-slash": "Patient//patient-2",
        "leading-slash": "/Patient/patient-2",
        "history": "Patient/patient-2/_history/1",
        "absolute-elsewhere": "http://evil.example/fhir/Patient/patient-2",
        "unknown-type": "Nobody/patient-2",
        "id-too-long": "Patient/" + "a" * 65,
        "id-bad-characters": "Patient/pa tient",
        "dot-dot": "Patient/..",
        "fragment-missing": "#nowhere",
        "urn-uuid-malformed": "urn:uuid:not-a-uuid",
        "urn-oid-malformed": "urn:oid:abc",
        "unicode-id": "Patient/patiént",
        "query": "Patient?name=x",
        "empty": "",
        "number": 12,
        "list": ["Patient/patient-2"],
        "object": {"reference": "Patient/patient-2"},
        "null-char": "Patient/p\u0001",
    }
    cases = [
        Case(
            "bad-references",
            f"subject-{name}",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2") | {"subject": {"reference": value}},
        )
        for name, value in references.items()
    ]
    cases += [
        Case(
            "bad-references",
            "subject-not-object",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2") | {"subject": "Patient/patient-2"},
        ),
        Case(
            "bad-references",
            "subject-array",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2") | {"subject": [{"reference": "Patient/patient-2"}]},
        ),
        Case(
            "bad-references",
            "subject-wrong-type",
            "POST",
            "/fhir/Observation",
            body=_weight("Organization/msp-1"),
        ),
        Case("bad-references", "search-reference-empty", "GET", "/fhir/Observation?patient="),
        Case("bad-references", "search-reference-comma", "GET", "/fhir/Observation?patient=,,,"),
    ]
    return cases


def malformed_bundles() -> list[Case]:
    org = {"resourceType": "Organization", "name": "x"}
    shapes: dict[str, Any] = {
        "entry-object": {"resourceType": "Bundle", "type": "transaction", "entry": {}},
        "entry-string": {"resourceType": "Bundle", "type": "transaction", "entry": "x"},
        "entry-items-strings": _bundle("a", "b"),
        "entry-items-null": _bundle(None),
        "entry-items-lists": _bundle([1, 2]),
        "no-type": {"resourceType": "Bundle", "entry": [_post(org)]},
        "type-unknown": _bundle(_post(org), kind="bag"),
        "type-collection": _bundle(_post(org), kind="collection"),
        "type-history": _bundle(_post(org), kind="history"),
        "type-document": _bundle(_post(org), kind="document"),
        "type-number": _bundle(_post(org), kind=7),
        "request-missing": _bundle({"resource": org}),
        "request-string": _bundle({"resource": org, "request": "POST"}),
        "method-unknown": _bundle(
            {"resource": org, "request": {"method": "PATCH", "url": "Organization"}}
        ),
        "method-lower": _bundle(
            {"resource": org, "request": {"method": "post", "url": "Organization"}}
        ),
        "method-number": _bundle(
            {"resource": org, "request": {"method": 1, "url": "Organization"}}
        ),
        "url-missing": _bundle({"resource": org, "request": {"method": "POST"}}),
        "url-absolute": _bundle(
            {
                "resource": org,
                "request": {"method": "POST", "url": "http://evil.example/Organization"},
            }
        ),
        "url-other-type": _bundle(
            {"resource": org, "request": {"method": "POST", "url": "Patient"}}
        ),
        "url-number": _bundle({"resource": org, "request": {"method": "POST", "url": 5}}),
        "url-dot-dot": _bundle(
            {"resource": org, "request": {"method": "PUT", "url": "Organization/../x"}}
        ),
        "put-id-mismatch": _bundle(
            {"resource": {**org, "id": "a"}, "request": {"method": "PUT", "url": "Organization/b"}}
        ),
        "put-url-too-deep": _bundle(
            {
                "resource": {**org, "id": "a"},
                "request": {"method": "PUT", "url": "Organization/a/b"},
            }
        ),
        "resource-missing": _bundle({"request": {"method": "POST", "url": "Organization"}}),
        "resource-list": _bundle(
            {"resource": [org], "request": {"method": "POST", "url": "Organization"}}
        ),
        "resource-string": _bundle(
            {"resource": "Organization", "request": {"method": "POST", "url": "Organization"}}
        ),
        "resource-invalid": _bundle(_post({"resourceType": "Organization", "name": 5})),
        "nested-bundle": _bundle(_post(_bundle(_post(org)))),
        "delete-missing-url": _bundle({"request": {"method": "DELETE"}}),
        "delete-unknown": _bundle({"request": {"method": "DELETE", "url": "Organization/nobody"}}),
        "get-in-transaction": _bundle(
            {"request": {"method": "GET", "url": "Organization?_count=1"}}
        ),
        "conditional-create-bad": _bundle(
            _post(org)
            | {"request": {"method": "POST", "url": "Organization", "ifNoneExist": "nosuch=1"}}
        ),
        "if-match-bad": _bundle(
            {
                "resource": organization("msp-1"),
                "request": {"method": "PUT", "url": "Organization/msp-1", "ifMatch": 'W/"x"'},
            }
        ),
        "if-match-unicode": _bundle(
            {
                "resource": organization("msp-1"),
                "request": {"method": "PUT", "url": "Organization/msp-1", "ifMatch": 'W/"²"'},
            }
        ),
        "not-a-bundle": {"resourceType": "Organization", "name": "x"},
        "bundle-array": [_bundle(_post(org))],
    }
    cases = [
        Case("malformed-bundles", name, "POST", "/fhir", body=body) for name, body in shapes.items()
    ]
    cases.append(
        Case(
            "malformed-bundles",
            "bundle-put-by-id",
            "PUT",
            "/fhir/Bundle/b1",
            body={**_bundle(_post(org)), "id": "b1"},
        )
    )
    cases.append(
        Case(
            "malformed-bundles",
            "bundle-post-type",
            "POST",
            "/fhir/Bundle",
            body=_bundle(_post(org)),
        )
    )
    many = _bundle(*[_post(org) for _ in range(51)])
    cases.append(
        Case(
            "malformed-bundles",
            "patient-bundle-too-long",
            "POST",
            "/fhir",
            body=many,
            role="patient",
        )
    )
    huge = _bundle(*[_post(org) for _ in range(501)])
    cases.append(Case("malformed-bundles", "bundle-too-long", "POST", "/fhir", body=huge))
    return cases


def unresolved_urns() -> list[Case]:
    missing = "urn:uuid:7c1f7d1e-8a3a-4f5a-9b2e-0d7f3c8a1b2c"
    obs = _weight(missing)
    cases = [
        Case("urn-uuid", "subject-unresolved", "POST", "/fhir", body=_bundle(_post(obs))),
        Case("urn-uuid", "subject-unresolved-direct", "POST", "/fhir/Observation", body=obs),
        Case(
            "urn-uuid",
            "put-url-urn",
            "POST",
            "/fhir",
            body=_bundle(
                {
                    "resource": {"resourceType": "Organization", "name": "x"},
                    "request": {"method": "PUT", "url": missing},
                }
            ),
        ),
        Case(
            "urn-uuid",
            "full-url-not-uuid",
            "POST",
            "/fhir",
            body=_bundle(_post({"resourceType": "Organization", "name": "x"}, "urn:uuid:zz")),
        ),
        Case(
            "urn-uuid",
            "full-url-number",
            "POST",
            "/fhir",
            body=_bundle(_post({"resourceType": "Organization", "name": "x"}, 5)),
        ),
        Case(
            "urn-uuid",
            "partof-unresolved",
            "POST",
            "/fhir",
            body=_bundle(
                _post(
                    {"resourceType": "Organization", "name": "x", "partOf": {"reference": missing}}
                )
            ),
        ),
        Case(
            "urn-uuid",
            "uppercase-urn",
            "POST",
            "/fhir",
            body=_bundle(_post(_weight(missing.upper()))),
        ),
        Case(
            "urn-uuid",
            "reference-to-deleted-entry",
            "POST",
            "/fhir",
            body=_bundle(
                {"fullUrl": missing, "request": {"method": "DELETE", "url": "Organization/nobody"}},
                _post(
                    {"resourceType": "Organization", "name": "y", "partOf": {"reference": missing}}
                ),
            ),
        ),
        Case(
            "urn-uuid",
            "circular",
            "POST",
            "/fhir",
            body=_bundle(
                _post(
                    {
                        "resourceType": "Organization",
                        "name": "a",
                        "partOf": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
                    },
                    "urn:uuid:22222222-2222-4222-8222-222222222222",
                ),
                _post(
                    {
                        "resourceType": "Organization",
                        "name": "b",
                        "partOf": {"reference": "urn:uuid:33333333-3333-4333-8333-333333333333"},
                    },
                    "urn:uuid:11111111-1111-4111-8111-111111111111",
                ),
            ),
        ),
    ]
    return cases


def duplicate_full_urls() -> list[Case]:
    urn = "urn:uuid:44444444-4444-4444-8444-444444444444"
    org = {"resourceType": "Organization", "name": "x"}
    loc = {"resourceType": "Location", "name": "l", "managingOrganization": {"reference": urn}}
    return [
        Case(
            "duplicate-full-url",
            "two-posts",
            "POST",
            "/fhir",
            body=_bundle(_post(org, urn), _post(org, urn)),
        ),
        Case(
            "duplicate-full-url",
            "two-posts-referenced",
            "POST",
            "/fhir",
            body=_bundle(_post(org, urn), _post(org, urn), _post(loc)),
        ),
        Case(
            "duplicate-full-url",
            "post-and-put",
            "POST",
            "/fhir",
            body=_bundle(
                _post(org, urn),
                {
                    "fullUrl": urn,
                    "resource": organization("msp-9"),
                    "request": {"method": "PUT", "url": "Organization/msp-9"},
                },
            ),
        ),
        Case(
            "duplicate-full-url",
            "two-puts-same-id",
            "POST",
            "/fhir",
            body=_bundle(
                *[
                    {
                        "resource": organization("msp-9"),
                        "request": {"method": "PUT", "url": "Organization/msp-9"},
                    }
                ]
                * 2
            ),
        ),
        Case(
            "duplicate-full-url",
            "same-absolute-url",
            "POST",
            "/fhir",
            body=_bundle(
                _post(org, "http://x.example/Organization/1"),
                _post(org, "http://x.example/Organization/1"),
            ),
        ),
        Case(
            "duplicate-full-url",
            "case-differs",
            "POST",
            "/fhir",
            body=_bundle(
                _post(org, urn), _post(org, urn.upper().replace("URN:UUID", "urn:uuid")), _post(loc)
            ),
        ),
        Case(
            "duplicate-full-url",
            "put-and-delete-same",
            "POST",
            "/fhir",
            body=_bundle(
                {
                    "resource": organization("msp-1"),
                    "request": {"method": "PUT", "url": "Organization/msp-1"},
                },
                {"request": {"method": "DELETE", "url": "Organization/msp-1"}},
            ),
        ),
    ]


def long_headers() -> list[Case]:
    put = {"method": "PUT", "path": "/fhir/Organization/msp-1", "body": organization("msp-1")}
    values: dict[str, dict[str, str | bytes]] = {
        "if-match-8k": {"If-Match": 'W/"' + "1" * 8000 + '"'},
        "if-match-8k-letters": {"If-Match": "x" * 8000},
        "if-match-unbalanced": {"If-Match": 'W/"1'},
        "if-match-empty": {"If-Match": ""},
        "if-match-star": {"If-Match": "*"},
        "if-match-list": {"If-Match": 'W/"1", W/"2"'},
        "if-match-negative": {"If-Match": 'W/"-1"'},
        "if-match-zero": {"If-Match": 'W/"0"'},
        "if-match-latin1": {"If-Match": 'W/"é"'.encode("latin-1")},
        "if-match-utf8-bytes": {"If-Match": 'W/"é"'.encode()},
        "content-type-8k": {"Content-Type": "application/" + "x" * 8000},
        "content-type-xml": {"Content-Type": "application/fhir+xml"},
        "content-type-params-8k": {"Content-Type": "application/fhir+json; charset=" + "u" * 8000},
        "accept-8k": {"Accept": "text/" + "x," * 4000},
        "accept-xml": {"Accept": "application/fhir+xml"},
        "authorization-8k": {"Authorization": "Bearer " + "a" * 8000},
        "authorization-basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "authorization-empty-bearer": {"Authorization": "Bearer "},
        "authorization-three-dots": {"Authorization": "Bearer a.b.c"},
        "authorization-latin1": {"Authorization": "Bearer é".encode("latin-1")},
    }
    cases = [
        Case("long-headers", name, put["method"], put["path"], body=put["body"], headers=headers)
        for name, headers in values.items()
    ]
    cases += [
        Case(
            "long-headers",
            "if-none-exist-8k",
            "POST",
            "/fhir/Organization",
            body={"resourceType": "Organization", "name": "x"},
            headers={"If-None-Exist": "name=" + "x" * 8000 + "&nosuch=1"},
        ),
        Case(
            "long-headers",
            "if-none-exist-unknown",
            "POST",
            "/fhir/Organization",
            body={"resourceType": "Organization", "name": "x"},
            headers={"If-None-Exist": "nosuch=1"},
        ),
        Case(
            "long-headers",
            "if-none-exist-unicode-count",
            "POST",
            "/fhir/Organization",
            body={"resourceType": "Organization", "name": "x"},
            headers={"If-None-Exist": "_count=²".encode("latin-1")},
        ),
        Case(
            "long-headers", "query-8k", "GET", "/fhir/Organization?name=" + "x" * 8000 + "&nosuch=1"
        ),
        Case("long-headers", "format-xml", "GET", "/fhir/Organization?_format=xml"),
    ]
    return cases


def bad_base64() -> list[Case]:
    values: dict[str, Any] = {
        "bang": "!!!!",
        "padding-only": "====",
        "one-char": "a",
        "bad-padding": "RUNHIGRhdGE",
        "unicode": "ÉÇÀ=",
        "spaces-inside": "RUNH IGRh dGE=",
        "url-safe": "-_-_",
        "number": 12,
        "list": ["RUNHIGRhdGE="],
        "object": {"data": "RUNHIGRhdGE="},
        "empty": "",
        "data-url": "data:application/pdf;base64,RUNHIGRhdGE=",
    }
    cases = []
    for name, value in values.items():
        body = binary("scan-x", "patient-2", data=value)
        del body["id"]
        cases.append(Case("bad-base64", f"binary-{name}", "POST", "/fhir/Binary", body=body))
        doc = document("report-x", "patient-2")
        del doc["id"]
        doc["content"] = [{"attachment": {"contentType": "application/pdf", "data": value}}]
        cases.append(
            Case("bad-base64", f"attachment-{name}", "POST", "/fhir/DocumentReference", body=doc)
        )
    return cases


def search_modifiers() -> list[Case]:
    queries = [
        "_id:not=patient-2",
        "_id:exact=patient-2",
        "_id:missing=true",
        "_id:above=x",
        "_id=",
        "_id:=x",
        "name:missing=true",
        "name:below=x",
        "name:text=x",
        "name:=x",
        "name:exact:contains=x",
        "gender:text=x",
        "gender:above=x",
        "birthdate:exact=2000",
        "organization:Organization=msp-1",
        "organization:missing=true",
        "organization:identifier=x",
        "organization.name=x",
        "_has:Observation:patient:code=x",
        "_include=Patient:organization",
        "_revinclude=Observation:patient",
        "_elements=id",
        "_summary=count",
        "_total=exact",  # _total takes none, estimate or accurate
        "_lastUpdated=gt2026",
        "_filter=name eq x",
        "_query=everything",
        "_sort=nosuch",
        "_sort=",
        "_sort=-",
        "_sort=name,,",
        "_count=",
        "_offset=",
        "_count=1&_count=²",
        "nosuch=1",
        "name",
        "=x",
        "&&&",
        "name=%00",
        "name:contains=%",
    ]
    return [
        Case("search-modifiers", f"patient-{i}", "GET", f"/fhir/Patient?{query}")
        for i, query in enumerate(queries)
    ]


def bad_ids() -> list[Case]:
    ids = {
        "too-long": "a" * 65,
        "space": "a%20b",
        "unicode": "patiént",
        "percent-slash": "a%2Fb",
        "nul": "a%00b",
        "underscore": "a_b",
        "dollar-op": "$everything",
        "dot-dot": "..%2F..",
        "star": "*",
        "very-long": "a" * 5000,
    }
    cases = []
    for name, rid in ids.items():
        cases.append(Case("bad-ids", f"read-{name}", "GET", f"/fhir/Patient/{rid}"))
        cases.append(
            Case(
                "bad-ids",
                f"put-{name}",
                "PUT",
                f"/fhir/Organization/{rid}",
                body={"resourceType": "Organization", "id": rid, "name": "x"},
            )
        )
    cases += [
        Case(
            "bad-ids",
            "put-body-id-differs",
            "PUT",
            "/fhir/Organization/msp-1",
            body=organization("msp-2"),
        ),
        Case(
            "bad-ids",
            "put-body-id-number",
            "PUT",
            "/fhir/Organization/msp-1",
            body={**organization("msp-1"), "id": 5},
        ),
        Case(
            "bad-ids",
            "put-body-no-id",
            "PUT",
            "/fhir/Organization/msp-1",
            body={"resourceType": "Organization", "name": "x"},
        ),
        Case("bad-ids", "delete-unknown", "DELETE", "/fhir/Organization/nobody-here"),
        Case("bad-ids", "ics-unknown", "GET", "/fhir/Appointment/nobody-here/$ics"),
        Case("bad-ids", "ics-long", "GET", "/fhir/Appointment/" + "a" * 5000 + "/$ics"),
        Case(
            "bad-ids",
            "generate-unknown-schedule",
            "POST",
            "/fhir/Schedule/nobody/$generate-slots",
            body=_generate(),
        ),
        Case("bad-ids", "project-unknown", "GET", "/api/projects/nobody"),
        Case("bad-ids", "project-long", "GET", "/api/projects/" + "a" * 5000),
        Case("bad-ids", "alert-unknown", "POST", "/api/monitoring/alerts/nobody/acknowledge"),
        Case("bad-ids", "rule-unknown", "PUT", "/api/monitoring/rules/nobody", body=_rule()),
        Case("bad-ids", "task-steps-unknown", "GET", "/api/teleexpertise/nobody/steps"),
    ]
    return cases


def wrong_shapes() -> list[Case]:
    org = organization("msp-1")
    raws: dict[str, bytes] = {
        "array": b"[]",
        "string": b'"Organization"',
        "number": b"42",
        "null": b"null",
        "true": b"true",
        "empty": b"",
        "truncated": b'{"resourceType": "Organization", "name": "x"',
        "trailing-garbage": b'{"resourceType": "Organization"} x',
        "invalid-utf8": b'{"resourceType": "Organization", "name": "\xff\xfe"}',
        "utf16": json.dumps(org).encode("utf-16"),
        "lone-surrogate": b'{"resourceType": "Organization", "id": "msp-1", "name": "\\ud800"}',
        "nul-escape": b'{"resourceType": "Organization", "id": "msp-1", "name": "a\\u0000b"}',
        "deep-nesting": b'{"resourceType": "Organization", "id": "msp-1", "extension": '
        + b"[" * 150
        + b"]" * 150
        + b"}",
        "deep-objects": b'{"resourceType": "Organization", "id": "msp-1", "x": '
        + b'{"a": ' * 120
        + b"1"
        + b"}" * 120
        + b"}",
        "duplicate-keys": b'{"resourceType": "Organization", "id": "msp-1", '
        b'"resourceType": "Patient"}',
    }
    cases = [
        Case("wrong-json", name, "PUT", "/fhir/Organization/msp-1", raw=raw)
        for name, raw in raws.items()
    ]
    bodies: dict[str, Any] = {
        "type-mismatch": {**org, "resourceType": "Patient"},
        "type-missing": {k: v for k, v in org.items() if k != "resourceType"},
        "type-number": {**org, "resourceType": 3},
        "meta-string": {**org, "meta": "v1"},
        "meta-version-unicode": {**org, "meta": {"versionId": "²"}},
        "extension-object": {**org, "extension": {"url": "x"}},
        "extension-no-url": {**org, "extension": [{"valueString": "x"}]},
        "unknown-element": {**org, "colour": "red"},
        "name-list": {**org, "name": ["x"]},
        "active-string": {**org, "active": "yes"},
        "contained-unknown": {**org, "contained": [{"resourceType": "Nope", "id": "c"}]},
        "contained-not-list": {**org, "contained": {"resourceType": "Organization", "id": "c"}},
        "text-div-script": {
            **org,
            "text": {"status": "generated", "div": "<script>alert(1)</script>"},
        },
        "empty-object": {},
    }
    cases += [
        Case("wrong-json", name, "PUT", "/fhir/Organization/msp-1", body=body)
        for name, body in bodies.items()
    ]
    cases += [
        Case(
            "wrong-json",
            "observation-value-string",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2") | {"valueQuantity": {"value": "72,5", "unit": "kg"}},
        ),
        Case(
            "wrong-json",
            "observation-status-unknown",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2") | {"status": "nonsense"},
        ),
        Case(
            "wrong-json",
            "appointment-status-unknown",
            "PUT",
            "/fhir/Appointment/visit-2",
            body=appointment(
                "visit-2", "patient-2", "doctor", "site-2", "2026-03-02T10:00:00+01:00"
            )
            | {"status": "nonsense"},
        ),
        Case(
            "wrong-json",
            "project-name-list",
            "POST",
            "/api/projects",
            body={"name": ["x"], "kind": "site"},
        ),
        Case(
            "wrong-json",
            "project-bad-location",
            "POST",
            "/api/projects",
            body={"name": "x", "kind": "site", "location": "../../etc/passwd"},
        ),
        Case(
            "wrong-json",
            "project-stage-dates",
            "POST",
            "/api/projects",
            body={"name": "x", "kind": "site", "stages": [{"stage": "nope", "date": "2026-02-30"}]},
        ),
        Case(
            "wrong-json",
            "rule-unit-unknown",
            "POST",
            "/api/monitoring/rules",
            body=_rule(unit="stone"),
        ),
        Case("wrong-json", "rule-array", "POST", "/api/monitoring/rules", body=[_rule()]),
        Case(
            "wrong-json",
            "vigilance-not-parameters",
            "POST",
            "/fhir/Patient/patient-2/$identity-vigilance",
            body={"resourceType": "Patient"},
        ),
        Case(
            "wrong-json",
            "vigilance-reason-number",
            "POST",
            "/fhir/Patient/patient-2/$identity-vigilance",
            body={
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "resource", "resource": patient("patient-2", "msp-2")},
                    {"name": "reason", "valueString": 5},
                ],
            },
        ),
        Case(
            "wrong-json",
            "vigilance-resource-string",
            "POST",
            "/fhir/Patient/patient-2/$identity-vigilance",
            body={
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "resource", "resource": "Patient"},
                    {"name": "reason", "valueString": "erreur de saisie"},
                ],
            },
        ),
        Case(
            "wrong-json",
            "generate-parameters-list",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=[_generate()],
        ),
        Case(
            "wrong-json",
            "generate-day-unknown",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=_generate(day="someday"),
        ),
    ]
    return cases


def unknown_routes() -> list[Case]:
    return [
        Case("unknown-routes", "type-unknown-search", "GET", "/fhir/Medication"),
        Case("unknown-routes", "type-unknown-read", "GET", "/fhir/Nothing/x"),
        Case("unknown-routes", "type-lower-case", "GET", "/fhir/patient"),
        Case(
            "unknown-routes",
            "type-unknown-create",
            "POST",
            "/fhir/Medication",
            body={"resourceType": "Medication"},
        ),
        Case(
            "unknown-routes",
            "type-unknown-put",
            "PUT",
            "/fhir/Nothing/x",
            body={"resourceType": "Nothing", "id": "x"},
        ),
        Case("unknown-routes", "operation-unknown", "GET", "/fhir/Patient/patient-2/$everything"),
        Case(
            "unknown-routes",
            "type-operation-unknown",
            "POST",
            "/fhir/Patient/$match",
            body={"resourceType": "Parameters"},
        ),
        Case("unknown-routes", "history-type", "GET", "/fhir/Patient/_history"),
        Case("unknown-routes", "history-text", "GET", "/fhir/Patient/patient-2/_history/latest"),
        Case("unknown-routes", "history-zero", "GET", "/fhir/Patient/patient-2/_history/0"),
        Case("unknown-routes", "patch", "PATCH", "/fhir/Patient/patient-2", body=[]),
        Case("unknown-routes", "delete-type", "DELETE", "/fhir/Patient"),
        Case(
            "unknown-routes", "put-type", "PUT", "/fhir/Patient", body={"resourceType": "Patient"}
        ),
        Case(
            "unknown-routes",
            "audit-event-write",
            "POST",
            "/fhir/AuditEvent",
            body={"resourceType": "AuditEvent"},
        ),
        Case("unknown-routes", "capability-write", "PUT", "/fhir/metadata", body={}),
    ]


def bad_tokens() -> list[Case]:
    return [
        Case("bad-tokens", "anonymous-read", "GET", "/fhir/Patient/patient-2", role="anonymous"),
        Case("bad-tokens", "anonymous-search", "GET", "/fhir/Observation", role="anonymous"),
        Case(
            "bad-tokens",
            "anonymous-bundle",
            "POST",
            "/fhir",
            role="anonymous",
            body=_bundle(_post(_weight("Patient/patient-2"))),
        ),
        Case(
            "bad-tokens",
            "anonymous-billing",
            "GET",
            "/api/billing/acts?from=2026-01-01&to=2026-01-02",
            role="anonymous",
        ),
        Case("bad-tokens", "login-empty", "POST", "/auth/token", role="anonymous"),
        Case(
            "bad-tokens",
            "login-json",
            "POST",
            "/auth/token",
            role="anonymous",
            body={"username": "a", "password": "b"},
        ),
        Case(
            "bad-tokens",
            "alg-none",
            "GET",
            "/fhir/Patient",
            role="anonymous",
            headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
        ),
        Case(
            "bad-tokens",
            "garbage-base64",
            "GET",
            "/fhir/Patient",
            role="anonymous",
            headers={"Authorization": "Bearer ###.###.###"},
        ),
    ]


def patient_overreach() -> list[Case]:
    """A patient trying what the write table refuses: others' records, professional ones."""
    mine = "Patient/patient-1"
    return [
        Case("patient-overreach", "read-other", "GET", "/fhir/Patient/patient-2", role="patient"),
        Case(
            "patient-overreach",
            "observation-for-other",
            "POST",
            "/fhir/Observation",
            body=_weight("Patient/patient-2"),
            role="patient",
        ),
        Case(
            "patient-overreach",
            "bundle-for-other",
            "POST",
            "/fhir",
            body=_bundle(_post(_weight("Patient/patient-2"))),
            role="patient",
        ),
        Case(
            "patient-overreach",
            "rewrite-clinician-observation",
            "PUT",
            "/fhir/Observation/weight-2",
            body=observation("weight-2", "patient-2"),
            role="patient",
        ),
        Case(
            "patient-overreach",
            "delete-clinician-observation",
            "DELETE",
            "/fhir/Observation/weight-2",
            role="patient",
        ),
        Case(
            "patient-overreach",
            "organization-write",
            "PUT",
            "/fhir/Organization/msp-1",
            body=organization("msp-1"),
            role="patient",
        ),
        Case(
            "patient-overreach",
            "billing",
            "GET",
            "/api/billing/acts?from=2026-01-01&to=2026-01-02",
            role="patient",
        ),
        Case(
            "patient-overreach",
            "rule-for-self",
            "POST",
            "/api/monitoring/rules",
            body=_rule(patient=mine),
            role="patient",
        ),
        Case(
            "patient-overreach",
            "generate-slots",
            "POST",
            "/fhir/Schedule/doctor-schedule/$generate-slots",
            body=_generate(),
            role="patient",
        ),
        Case("patient-overreach", "audit-events", "GET", "/fhir/AuditEvent", role="patient"),
        Case(
            "patient-overreach",
            "take-over-id",
            "PUT",
            "/fhir/Patient/patient-2",
            body=patient("patient-2", "msp-2"),
            role="patient",
        ),
        Case("patient-overreach", "projects", "GET", "/api/projects", role="patient"),
    ]


def care_role_searches() -> list[Case]:
    """Malformed searches by the care roles, whose searches run through their compartment (a
    query plan of its own): refused like anyone's."""
    queries = [
        "Observation?_count=²", "Observation?date=20260101", "Observation?_id:not=weight-2",
        "Observation?patient=", "Observation?_sort=nosuch", "Observation?code:text=x",
        "Observation?patient:Patient=patient-2", "Observation?_offset=-1", "Appointment?date=eq",
        "Appointment?date=2026-01-01T25:00:00Z", "Encounter?patient.name=x", "Task?period=1e10",
        "Patient?birthdate=2026-13", "Slot?start=ge", "Communication?sent=x", "AuditEvent?date=x",
    ]  # fmt: skip
    return [
        Case("care-role-searches", f"{role}-{i}", "GET", f"/fhir/{query}", role=role)
        for role in ("practitioner", "site-professional", "patient")
        for i, query in enumerate(queries)
    ]


CATEGORIES = {
    "unicode-digits": unicode_digits,
    "huge-numbers": huge_numbers,
    "bad-dates": bad_dates,
    "bad-references": bad_references,
    "malformed-bundles": malformed_bundles,
    "urn-uuid": unresolved_urns,
    "duplicate-full-url": duplicate_full_urls,
    "long-headers": long_headers,
    "bad-base64": bad_base64,
    "search-modifiers": search_modifiers,
    "bad-ids": bad_ids,
    "wrong-json": wrong_shapes,
    "unknown-routes": unknown_routes,
    "bad-tokens": bad_tokens,
    "patient-overreach": patient_overreach,
    "care-role-searches": care_role_searches,
}


EDGES = {
    "huge-numbers:count-5000-digits",  # a page size over the maximum is the maximum
    "huge-numbers:offset-5000-digits",  # past the end: an empty page
    "huge-numbers:decimal-5000-digits",  # a decimal of any precision (kept as a float)
    "bad-dates:slot-start-6",  # a search date to the minute
    "bad-dates:effective-year-1-east",  # an instant before year 1 in UTC: clamped
    "bad-dates:effective-year-9999-west",  # after year 9999 in UTC: clamped
    "bad-dates:appointment-year-1-east",
    "bad-dates:appointment-year-9999-west",
    "bad-references:subject-history",  # a versioned reference
    "bad-references:subject-absolute-elsewhere",  # an absolute URL: names no patient here
    "bad-references:subject-dot-dot",  # '..' is a valid R4 id
    "bad-references:subject-fragment-missing",  # a contained reference (not resolved)
    "bad-references:subject-wrong-type",  # a record naming no patient: operators only
    "bad-base64:binary-spaces-inside",  # base64Binary may hold whitespace
    "bad-base64:attachment-spaces-inside",
    "long-headers:content-type-params-8k",  # media type parameters are not read
    "search-modifiers:patient-28",  # _sort= (no order)
    "search-modifiers:patient-37",  # no parameter at all
    "search-modifiers:patient-39",  # a '%' searched for literally
    "wrong-json:utf16",  # JSON in UTF-16, which Python's decoder detects
    "wrong-json:active-string",  # the R4 models take "yes" for a boolean
    "wrong-json:observation-status-unknown",  # the models check no value set but Appointment's
    "wrong-json:text-div-script",  # narrative is stored, never rendered as HTML
}
"""Cases answered either way (2xx or 4xx), never with a server error."""
