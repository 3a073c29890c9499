"""The office's screens over the cycle: the month (月公示), objections (异议), the year (年表彰)."""
from __future__ import annotations

import base64
import html
import re
import subprocess
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from ledger.models import Transfer
from reports import objections, services as reports
from reports.models import Objection
from tests.office.conftest import Desk, sign_in, text, village  # noqa: F401  (fixtures)

from .helpers import TZ, at


def travel(clock, year, month, day, hour=10, minute=0):
    """Move the app's clock (the frozen FixedClock the app and the factories share)."""
    object.__setattr__(clock, "at", datetime(year, month, day, hour, minute, tzinfo=TZ))


def fresh(session):
    """End the test's read and forget what it loaded, to see what the screens committed."""
    session.rollback()
    session.expire_all()


def h1(answer) -> str:
    return html.unescape(re.search(r"<h1>(.*?)</h1>", text(answer), re.S).group(1).strip())


def nav(answer) -> dict[str, str]:
    block = re.search(r'<nav class="staff"[^>]*>(.*?)</nav>', text(answer), re.S).group(1)
    return {html.unescape(words): href for href, words in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block)}


@pytest.fixture
def october(village, make, clock):
    """王大's October patrol (+4), and the clock on 2 November, the notice due since the 1st."""
    bank, wang = village["bank"], village["people"]["王大"]
    [entry] = make.deed(bank, "patrol", [wang], quantity=2).transfers
    travel(clock, 2026, 11, 2)
    return {**village, "entry": entry, "wang": wang}


def _publish(session, bank, clock):
    return reports.publish_notice(session, bank, "2026-10", by="cycle", clock=clock)


def _objection(session, october, clock, transfer=True, text_="巡逻只有一小时，多记了"):
    return objections.file_objection(session, october["bank"], resident_id=october["wang"].id,
                                     transfer_id=october["entry"].id if transfer else None,
                                     month=None if transfer else "2026-10", text=text_,
                                     filed_by="card:1", clock=clock)


# --- the month --------------------------------------------------------------------------------

def test_a_clerk_posts_a_due_notice_by_hand_and_its_public_link_and_qr_are_shown(
        october, sign_in, session, clock, tmp_path, app):
    clerk = sign_in(october["users"]["clerk"])
    listing = clerk.get("/banks/hp/months")
    assert listing.status_code == 200 and h1(listing) == "月公示"
    page = text(listing)
    assert "2026年10月" in page and "未公示" in page and "2026年11月" in page and "本月进行中" in page
    month = clerk.get("/banks/hp/months/2026-10")
    assert "发布公示" in text(month)

    posted = clerk.post("/banks/hp/months/2026-10/run", {"job": "monthly"})
    assert posted.status_code == 302
    notice = reports.get_snapshot(session, october["bank"].id, "notice", "2026-10")
    page = text(clerk.get("/banks/hp/months/2026-10"))
    # Objections until a week after posting, in the bank's time: 2 November 10:00 + 7 days.
    assert "异议期中" in page and "2026年11月9日 10:00" in page
    link = f"http://localhost/n/hp/2026-10/{notice.content_hash[:16]}"
    assert f'href="{link}"' in page
    assert 'href="/api/v1/banks/hp/notices/2026-10.pdf"' in page
    assert 'href="/banks/hp/notices/2026-10"' in page
    png = re.search(r'<img src="data:image/png;base64,([^"]+)"', page).group(1)
    (tmp_path / "qr.png").write_bytes(base64.b64decode(png))
    read = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "qr.png")], capture_output=True, text=True)
    assert read.stdout.strip() == link
    assert clerk.get(link.removeprefix("http://localhost")).status_code == 200
    # Under ZONGZHI_PUBLIC_URL, the link and its code hold the address the village reaches.
    app.config["PUBLIC_URL"] = "http://192.168.1.20:8000/"
    assert f'href="http://192.168.1.20:8000/n/hp/2026-10/{notice.content_hash[:16]}"' in text(
        clerk.get("/banks/hp/months/2026-10"))
    # Posting again changes nothing: the job is done.
    assert "发布公示" not in page


