"""Messages through Flask-Babel: Chinese by default, English on Accept-Language (API) or the
language switch (screens), Chinese on the command line; the catalogues compiled and complete."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner

from ground.errors import ValidationError
from ground.i18n import _, render
from zongzhi.cli import main

from ..office.conftest import Desk

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(ROOT.glob("*/translations/*/LC_MESSAGES/messages.po"))


@pytest.fixture
def village(make):
    bank = make.bank()
    return {"bank": bank, "wang": make.resident(bank, "王大"), "clerk": make.token(bank, "clerk")}


def _deed(client, village, lang=None, **body):
    body = {"rule": "cleanup", "residents": [village["wang"].id], "occurred_on": "2026-10-14", **body}
    headers = {**village["clerk"], **({"Accept-Language": lang} if lang else {})}
    return client.post("/api/v1/banks/hp/deeds", json=body, headers=headers)


# --- the API: Accept-Language ------------------------------------------------------------------

def test_a_deed_naming_a_resident_twice_answers_in_the_language_asked(client, village):
    twice = [village["wang"].id, village["wang"].id]
    english = _deed(client, village, "en", residents=twice)
    assert english.status_code == 422
    assert english.get_json() == {"error": "validation_error", "message": "the request is not valid",
                                  "fields": {"residents": ["The same resident may not appear twice."]}}
    chinese = _deed(client, village, residents=twice).get_json()
    assert chinese["message"] == "请求内容有误"
    assert chinese["fields"] == {"residents": ["同一居民不能重复出现"]}
    assert _deed(client, village, "zh-CN,zh;q=0.9", residents=twice).get_json() == chinese


@pytest.mark.parametrize("header, language", [
    ("zh-CN,en;q=0.5", "zh"), ("zh-TW,en;q=0.1", "zh"), ("zh-Hans-CN, en;q=0.1", "zh"),
    ("zh_CN", "zh"), ("en-US,en;q=0.9,zh;q=0.8", "en"), ("en-GB", "en"), ("fr,en;q=0.5", "en"),
    ("fr,de;q=0.5", "zh"), ("en;q=0", "zh"), ("*", "zh"), ("zh;q=0.2,en;q=0.8", "en"),
])
def test_a_reader_is_answered_in_the_language_they_rank_highest_by_its_primary_tag(
        client, village, header, language):
    message = _deed(client, village, header, rule="nosuch").get_json()["message"]
    assert message == {"zh": "请求内容有误", "en": "the request is not valid"}[language]


def test_marshmallow_s_own_reasons_answer_in_the_language_asked(client, village):
    english = _deed(client, village, "en", quantity="2", rule=None).get_json()
    assert english["fields"] == {"quantity": ["Not a valid integer."], "rule": ["Field may not be null."]}
    chinese = _deed(client, village, quantity="2", rule=None).get_json()
    assert chinese["fields"] == {"quantity": ["须为整数"], "rule": ["不能为空"]}
    unknown = _deed(client, village, "en", colour="red").get_json()
    assert unknown["fields"] == {"colour": ["Unknown field."]}
    assert _deed(client, village, colour="red").get_json()["fields"] == {"colour": ["未知字段"]}


def test_a_domain_refusal_with_placeholders_answers_in_the_language_asked(client, village):
    english = _deed(client, village, "en", occurred_on="2026-08-30").get_json()
    assert english["message"] == "2026-08-30 is too old: the earliest day allowed is 2026-08-31 (45 days back)"
    missing = client.get("/api/v1/banks/hp/residents/999/account",
                         headers={**village["clerk"], "Accept-Language": "en"}).get_json()
    assert missing == {"error": "not_found", "message": "resident not found", "fields": {}}
    assert client.get("/api/v1/banks/hp/residents/999/account",
                      headers=village["clerk"]).get_json()["message"] == "找不到该居民"


def test_a_reason_about_one_element_of_a_list_is_listed_under_the_list_saying_which(client, village):
    too_big = 2**53
    chinese = _deed(client, village, residents=[village["wang"].id, too_big]).get_json()
    assert chinese["fields"] == {"residents": ["第 2 项：须在 1 与 9007199254740991 之间"]}
    english = _deed(client, village, "en", residents=[village["wang"].id, too_big]).get_json()
    assert english["fields"] == {"residents": ["item 2: Must be greater than or equal to 1 and less than or equal to 9007199254740991."]}


def test_a_field_inside_a_list_element_is_named_under_the_list_and_on_its_own(client, make, village):
    desk = make.token(village["bank"], "desk")
    body = {"resident": village["wang"].id, "items": [{"sku": "soap", "quantity": 1},
                                                      {"sku": "oil", "quantity": 1001}]}
    answer = client.post("/api/v1/banks/hp/redemptions", json=body, headers=desk)
    assert answer.status_code == 422
    why = "第 2 项 quantity：须在 1 与 1000 之间"
    assert answer.get_json()["fields"] == {"items": [why], "quantity": [why]}
    english = client.post("/api/v1/banks/hp/redemptions", json=body,
                          headers={**desk, "Accept-Language": "en"}).get_json()
    assert english["fields"]["quantity"] == ["item 2 quantity: Must be greater than or equal to 1 and less than or equal to 1000."]


# --- the screens: the language switch ------------------------------------------------------------

def test_a_screen_form_answers_in_english_after_the_switch(signed_in, make):
    bank = make.bank()
    make.household(bank, "E01", "王家")
    clerk = Desk(signed_in(make.user(bank, "clerk", name="hp-clerk")))
    form = {"name": "李四", "household": "E01", "phone": "abc"}
    chinese = clerk.post("/banks/hp/residents/new", data=form).get_data(as_text=True)
    assert "电话号码只能包含数字" in chinese
    clerk.get("/banks/hp/residents/new?lang=en")  # the switch: a cookie from now on
    english = clerk.post("/banks/hp/residents/new", data=form)
    assert english.status_code == 422
    page = english.get_data(as_text=True)
    assert "A phone number holds digits only." in page and "电话号码只能包含数字" not in page
    # A browser asking for English does not turn a village office's screens English by itself.
    clerk.get("/banks/hp/residents/new?lang=zh")
    assert "电话号码只能包含数字" in clerk.post("/banks/hp/residents/new", data=form,
                                                 headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_a_message_holding_what_someone_typed_is_escaped_on_a_screen(app):
    from flask import render_template_string

    with app.test_request_context("/"):
        shown = render_template_string("{{ m }}", m=_("未知规则 %(code)s", code="<b>x</b>"))
    assert shown == "未知规则 &lt;b&gt;x&lt;/b&gt;"


# --- outside a request: Chinese ----------------------------------------------------------------------

def test_the_command_line_says_why_in_chinese(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    monkeypatch.setenv("ZONGZHI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    refused = runner.invoke(main, ["token", "create", "ghost"])
    assert refused.exit_code == 1
    assert "错误 error: 找不到该用户" in refused.output and "not found" not in refused.output
    bad = runner.invoke(main, ["bank", "create", "h p", "--name", ""])
    assert bad.exit_code == 1
    assert "code: 只能包含字母、数字、-、_，最长 40 个字符" in bad.output


def test_a_message_outside_a_request_is_chinese():
    refused = ValidationError({"residents": [_("同一居民不能重复出现")]})
    assert refused.text() == "请求内容有误" and refused.text("en") == "请求内容有误"
    assert render(refused.fields) == {"residents": ["同一居民不能重复出现"]}


# --- the catalogues ---------------------------------------------------------------------------------

def test_every_compiled_catalogue_is_up_to_date_with_its_po():
    """`make setup` compiles each messages.po; a .po edited since must be compiled again."""
    assert CATALOGUES
    stale = []
    for po in CATALOGUES:
        mo = po.with_suffix(".mo")
        if not mo.exists():
            stale.append(f"{mo.relative_to(ROOT)} is missing")
            continue
        with po.open("rb") as f:
            source = {(m.context, m.id): m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}
        with mo.open("rb") as f:
            compiled = {(m.context, m.id): m.string for m in read_mo(f) if m.id}
        if source != compiled:
            stale.append(f"{mo.relative_to(ROOT)} differs from its .po")
    assert stale == [], "run `make setup` (or pybabel compile) to compile: " + "; ".join(stale)


_KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2),
             "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}


def test_every_message_the_code_writes_has_its_english():
    translated = set()
    for po in CATALOGUES:
        with po.open("rb") as f:
            translated |= {(m.context, m.id if isinstance(m.id, str) else m.id[0])
                           for m in read_po(f) if m.id and m.string and not m.fuzzy}
    untranslated = []
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "migrations", "seed_data"}
    assert {"ground", "rules", "ledger", "web", "zongzhi"} <= packages
    for package in sorted(packages):
        for filename, line, message, _comments, context in extract_from_dir(
                str(ROOT / package), [("**.py", "python"), ("**/templates/**.html", "jinja2")],
                keywords=_KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid and (context, msgid) not in translated:
                untranslated.append(f"{package}/{filename}:{line}: {msgid}")
    assert untranslated == []


def test_no_message_is_translated_by_pattern_any_more():
    assert not (ROOT / "rules" / "messages.py").exists()


def test_a_message_has_one_english_across_every_package():
    """The packages' catalogues are merged into one, the last package's English winning: a
    message translated two ways would read one package's words on the other's pages."""
    english: dict[tuple, dict[str, list[str]]] = {}
    for po in CATALOGUES:
        if po.parent.parent.name != "en":
            continue
        with po.open("rb") as f:
            for m in read_po(f):
                if m.id and m.string and not m.fuzzy:
                    msgid = m.id if isinstance(m.id, str) else m.id[0]
                    string = m.string if isinstance(m.string, str) else m.string[0]
                    english.setdefault((m.context, msgid), {}).setdefault(string, []).append(
                        po.parts[-5])
    twice = {key: ways for key, ways in english.items() if len(ways) > 1}
    assert twice == {}


def _cjk_reasons(tree) -> list[int]:
    """Lines where a list of reasons, or a validator's `error=`, holds Chinese as plain text."""
    import ast
    import re

    cjk = re.compile("[\u4e00-\u9fff]")
    plain = lambda node: isinstance(node, ast.Constant) and isinstance(node.value, str) and cjk.search(node.value)  # noqa: E731
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for value in node.values:
                if isinstance(value, ast.List) and any(plain(e) for e in value.elts):
                    found.append(value.lineno)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and \
                any(isinstance(t, ast.Subscript) for t in node.targets) and any(plain(e) for e in node.value.elts):
            found.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == "error" and plain(node.value):
            found.append(node.value.lineno)
    return found


def test_no_reason_is_written_in_chinese_outside_a_message():
    """A reason typed as plain Chinese reads Chinese to an English reader: every one is `_(...)`."""
    import ast

    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "migrations", "seed_data"}
    plain = [f"{path.relative_to(ROOT)}:{line}" for package in sorted(packages)
             for path in sorted((ROOT / package).rglob("*.py"))
             for line in _cjk_reasons(ast.parse(path.read_text(encoding="utf-8")))]
    assert plain == []
