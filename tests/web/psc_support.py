"""A local Pro Santé Connect for the tests: oidc-provider (npm, pinned in ``psc_provider/``,
installed by ``npm ci`` on first use) serving TLS on loopback with a test CA, and a scripted
"browser" that goes through its login page as a professional would."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from fastapi.testclient import TestClient
from tests.api.mtls_certificates import Pki, make_pki

PROVIDER_DIR = Path(__file__).parent / "psc_provider"
CLIENT_ID = "maillage-psc-test"
#: SYNTHETIC professionals the provider knows: 8 + RPPS (Luhn keys check).
DOCTOR = "810001045367"
STRANGER = "810000000017"
PEOPLE = {
    DOCTOR: {"given_name": "Jeanne", "family_name": "ESSAI-SYNTHETIQUE"},
    STRANGER: {"given_name": "Paul", "family_name": "INCONNU-SYNTHETIQUE"},
}


@dataclass(frozen=True)
class LocalPsc:
    """The running provider and what maillage's settings need to use it."""

    issuer: str
    pki: Pki

    def settings(self) -> dict[str, Any]:
        """The Pro Santé Connect settings of a server using this provider."""
        return {
            "psc_issuer": self.issuer,
            "psc_client_id": CLIENT_ID,
            "psc_client_cert": self.pki.client_cert,
            "psc_client_key": self.pki.client_key,
            "psc_ca_file": self.pki.ca,
        }


def install_provider() -> str | None:
    """``npm ci`` of the pinned provider, once (under a lock); the reason when it cannot be."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are needed for the local Pro Santé Connect provider"
    with (Path(tempfile.gettempdir()) / "maillage-psc-provider.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
            subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=PROVIDER_DIR,
                check=True,
            )
    return None


@contextmanager
def local_psc(folder: Path, redirect_bases: list[str]) -> Iterator[LocalPsc]:
    """The provider, registered with maillage's return and logout URLs under each base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    pki = make_pki(folder)
    config = {
        "tls": {"cert": str(pki.server_cert), "key": str(pki.server_key), "ca": str(pki.ca)},
        "client": {
            "client_id": CLIENT_ID,
            "subject_dn": "CN=maillage.operator.test",
            "redirect_uris": [f"{base}/connexion/psc/retour" for base in redirect_bases],
            "post_logout_redirect_uris": [f"{base}/connexion" for base in redirect_bases],
        },
        "accounts": PEOPLE,
    }
    (folder / "provider.json").write_text(json.dumps(config), encoding="utf-8")
    log = (folder / "provider.log").open("wb")
    process = subprocess.Popen(
        ["node", str(PROVIDER_DIR / "provider.mjs"), str(folder / "provider.json")],
        stdout=subprocess.PIPE,
        stderr=log,
        env=os.environ | {"NODE_ENV": "test"},
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else b""
        assert line, f"the provider did not start: {(folder / 'provider.log').read_text()}"
        yield LocalPsc(json.loads(line)["issuer"], pki)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def psc_login(client: TestClient, psc: LocalPsc, idnat: str, target: str = "/") -> Any:
    """Log in through the provider as ``idnat`` (a scripted browser on its pages, the test
    client on maillage's): maillage's answer at ``/connexion/psc/retour``."""
    start = client.get("/connexion/psc", params={"suivant": target}, follow_redirects=False)
    assert start.status_code == 303, start.text
    browser = requests.Session()
    browser.verify = str(psc.pki.ca)
    browser.trust_env = False  # loopback: no proxy, and REQUESTS_CA_BUNDLE would replace the CA
    login_page = browser.get(start.headers["location"], timeout=10)
    assert login_page.status_code == 200, login_page.text
    assert "idNat_PS" in login_page.text
    answer = browser.post(login_page.url, data={"idnat": idnat}, allow_redirects=False, timeout=10)
    while urlsplit(answer.headers.get("location", "")).path != "/connexion/psc/retour":
        assert answer.status_code in (302, 303), answer.text
        location = requests.compat.urljoin(answer.url, answer.headers["location"])
        answer = browser.get(location, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)
