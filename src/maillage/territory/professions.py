"""The professions ``--profession`` names, and how each is selected in the Annuaire Santé.

Codes come from the ANS nomenclatures used by the Annuaire Santé extract:
``Code profession`` is TRE_G15-ProfessionSante (10 médecin, 40 chirurgien-dentiste, 50 sage-femme,
60 infirmier, 70 masseur-kinésithérapeute) and ``Code savoir-faire`` is TRE_R38-SpecialiteOrdinale,
where general practice is SM54 "Médecine générale", SM53 "Spécialiste en médecine générale" and
SM26 "Qualifié en médecine générale" (https://mos.esante.gouv.fr/NOS/). A doctor counts as a GP
when any of their rows carries one of these; the other professions need no savoir-faire.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profession:
    """One ``--profession`` key with its Annuaire filters and its French labels."""

    key: str
    code_profession: str
    savoir_faire: frozenset[str] | None  # None: every practitioner of the profession
    label: str  # singular, for titles: "médecin généraliste"
    label_plural: str


PROFESSIONS: dict[str, Profession] = {
    p.key: p
    for p in (
        Profession(
            "generaliste",
            "10",
            frozenset({"SM54", "SM53", "SM26"}),
            "médecin généraliste",
            "médecins généralistes",
        ),
        Profession("infirmier", "60", None, "infirmier", "infirmiers"),
        Profession(
            "kinesitherapeute", "70", None, "masseur-kinésithérapeute", "masseurs-kinésithérapeutes"
        ),
        Profession("sage-femme", "50", None, "sage-femme", "sages-femmes"),
        Profession("dentiste", "40", None, "chirurgien-dentiste", "chirurgiens-dentistes"),
    )
}


def get_profession(key: str) -> Profession:
    """The profession for a ``--profession`` key; the error lists the valid keys."""
    try:
        return PROFESSIONS[key]
    except KeyError:
        raise ValueError(
            f"profession inconnue {key!r} ; choix possibles : {', '.join(PROFESSIONS)}"
        ) from None
