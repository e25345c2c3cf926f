"""Request limits as ASGI middleware, applied before any route sees the request.

Body size: a declared ``Content-Length`` over the limit is refused at once; a chunked body is
counted as it arrives and the read fails with 413 as soon as it passes the limit. The uploads
named in ``uploads`` (an admin's dataset, streamed to disk) have their own, larger limit, and
nothing else: their route refuses anyone else before it reads the body.

NUL characters: no FHIR id, search value or form field may hold one, and PostgreSQL refuses them
in any query or audit record, so a path or query string carrying one (raw or as ``%00``) gets
400 instead of failing deep inside the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maillage.api.errors import FHIR_JSON, operation_outcome


class RequestLimits:
    """Answer 413 for request bodies over ``max_bytes`` (over ``uploads[path]`` for a POST to
    one of those paths), 400 for a NUL in the URL."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["method"] == "POST":
            limit = self.uploads.get(scope["path"], limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse(send, 413, f"request body over {limit} bytes", "too-long")
            return
        query = scope["query_string"]
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await refuse(send, 400, "the URL may not contain the NUL character", "invalid")
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body over {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def refuse(send: Send, status: int, diagnostics: str, code: str) -> None:
    """Answer with an OperationOutcome without reading the request."""
    body = json.dumps(operation_outcome(diagnostics, code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", FHIR_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