def test_a_notice_not_due_yet_is_refused_and_nothing_is_written(village, sign_in, session, make):
    make.deed(village["bank"], "patrol", [village["people"]["王大"]])
    clerk = sign_in(village["users"]["clerk"])  # 15 October: October's notice is due 1 November
    refused = clerk.post("/banks/hp/months/2026-10/run", {"job": "monthly"})
    assert refused.status_code == 409 and "尚未到期" in text(refused)
    assert "发布公示" not in text(clerk.get("/banks/hp/months/2026-10"))
    bogus = clerk.post("/banks/hp/months/2026-10/run", {"job": "annual"})
    assert bogus.status_code == 422
    assert reports.get_snapshot(session, village["bank"].id, "notice", "2026-10") is None
    assert clerk.get("/banks/hp/months/2026-13").status_code == 422
    # Months outside the bank's cycle (before it opened, still to come) are no page, and no job.
    for month in ("2026-09", "2026-11", "2030-01"):
        assert clerk.get(f"/banks/hp/months/{month}").status_code == 404
        assert clerk.post(f"/banks/hp/months/{month}/run", {"job": "monthly"}).status_code == 404
    assert clerk.get("/banks/hp/objections?month=2026-13").status_code == 422


def test_a_month_is_sealed_by_hand_once_its_window_has_closed(october, sign_in, session, clock):
    _publish(session, october["bank"], clock)
    clerk = sign_in(october["users"]["clerk"])
    assert "封账" not in re.sub(r"待封账", "", text(clerk.get("/banks/hp/months/2026-10")))
    early = clerk.post("/banks/hp/months/2026-10/run", {"job": "seal"})
    assert early.status_code == 409
    travel(clock, 2026, 11, 10)
    clerk = sign_in(october["users"]["clerk"])  # a week on: a new day's sign-in
    page = text(clerk.get("/banks/hp/months/2026-10"))
    assert "待封账" in page and 'value="seal"' in page
    assert clerk.post("/banks/hp/months/2026-10/run", {"job": "seal"}).status_code == 302
    assert "已封账" in text(clerk.get("/banks/hp/months"))


def test_each_reader_opens_the_cycle_screens_from_the_navigation(village, sign_in):
    for role in ("clerk", "reviewer", "supervisor", "admin"):
        desk = sign_in(village["users"][role])
        links = nav(desk.get("/banks/hp/months"))
        for words in ("月公示", "异议", "年表彰"):
            answer = desk.get(links[words])
            assert answer.status_code == 200 and h1(answer) == words, (role, words)
    english = nav(desk.get("/banks/hp/months?lang=en"))
    for words in ("Monthly notice", "Objections", "Year's commendation"):
        assert h1(desk.get(english[words])) == words


def test_the_desk_is_refused_the_cycle_screens_and_not_shown_them(village, sign_in):
    desk = sign_in(village["users"]["desk"])
    for url in ("/banks/hp/months", "/banks/hp/months/2026-10", "/banks/hp/objections",
                "/banks/hp/commendation"):
        assert desk.get(url).status_code == 403
    shown = nav(desk.get("/banks/hp/desk"))
    assert not {"月公示", "异议", "年表彰"} & set(shown)


def test_another_banks_screens_answer_not_found(october, sign_in, make, session, clock):
    other = make.bank(code="qt", name="其他村综治银行")
    clerk = sign_in(october["users"]["clerk"])
    for url in ("/banks/qt/months", "/banks/qt/months/2026-10", "/banks/qt/objections",
                "/banks/qt/commendation"):
        assert clerk.get(url).status_code == 404
    filed = _objection(session, october, clock)
    theirs = sign_in(make.user(other, "reviewer"))
    assert theirs.post(f"/banks/qt/objections/{filed.id}/reject", {"reason": "x"}).status_code == 404
    assert theirs.post(f"/banks/hp/objections/{filed.id}/reject", {"reason": "x"}).status_code == 404
    assert session.get(Objection, filed.id).status == "open"


