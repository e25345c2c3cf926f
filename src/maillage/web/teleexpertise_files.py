"""Files a télé-expertise requester sends (with the request or a complement): which kinds and
sizes are taken, and each as a DocumentReference about the patient whose bytes
:mod:`maillage.care.attachments` keeps in the file store."""

from __future__ import annotations

import base64
from typing import Any

from starlette.datastructures import FormData, UploadFile

from maillage import french_format
from maillage.care.repository import Repository
from maillage.web.rendering import PageError

#: What a requester may attach: a letter or result (PDF) and photographs.
FILE_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
MAX_FILES = 5

Body = dict[str, Any]


def files(repository: Repository, form: FormData) -> list[tuple[str, str, bytes]]:
    """The attached files (name, media type, bytes); a French error names the refused one."""
    uploads = [f for f in form.getlist("pieces") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_FILES:
        raise PageError(422, f"Joignez au plus {MAX_FILES} fichiers.")
    limit = repository.settings.max_attachment_bytes
    files = []
    for upload in uploads:
        name = upload.filename or ""
        kind = (upload.content_type or "").split(";")[0].strip()
        if kind not in FILE_TYPES or kind not in repository.settings.attachment_types:
            raise PageError(
                415, f"« {name} » n'est ni un PDF ni une image JPEG ou PNG : joignez ces formats."
            )
        content = upload.file.read(limit + 1)
        if len(content) > limit:
            size = french_format.number(limit / 2**20, 0)
            raise PageError(413, f"« {name} » dépasse la taille maximale de {size} Mo.")
        if not content:
            raise PageError(422, f"« {name} » est vide.")
        files.append((name, kind, content))
    return files


def document(requester: str, patient: str, name: str, kind: str, content: bytes) -> Body:
    """One attached file as a DocumentReference about the patient, by the requester."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Pièce jointe de télé-expertise"},
        "subject": {"reference": patient},
        "author": [{"reference": requester}],
        "description": name,
        "content": [
            {
                "attachment": {
                    "contentType": kind,
                    "data": base64.b64encode(content).decode("ascii"),
                    "title": name,
                }
            }
        ],
    }
