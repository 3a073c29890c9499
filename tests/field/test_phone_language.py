"""The phone app in English or Chinese: its words come from the field's catalogue, one file per
language, and the page and the script name every word they show by its key."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from field.phone_messages import MESSAGES

from ..browsing import PASSWORD, assert_accessible, sideways_scroll

APP = Path(__file__).resolve().parents[2] / "field" / "static" / "m"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
#: Chinese the page may show whatever the language: the switch names each language in itself.
OWN_NAMES = {"中文"}
MARKS = {"data-i18n": None, "data-i18n-placeholder": "placeholder", "data-i18n-aria-label": "aria-label"}


def _words(client, lang):
    answer = client.get(f"/m/i18n/{lang}.json")
    assert answer.status_code == 200 and answer.content_type == "application/json"
    body = answer.get_json()
    assert body["lang"] == lang
    return body["messages"]


class _Page(HTMLParser):
    """index.html read as the test needs it: each marked word with the Chinese standing in its
    place, and every piece of Chinese that no mark covers."""

    def __init__(self):
        super().__init__()
        self.marked: list[tuple[str, str]] = []  # (key, the Chinese the page shows for it)
        self.unmarked: list[str] = []
        self._open: list[str | None] = []  # the data-i18n key of each open element

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for mark, attr in MARKS.items():
            if mark in attrs and attr is not None:
                self.marked.append((attrs[mark], attrs.get(attr, "")))
        covered = {a for m, a in MARKS.items() if m in attrs}
        self.unmarked += [v for a, v in attrs.items() if v and CJK.search(v) and a not in covered]
        if tag not in ("meta", "link", "input", "br"):
            self._open.append(attrs.get("data-i18n"))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        text = data.strip()
        if not text:
            return
        key = self._open[-1] if self._open else None
        if key is not None:
            self.marked.append((key, text))
        elif CJK.search(text) and text not in OWN_NAMES:
            self.unmarked.append(text)


def _page() -> _Page:
    page = _Page()
    page.feed((APP / "index.html").read_text(encoding="utf-8"))
    return page


def _script_code(text: str | None = None) -> str:
    """app.js (or `text`) without its comments (strings are kept whole, so a // inside one stays)."""
    text = (APP / "app.js").read_text(encoding="utf-8") if text is None else text
    pieces = re.finditer(r'"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`|//[^\n]*|/\*.*?\*/', text, re.S)
    kept, last = [], 0
    for piece in pieces:
        kept.append(text[last:piece.start()])
        if not piece.group().startswith("/"):
            kept.append(piece.group())
        last = piece.end()
    return "".join(kept) + text[last:]


# --- the words, per language ---------------------------------------------------------------------

def test_the_words_come_in_english_for_en_and_as_the_chinese_msgids_for_zh(client):
    english, chinese = _words(client, "en"), _words(client, "zh")
    assert english["signin"] == "Sign in" and english["scan"] == "Scan card"
    assert english["waiting"] == "%(n)s waiting to send"
    assert chinese["signin"] == "登录" and chinese["waiting"] == "待发送 %(n)s 条"
    assert set(english) == set(chinese) == set(MESSAGES)
    assert not [k for k, v in english.items() if CJK.search(v.replace("…", ""))]


def test_each_english_word_keeps_the_placeholders_of_its_chinese(client):
    english, chinese = _words(client, "en"), _words(client, "zh")
    holes = re.compile(r"%\((\w+)\)[sd]")
    assert {k: sorted(holes.findall(v)) for k, v in english.items()} == \
        {k: sorted(holes.findall(v)) for k, v in chinese.items()}


@pytest.mark.parametrize("lang", ["fr", "EN", "zh-CN", "en.json"])
def test_a_language_the_app_does_not_speak_is_a_404_naming_those_it_does(client, lang):
    answer = client.get(f"/m/i18n/{lang}.json")
    assert answer.status_code == 404 and answer.content_type == "application/json"
    body = answer.get_json()
    assert body["error"] == "not_found" and "zh" in body["message"] and "en" in body["message"]


def test_the_refusal_of_a_language_reads_in_the_reader_s_language(client):
    assert client.get("/m/i18n/fr.json?lang=en").get_json()["message"] == "No such language: fr (zh or en)"
    assert client.get("/m/i18n/fr.json?lang=zh").get_json()["message"] == "没有这种语言：fr（可用 zh、en）"


def test_an_app_never_switched_follows_the_screens_switch_cookie_else_chinese(client):
    plain = client.get("/m/i18n.json")
    assert plain.get_json()["lang"] == "zh" and "Cookie" in plain.headers["Vary"]
    client.set_cookie("lang", "en")
    assert client.get("/m/i18n.json").get_json()["messages"]["signin"] == "Sign in"
    # The language files themselves answer their own language whatever the cookie says.
    assert _words(client, "zh")["signin"] == "登录"


def test_asking_for_a_language_file_with_lang_sets_the_screens_switch_cookie(client):
    client.get("/m/i18n/en.json?lang=en")
    assert client.get_cookie("lang").value == "en"
    assert client.get("/m/i18n.json").get_json()["lang"] == "en"


# --- the page and the script hold to the words ---------------------------------------------------

def test_every_key_the_page_and_the_script_use_is_a_word_and_every_word_is_used():
    page_keys = {key for key, _text in _page().marked}
    script_keys = set(re.findall(r'\bt\("(\w+)"', _script_code()))
    assert page_keys and script_keys
    assert page_keys - set(MESSAGES) == set()
    assert script_keys - set(MESSAGES) == set()
    assert set(MESSAGES) - page_keys - script_keys == set()


def test_the_page_s_own_chinese_is_the_catalogue_s_and_none_is_left_unmarked(client):
    chinese = _words(client, "zh")
    page = _page()
    assert [(key, text) for key, text in page.marked if chinese[key] != text] == []
    assert page.unmarked == []


def test_the_script_has_no_chinese_outside_its_comments():
    code = _script_code()
    assert "t(" in code
    assert CJK.findall(code) == []


def test_the_page_parser_sees_unmarked_chinese_and_the_script_reader_drops_only_comments():
    # The checks above would pass on a parser that sees nothing: here it is shown something.
    page = _Page()
    page.feed('<p>待发送</p><h1 data-i18n="signin">登录</h1><input placeholder="卡号">')
    assert page.unmarked == ["待发送", "卡号"] and page.marked == [("signin", "登录")]
    code = _script_code('// 中文\nconst a = "http://x/中"; /* 中\n文 */ t("a");')
    assert code == '\nconst a = "http://x/中";  t("a");'


# --- in a browser ---------------------------------------------------------------------------------

def test_the_grid_worker_switches_the_app_to_english_and_it_stays_english(
        browser, village, make, live_server, artifacts):
    make.user(village["bank"], "clerk", name="grid")
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server}/m/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin h1") == "登录"
    page.click("#langs button[data-lang=en]")
    page.wait_for_function("() => document.querySelector('#signin h1').textContent === 'Sign in'")
    assert page.inner_text("#signin-form button") == "Sign in"
    assert page.get_attribute("html", "lang") == "en"
    page.screenshot(path=str(artifacts / "phone-english-signin.png"))
    assert_accessible(page, "the phone app's sign-in in English")

    # The server answers in the language chosen: a wrong password is refused in English.
    page.fill("#name", "grid")
    page.fill("#password", "wrong")
    page.click("#signin-form button")
    page.wait_for_function("() => document.querySelector('#signin-error').textContent !== ''")
    assert "password" in page.inner_text("#signin-error").lower()
    assert not CJK.search(page.inner_text("#signin-error"))

    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    page.wait_for_function("() => document.querySelector('#signin h1').textContent === 'Sign in'")
    page.fill("#name", "grid")
    page.fill("#password", PASSWORD)
    page.click("#signin-form button")
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("() => document.querySelector('#waiting').textContent === '0 waiting to send'")
    assert page.inner_text("#scan") == "Scan card" and page.inner_text("#submit") == "Submit"
    assert page.get_attribute("#number", "placeholder") == "Card no., e.g. 7KQ4-M2XD"
    # The script's own lines, placeholders filled: a typed card number, a rule chosen.
    number = village["cards"][0].card.number
    page.fill("#number", number)
    page.press("#number", "Enter")
    page.fill("#rule-q", "hjzz")
    page.click("#rules li[data-code=cleanup]")
    assert page.inner_text("#notice") == f"Added: Card no. {number}"
    # The rule's name and unit are the bank's data; the app's words around them are English.
    assert page.inner_text("#rules li[data-code=cleanup]") == "环境整治 (+3 points per 次)"
    assert page.inner_text("#rule-chosen") == "Chosen: 环境整治"
    assert sideways_scroll(page) == 0
    assert page.evaluate("""() => [...document.querySelectorAll('button')].filter((b) => b.offsetParent)
        .filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent)""") == []
    page.screenshot(path=str(artifacts / "phone-english.png"), full_page=True)
    assert_accessible(page, "the phone app in English")

    # Both languages are kept for a start without a signal.
    page.evaluate("() => navigator.serviceWorker.ready")
    page.wait_for_function("""() => caches.keys().then((names) => Promise.all(names.map((n) => caches.open(n)
        .then((c) => c.keys())))).then((lists) => lists.flat().map((r) => new URL(r.url).pathname))
        .then((paths) => paths.includes('/m/i18n/en.json') && paths.includes('/m/i18n/zh.json'))""")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("() => document.querySelector('#scan').textContent === 'Scan card'")
    assert page.inner_text("#net") == "Offline"

    # Back to Chinese without a signal, and online again it is still Chinese.
    page.click("#langs button[data-lang=zh]")
    page.wait_for_function("() => document.querySelector('#scan').textContent === '扫卡'")
    context.set_offline(False)
    page.reload()
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("() => document.querySelector('#waiting').textContent === '待发送 0 条'")
    assert page.inner_text("#scan") == "扫卡"
    page.screenshot(path=str(artifacts / "phone-chinese.png"), full_page=True)
    context.close()
