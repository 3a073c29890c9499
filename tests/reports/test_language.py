"""The notice and the commendation's paper speak the reader's language: Chinese unless English
is asked for; the names of people, households, rules and the bank stay as they were written."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from reports import paper, services
from reports.notice import HOW_TO_OBJECT
from ground.i18n import render

from .helpers import pdf_text

#: Ideographs (every plane): what must not be left in an English page's own words.
IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def _publish(session, september, clock):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    return snapshot, f"/n/hp/2026-09/{snapshot.content_hash[:16]}"


def _notice(page: str) -> str:
    return page[page.index('<div class="notice">'):]


def _without(text: str, names) -> str:
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    return text


def _notice_names(content: dict) -> set[str]:
    """What the notice shows as written: the bank, people, households, categories, rules."""
    names = {content["bank"]["name"], *content["categories"]}
    names |= {r["name"] for r in content["residents"]} | {h["name"] or "" for h in content["households"]}
    names |= {d["rule"] for r in content["residents"] for d in r["details"]}
    return names


def test_the_notice_screen_reads_in_english_when_asked(client, session, september, clock):
    snapshot, address = _publish(session, september, clock)
    page = client.get(address + "?lang=en").get_data(as_text=True)
    notice = _notice(page)
    assert f"<h1>{services.content_of(snapshot)['bank']['name']} Sep 2026 Points notice</h1>" in notice
    assert "How to object" in notice and "If you object to this notice" in notice
    assert "Council (seal): " in notice
    left = _without(notice, _notice_names(services.content_of(snapshot)))
    assert IDEOGRAPH.findall(left) == []


def test_the_notice_screen_is_chinese_by_default_as_it_always_was(client, session, september, clock):
    snapshot, address = _publish(session, september, clock)
    content = services.content_of(snapshot)
    assert content["how_to_object"] == render(HOW_TO_OBJECT, "zh")  # the notice keeps its Chinese
    notice = _notice(client.get(address).get_data(as_text=True))
    assert f"<h1>{content['bank']['name']} 2026年9月 积分公示</h1>" in notice
    assert "（7 天）　·　异议截止：" in notice and "<h2>以户为单位</h2>" in notice
    assert "<th>排名</th><th>姓名</th><th class=\"wide\">户号</th>" in notice
    assert f"<b>如何提出异议</b><br>{content['how_to_object']}<br>排名：同分同名次" in notice
    assert "<div>理事会（盖章）：　　　　　　　日期：</div><div>监事：　　　　　　　日期：</div>" in notice
    assert "Points notice" not in notice


def test_the_notice_pdf_follows_the_switch_not_the_browser(client, session, september, clock, tmp_path):
    _snapshot, address = _publish(session, september, clock)
    chinese, _ = pdf_text(client.get(address + ".pdf", headers={"Accept-Language": "en"}).data, tmp_path)
    assert "积分公示" in chinese and "第1页/共1页" in chinese.replace(" ", "") and "Points notice" not in chinese
    english, _ = pdf_text(client.get(address + ".pdf?lang=en").data, tmp_path)
    assert "Points notice" in english and "Page1of1" in english.replace(" ", "") and "积分公示" not in english


def _year() -> tuple[dict, dict]:
    content = {"year": 2026, "bank": {"code": "hp", "name": "黄坡村综治银行"}, "categories": ["社会治安"],
               "awards": [{"title": "平安卫士", "category": "社会治安", "unit": "person",
                           "awardees": [{"name": "龚𪚥", "points": 6}]}],
               "sealed_months": ["2026-11", "2026-12"], "tie_rule": "", "tie_rule_en": "",
               "head": {"seq": 1, "hash": "ab" * 32}}
    return content, content["awards"][0]


def _certificate(issued: str) -> bytes:
    content, award = _year()
    return paper.certificate_pdf(content, award, award["awardees"][0], issued=issued,
                                 when=datetime(2027, 1, 10, tzinfo=timezone.utc))


def test_a_certificate_prints_in_english_when_asked(app, tmp_path):
    from ledger import formatting

    with app.test_request_context("/?lang=en"):
        data = _certificate(formatting.day(date(2027, 1, 10), "en"))
    text, _ = pdf_text(data, tmp_path)
    assert "Certificate" in text.replace(" ", "") and "10 Jan 2027" in text
    left = _without(re.sub(r"\s", "", text), {"黄坡村综治银行", "龚𪚥", "平安卫士", "社会治安"})
    assert IDEOGRAPH.findall(left) == [], text


def test_a_certificate_printed_outside_a_request_is_chinese(app_context, tmp_path):
    text, _ = pdf_text(_certificate("2027年1月10日"), tmp_path)
    assert "特发此状，以资鼓励。" in text and "黄坡村综治银行理事会" in text and "2027年1月10日" in text
    assert "Certificate" not in text


def test_a_refused_pdf_under_the_api_answers_in_the_language_the_request_asked(client):
    # The paper ignores a browser's English; the API's refusal does not: API.md promises English
    # errors on Accept-Language: en, whatever the address asked for.
    address = "/api/v1/banks/hp/notices/2026-01.pdf"
    chinese = client.get(address).get_json()
    assert chinese["error"] == "unauthorized" and IDEOGRAPH.search(chinese["message"])
    english = client.get(address, headers={"Accept-Language": "en"}).get_json()
    assert english["error"] == "unauthorized" and not IDEOGRAPH.search(english["message"])
