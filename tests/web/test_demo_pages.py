"""A newcomer who seeds the demo and logs in with its accounts finds each page populated."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from english_words import ENGLISH
from fastapi.testclient import TestClient
from web_site import Site, login, make_site

from maillage.demo.commands import access_map
from maillage.demo.network import DOCTORS, QUESTIONS, TREATING_DOCTORS
from maillage.demo.seed import seed
from maillage.jobs.queue import JobSettings

#: What pages say when they have nothing to show.
EMPTY = (
    "Aucun diagnostic n'a encore été calculé",
    "Aucun créneau commun",
    "aucune équipe de soins",
    "Aucune téléconsultation ce jour-là",
    "Aucune téléconsultation en",
    "Aucun patient de votre site",
    "aucun site",
)
#: Per account, what one of its pages must show beyond the absence of those sentences.
SHOWN = {
    "site-professional": ("/teleconsultations/nouvelle", "avec Dr Claire MARTIN"),
    "practitioner": ("/consultations", "Rendez-vous du jour"),
    "specialist": ("/teleexpertises", "Réponses récentes"),
    "coordinator": ("/patients", "/patients/"),
    "planner": ("/carte", "Sites existants"),
    "ehpad-nurse": ("/teleconsultations/nouvelle", "Patient"),
    "patient": ("/mon-espace", "Qui a consulté mon dossier"),
    "dpo": ("/journal", "accordé"),
}
ACCOUNTS = [
    "admin",
    "coordinator",
    "planner",
    "site-professional",
    "ehpad-nurse",
    "practitioner",
    "specialist",
    "patient",
    "dpo",
]
#: The specialist answers télé-expertises and holds no teleconsultation.
EXPECTED_EMPTY = {("specialist", "/consultations")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, dict[str, str]]]:
    """The site seeded at a small scale, and each demo account's e-mail → password."""
    folder = tmp_path_factory.mktemp("demo")
    site = make_site(folder, JobSettings(redis_url="redis://127.0.0.1:1/0"))
    state = site.app.state
    seed(state.sessions, state.settings, folder / "accounts.txt", scale=0.02)
    access_map(state.settings.files_dir)  # as `maillage demo seed` does after seeding
    lines = (folder / "accounts.txt").read_text().splitlines()[1:]
    yield site, dict(line.split("\t")[1:] for line in lines)
    state.engine.dispose()


def demo_client(demo: tuple[Site, dict[str, str]], account: str) -> TestClient:
    """A browser session of one of the demo's accounts."""
    site, passwords = demo
    email = f"demo-{account}@maillage.invalid"
    client = site.client()
    login(client, email, passwords[email])
    return client


def menu(html: str) -> list[str]:
    nav = html[html.index('<nav aria-label="Navigation principale">') :]
    return re.findall(r'<li><a href="([^"]+)"', nav[: nav.index("</nav>")])


@pytest.mark.parametrize("account", ACCOUNTS)
def test_every_page_of_each_demo_account_shows_data(
    demo: tuple[Site, dict[str, str]], account: str
) -> None:
    client = demo_client(demo, account)
    pages = {path: client.get(path) for path in menu(client.get("/").text)}
    assert len(pages) > 1
    for path, page in pages.items():
        assert page.status_code == 200, path
        if (account, path) not in EXPECTED_EMPTY:
            assert not [e for e in EMPTY if e in page.text], path
    if account in SHOWN:
        path, text = SHOWN[account]
        assert text in pages[path].text


def test_the_demo_doctor_opens_an_appointment_of_the_day(
    demo: tuple[Site, dict[str, str]],
) -> None:
    client = demo_client(demo, "practitioner")
    day = client.get("/consultations").text
    first = re.search(r'href="(/consultations/[^"]+)"', day)
    assert first, day
    page = client.get(first.group(1))
    assert page.status_code == 200 and "Consultation réalisée" in page.text


def test_the_specialists_requests_read_as_real_ones(demo: tuple[Site, dict[str, str]]) -> None:
    """The demo specialist (a dermatologist) finds dermatology questions in the inbox, each
    request asked by a named doctor (a médecin traitant, or the remote GP) by a due date."""
    client = demo_client(demo, "specialist")
    inbox = html.unescape(client.get("/teleexpertises").text)
    assert [question for question in QUESTIONS["SM15"] if question in inbox]
    assert not [question for question in QUESTIONS["SM04"] if question in inbox]
    pages = {"/teleexpertises/demandees", "/teleexpertises/nouvelle"}  # the menu's, not requests
    links = sorted(set(re.findall(r'href="(/teleexpertises/[^"/]+)"', inbox)) - pages)
    assert links
    doctors = {f"Dr {d.given} {d.family}" for d in (*TREATING_DOCTORS, DOCTORS[0])}
    for link in links:
        page = html.unescape(client.get(link).text)
        shown = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
        assert shown["Demandeur"] in doctors, link
        assert shown["Question"] in QUESTIONS["SM15"], link
        assert re.fullmatch(r"\w+ \d+ \w+ \d{4} à \d\d:\d\d", shown["Échéance"]), link
        assert "Pièces jointes réalisées sur le site" in shown["Contexte"], link


class VisibleText(HTMLParser):
    """The words a reader sees (``code``, ``script`` and ``style`` aside) and the page's links."""

    HIDDEN = frozenset({"code", "script", "style", "pre", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.links: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in self.HIDDEN
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            text = re.sub(r"\S+@\S+|https?://\S+|\b\w+/[\w.-]+", " ", data)
            self.words.extend(re.findall(r"[A-Za-zÀ-ÿ]+", text))


#: Addresses a crawl does not follow: files, exports and the way out.
NOT_FOLLOWED = re.compile(
    r"telecharger|export|\.ics$|\.pdf$|\.json$|/deconnexion|^/static|/documents/"
)
#: Proper names and product names that happen to be English words.
NAMES = frozenset({"Meet", "Jitsi", "Connect"})
#: What varies between two pages of one kind: ids, dates and numbers in the address.
VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\d|\d+"
)
#: Pages loaded of each kind (``/patients/…``, ``/consultations?jour=…``): a few, since the
#: words of a page follow its data too.
PER_KIND = 3


@pytest.mark.parametrize("account", ACCOUNTS)
def test_each_account_crawls_its_pages_without_a_fault_or_english(
    demo: tuple[Site, dict[str, str]], account: str
) -> None:
    """Every kind of page the account reaches by its links, a few of each, until none is left
    (no cap on kinds: a new page is never skipped)."""
    client = demo_client(demo, account)
    queue, seen, english = ["/"], set(), {}
    loaded: dict[str, int] = {}
    while queue:
        path = queue.pop(0)
        kind = VARYING.sub("…", path)
        if path in seen or loaded.get(kind, 0) >= PER_KIND:
            continue
        seen.add(path)
        loaded[kind] = loaded.get(kind, 0) + 1
        page = client.get(path)
        assert page.status_code < 500, path
        if "text/html" not in page.headers.get("content-type", ""):
            continue
        parser = VisibleText()
        parser.feed(page.text)
        found = {w for w in parser.words if w.lower() in ENGLISH and w not in NAMES}
        if found:
            english[path] = sorted(found)
        for link in parser.links:
            target = link.split("#")[0]
            if target.startswith("/") and not NOT_FOLLOWED.search(target):
                queue.append(target)
    assert len(loaded) > 1
    assert not english, english
