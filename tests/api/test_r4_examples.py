"""Conformance: the official R4 examples of every writable supported type load and read back.

The examples come from the npm package ``hl7.fhir.r4.examples`` (CC0), fetched once with
``npm pack`` into the user cache directory. Each is PUT with its own id (update as create) in
dependency order and must read back equal, ``meta.versionId`` and ``meta.lastUpdated`` aside.
AuditEvent is left out: the server writes it and clients cannot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import platformdirs
import pytest
from api_server import Server

from maillage.care.policy import READ_ONLY_TYPES, SUPPORTED_TYPES

PACKAGE = "hl7.fhir.r4.examples@4.0.1"
TARBALL = "hl7.fhir.r4.examples-4.0.1.tgz"
CACHE = Path(platformdirs.user_cache_dir("maillage")) / "fhir"
ORDER = [t for t in SUPPORTED_TYPES if t not in READ_ONLY_TYPES]

pytestmark = pytest.mark.slow


def _tarball(missing_service: Callable[[str], NoReturn]) -> Path:
    path = CACHE / TARBALL
    if path.exists():
        return path
    npm = shutil.which("npm")
    if npm is None:
        missing_service("npm is needed to fetch hl7.fhir.r4.examples")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "pack", PACKAGE, "--pack-destination", str(CACHE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not path.exists():
        missing_service(f"could not fetch {PACKAGE}: {done.stderr.strip()[-300:]}")
    return path


@pytest.fixture(scope="module")
def examples(missing_service: Callable[[str], NoReturn]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with tarfile.open(_tarball(missing_service)) as archive:
        for member in archive.getmembers():
            resource_type = Path(member.name).name.split("-")[0]
            if resource_type not in ORDER:
                continue
            file = archive.extractfile(member)
            assert file is not None
            body = json.load(file)
            if body.get("resourceType") == resource_type and "id" in body:
                found.append(body)
    return sorted(found, key=lambda body: (ORDER.index(body["resourceType"]), body["id"]))


def _meaning(body: dict[str, Any]) -> dict[str, Any]:
    """The body without server-set meta; numbers as floats (PostgreSQL's JSONB may write
    -1e+245 as a 246-digit integer); base64 data as bytes (its line breaks are not content)."""
    body = json.loads(json.dumps(body), parse_int=float)
    meta = {k: v for k, v in body.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    rest = {k: v for k, v in body.items() if k != "meta"}
    if "data" in rest:
        rest["data"] = base64.b64decode(rest["data"])
    return {**rest, "meta": meta} if meta else rest


def test_official_examples_load_and_read_back(
    server: Server, examples: list[dict[str, Any]]
) -> None:
    assert {body["resourceType"] for body in examples} == set(ORDER)
    admin = server.headers("admin")
    refused, changed = [], []
    for body in examples:
        path = f"/fhir/{body['resourceType']}/{body['id']}"
        response = server.client.put(path, json=body, headers=admin)
        if response.status_code not in (200, 201):
            refused.append(f"{path}: {response.status_code} {response.text[:200]}")
            continue
        read = server.client.get(path, headers=admin)
        if _meaning(read.json()) != _meaning(body):
            changed.append(path)
    assert refused == []
    assert changed == []
    assert len(examples) == 215  # in version 4.0.1 of the package (10 of them List)
