"""``maillage plan --existing registry``: the network's open and planned sites as the plan's
existing sites, read through the server's own care repository (see
:mod:`maillage.care.registry_sites`) and handed to planning as a sites file.

``cli.py`` gives :data:`EXISTING_SOURCES` to the planning command; the server's libraries load
only when a plan asks for the registry.
"""

from __future__ import annotations

from pathlib import Path

from maillage.errors import CommandError


def registry_sites_file(scratch: Path) -> Path:
    """The registry's sites (as the system principal) written to a sites file in ``scratch``."""
    from maillage.care.registry_sites import registry_sites
    from maillage.care.repository import system_repository
    from maillage.console import settings_or_exit
    from maillage.territory.sites import write_sites_csv

    rows = registry_sites(system_repository(settings_or_exit(), migrate=True))
    if not rows:
        raise CommandError(
            "--existing registry : le registre ne compte aucun site ouvert ou prévu "
            "dont l'adresse donne le code commune"
        )
    return write_sites_csv(rows, scratch / "sites-registre.csv")


EXISTING_SOURCES = {"registry": registry_sites_file}
