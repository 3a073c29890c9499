"""The one navigation of the staff screens: every link opens, and opens the page its words name."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

PASSWORD = "correct horse battery"
ROLES = ("clerk", "reviewer", "supervisor", "desk", "admin")


class _Page(HTMLParser):
    """Collects the staff navigation's links and the page's first <h1>, as text."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.h1: str | None = None
        self._in_nav = self._in_h1 = False
        self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and "staff" in (attrs.get("class") or ""):
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self._href, self._text = attrs.get("href"), ""
        elif tag == "h1" and self.h1 is None:
            self._in_h1, self._text = True, ""

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        elif tag == "a" and self._href is not None:
            self.links.append((self._text.strip(), self._href))
            self._href = None
        elif tag == "h1" and self._in_h1:
            self.h1, self._in_h1 = " ".join(self._text.split()), False

    def handle_data(self, data):
        if self._href is not None or self._in_h1:
            self._text += data


def read(answer) -> _Page:
    page = _Page()
    page.feed(answer.get_data(as_text=True))
    return page


@pytest.fixture
def people(make):
    bank = make.bank()
    home = make.household(bank, "E01", "王家")
    users = {role: make.user(bank, role, name=f"hp-{role}") for role in ROLES if role != "admin"}
    users["admin"] = make.user(None, "admin", name="county")
    return {"bank": bank, "resident": make.resident(bank, "王大", home), "users": users}


@pytest.mark.parametrize("role", ROLES)
def test_every_nav_link_answers_200_and_opens_a_page_headed_with_its_words(people, signed_in, role):
    client = signed_in(people["users"][role])
    links = read(client.get("/banks/hp/residents")).links
    _follow(client, role, links)


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_in_english_too_every_nav_link_opens_a_page_headed_with_its_words(people, signed_in, role):
    client = signed_in(people["users"][role])
    client.get("/banks/hp/residents?lang=en")
    links = read(client.get("/banks/hp/residents")).links
    assert ("Residents", "/banks/hp/residents") in links
    _follow(client, role, links)


def _follow(client, role, links):
    assert links, "no navigation"
    for words, href in links:
        answer = client.get(href)
        assert answer.status_code == 200, (role, words, href, answer.status_code)
        assert read(answer).h1 == words, (role, href)


@pytest.mark.parametrize("role, shown, hidden", [
    ("clerk", {"登分", "扣分", "户", "待审核", "登分簿", "居民名册", "综治基金", "积分卡", "社区基金"},
     {"兑换台", "操作日志", "县级管理"}),
    ("reviewer", {"登分", "待审核", "操作日志"}, {"兑换台", "县级管理"}),
    ("supervisor", {"待审核", "登分簿", "月公示", "异议", "综治基金", "年表彰", "操作日志"}, {"登分", "扣分", "积分卡", "兑换台"}),
    ("desk", {"居民", "兑换台"}, {"户", "待审核", "登分簿", "居民名册", "综治基金", "社区基金", "登分",
                                 "月公示", "异议", "年表彰"}),
    ("admin", {"登分", "兑换台", "操作日志", "县级管理"}, set()),
])
def test_each_role_is_shown_only_the_pages_it_may_open(people, signed_in, role, shown, hidden):
    client = signed_in(people["users"][role])
    words = {w for w, _href in read(client.get("/banks/hp/residents")).links}
    assert shown <= words and not hidden & words


@pytest.mark.parametrize("path", ["/banks/hp/fund", "/banks/hp/cards", "/banks/hp/audit", "/foundation/hp/",
                                  "/banks/hp/desk"])
def test_the_fund_desk_cards_audit_and_foundation_pages_keep_the_navigation(people, signed_in, path):
    page = read(signed_in(people["users"]["admin"]).get(path))
    assert ("居民", "/banks/hp/residents") in page.links


def test_the_deed_link_on_a_residents_page_opens_the_deed_form_not_the_penalty_form(people, signed_in):
    client = signed_in(people["users"]["clerk"])
    page = client.get(f"/banks/hp/residents/{people['resident'].id}").get_data(as_text=True)
    deed = re.search(r'href="([^"]+)">为其登分<', page).group(1).replace("&amp;", "&")
    assert deed.startswith("/banks/hp/deeds/new")
    assert read(client.get(deed)).h1 == "登分"
    nav = dict(read(client.get("/banks/hp/")).links)
    assert nav["登分"] == "/banks/hp/deeds/new" and nav["扣分"] == "/banks/hp/penalties/new"


def _sign_in(client, name):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})


@pytest.mark.parametrize("role, lands_on", [
    ("desk", "/banks/hp/desk"), ("reviewer", "/banks/hp/pending"), ("supervisor", "/banks/hp/months"),
    ("clerk", "/banks/hp/"), ("admin", "/"),
])
def test_each_role_lands_where_its_work_is(people, app, role, lands_on):
    answer = _sign_in(app.test_client(), people["users"][role].name)
    assert answer.status_code == 302 and answer.headers["Location"] == lands_on


@pytest.mark.parametrize("role, lands_on", [("desk", "/banks/hp/desk"), ("reviewer", "/banks/hp/pending")])
def test_the_brand_at_the_top_leads_back_to_where_the_roles_work_is(people, signed_in, role, lands_on):
    page = signed_in(people["users"][role]).get("/banks/hp/residents").get_data(as_text=True)
    assert f'<a class="brand" href="{lands_on}">' in page
