"""Attachments (``Binary.data``, inline ``Attachment.data``) kept out of the database.

On the way in the bytes are checked (size, media type), written to the file store under
``MAILLAGE_FILES_DIR`` and replaced in the stored body by their SHA-256; on the way out the
bytes are read back, verified against that checksum and inlined again, so clients see plain FHIR.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterator
from typing import Any

from maillage.care.errors import Conflict, Invalid, TooLarge, Unsupported
from maillage.config import Settings
from maillage.store import files

SHA256_SYSTEM = "urn:maillage:file-sha256"
"""Binary keeps the checksum in ``meta.tag`` (it has no extensions), an Attachment in one."""

Body = dict[str, Any]


def _attachments(body: Body) -> Iterator[Body]:
    """The Attachment elements that may carry inline data, in the types that hold files."""
    resource_type = body.get("resourceType")
    if resource_type == "DocumentReference":
        yield from (c["attachment"] for c in body.get("content", []) if "attachment" in c)
    elif resource_type == "Communication":
        yield from (
            p["contentAttachment"] for p in body.get("payload", []) if "contentAttachment" in p
        )


def _store(settings: Settings, data: str, content_type: str | None, where: str) -> str:
    if content_type is None or content_type.split(";")[0].strip() not in settings.attachment_types:
        allowed = ", ".join(sorted(settings.attachment_types))
        raise Unsupported(f"{where}: media type {content_type!r} not accepted; use {allowed}")
    try:
        content = base64.b64decode(data)
    except (binascii.Error, ValueError) as error:
        raise Invalid(f"{where}.data is not base64: {error}") from error
    if len(content) > settings.max_attachment_bytes:
        raise TooLarge(
            f"{where} is {len(content)} bytes; the limit is {settings.max_attachment_bytes}",
        )
    return files.put(settings.files_dir, content)


def store(settings: Settings, body: Body) -> Body:
    """The body to store: every inline content moved to the file store, its checksum kept."""
    body = copy.deepcopy(body)
    if body.get("resourceType") == "Binary" and "data" in body:
        sha256 = _store(settings, body.pop("data"), body.get("contentType"), "Binary")
        meta = body.setdefault("meta", {})
        meta["tag"] = [*_other_tags(meta), {"system": SHA256_SYSTEM, "code": sha256}]
    for i, attachment in enumerate(_attachments(body)):
        if "data" in attachment:
            sha256 = _store(
                settings, attachment.pop("data"), attachment.get("contentType"), f"attachment[{i}]"
            )
            attachment["extension"] = [
                *attachment.get("extension", []),
                {"url": SHA256_SYSTEM, "valueString": sha256},
            ]
    return body


def inline(settings: Settings, body: Body) -> Body:
    """The body to send: contents read back, verified and inlined; checksums removed.

    A file that is missing or fails its checksum is answered with 409: the record exists but
    its content cannot be trusted, which the operator must restore from backup.
    """
    if body.get("resourceType") != "Binary" and not any(
        _sha_extension(a) for a in _attachments(body)
    ):
        return body
    body = copy.deepcopy(body)
    try:
        if body.get("resourceType") == "Binary":
            meta = body.get("meta", {})
            sha = next(
                (t["code"] for t in meta.get("tag", []) if t.get("system") == SHA256_SYSTEM), None
            )
            if sha:
                _set_tags(body, _other_tags(meta))
                body["data"] = _encoded(settings, sha)
        for attachment in _attachments(body):
            sha = _sha_extension(attachment)
            if sha:
                rest = [e for e in attachment["extension"] if e.get("url") != SHA256_SYSTEM]
                if rest:
                    attachment["extension"] = rest
                else:
                    del attachment["extension"]
                attachment["data"] = _encoded(settings, sha)
    except files.FileCorrupted as error:
        raise Conflict(str(error)) from error
    return body


def _encoded(settings: Settings, sha256: str) -> str:
    return base64.b64encode(files.get(settings.files_dir, sha256)).decode("ascii")


def _sha_extension(attachment: Body) -> str | None:
    return next(
        (
            e["valueString"]
            for e in attachment.get("extension", [])
            if e.get("url") == SHA256_SYSTEM
        ),
        None,
    )


def _other_tags(meta: Body) -> list[Body]:
    return [t for t in meta.get("tag", []) if t.get("system") != SHA256_SYSTEM]


def _set_tags(body: Body, tags: list[Body]) -> None:
    meta = body["meta"]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag", None)
    if not meta:
        del body["meta"]
