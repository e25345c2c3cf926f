"""The compte rendu of a teleconsultation, sent to the patient's médecin traitant.

When a DocumentReference about a teleconsultation Encounter (``context.encounter``, class VR)
is written as ``current`` and not ``preliminary`` with new content, its report (the first PDF,
HTML or text attachment) is put in the outbox in the same transaction, addressed to the e-mail
telecom of the patient's ``generalPractitioner`` (Practitioner, or PractitionerRole and then its
Practitioner), or of the Practitioner its ``urn:maillage:report-recipient`` extension names when
the doctor chose another recipient. The outbox worker (:mod:`maillage.care.delivery`) delivers
it over SMTP, which is the transport of MSSanté secure messaging; a PDF report also travels as a
CDA R2 level 1 in an IHE XDM archive with the MSSanté headers
(:mod:`maillage.care.document_exchange`). A patient without a médecin traitant reachable by
e-mail gets no message; the document is stored all the same.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from maillage.care import attachments, document_exchange, encounters, outbox
from maillage.care.appointments import display_name, email_of, live
from maillage.care.errors import Unprocessable
from maillage.config import Settings
from maillage.integrations import mssante
from maillage.store import resources
from maillage.store.models import OutboxMessage, Resource, utcnow
from maillage.store.search_params import normalise_reference

Body = dict[str, Any]
SUFFIXES = {"application/pdf": "pdf", "text/html": "html", "text/plain": "txt"}
RECIPIENT_URL = "urn:maillage:report-recipient"
"""The extension naming the Practitioner a compte rendu goes to instead of the médecin traitant."""


def _reference(value: Body | None) -> str | None:
    return normalise_reference((value or {}).get("reference", "")) or None


def _due(body: Body, previous: Body | None) -> bool:
    """Whether this write publishes a report not sent yet."""
    if body.get("status") != "current" or body.get("docStatus") == "preliminary":
        return False
    if previous is None:
        return True
    return (
        previous.get("status") != "current"
        or previous.get("docStatus") == "preliminary"
        or previous.get("content") != body.get("content")
    )


def _teleconsultation(session: Session, body: Body) -> Resource | None:
    for item in (body.get("context") or {}).get("encounter", []):
        reference = _reference(item)
        row = live(session, reference) if reference else None
        if row is not None and encounters.is_virtual(row.body):
            return row
    return None


def _gp_email(session: Session, patient: Body) -> str | None:
    for item in patient.get("generalPractitioner", []):
        reference = _reference(item)
        row = live(session, reference) if reference else None
        if row is None:
            continue
        address = email_of(row.body)
        if address is None and row.resource_type == "PractitionerRole":
            doctor = _reference(row.body.get("practitioner"))
            person = live(session, doctor) if doctor else None
            address = email_of(person.body) if person else None
        if address:
            return address
    return None


def _recipient(session: Session, body: Body, patient: Body) -> str | None:
    """The address of the recipient the doctor chose, else of the médecin traitant."""
    chosen = next(
        (
            _reference(e.get("valueReference"))
            for e in body.get("extension", [])
            if e.get("url") == RECIPIENT_URL
        ),
        None,
    )
    if chosen is None:
        return _gp_email(session, patient)
    row = live(session, chosen)
    return email_of(row.body) if row is not None else None


def _report(settings: Settings, body: Body) -> tuple[bytes, str]:
    """The report's bytes and media type (the attachments are inlined back from the file store)."""
    for content in attachments.inline(settings, body).get("content", []):
        attachment = content.get("attachment") or {}
        media = (attachment.get("contentType") or "").split(";")[0].strip()
        if media in outbox.REPORT_MEDIA_TYPES and "data" in attachment:
            return base64.b64decode(attachment["data"]), media
    raise Unprocessable(
        "a teleconsultation report for the médecin traitant needs inline PDF, HTML or text data",
        code="business-rule",
    )


def _queue(session: Session, row: Resource, patient: str, recipient: str, payload: bytes) -> None:
    session.add(
        OutboxMessage(
            id=resources.new_id(),
            created=utcnow(),
            source=f"DocumentReference/{row.id}",
            patient=patient,
            recipient=recipient,
            message=payload,
            status=outbox.DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


def enqueue(session: Session, settings: Settings, row: Resource, previous: Body | None) -> None:
    """Queue the compte rendu of a just-written DocumentReference, when due: the e-mail to the
    médecin traitant and, with MAILLAGE_MHD_URL set, the MHD share of a PDF report."""
    body = row.body
    if not _due(body, previous):
        return
    encounter = _teleconsultation(session, body)
    patient_ref = _reference(body.get("subject"))
    patient = live(session, patient_ref) if patient_ref else None
    if encounter is None or patient is None or patient_ref is None:
        return
    recipient = _recipient(session, body, patient.body)
    if recipient is None and settings.mhd_url is None:
        return
    report, media = _report(settings, body)
    day = ((encounter.body.get("period") or {}).get("start") or body.get("date") or "")[:10]
    title = f"Compte rendu de téléconsultation du {day or 'jour'}"
    writer = document_exchange.author(session, body)
    exchange = (
        document_exchange.compte_rendu(settings, patient.body, writer, report, title)
        if media == "application/pdf"
        else None
    )
    if settings.mhd_url and exchange is not None:
        bundle = document_exchange.provide_bundle(exchange, patient_ref, writer)
        _queue(session, row, patient_ref, settings.mhd_url, bundle)
    if recipient is None:
        return
    name = display_name(patient.body) or patient_ref
    message = outbox.build_message(
        sender=settings.mail_from,
        recipient=recipient,
        subject=f"{title} : {name}",
        body=(
            f"Bonjour,\n\nVeuillez trouver ci-joint le compte rendu de la téléconsultation du "
            f"{day or 'jour'} de votre patient(e) {name}.\n\nCe message est envoyé "
            f"automatiquement par le réseau de télémédecine maillage.\n"
        ),
        report=report,
        report_filename=f"compte-rendu-{row.id}.{SUFFIXES[media]}",
        report_media_type=media,
    )
    if exchange is not None:
        mssante.attach_xdm(
            message,
            document_exchange.xdm_archive(exchange),
            f"IHE_XDM-{row.id}.zip",
            cda_code=exchange.codes["type"].code,
            with_ins=exchange.with_ins,
        )
    _queue(session, row, patient_ref, recipient, message.as_bytes())
