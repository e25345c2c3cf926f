"""The demonstration network's fixed cast: its sites, remote doctors and who practises where.

Sites sit in real Grand Est communes (Carignan is the roadmap's reference site, about 2,000
teleconsultations a year); the people are invented. Doctors either practise in the region (so a
diagnosis built on the Annuaire Santé already counts them) or work for a distant teleconsultation
platform (so they add supply): the evaluation's simulation must tell the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from maillage.care.site_import import Site

SYNTHETIC_TAG = {
    "system": "urn:maillage:data",
    "code": "SYNTHETIC",
    "display": "SYNTHETIC — invented demonstration data",
}


@dataclass(frozen=True)
class DemoSite:
    """A site, when it opened and its yearly teleconsultations at full scale."""

    site: Site
    opened: str
    teleconsultations: int


@dataclass(frozen=True)
class Doctor:
    """A professional and the NGAP act they bill (TCG GP, TC specialist, TE2 expert, TLL nurse,
    TLM pharmacist)."""

    key: str
    family: str
    given: str
    act: str
    code_commune: str
    commune: str


def _site(key: str, name: str, code: str, commune: str, kind: str, lon: float, lat: float) -> Site:
    return Site(
        site_id=f"demo-{key}",
        name=name,
        code_commune=code,
        commune=commune,
        lon=lon,
        lat=lat,
        organization_type=kind,
        modalities=("teleconsultation-assistee", "teleconsultation-suivi", "tele-expertise"),
        equipment=("cabine", "stethoscope-connecte", "otoscope-connecte"),
    )


SITES: tuple[DemoSite, ...] = (
    DemoSite(
        _site("carignan", "MSP de Carignan", "08090", "Carignan", "msp", 5.17, 49.63),
        "2019-09-01",
        2000,
    ),
    DemoSite(
        _site("rocroi", "EHPAD de Rocroi", "08367", "Rocroi", "ehpad", 4.52, 49.93),
        "2021-03-15",
        600,
    ),
    DemoSite(
        _site("vouziers", "Pharmacie de Vouziers", "08490", "Vouziers", "pharmacie", 4.70, 49.40),
        "2022-06-01",
        450,
    ),
    DemoSite(
        _site("stenay", "MSP de Stenay", "55502", "Stenay", "msp", 5.19, 49.49), "2023-01-10", 800
    ),
    DemoSite(
        _site("commercy", "CH de Commercy", "55122", "Commercy", "ch", 5.59, 48.76),
        "2025-02-01",
        500,
    ),
    DemoSite(
        _site("wassy", "MSP de Wassy", "52550", "Wassy", "msp", 4.95, 48.50), "2025-05-01", 350
    ),
    DemoSite(
        _site("langres", "Pharmacie de Langres", "52269", "Langres", "pharmacie", 5.33, 47.86),
        "2024-04-01",
        400,
    ),
    DemoSite(
        _site("bitche", "EHPAD de Bitche", "57089", "Bitche", "ehpad", 7.43, 49.05),
        "2025-09-01",
        150,
    ),
)

DOCTORS: tuple[Doctor, ...] = (
    Doctor("martin", "MARTIN", "Claire", "TCG", "08105", "Charleville-Mézières"),
    Doctor("bernard", "BERNARD", "Hugo", "TCG", "51454", "Reims"),
    Doctor("petit", "PETIT", "Inès", "TC", "54395", "Nancy"),
    Doctor("durand", "DURAND", "Paul", "TCG", "31555", "Toulouse"),
    Doctor("leroy", "LEROY", "Nadia", "TCG", "33063", "Bordeaux"),
)
"""Three doctors practise in Grand Est, two for a platform in the south-west."""

EXPERTS: tuple[Doctor, ...] = (
    Doctor("moreau", "MOREAU", "Léa", "TE2", "54395", "Nancy"),
    Doctor("garnier", "GARNIER", "Marc", "TE2", "51454", "Reims"),
)
"""Specialists answering télé-expertise requests (dermatology, cardiology)."""

TREATING_DOCTORS: tuple[Doctor, ...] = (
    Doctor("mt-carignan", "FAURE", "Antoine", "TCG", "08090", "Carignan"),
    Doctor("mt-rocroi", "ROBIN", "Thomas", "TCG", "08367", "Rocroi"),
    Doctor("mt-vouziers", "GAUTHIER", "Julie", "TCG", "08490", "Vouziers"),
    Doctor("mt-stenay", "PERRIN", "Lucas", "TCG", "55502", "Stenay"),
    Doctor("mt-commercy", "MOREL", "Camille", "TCG", "55122", "Commercy"),
    Doctor("mt-wassy", "BRUN", "Olivier", "TCG", "52550", "Wassy"),
    Doctor("mt-langres", "HENRY", "Sarah", "TCG", "52269", "Langres"),
    Doctor("mt-bitche", "SCHMITT", "Émilie", "TCG", "57089", "Bitche"),
)
"""One médecin traitant practising in each site's commune (same order as ``SITES``), outside the
network: no account, reached by secure messaging only (comptes rendus, télé-expertise requests)."""

LIBERAL_NURSES: tuple[Doctor, ...] = (
    Doctor("ide-gillet", "GILLET", "Sophie", "TLD", "08090", "Carignan"),
    Doctor("ide-renard", "RENARD", "Marc", "TLD", "08090", "Carignan"),
)
"""Liberal nurses of Carignan who assist home teleconsultations (the Carignan model: the doctor
remote, the nurse at the patient's home, billing TLD)."""

SPECIALTIES = {
    "TCG": ("SM54", "Médecine générale"),
    "TC": ("SM04", "Cardiologie et maladies vasculaires"),
}
"""The ordinal specialty (ANS TRE_R38) of the remote doctors, by the act they bill."""

EXPERT_SPECIALTIES = {
    "moreau": ("SM15", "Dermatologie et vénéréologie"),
    "garnier": ("SM04", "Cardiologie et maladies vasculaires"),
}
"""The ordinal specialty of each expert, asked for as a télé-expertise's ``performerType``."""

QUESTIONS = {
    "SM15": (
        "Lésion pigmentée du dos modifiée depuis trois mois (photos jointes) : exérèse à prévoir ?",
        "Plaques érythémato-squameuses des coudes résistant aux dermocorticoïdes : psoriasis ?",
        "Ulcère de jambe qui ne cicatrise pas depuis six semaines (photos jointes) : quels soins ?",
        "Lésion croûteuse de la tempe qui saigne au contact : suspicion de carcinome ?",
    ),
    "SM04": (
        "ECG joint : fibrillation atriale de découverte fortuite, faut-il anticoaguler ?",
        "ECG joint : bloc de branche gauche non connu chez un patient sans symptôme, bilan ?",
        "Dyspnée d'effort et œdèmes des chevilles sous furosémide : quelle adaptation ?",
        "Hypertension non contrôlée sous trithérapie (automesures jointes) : quel ajustement ?",
    ),
}
"""Plausible clinical questions of a télé-expertise request, by the specialty asked for."""

SAME_NAME_BIRTH_DATES = ("1931-02-11", "1936-09-24", "1940-05-02", "1944-12-17")
"""Four residents « Jeanne LAMBERT » of the EHPAD de Rocroi, told apart by birth date only."""
