"""An IHE MHD ITI-65 Provide Document Bundle as the French PDSm profile shapes it.

ANS « Partage de Documents de Santé en mobilité (PDSm) » 3.0.1,
https://interop.esante.gouv.fr/ig/fhir/pdsm/3.0.1/StructureDefinition-pdsm-comprehensive-provide-document-bundle.html
: a transaction Bundle holding one List (the submission set), one or more DocumentReference
(the document entries) and the Binary documents; for a new document
``DocumentReference.content.attachment.url`` points to a Binary of the Bundle. The List and
its extensions follow IHE MHD 4 (``IHE.MHD.Comprehensive.SubmissionSet``). Every entry is a
``POST`` with a ``urn:uuid:`` full URL, so the Document Recipient assigns the ids; the
entryUUID identifiers are other UUIDs, since a recipient rewrites the full URLs it resolves.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from maillage.integrations.cda import IDNAT_PS_ROOT, Person
from maillage.integrations.metadata import Code

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
BUNDLE_PROFILE = PDSM + "pdsm-comprehensive-provide-document-bundle"
DOCUMENT_PROFILE = PDSM + "pdsm-comprehensive-document-reference"
MHD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
SUBMISSION_SET_PROFILE = MHD + "IHE.MHD.Comprehensive.SubmissionSet"
SOURCE_ID = MHD + "ihe-sourceId"
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"

Body = dict[str, Any]


@dataclass(frozen=True)
class Submission:
    """One document to share, with the references the recipient knows."""

    patient: str
    """Reference to the Patient on the Document Recipient (``Patient/…``)."""
    author: Person
    """The author, sent as a contained Practitioner (its RPPS as the idNat_PS identifier)."""
    document_oid: str
    submission_oid: str
    source_oid: str
    created: datetime
    title: str
    content_type: str
    content: bytes
    codes: dict[str, Code]


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _concept(code: Code) -> Body:
    return {"coding": [code.coding()]}


def _entry(full_url: str, resource: Body) -> Body:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def provide_bundle(submission: Submission) -> Body:
    """The ITI-65 transaction Bundle for one document."""
    binary_url, document_url, list_url = _urn(), _urn(), _urn()
    when = submission.created.isoformat()
    codes = submission.codes
    binary = {
        "resourceType": "Binary",
        "contentType": submission.content_type,
        "securityContext": {"reference": submission.patient},
        "data": base64.b64encode(submission.content).decode("ascii"),
    }
    document: Body = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [DOCUMENT_PROFILE]},
        "masterIdentifier": {
            "system": "urn:ietf:rfc:3986",
            "value": f"urn:oid:{submission.document_oid}",
        },
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": _urn()}],
        "status": "current",
        "type": _concept(codes["type"]),
        "category": [_concept(codes["class"])],
        "subject": {"reference": submission.patient},
        "date": when,
        "description": submission.title,
        "securityLabel": [_concept(codes["confidentiality"])],
        "content": [
            {
                "attachment": {
                    "contentType": submission.content_type,
                    "language": "fr-FR",
                    "url": binary_url,
                    "title": submission.title,
                    "creation": when,
                },
                "format": codes["format"].coding(),
            }
        ],
        "context": {
            "facilityType": _concept(codes["facility_type"]),
            "practiceSetting": _concept(codes["practice_setting"]),
        },
    }
    author: Body = {
        "resourceType": "Practitioner",
        "id": "author",
        "name": [{"family": submission.author.family, "given": submission.author.given.split()}],
    }
    if submission.author.rpps:
        author["identifier"] = [
            {"system": f"urn:oid:{IDNAT_PS_ROOT}", "value": f"8{submission.author.rpps}"}
        ]
    document["contained"] = [author]
    document["author"] = [{"reference": "#author"}]
    submission_set: Body = {
        "resourceType": "List",
        "meta": {"profile": [SUBMISSION_SET_PROFILE]},
        "extension": [
            {
                "url": SOURCE_ID,
                "valueIdentifier": {"value": f"urn:oid:{submission.source_oid}"},
            }
        ],
        "identifier": [
            {"use": "official", "system": "urn:ietf:rfc:3986", "value": _urn()},
            {
                "use": "usual",
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:oid:{submission.submission_oid}",
            },
        ],
        "status": "current",
        "mode": "working",
        "title": submission.title,
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"reference": submission.patient},
        "date": when,
        "entry": [{"item": {"reference": document_url}}],
    }
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [BUNDLE_PROFILE]},
        "type": "transaction",
        "entry": [
            _entry(list_url, submission_set),
            _entry(document_url, document),
            _entry(binary_url, binary),
        ],
    }


class SubmissionRefused(Exception):
    """The Document Recipient did not take the Bundle; ``permanent`` when resending cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(reason)


_TRANSIENT = frozenset({408, 425, 429})


def _diagnostics(response: httpx.Response) -> str:
    try:
        outcome = response.json()
    except ValueError:
        return response.text[:300]
    issues = outcome.get("issue", []) if isinstance(outcome, dict) else []
    return "; ".join(str(i.get("diagnostics", i.get("code", ""))) for i in issues)[:300]


def submit(client: httpx.Client, url: str, bundle: bytes, token: str | None = None) -> None:
    """POST the transaction to the Document Recipient's base URL (ITI-65 is a FHIR transaction).

    A 2xx answer is success; 408, 425, 429, 5xx and network errors are worth retrying; any
    other refusal (400, 401, 403, 422 …) is permanent and keeps the OperationOutcome's words.
    """
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = client.post(url, content=bundle, headers=headers)
    except httpx.HTTPError as error:
        raise SubmissionRefused(f"{type(error).__name__}: {error}", permanent=False) from error
    if response.is_success:
        return
    code = response.status_code
    raise SubmissionRefused(
        f"HTTP {code}: {_diagnostics(response)}",
        permanent=code < 500 and code not in _TRANSIENT,
    )
