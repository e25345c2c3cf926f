"""The network's refusals, as the domain raises them: no HTTP status, no response.

Each error carries its message, the FHIR issue type that describes it (``IssueType`` of an
OperationOutcome, which a job or a page may show as well as the API) and, when the domain can
point at the offending elements, the issues themselves. The doors map each class to their own
answer: :mod:`maillage.api.errors` to a status and an OperationOutcome, the pages to a French
message.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal of the network's rules: ``message``, FHIR issue ``code``, optional issues."""

    default_code: ClassVar[str] = "processing"

    def __init__(
        self, message: str, *, code: str | None = None, issues: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.issues = issues


class Unauthenticated(DomainError):
    """No principal, or credentials that do not prove one."""

    default_code = "login"


class Forbidden(DomainError):
    """The principal may not do this (role, care relationship, pool membership)."""

    default_code = "forbidden"


class NotFound(DomainError):
    """No such resource, or a resource type the network does not hold."""

    default_code = "not-found"


class Gone(DomainError):
    """The resource existed and was deleted."""

    default_code = "deleted"


class ReadOnly(DomainError):
    """The resource type is written by the server only."""

    default_code = "not-supported"


class Conflict(DomainError):
    """The write clashes with the current state (a slot taken, a final status, a race)."""

    default_code = "conflict"


class VersionConflict(Conflict):
    """Another transaction changed or created the resource first."""


class PreconditionFailed(DomainError):
    """The version the caller expected is not the current one, or a condition is ambiguous."""

    default_code = "conflict"


class Invalid(DomainError):
    """Malformed input: not the resource announced, a structure or invariant broken."""

    default_code = "invalid"


class Unprocessable(DomainError):
    """Well-formed input that a rule of the network refuses (consent withdrawn, bad act code)."""

    default_code = "processing"


class TooLarge(DomainError):
    """Content over the configured size."""

    default_code = "too-long"


class Unsupported(DomainError):
    """A media type the network does not accept."""

    default_code = "not-supported"
