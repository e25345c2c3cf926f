"""The command-line options ``diagnose`` and ``plan`` share, as typed aliases.

Each alias carries its ``typer.Option`` inside ``Annotated``, so both commands keep one name,
help text and meaning for each option, and a type checker sees the plain type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeAlias

import typer

Region: TypeAlias = Annotated[
    str | None,
    typer.Option(help="Région (code ou nom), ou 'all' pour la France (défaut : 44)."),
]
Department: TypeAlias = Annotated[
    str | None, typer.Option(help="Département (code ou nom), p. ex. 55 ou 2A.")
]
Profession: TypeAlias = Annotated[
    str,
    typer.Option(
        help="Profession : generaliste, infirmier, kinesitherapeute, sage-femme ou dentiste."
    ),
]
Supply: TypeAlias = Annotated[
    Path | None,
    typer.Option(help="Fichier des praticiens ou dataset:ID (défaut : offre SYNTHETIC)."),
]
SupplyFormat: TypeAlias = Annotated[str, typer.Option(help="Format de --supply : annuaire ou csv.")]
Ages: TypeAlias = Annotated[
    Path | None, typer.Option(help="Population INSEE par âge et par commune, ou dataset:ID.")
]
Travel: TypeAlias = Annotated[
    str, typer.Option(help="Temps de trajet : crow-fly, matrix:FICHIER, dataset:ID ou osrm:URL.")
]
SpeedKmh: TypeAlias = Annotated[float | None, typer.Option(help="Vitesse à vol d'oiseau (km/h).")]
Circuity: TypeAlias = Annotated[
    float | None, typer.Option(help="Facteur de détour à vol d'oiseau.")
]
Method: TypeAlias = Annotated[str, typer.Option(help="Méthode : apl, e2sfca, 2sfca ou gravity.")]
Steps: TypeAlias = Annotated[str, typer.Option(help="Poids par palier 'minutes:poids,…'.")]
Catchment: TypeAlias = Annotated[float, typer.Option(help="Seuil de 2SFCA et gravity (min).")]
Beta: TypeAlias = Annotated[float, typer.Option(help="Exposant de décroissance (gravity).")]
Thresholds: TypeAlias = Annotated[str | None, typer.Option(help="Seuils de zonage 'T1,T2'.")]
NoCareMinutes: TypeAlias = Annotated[
    float, typer.Option(help="Minutes au-delà desquelles une commune est « sans soins ».")
]
CsvDialectName: TypeAlias = Annotated[
    str,
    typer.Option(
        help="Format des CSV : standard (virgule, point décimal) ou excel-fr "
        "(point-virgule, virgule décimale, BOM UTF-8, pour Excel en français)."
    ),
]
OsrmTimeout: TypeAlias = Annotated[
    float | None,
    typer.Option(
        envvar="MAILLAGE_OSRM_TIMEOUT",
        help="Secondes laissées à un serveur OSRM pour répondre (défaut : 10).",
    ),
]
Overwrite: TypeAlias = Annotated[
    bool, typer.Option(help="Remplacer un résultat précédent de cette commande dans --out.")
]
