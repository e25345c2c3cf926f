"""Which pages each role reaches: the menu shows them, and the routes enforce the same sets.

A page is listed here only once it exists; ``planner`` reaches maps and aggregates, never
patient data.
"""

from __future__ import annotations

from dataclasses import dataclass

from maillage.care.policy import AUDITORS
from maillage.care.principal import Role

EVERYONE = frozenset(Role)
#: Those who read maps and aggregates and may launch analyses.
ANALYSTS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.PLANNER})
#: Care pages: the nurse at a site, the remote doctor, and (follow-up) those running the network.
NURSES = frozenset({Role.SITE_PROFESSIONAL})
DOCTORS = frozenset({Role.PRACTITIONER})
PATIENTS = frozenset({Role.PATIENT})
#: Who sets availability: the network's coordinators any schedule, a doctor their own.
SCHEDULERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.PRACTITIONER})
CARE_TEAMS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.SITE_PROFESSIONAL, Role.PRACTITIONER})
#: Those who run the network and write its registry.
OPERATORS = frozenset({Role.ADMIN, Role.COORDINATOR})
#: The administration of the accounts.
ADMINS = frozenset({Role.ADMIN})

ROLE_LABELS = {
    Role.ADMIN: "administrateur",
    Role.COORDINATOR: "coordination du réseau",
    Role.PLANNER: "planification",
    Role.SITE_PROFESSIONAL: "professionnel de site",
    Role.PRACTITIONER: "médecin requis",
    Role.PATIENT: "patient",
    Role.DPO: "délégué à la protection des données",
}


@dataclass(frozen=True)
class Page:
    """An entry of the main menu."""

    path: str
    label: str
    roles: frozenset[Role]


PAGES = (
    Page("/", "Accueil", EVERYONE),
    Page("/carte", "Carte d'accès", ANALYSTS),
    Page("/diagnostics/nouveau", "Lancer un diagnostic", ANALYSTS),
    Page("/plans/nouveau", "Planifier des sites", ANALYSTS),
    Page("/jeux-de-donnees", "Jeux de données", ANALYSTS),
    Page("/sites", "Registre des sites", ANALYSTS),
    Page("/reseau", "Activité du réseau", ANALYSTS),
    Page("/projets", "Projets de la feuille de route", ANALYSTS),
    Page("/teleconsultations/nouvelle", "Réserver une téléconsultation", NURSES),
    Page("/site/rendez-vous", "Rendez-vous du site", NURSES),
    Page("/identites", "Patients du site", NURSES),
    Page("/consultations", "Mes consultations", DOCTORS),
    Page("/teleexpertises", "Télé-expertises", DOCTORS),
    Page("/teleexpertises/demandees", "Mes télé-expertises", NURSES | DOCTORS),
    Page("/disponibilites", "Disponibilités", SCHEDULERS),
    Page("/patients", "Suivi des patients", CARE_TEAMS),
    Page("/admin/comptes", "Comptes", ADMINS),
    Page("/journal", "Journal des accès", AUDITORS),
    Page("/mon-espace", "Mon espace", PATIENTS),
)


def menu(role: Role) -> list[Page]:
    """The menu entries ``role`` may open, in display order."""
    return [page for page in PAGES if role in page.roles]
