"""The command-line options ``diagnose`` and ``plan`` share, as typed aliases.

Each alias carries its ``typer.Option`` inside ``Annotated``, so both commands keep one name,
help text and meaning for each option, and a type checker sees the plain type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeAlias

import typer

Region: TypeAlias = Annotated[
    str | None, typer.Option(help="Region code or name, or 'all' for France (default 44).")
]
Department: TypeAlias = Annotated[str | None, typer.Option(help="Department code, e.g. 55 or 2A.")]
Profession: TypeAlias = Annotated[
    str, typer.Option(help="generaliste|infirmier|kinesitherapeute|sage-femme|dentiste")
]
Supply: TypeAlias = Annotated[
    Path | None, typer.Option(help="Practitioners file (default: SYNTHETIC set).")
]
SupplyFormat: TypeAlias = Annotated[str, typer.Option(help="annuaire|csv")]
Ages: TypeAlias = Annotated[Path | None, typer.Option(help="INSEE population by age per commune.")]
Travel: TypeAlias = Annotated[str, typer.Option(help="crow-fly | matrix:FILE | osrm:URL")]
SpeedKmh: TypeAlias = Annotated[float | None, typer.Option(help="Crow-fly speed (km/h).")]
Circuity: TypeAlias = Annotated[float | None, typer.Option(help="Crow-fly detour factor.")]
Method: TypeAlias = Annotated[str, typer.Option(help="apl|e2sfca|2sfca|gravity")]
Steps: TypeAlias = Annotated[str, typer.Option(help="Step weights 'minutes:weight,…'.")]
Catchment: TypeAlias = Annotated[float, typer.Option(help="2SFCA/gravity cut-off (min).")]
Beta: TypeAlias = Annotated[float, typer.Option(help="Gravity decay exponent.")]
Thresholds: TypeAlias = Annotated[str | None, typer.Option(help="Zoning thresholds 'T1,T2'.")]
NoCareMinutes: TypeAlias = Annotated[float, typer.Option(help="Minutes for 'no care'.")]
