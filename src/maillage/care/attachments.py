"""Attachments (``Binary.data``, inline ``Attachment.data``) kept out of the database.

On the way in the bytes are checked (size, media type), written to the file store under
``MAILLAGE_FILES_DIR`` and replaced in the stored body by their SHA-256; on the way out the
bytes are read back, verified against that checksum and inlined again, so clients see plain FHIR.

The checksum is the server's: a client that sends one is refused, whatever its value, so no
client value ever names a file, and a file is served only inside a resource that carries it
because its bytes were sent there (whoever may read that resource may read the file).
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


def _decoded(data: Any, where: str) -> bytes:
    """The bytes of a base64Binary: whitespace may separate its groups, any other character
    outside the alphabet is refused (the lenient decoder would drop it and store other bytes
    than were sent)."""
    compact = "".join(data.split()) if isinstance(data, str) else ""
    if not compact:
        raise Invalid(f"{where}.data must be a non-empty base64 string")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Invalid(f"{where}.data is not base64: {error}") from error


def _store(settings: Settings, data: Any, content_type: str | None, where: str) -> str:
    if content_type is None or content_type.split(";")[0].strip() not in settings.attachment_types:
        allowed = ", ".join(sorted(settings.attachment_types))
        raise Unsupported(f"{where}: media type {content_type!r} not accepted; use {allowed}")
    content = _decoded(data, where)
    if len(content) > settings.max_attachment_bytes:
        raise TooLarge(
            f"{where} is {len(content)} bytes; the limit is {settings.max_attachment_bytes}",
        )
    return files.put(settings.files_dir, content)


def store(settings: Settings, body: Body) -> Body:
    """The body to store: every inline content moved to the file store, its checksum kept
    (in a copy; a body without inline content is returned as it is: a deep copy of every
    booking was 1 % of the server's CPU, issue 23)."""
    _refuse_client_checksums(body)
    binary = body.get("resourceType") == "Binary" and "data" in body
    if not binary and not any("data" in attachment for attachment in _attachments(body)):
        return body
    body = copy.deepcopy(body)
    if binary:
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


def _refuse_client_checksums(body: Body) -> None:
    """400, the same for every value: the checksum marks content this server received."""
    tags = body.get("meta", {}).get("tag", []) if body.get("resourceType") == "Binary" else []
    if any(_has_system(t, "system") for t in tags) or any(
        _has_system(e, "url") for a in _attachments(body) for e in a.get("extension", [])
    ):
        raise Invalid(
            f"{SHA256_SYSTEM} is set by the server from the bytes it receives; send the "
            "content as data instead"
        )


def _has_system(element: Any, key: str) -> bool:
    return isinstance(element, dict) and element.get(key) == SHA256_SYSTEM


def inline(settings: Settings, body: Body) -> Body:
    """The body to send: contents read back, verified and inlined; checksums removed.

    A file that is missing, over ``MAILLAGE_MAX_ATTACHMENT_BYTES`` or fails its checksum is
    answered with 409: the record exists but its content cannot be trusted, which the operator
    must restore from backup.
    """
    return inline_or_omit(settings, body, strict=True)[0]


def inline_or_omit(
    settings: Settings, body: Body, *, strict: bool = False
) -> tuple[Body, list[str]]:
    """The body to send and why some content could not be inlined (those attachments go out
    without ``data``): a search answers with every other record instead of failing whole."""
    if body.get("resourceType") != "Binary" and not any(
        _sha_extension(a) for a in _attachments(body)
    ):
        return body, []
    body = copy.deepcopy(body)
    problems: list[str] = []

    def content(sha: object) -> str | None:
        try:
            return _encoded(settings, sha)
        except files.FileCorrupted as error:
            if strict:
                raise Conflict(str(error)) from error
            problems.append(str(error))
            return None

    if body.get("resourceType") == "Binary":
        meta = body.get("meta", {})
        sha = next(
            (t.get("code") for t in meta.get("tag", []) if t.get("system") == SHA256_SYSTEM), None
        )
        if sha:
            _set_tags(body, _other_tags(meta))
            if (data := content(sha)) is not None:
                body["data"] = data
    for attachment in _attachments(body):
        sha = _sha_extension(attachment)
        if sha:
            rest = [e for e in attachment["extension"] if e.get("url") != SHA256_SYSTEM]
            if rest:
                attachment["extension"] = rest
            else:
                del attachment["extension"]
            if (data := content(sha)) is not None:
                attachment["data"] = data
    return body, problems


def _encoded(settings: Settings, sha256: object) -> str:
    """The stored file as base64, read only if ``sha256`` is a name the file store made."""
    if not files.is_name(sha256):
        raise files.FileCorrupted("the attachment reference is not a name of the file store")
    content = files.get(settings.files_dir, str(sha256), limit=settings.max_attachment_bytes)
    return base64.b64encode(content).decode("ascii")


def _sha_extension(attachment: Body) -> object:
    return next(
        (
            e.get("valueString")
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
