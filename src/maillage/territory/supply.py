"""The practitioner supply every loader returns, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SUPPLY_COLUMNS = ["code_commune", "fte", "age", "activity"]


@dataclass
class SupplyInput:
    """Practitioners located in communes, with where they came from and what was left out.

    ``table`` has one row per practitioner and commune of practice: ``code_commune`` (current
    INSEE code), ``fte`` (a practitioner's share in that commune; a practitioner's rows sum to 1
    for register data), ``age`` and ``activity`` (acts a year), NaN when unknown.
    ``dropped`` lists ``{"reason", "count", "examples"}`` so outputs can say what was discarded;
    ``apportioned`` lists, in the same shape plus ``fte``, the rows whose commune the file does
    not name exactly and that a documented rule spread over several communes.
    """

    table: pd.DataFrame
    path: str | None
    format: str  # "annuaire" | "csv" | "synthetic"
    profession: str
    synthetic: bool = False
    dropped: list[dict] = field(default_factory=list)
    apportioned: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_summary(self) -> dict:
        """The JSON-ready description that ``summary.json`` embeds under ``inputs``."""
        return {
            "path": self.path,
            "format": self.format,
            "synthetic": self.synthetic,
            "profession": self.profession,
            "practitioner_rows": len(self.table),
            "fte": float(self.table["fte"].sum()),
            "communes_with_supply": int(self.table["code_commune"].nunique()),
            "dropped": self.dropped,
            "apportioned": self.apportioned,
            "notes": self.notes,
        }
