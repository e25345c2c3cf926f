"""The dataset registry as a principal may use it: analysts read it, admins add and remove.

The registry itself (:mod:`maillage.datasets`) is a folder the analytics commands share with the
server; this door adds the network's rules to it: the role check, and an AuditEvent for every
addition, removal or refused attempt, as for the administration of the accounts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from maillage.care import audit
from maillage.care.errors import Forbidden
from maillage.care.principal import Principal, Role
from maillage.datasets.catalogue import Catalogue, Dataset, DatasetError
from maillage.errors import InputError
from maillage.store import audit as audit_trail
from maillage.store.database import transaction

if TYPE_CHECKING:
    from maillage.care.repository import Repository

DATASET_SYSTEM = "urn:maillage:dataset"
#: Those who choose datasets in the analysis forms, and so read what each one holds.
READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.PLANNER})
#: Those who change the registry (every analysis of the server reads it).
WRITERS = frozenset({Role.ADMIN})


class Datasets:
    """The registry of ``repository``'s files directory, bound to its principal."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.catalogue = Catalogue(Path(repository.settings.files_dir) / "datasets")

    def list(self) -> list[Dataset]:
        self._allowed(READERS, "search-type", "datasets")
        return self.catalogue.list()

    def get(self, dataset_id: str) -> Dataset:
        self._allowed(READERS, "read", dataset_id)
        return self.catalogue.get(dataset_id)

    @contextlib.contextmanager
    def upload(self, suffix: str) -> Iterator[Path]:
        """An empty file beside the registry's objects for an admin's upload, removed after."""
        self._allowed(WRITERS, "create", "upload")
        self.catalogue.objects.mkdir(parents=True, exist_ok=True)
        with self.catalogue.partial(suffix) as path:
            yield path

    def add(
        self, path: Path, kind: str, label: str | None, as_of: str | None, origin: str
    ) -> tuple[Dataset, bool]:
        """Register ``path`` (uploaded as ``origin``) through the registry's own validation;
        the outcome, a refusal of the file included, is audited."""
        principal = self._allowed(WRITERS, "create", origin)
        try:
            dataset, new = self.catalogue.add(path, kind, label, as_of, origin=origin)
        except (InputError, DatasetError) as error:
            refusal = f"dataset refused: {error}"
            self._record(principal, "create", origin, refusal, audit.MINOR_FAILURE)
            raise
        what = "dataset added" if new else "dataset already registered"
        self._record(principal, "create", dataset.id, f"{what}: {kind}, {origin}, {dataset.sha256}")
        return dataset, new

    def remove(self, dataset_id: str) -> Dataset:
        principal = self._allowed(WRITERS, "delete", dataset_id)
        dataset = self.catalogue.remove(dataset_id)
        self._record(principal, "delete", dataset.id, f"dataset removed: {dataset.sha256}")
        return dataset

    def _allowed(self, roles: frozenset[Role], interaction: str, target: str) -> Principal:
        """The acting principal if of ``roles``; a refused change is audited, then raised."""
        principal = self.repository.principal
        if principal is not None and principal.role in roles:
            return principal
        if roles is READERS:
            raise Forbidden("datasets are for the analysts")
        refusal = "only admins add or remove datasets"
        self._record(principal, interaction, target, refusal, audit.SERIOUS_FAILURE)
        raise Forbidden(refusal)

    def _record(
        self,
        principal: Principal | None,
        interaction: str,
        target: str,
        description: str,
        outcome: str = audit.SUCCESS,
    ) -> None:
        """Append an AuditEvent naming the dataset (by id, or the uploaded file's name)."""
        repository = self.repository
        access = audit.Access(principal, repository.address, interaction)
        body = audit.event(access, [], outcome, description)
        body["entity"] = [{"what": {"identifier": {"system": DATASET_SYSTEM, "value": target}}}]
        with transaction(repository.sessions) as session:
            audit_trail.append(session, body)
