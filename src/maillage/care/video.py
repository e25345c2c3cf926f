"""Jitsi Meet rooms for appointments; video itself is left to an existing Jitsi deployment.

A room name is 128 random bits, so a link cannot be guessed from an appointment id; the server
stores it with the appointment. When the deployment uses token authentication (prosody
``token`` auth, configured by MAILLAGE_JITSI_SECRET), each participant's link carries a JWT
signed with the shared secret (HS256) and valid for that room only, until ``expires_at``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

import jwt


@dataclass(frozen=True)
class JitsiConfig:
    """``base_url``: the Jitsi Meet site (https://meet.example.org); ``app_id``/``secret``:
    the deployment's token-auth app id and shared secret, both set or neither."""

    base_url: str
    app_id: str | None = None
    secret: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"Jitsi base URL must be an http(s) URL, got {self.base_url!r}")
        if (self.app_id is None) != (self.secret is None):
            raise ValueError("Jitsi app id and secret go together: set both or neither")

    @property
    def domain(self) -> str:
        """The host name Jitsi expects as the token's ``sub``."""
        return urlsplit(self.base_url).hostname or ""


@dataclass(frozen=True)
class VideoUser:
    """Who the link is for, shown in the meeting; a moderator can mute and admit others."""

    name: str
    email: str | None = None
    moderator: bool = False


def new_room_name() -> str:
    """A fresh unguessable room name (lower case: Jitsi folds room names to lower case)."""
    return f"maillage-{secrets.token_hex(16)}"


def room_token(config: JitsiConfig, room: str, user: VideoUser, expires_at: datetime) -> str:
    """The JWT Jitsi's token authentication checks: aud, iss, sub, room, exp, context.user."""
    if config.secret is None or config.app_id is None:
        raise ValueError("a Jitsi token needs the app id and secret to be configured")
    user_claims: dict[str, object] = {"name": user.name, "moderator": user.moderator}
    if user.email:
        user_claims["email"] = user.email
    claims = {
        "aud": "jitsi",
        "iss": config.app_id,
        "sub": config.domain,
        "room": room,
        "exp": expires_at,
        "context": {"user": user_claims},
    }
    return jwt.encode(claims, config.secret, algorithm="HS256")


def room_url(
    config: JitsiConfig,
    room: str,
    user: VideoUser | None = None,
    expires_at: datetime | None = None,
) -> str:
    """The link to the room; with a secret configured it carries ``?jwt=`` for ``user``."""
    url = f"{config.base_url.rstrip('/')}/{quote(room)}"
    if config.secret is None:
        return url
    if user is None or expires_at is None:
        raise ValueError("with token authentication, a link needs its user and expiry")
    return f"{url}?jwt={room_token(config, room, user, expires_at)}"
