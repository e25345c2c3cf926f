"""Production can close password login to health professionals (PGSSI-S: Pro Santé Connect),
on the pages and at the API's token endpoint alike; the other roles keep their password."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_site import PASSWORD, csrf_of, make_site

from maillage.jobs.queue import JobSettings

NO_REDIS = JobSettings(redis_url="redis://127.0.0.1:1/0")


@pytest.mark.parametrize(
    ("role", "status"), [("practitioner", 403), ("site-professional", 403), ("coordinator", 303)]
)
def test_professionals_cannot_log_in_with_a_password_when_production_forbids_it(
    tmp_path: Path, role: str, status: int
) -> None:
    # The second factor that production asks of coordinators is tested on its own.
    site = make_site(
        tmp_path,
        NO_REDIS,
        env="production",
        professionals_password_login=False,
        totp_required=False,
    )
    email = site.user(role)
    client = TestClient(site.app, base_url="https://127.0.0.1")  # the cookie is Secure
    token = csrf_of(client.get("/connexion").text)
    form = {"email": email, "password": PASSWORD, "csrf_token": token}
    page = client.post("/connexion", data=form, follow_redirects=False)
    assert page.status_code == status, page.text
    api = client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert api.status_code == (403 if status == 403 else 200), api.text
    if status == 403:
        assert "Pro Santé Connect" in page.text
        assert "Pro Santé Connect" in api.json()["issue"][0]["diagnostics"]
    site.app.state.engine.dispose()


def test_a_wrong_password_stays_a_401_for_a_professional(tmp_path: Path) -> None:
    """The refusal follows the password check, so it never tells which accounts exist."""
    site = make_site(tmp_path, NO_REDIS, professionals_password_login=False)
    email = site.user("practitioner")
    api = site.client().post("/auth/token", data={"username": email, "password": "x" * 14})
    assert api.status_code == 401
    site.app.state.engine.dispose()
