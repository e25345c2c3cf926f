"""From a stored compte rendu to the national exchange formats: CDA R2 level 1 in IHE XDM.

Reads the patient, the author and the report as the care side stores them and hands plain
values to :mod:`maillage.integrations`; the patient's INS goes out only when the identity is
qualified (:func:`maillage.care.french.outgoing`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from maillage.care.appointments import live
from maillage.care.french import outgoing
from maillage.care.identifiers import ID_NAT_STRUCT_SYSTEM, INS_SYSTEMS, RPPS_SYSTEM
from maillage.config import Settings
from maillage.integrations import cda, mhd, xdm
from maillage.integrations.metadata import Code, document_codes
from maillage.store.search_params import normalise_reference

Body = dict[str, Any]
CUSTODIAN_ROOT = ID_NAT_STRUCT_SYSTEM.removeprefix("urn:oid:")
"""ANS OID of structure identifiers (1 + FINESS, 3 + SIRET …) in the CI-SIS."""
CDA_MEDIA_TYPE = "application/hl7-v3+xml"
_GENDERS = {"male": "M", "female": "F"}


def new_oid() -> str:
    """A globally unique OID under ``2.25`` (ITU-T X.667: an OID from a UUID)."""
    return f"2.25.{uuid.uuid4().int}"


def _identifier(body: Body, systems: frozenset[str]) -> str | None:
    return next(
        (
            i["value"]
            for i in body.get("identifier", [])
            if i.get("system") in systems and "value" in i
        ),
        None,
    )


def _ins_root(body: Body) -> str:
    systems = [i.get("system", "") for i in body.get("identifier", [])]
    found = next((s for s in systems if s in INS_SYSTEMS), cda.INS_NIR_ROOT)
    return found.removeprefix("urn:oid:")


def _person(body: Body) -> cda.Person:
    name = (body.get("name") or [{}])[0]
    return cda.Person(
        family=name.get("family") or name.get("text") or "",
        given=" ".join(name.get("given", [])),
        gender=_GENDERS.get(body.get("gender", ""), "UN"),
        birth_date=body.get("birthDate"),
        ins=_identifier(body, INS_SYSTEMS),
        ins_root=_ins_root(body),
        rpps=_identifier(body, frozenset({RPPS_SYSTEM})),
    )


def author(session: Session, document: Body) -> Body:
    """The Practitioner who wrote the report (through a PractitionerRole if need be)."""
    for item in document.get("author", []):
        reference = normalise_reference((item or {}).get("reference", ""))
        row = live(session, reference) if reference else None
        if row is not None and row.resource_type == "PractitionerRole":
            doctor = normalise_reference((row.body.get("practitioner") or {}).get("reference", ""))
            row = live(session, doctor) if doctor else None
        if row is not None and row.resource_type == "Practitioner":
            return row.body
    return {"name": [{"text": "Auteur non renseigné"}]}


@dataclass(frozen=True)
class ExchangeDocument:
    """A compte rendu in its exchange forms."""

    cda: bytes
    codes: dict[str, Code]
    document_oid: str
    patient_id: str
    with_ins: bool
    title: str
    created: datetime


def compte_rendu(
    settings: Settings, patient: Body, writer: Body, pdf: bytes, title: str
) -> ExchangeDocument:
    """The CDA of a PDF compte rendu, the INS in it only for a qualified identity."""
    codes = document_codes(settings.document_codes)
    shared_patient = _person(outgoing(patient))
    created = datetime.now(UTC).replace(microsecond=0)
    document_oid = new_oid()
    body = cda.build(
        cda.CdaDocument(
            document_id=document_oid.rpartition(".")[2],
            id_root=document_oid.rpartition(".")[0],
            title=title,
            effective=created,
            type_code=codes["type"],
            confidentiality=codes["confidentiality"],
            patient=shared_patient,
            author=_person(writer),
            custodian=cda.Custodian(
                CUSTODIAN_ROOT, settings.custodian_id or "maillage", settings.custodian_name
            ),
            pdf=pdf,
        )
    )
    patient_id = (
        f"{shared_patient.ins}^^^&{shared_patient.ins_root}&ISO"
        if shared_patient.ins
        else f"{patient.get('id', '')}^^^&{CUSTODIAN_ROOT}&ISO"
    )
    return ExchangeDocument(
        body, codes, document_oid, patient_id, shared_patient.ins is not None, title, created
    )


def provide_bundle(exchange: ExchangeDocument, patient: str, writer: Body) -> bytes:
    """The ITI-65 Bundle (JSON bytes) sharing the CDA with an MHD Document Recipient."""
    submission = mhd.Submission(
        patient=patient,
        author=_person(writer),
        document_oid=exchange.document_oid,
        submission_oid=new_oid(),
        source_oid=CUSTODIAN_ROOT,
        created=exchange.created,
        title=exchange.title,
        content_type=CDA_MEDIA_TYPE,
        content=exchange.cda,
        codes=exchange.codes,
    )
    return json.dumps(mhd.provide_bundle(submission), ensure_ascii=False).encode()


def xdm_archive(exchange: ExchangeDocument) -> bytes:
    """The IHE XDM ZIP around the CDA."""
    entry = xdm.Entry(
        document_oid=exchange.document_oid,
        submission_oid=new_oid(),
        source_oid=CUSTODIAN_ROOT,
        patient_id=exchange.patient_id,
        created=exchange.created,
        title=exchange.title,
        codes=exchange.codes,
    )
    return xdm.archive(entry, exchange.cda)
