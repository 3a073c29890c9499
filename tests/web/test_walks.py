"""Every role walks its navigation in a real browser, as a person does.

For each role: sign in, read the links of the navigation from the page (so a screen added later
is walked without changing this test), open each one, and check that the page answers, that its
heading is the link's words, that axe-core finds no serious or critical problem, and that at
360 px nothing scrolls sideways. Screenshots at 1280 and 360 px are left in tests/artifacts/.
A resident walks the card page and the pages it links to.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from ..browsing import assert_accessible, sideways_scroll, sign_in
from ..office.conftest import village  # noqa: F401  (fixture)

WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 360, "height": 740}

#: Who signs in for each role, and where the walk starts besides the page the role lands on.
ROLES = {"clerk": ("hp-clerk", ()), "reviewer": ("hp-reviewer", ()),
         "supervisor": ("hp-supervisor", ()), "desk": ("hp-desk", ()),
         # The county admin lands on the list of banks, and sees a bank's pages inside it.
         "admin": ("county", ("/banks/hp/",))}


@pytest.fixture
def lived_in(village, make):
    """The village with a day's work in it: a team deed, a deed waiting for review, a card."""
    people = village["people"]
    make.deed(village["bank"], "patrol", [people["王大"], people["王二"]], quantity=2)
    make.deed(village["bank"], "mediation", [people["曾三"]], memo="调解邻里纠纷")
    return village


def _nav_links(page, origin: str) -> list[tuple[str, str]]:
    links = page.eval_on_selector_all(
        "nav.staff a", "as => as.map(a => [a.textContent.trim(), a.href])")
    return [(words, href) for words, href in links if href.startswith(origin)]


def _look(page, artifacts, name: str | None) -> None:
    """Check the page as it stands at 1280 and at 360 px, leaving a screenshot of each (when named)."""
    assert_accessible(page)
    if name:
        page.screenshot(path=str(artifacts / f"walk-{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    try:
        assert sideways_scroll(page) == 0, f"{page.url} scrolls sideways at 360 px"
        if name:
            page.screenshot(path=str(artifacts / f"walk-{name}-360.png"), full_page=True)
    finally:
        page.set_viewport_size(WIDE)


def _shot(backend, name: str) -> str | None:
    """Screenshots from one database only: the screens look the same on both."""
    return name if backend["name"] == "sqlite" else None


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLES))
def test_every_link_in_a_roles_navigation_opens_the_page_it_names(role, live_server, browser, lived_in,
                                                                   artifacts, backend):
    name, starts = ROLES[role]
    context = browser.new_context(viewport=WIDE)
    try:
        page = sign_in(context, live_server, name)
        walked, to_walk = set(), []
        for start in [page.url] + [live_server + s for s in starts]:
            if start != page.url:
                page.goto(start)
            to_walk += [link for link in _nav_links(page, live_server) if link not in to_walk]
        assert to_walk, f"{role} sees no navigation"
        for words, href in to_walk:
            if href in walked:
                continue
            walked.add(href)
            answer = page.goto(href)
            assert answer.status < 400, f"{role}: {words} ({href}) answered {answer.status}"
            assert page.inner_text("h1").strip() == words, f"{role}: {words} opened {page.inner_text('h1')!r}"
            _look(page, artifacts, _shot(backend, f"{role}-{urlsplit(href).path.strip('/').replace('/', '-')}"))
            # A link met on the way that the landing page did not show is walked too.
            to_walk += [link for link in _nav_links(page, live_server) if link not in to_walk]
    finally:
        context.close()


#: Links not to follow: files to download, and the language switch (the same page again).
NOT_PAGES = (".pdf", ".xlsx", ".csv", ".zip", ".png", ".jpg", "lang=")


@pytest.mark.slow
@pytest.mark.parametrize("role", ["clerk", "desk"])
def test_the_screens_a_roles_pages_link_to_pass_axe(role, live_server, browser, lived_in, make):
    """One step past the navigation: a resident, a household, an entry, a statement, the forms."""
    make.deed(lived_in["bank"], "litter", [lived_in["people"]["李四"]], memo="乱扔垃圾")
    context = browser.new_context(viewport=WIDE)
    try:
        page = sign_in(context, live_server, ROLES[role][0])
        nav = [href for _words, href in _nav_links(page, live_server)]
        seen, shapes = set(nav), set()
        for href in nav:
            page.goto(href)
            links = page.eval_on_selector_all("main a", "as => as.map(a => a.href)")
            for link in links:
                shape = re.sub(r"\d+", "N", urlsplit(link).path)
                if (not link.startswith(live_server) or link in seen or shape in shapes
                        or any(n in link for n in NOT_PAGES)):
                    continue
                seen.add(link)
                shapes.add(shape)
                answer = page.goto(link)
                assert answer.status < 400, f"{role}: {link} answered {answer.status}"
                assert_accessible(page)
    finally:
        context.close()


def test_a_resident_walks_the_card_page_and_every_page_it_links_to(live_server, browser, lived_in,
                                                                    session, clock, artifacts, backend):
    from cards.services import issue_cards

    card, = issue_cards(session, lived_in["bank"], resident_ids=[lived_in["people"]["王大"].id],
                        by="test", clock=clock)
    context = browser.new_context(viewport=WIDE, locale="zh-CN")
    try:
        page = context.new_page()
        answer = page.goto(f"{live_server}/c/{card.token}")
        assert answer.status == 200 and page.inner_text("h1").strip() == "王大"
        _look(page, artifacts, _shot(backend, "resident-card"))
        links = page.eval_on_selector_all("main a", "as => as.map(a => [a.textContent.trim(), a.href])")
        assert links, "the card page links nowhere"
        for n, (words, href) in enumerate(dict(links).items()):
            answer = page.goto(href)
            assert answer.status < 400, f"the card's {words} ({href}) answered {answer.status}"
            assert page.inner_text("h1").strip(), f"the card's {words} opened a page without a heading"
            _look(page, artifacts, _shot(backend, f"resident-{n}"))
    finally:
        context.close()


def test_on_a_phone_the_deed_form_fits_with_the_default_rules_and_the_register_keeps_names_whole(
        live_server, browser, make, village):
    """The default rule file's long names (焚烧秸秆、违规燃放 -10/次 · 有上限) must not push the rule
    list past a 360 px screen, and a register's resident names must not break a character a line."""
    from pathlib import Path

    bank = make.bank(code="dr", name="默认规则村",
                     rules=(Path(__file__).resolve().parents[2] / "seed_data/rules/default.yaml").read_text("utf-8"))
    clerk = make.user(bank, "clerk", name="dr-clerk")
    wang = make.resident(bank, "欧阳建国", make.household(bank, "001", "欧阳家"))
    make.deed(bank, "night_patrol", [wang], quantity=2)
    context = browser.new_context(viewport=PHONE)
    try:
        page = sign_in(context, live_server, clerk.name)
        page.goto(f"{live_server}/banks/dr/deeds/new")
        assert page.locator("select#rule option").count() > 10
        assert sideways_scroll(page) == 0
        page.goto(f"{live_server}/banks/dr/register?day={make.clock.today().isoformat()}")
        assert sideways_scroll(page) == 0
        lines = page.evaluate("""() => {
            const cell = [...document.querySelectorAll('td.who')].find(td => td.textContent.includes('欧阳建国'));
            const text = document.createRange();
            text.selectNodeContents(cell);
            return text.getClientRects().length;
        }""")
        assert lines == 1  # one line, not a character a line
    finally:
        context.close()
