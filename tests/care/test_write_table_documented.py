"""The README's write table is the policy's (issue 14: one written table, enforced in one
place): a change of either without the other fails here."""

from __future__ import annotations

from pathlib import Path

from maillage.care import policy
from maillage.store.users import Role

README = Path(__file__).parents[2] / "README.md"
COLUMNS = [
    Role.ADMIN,
    Role.COORDINATOR,
    Role.SITE_PROFESSIONAL,
    Role.PRACTITIONER,
    Role.PATIENT,
    Role.PLANNER,
    Role.DPO,
]


def _readme_table() -> dict[str, dict[Role, str]]:
    section = README.read_text(encoding="utf-8").split("### Who may write what", 1)[1]
    section = section.split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    table = {}
    for line in rows:
        kind, *cells = (cell.strip().replace("–", "") for cell in line.strip("|").split("|"))
        table[kind] = dict(zip(COLUMNS, cells, strict=True))
    return table


def test_the_readme_copies_the_write_table() -> None:
    assert _readme_table() == policy.WRITES


def test_every_patient_data_type_has_its_row() -> None:
    assert set(policy.WRITES) == set(policy.REGISTRY_TYPES + policy.PATIENT_TYPES)