# --- objections -------------------------------------------------------------------------------

def _card(session, bank, resident, clock):
    from cards import services as cards

    [issued] = cards.issue_cards(session, bank, resident_ids=[resident.id], by="clerk", clock=clock)
    return issued.token


def _count(session, model):
    fresh(session)
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_upholding_posts_the_correction_and_the_card_page_shows_the_answer(october, sign_in, session, clock):
    _publish(session, october["bank"], clock)
    filed = _objection(session, october, clock)
    token = _card(session, october["bank"], october["wang"], clock)
    reviewer = sign_in(october["users"]["reviewer"])
    inbox = reviewer.get("/banks/hp/objections")
    page = text(inbox)
    # The entry objected to and who: told apart by household, phone's last four digits.
    assert "王大" in page and "E01" in page and "尾号5678" in page
    assert "夜间巡逻" in page and "+4" in page and "2026年10月15日" in page
    assert "巡逻只有一小时，多记了" in page and "待答复（1）" in page
    before = _count(session, Transfer)
    done = reviewer.post(f"/banks/hp/objections/{filed.id}/uphold", {"answer": "uphold", "reason": "核实只巡逻一小时"})
    assert done.status_code == 302
    fresh(session)
    decided = session.get(Objection, filed.id)
    assert decided.status == "upheld" and decided.correction_id is not None
    correction = session.get(Transfer, decided.correction_id)
    assert correction.kind == "reversal" and correction.reverses_id == october["entry"].id
    assert _count(session, Transfer) == before + 1
    page = text(reviewer.get("/banks/hp/objections"))
    assert "支持，已更正" in page and f"#{correction.seq}" in page and "核实只巡逻一小时" in page
    card = reviewer.client.get(f"/c/{token}").get_data(as_text=True)
    assert "答复：支持，已更正" in card and "核实只巡逻一小时" in card

    # Answering twice is refused with a word, not an error page; nothing more is posted.
    again = reviewer.post(f"/banks/hp/objections/{filed.id}/uphold", {"answer": "uphold", "reason": "再次"})
    assert again.status_code == 409 and "该异议已处理" in text(again)
    twice = reviewer.post(f"/banks/hp/objections/{filed.id}/reject", {"answer": "reject", "reason": "再次"})
    assert twice.status_code == 409
    assert _count(session, Transfer) == before + 1


def test_rejecting_needs_a_bounded_reason_and_a_bad_one_changes_nothing(october, sign_in, session, clock):
    filed = _objection(session, october, clock)
    reviewer = sign_in(october["users"]["reviewer"])
    for reason, said in (("", "不能为空"), ("   ", "不能为空"), ("长" * 501, "500"), ("理由\x00", "字符")):
        refused = reviewer.post(f"/banks/hp/objections/{filed.id}/reject", {"answer": "reject", "reason": reason})
        assert refused.status_code == 422
        page = text(refused)
        field = re.search(rf'<textarea id="reject-reason-{filed.id}"[^>]*>(.*?)</textarea>\s*'
                          r'<p class="field-error" role="alert">([^<]+)</p>', page, re.S)
        assert field and said in field.group(2), reason
        if reason.strip() and "\x00" not in reason:
            assert field.group(1) == reason  # refilled as typed
    fresh(session)
    assert session.get(Objection, filed.id).status == "open"
    assert session.get(Objection, filed.id).reason is None


def test_a_rejection_and_its_reason_reach_the_card_page(october, sign_in, session, clock):
    filed = _objection(session, october, clock)
    token = _card(session, october["bank"], october["wang"], clock)
    reviewer = sign_in(october["users"]["reviewer"])
    assert reviewer.post(f"/banks/hp/objections/{filed.id}/reject",
                         {"answer": "reject", "reason": "巡逻记录有两人签字"}).status_code == 302
    card = reviewer.client.get(f"/c/{token}").get_data(as_text=True)
    assert "答复：驳回" in card and "巡逻记录有两人签字" in card


