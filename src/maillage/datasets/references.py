"""``dataset:ID`` in the analytics options, replaced by the registry's stored file.

``--supply dataset:ID`` (an Annuaire extract or a supply CSV: ``--supply-format`` follows the
dataset's kind), ``--ages dataset:ID``, ``--travel dataset:ID`` (a matrix),
``--existing dataset:ID``, ``--candidates dataset:ID`` (sites, or FINESS for candidates) and
``--annuaire dataset:ID`` (``maillage practitioners check``), ``--finess dataset:ID``
(``maillage sites check-finess``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from maillage.datasets.validation import SUPPLY_FORMATS

if TYPE_CHECKING:
    from maillage.datasets.catalogue import Catalogue, Dataset

PREFIX = "dataset:"


def resolve_references(
    options: dict[str, Any], catalogue: Catalogue | None = None
) -> tuple[dict[str, Any], list[Dataset]]:
    """``options`` with every ``dataset:ID`` replaced by its stored file, and the datasets
    used (for ``summary.json``). Raises ``DatasetError`` on an unknown id or a wrong kind."""
    resolved, used = dict(options), []
    for option, kinds in (
        ("supply", ("annuaire", "supply-csv")),
        ("ages", ("ages",)),
        ("travel", ("matrix",)),
        ("existing", ("sites",)),
        ("candidates", ("sites", "finess")),
        ("annuaire", ("annuaire",)),
        ("finess", ("finess",)),
    ):
        value = options.get(option)
        if value is None or not str(value).startswith(PREFIX):
            continue
        from maillage.datasets.catalogue import Catalogue, DatasetError  # pyarrow.dataset

        catalogue = catalogue or Catalogue()
        dataset = catalogue.get(str(value).removeprefix(PREFIX))
        if dataset.kind not in kinds:
            raise DatasetError(
                f"--{option} {value}: ce jeu de données est de type {dataset.kind!r}, "
                f"il faut {' ou '.join(kinds)}"
            )
        path = catalogue.path_of(dataset)
        if option == "supply":
            resolved["supply_format"] = SUPPLY_FORMATS[dataset.kind]
        resolved[option] = _option_value(option, dataset.kind, path)
        used.append(dataset)
    return resolved, used


def _option_value(option: str, kind: str, path: Path) -> Path | str:
    """The option's own syntax for the stored file."""
    if option == "travel":
        return f"matrix:{path}"
    if option == "candidates":
        return f"{'finess' if kind == 'finess' else 'csv'}:{path}"
    return path
