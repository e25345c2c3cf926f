"""Pro Santé Connect (PSC), the national OpenID Connect provider of health professionals
(e-CPS or CPS card), as maillage's client.

PSC's rules for a relying party, kept here: the provider is found by OpenID discovery from its
issuer URL; the authorization code flow with PKCE (S256); the client authenticates at the token
endpoint by mutual TLS (``tls_client_auth``, RFC 8705: the client id in the body, the operator's
certificate in the TLS handshake); ``scope=openid scope_all`` and ``acr_values=eidas1``; the
professional is the userinfo's ``SubjectNameID``, their national identifier idNat_PS; logout
goes through the provider's ``end_session_endpoint``. Authlib drives the OAuth exchanges and
joserfc checks the signed ID token (and a signed userinfo, which PSC returns as a JWT).

This module knows nothing of accounts: the caller matches the identifier it returns.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.auth import encode_none
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

SCOPE = "openid scope_all"
ACR = "eidas1"
#: The signature algorithms accepted on ID tokens and userinfo (PSC signs with RS256).
ALGORITHMS = ["RS256", "PS256", "ES256"]


class PscError(Exception):
    """A login through Pro Santé Connect that did not prove who the professional is."""


@dataclass(frozen=True)
class PscConfig:
    """The relying party's registration at PSC and its mutual-TLS credentials."""

    issuer: str
    client_id: str
    client_cert: Path
    client_key: Path
    #: CA bundle the provider's certificate is checked against (None: the system's).
    ca_file: Path | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's round trip to PSC must keep until it comes back (never sent to it
    except the state and the hashed verifier)."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class PscIdentity:
    """The professional PSC vouches for."""

    idnat_ps: str
    given_name: str | None
    family_name: str | None
    #: Kept for the logout at the provider (``id_token_hint``).
    id_token: str


class ProSanteConnect:
    """The PSC client of one registration; discovery is fetched once, then kept."""

    def __init__(self, config: PscConfig) -> None:
        self.config = config
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _session(self, redirect_uri: str | None = None) -> OAuth2Session:
        """An HTTP session presenting the client certificate and checking the provider's."""
        config = self.config
        session = OAuth2Session(
            client_id=config.client_id,
            token_endpoint_auth_method="tls_client_auth",
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            default_timeout=config.timeout,
        )
        session.register_client_auth_method(("tls_client_auth", encode_none))
        session.cert = (str(config.client_cert), str(config.client_key))
        return session

    @property
    def _verify(self) -> str | bool:
        """The CA bundle, given on each request: requests lets a ``REQUESTS_CA_BUNDLE``
        variable replace a session's own."""
        return str(self.config.ca_file) if self.config.ca_file else True

    def metadata(self) -> dict[str, Any]:
        """The provider's OpenID configuration, whose ``issuer`` must be the configured one."""
        with self._lock:
            if self._metadata is None:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                found = self._get_json(url)
                if found.get("issuer") != self.config.issuer:
                    raise PscError(
                        f"discovery at {url} names issuer {found.get('issuer')!r}, "
                        f"not {self.config.issuer!r}"
                    )
                self._metadata = found
            return self._metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        """A public JSON document of the provider (discovery, keys)."""
        try:
            response = requests.get(url, verify=self._verify, timeout=self.config.timeout)
            response.raise_for_status()
            found = response.json()
        except (requests.RequestException, ValueError) as error:
            raise PscError(f"{url}: {error}") from error
        if not isinstance(found, dict):
            raise PscError(f"{url}: expected a JSON object")
        return found

    def start(self, redirect_uri: str) -> tuple[str, PendingLogin]:
        """The provider's authorization URL to send the browser to, and what to keep meanwhile."""
        pending = PendingLogin(generate_token(32), generate_token(32), generate_token(64))
        with self._session(redirect_uri) as session:
            url, _state = session.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
                acr_values=ACR,
            )
        return url, pending

    def finish(
        self, pending: PendingLogin, redirect_uri: str, answer: Mapping[str, str]
    ) -> PscIdentity:
        """Check the provider's answer (the callback's query), redeem the code and read the
        professional's identity; :class:`PscError` when any step does not hold."""
        if "error" in answer:
            raise PscError(
                f"provider answered {answer['error']}: {answer.get('error_description')}"
            )
        if answer.get("iss", self.config.issuer) != self.config.issuer:  # RFC 9207: no mix-up
            raise PscError(f"the answer comes from {answer['iss']!r}, not {self.config.issuer!r}")
        state, code = answer.get("state", ""), answer.get("code", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()) or not code:
            raise PscError("the answer does not belong to this login (state) or has no code")
        metadata = self.metadata()
        with self._session(redirect_uri) as session:
            try:
                token = session.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                    verify=self._verify,
                )
                keys = KeySet.import_key_set(self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
                id_token = str(token.get("id_token", ""))
                claims = self._verified(id_token, keys, nonce=pending.nonce)
                if claims.get("acr") != ACR:
                    raise PscError(
                        f"the login's assurance level is {claims.get('acr')!r}, not {ACR}"
                    )
                response = session.get(metadata["userinfo_endpoint"], verify=self._verify)
                response.raise_for_status()
            except (AuthlibBaseError, requests.RequestException) as error:
                raise PscError(f"token or userinfo request failed: {error}") from error
        userinfo = self._userinfo(response, keys)
        if userinfo.get("sub") != claims.get("sub"):
            raise PscError("the userinfo's subject is not the ID token's")
        idnat = userinfo.get("SubjectNameID")
        if not isinstance(idnat, str) or not idnat:
            raise PscError("the userinfo has no SubjectNameID (the professional's idNat_PS)")
        return PscIdentity(
            idnat_ps=idnat,
            given_name=_text(userinfo.get("given_name")),
            family_name=_text(userinfo.get("family_name")),
            id_token=id_token,
        )

    def _verified(self, token: str, keys: KeySet, **expected: str) -> dict[str, Any]:
        """The claims of a JWT signed by the provider for this client, checked."""
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            options = {
                name: {"essential": True, "value": value} for name, value in expected.items()
            }
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.config.issuer},
                sub={"essential": True},
                exp={"essential": True},
                **options,  # type: ignore[arg-type]
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise PscError(f"a token from the provider does not verify: {error}") from error
        audience = decoded.claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.config.client_id not in audiences:
            raise PscError(f"a token from the provider is for {audience!r}, not this client")
        return dict(decoded.claims)

    def _userinfo(self, response: requests.Response, keys: KeySet) -> dict[str, Any]:
        """The userinfo: a signed JWT (as PSC answers) verified like the ID token, or JSON."""
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        if kind == "application/jwt":
            return self._verified(response.text.strip(), keys)
        try:
            found = json.loads(response.text)
        except ValueError as error:
            raise PscError(f"the userinfo is neither a JWT nor JSON: {error}") from error
        if not isinstance(found, dict):
            raise PscError("the userinfo is not a JSON object")
        return found

    def logout_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end the professional's session at PSC too (None when
        the provider publishes no ``end_session_endpoint``)."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self.config.client_id,
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