def test_a_missing_deed_is_posted_when_upheld_and_its_rule_is_required(october, sign_in, session, clock):
    filed = _objection(session, october, clock, transfer=False, text_="10月20日打扫村道没登记")
    reviewer = sign_in(october["users"]["reviewer"])
    assert "漏登的记录（2026年10月）" in text(reviewer.get("/banks/hp/objections"))
    refused = reviewer.post(f"/banks/hp/objections/{filed.id}/uphold",
                            {"answer": "uphold", "reason": "属实", "quantity": "x"})
    assert refused.status_code == 422
    page = text(refused)
    assert "请选择补登的规则" in page and "数量须为 1 至 1000 的整数" in page and ">属实</textarea>" in page
    done = reviewer.post(f"/banks/hp/objections/{filed.id}/uphold",
                         {"answer": "uphold", "reason": "属实", "rule": "cleanup", "quantity": "1"})
    assert done.status_code == 302
    fresh(session)
    decided = session.get(Objection, filed.id)
    posted = session.get(Transfer, decided.correction_id)
    assert posted.kind == "deed" and posted.rule_code == "cleanup" and posted.doer_id == october["wang"].id


def test_who_may_not_answer_reads_the_objections_without_forms(october, sign_in, session, clock):
    filed = _objection(session, october, clock)
    for role in ("clerk", "supervisor"):
        reader = sign_in(october["users"][role])
        page = text(reader.get("/banks/hp/objections"))
        assert "巡逻只有一小时" in page and "/uphold" not in page and "/reject" not in page
        assert reader.post(f"/banks/hp/objections/{filed.id}/reject", {"reason": "x"}).status_code == 403
        assert reader.post(f"/banks/hp/objections/{filed.id}/uphold", {"reason": "x"}).status_code == 403
    fresh(session)
    assert session.get(Objection, filed.id).status == "open"


# --- the year's commendation ------------------------------------------------------------------

TITLED = """\
bank:
  account_unit: person
  cycle:
    titles:
      - {name: 平安卫士, count: 2, unit: person, category: 社会治安}
rules:
  - code: patrol
    name: 夜间巡逻
    category: 社会治安
    points: 2
    unit: 小时
"""


def test_the_years_titles_show_ties_and_link_their_certificates(app, session, make, signed_in):
    bank = make.bank(rules=TITLED)
    home = make.household(bank, "E01", "王家")
    people = [make.resident(bank, n, home) for n in ("王大", "王二", "王三")]
    reviewer = Desk(signed_in(make.user(bank, "supervisor", name="hp-sup")))
    assert "还没有年度表彰。2026年的评比时间：2027年1月" in text(reviewer.get("/banks/hp/commendation"))
    make.deed(bank, "patrol", people[:2], quantity=3)
    make.deed(bank, "patrol", [people[2]], quantity=1)
    for month, (publish, seal) in {"2026-10": ((2026, 11, 2), (2026, 11, 10)),
                                   "2026-11": ((2026, 12, 2), (2026, 12, 10)),
                                   "2026-12": ((2027, 1, 2), (2027, 1, 10))}.items():
        reports.publish_notice(session, bank, month, by="cycle", clock=at(*publish))
        reports.seal_month(session, bank, month, by="cycle", clock=at(*seal))
    reports.commend_year(session, bank, "2026", by="cycle", clock=at(2027, 1, 10, 9))
    page = reviewer.get("/banks/hp/commendation")
    assert page.status_code == 200 and h1(page) == "年表彰"
    body = text(page)
    assert "2026年" in body and "平安卫士" in body and body.count('<span class="tag">同分</span>') == 2
    assert "并列第 1" in body and "王三" in body
    assert 'href="/api/v1/banks/hp/commendations/2026.pdf"' in body
    for place in (1, 2):
        link = f"/api/v1/banks/hp/commendations/2026/certificates/1/{place}.pdf"
        assert f'href="{link}"' in body
        assert reviewer.get(link).mimetype == "application/pdf"
    assert reviewer.get("/banks/hp/commendation/2026").status_code == 200
    assert reviewer.get("/banks/hp/commendation/2025").status_code == 404
