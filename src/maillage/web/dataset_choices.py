"""The analysis forms' choice of registered datasets: supply, ages and travel matrix.

An empty choice keeps the default (the SYNTHÉTIQUE supply, no age structure, crow-fly times).
The form sends ids only; the job resolves them in the registry (``dataset:ID``), as the CLI does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import FormData

from maillage.datasets.catalogue import Catalogue, Dataset
from maillage.datasets.references import PREFIX

#: form field → (DiagnosisParameters field, the kinds it takes, French name).
FIELDS = {
    "offre": ("supply", ("annuaire", "supply-csv"), "l'offre"),
    "ages": ("ages", ("ages",), "la structure par âge"),
    "trajets": ("travel", ("matrix",), "la matrice de temps de trajet"),
}


def dataset_fields(files_dir: Path) -> dict[str, Any]:
    """The registered datasets each select list offers."""
    found = Catalogue(files_dir / "datasets").list()
    return {
        "jeux": {
            name: [d for d in found if d.kind in kinds] for name, (_o, kinds, _l) in FIELDS.items()
        }
    }


def read_dataset_choices(
    form: FormData, files_dir: Path
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The chosen ids, the ``dataset:ID`` options they mean, and errors in French."""
    catalogue = Catalogue(files_dir / "datasets")
    known: dict[str, Dataset] = {d.id: d for d in catalogue.list()}
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    options, errors = {}, []
    for name, (option, kinds, label) in FIELDS.items():
        chosen = values[name]
        if not chosen:
            continue
        dataset = known.get(chosen)
        if dataset is None or dataset.kind not in kinds:
            errors.append(f"Choisissez {label} parmi les jeux de données enregistrés.")
            continue
        options[option] = f"{PREFIX}{dataset.id}"
    return values, options, errors
