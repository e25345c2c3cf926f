"""Jitsi room links and their tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from maillage.care.video import JitsiConfig, VideoUser, new_room_name, room_url

SECRET = "a-jitsi-shared-secret-of-32-bytes+"
EXPIRY = datetime.now(UTC) + timedelta(hours=2)


def test_room_names_are_random_and_url_safe() -> None:
    names = {new_room_name() for _ in range(100)}
    assert len(names) == 100
    assert all(n == n.lower() and n.replace("-", "").isalnum() and len(n) >= 32 for n in names)


def test_plain_link_without_secret() -> None:
    config = JitsiConfig("https://meet.example.org/")
    assert room_url(config, "maillage-abc") == "https://meet.example.org/maillage-abc"


def test_signed_link_carries_jitsi_claims() -> None:
    config = JitsiConfig("https://meet.example.org", app_id="maillage", secret=SECRET)
    user = VideoUser("Dr Martin", "dr.martin@medecin.mssante.fr", moderator=True)
    url = room_url(config, "maillage-abc", user, EXPIRY)
    base, _, token = url.partition("?jwt=")
    assert base == "https://meet.example.org/maillage-abc"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi")
    assert claims["iss"] == "maillage"
    assert claims["sub"] == "meet.example.org"
    assert claims["room"] == "maillage-abc"
    assert claims["exp"] == int(EXPIRY.timestamp())
    assert claims["context"]["user"] == {
        "name": "Dr Martin",
        "email": "dr.martin@medecin.mssante.fr",
        "moderator": True,
    }
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token, "another-secret-of-thirty-two-bytes!", algorithms=["HS256"], audience="jitsi"
        )


def test_expired_token_is_refused_by_verifiers() -> None:
    config = JitsiConfig("https://meet.example.org", app_id="maillage", secret=SECRET)
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = room_url(config, "r", VideoUser("Patient"), past).partition("?jwt=")[2]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi")


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="http"):
        JitsiConfig("meet.example.org")
    with pytest.raises(ValueError, match="both"):
        JitsiConfig("https://meet.example.org", secret="x")
    config = JitsiConfig("https://meet.example.org", app_id="a", secret=SECRET)
    with pytest.raises(ValueError, match="user and expiry"):
        room_url(config, "r")
