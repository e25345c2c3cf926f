"""The CapabilityStatement, built from the same tables the server runs on, so it cannot drift."""

from __future__ import annotations

from typing import Any

from maillage import __version__
from maillage.care.policy import READ_ONLY_TYPES, SUPPORTED_TYPES, search_parameters

READ = ("read", "vread", "search-type")
WRITE = ("create", "update", "delete")
OPERATIONS = {
    "Schedule": ("generate-slots",),
    "Appointment": ("ics",),
    "Patient": ("identity-vigilance",),
}
"""Instance operations served by :mod:`maillage.api.scheduling` and :mod:`maillage.api.identity`."""


def capability_statement(base_url: str, software_date: str) -> dict[str, Any]:
    """What ``/fhir`` really supports: types, interactions, search parameters, formats."""
    resources = []
    for resource_type in SUPPORTED_TYPES:
        interactions = READ if resource_type in READ_ONLY_TYPES else READ + WRITE
        resources.append(
            {
                "type": resource_type,
                "interaction": [{"code": code} for code in interactions],
                "versioning": "versioned-update",
                "readHistory": True,  # vread serves every past version
                "updateCreate": resource_type not in READ_ONLY_TYPES,
                "conditionalCreate": resource_type not in READ_ONLY_TYPES,
                "conditionalUpdate": False,
                "conditionalDelete": "not-supported",
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    *(
                        {"name": name, "type": kind}
                        for name, kind in search_parameters(resource_type)
                    ),
                ],
            }
        )
        if resource_type in OPERATIONS:
            resources[-1]["operation"] = [
                {"name": name, "definition": f"urn:maillage:operation:{name}"}
                for name in OPERATIONS[resource_type]
            ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": software_date,
        "kind": "instance",
        "software": {"name": "maillage", "version": __version__},
        "implementation": {"description": "maillage telemedicine network server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth2 password flow at /auth/token; bearer JWT",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
