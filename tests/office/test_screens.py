"""The clerk's screens through the test client: every form, its errors, and what it writes."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from ledger.models import Household, PendingDeed, Resident, Transfer
from ground.tenants import Bank
from ground.tenants import User

from .conftest import text


def _count(session, model, *where):
    session.rollback()
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def _deed(desk, people, *, rule="patrol", quantity="1", idem="key-1", penalties=False, **extra):
    url = "/banks/hp/penalties/new" if penalties else "/banks/hp/deeds/new"
    return desk.post(url, data={"r": [p.id for p in people], "rule": rule, "quantity": quantity,
                                "occurred_on": "2026-10-15", "idem": idem, **extra})


def test_typing_initials_finds_a_team_and_ticks_whoever_is_unique(clerk, village):
    page = text(clerk.post("/banks/hp/deeds/new", data={"q": "wd we zs nobody", "idem": "k"}))
    ticked = re.findall(r'name="r" value="(\d+)" checked', page)
    people = village["people"]
    assert ticked == [str(people["王大"].id), str(people["王二"].id), str(people["曾三"].id)]
    assert "nobody：" in page and "没有找到" in page


def test_a_team_deed_posts_once_even_when_the_form_is_sent_twice(clerk, village, session):
    team = [village["people"]["王大"], village["people"]["王二"]]
    first = _deed(clerk, team, quantity="2")
    again = _deed(clerk, team, quantity="2")  # a double click: same form, same key
    assert first.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert _count(session, Transfer) == 2
    done = text(clerk.get(first.headers["Location"]))
    assert "已登记" in done and "王大" in done and "+4" in done
    assert _deed(clerk, team, quantity="2", idem="key-2").status_code == 302  # a new form posts anew
    assert _count(session, Transfer) == 4


def test_a_deed_over_its_cap_is_refused_with_what_is_left_and_posts_nothing(clerk, village, session):
    wang = village["people"]["王大"]
    assert _deed(clerk, [wang], quantity="3").status_code == 302  # 6 of the day's 8
    form = text(clerk.get(f"/banks/hp/deeds/new?residents={wang.id}"))
    assert "夜间巡逻 +2/小时 · 还可得 2 分" in form
    refused = _deed(clerk, [wang], quantity="2", idem="key-2")
    assert refused.status_code == 409
    assert "王大「夜间巡逻」当天上限 8 分，还可得 2 分" in text(refused)
    assert _count(session, Transfer) == 1


@pytest.mark.parametrize("change, field, why", [
    ({"rule": ""}, "rule", "请选择规则"),
    ({"rule": "litter"}, "rule", "请选择规则"),  # a penalty is not offered on the deed form
    ({"quantity": "0"}, "quantity", "数量须为 1 到 1000 之间的整数"),
    ({"quantity": "1.5"}, "quantity", "数量须为 1 到 1000 之间的整数"),
    ({"occurred_on": "2026-13-01"}, "occurred_on", "2026-13-01 不是一个存在的日期"),
    ({"occurred_on": "0001-01-01"}, "occurred_on", "0001-01-01 不在 2000–2099 年之间"),
    ({"occurred_on": "9999-12-31"}, "occurred_on", "9999-12-31 不在 2000–2099 年之间"),
    ({"occurred_on": "2026-08-30"}, "occurred_on", "不能早于 2026-08-31（最多补登 45 天前的记录）"),
    ({"occurred_on": "2026-10-16"}, "occurred_on", "日期不能晚于今天"),
    ({"r": []}, "residents", "请先查找并勾选居民"),
    ({"memo": "长" * 501}, "memo", "备注最长 500 个字"),
])
def test_a_bad_deed_form_comes_back_with_the_reason_and_posts_nothing(clerk, village, session, change, field, why):
    answer = _deed(clerk, [village["people"]["王大"]], **change)
    assert answer.status_code in (409, 422)
    assert why in text(answer)
    assert _count(session, Transfer) == 0


def test_a_deactivated_resident_cannot_be_picked_for_a_deed(clerk, village, session, clock):
    from ledger import people as ledger_people

    wang = village["people"]["王大"]
    ledger_people.set_resident_active(session, village["bank"], wang.id, False, reason="迁出", by="t", clock=clock)
    page = text(clerk.post("/banks/hp/deeds/new", data={"q": "wd", "idem": "k"}))
    assert "没有找到" in page
    assert "请先查找并勾选居民" in text(_deed(clerk, [wang]))
    assert _count(session, Transfer) == 0


def test_a_penalty_needs_its_reason_and_takes_points(clerk, village, session):
    wang = village["people"]["王大"]
    refused = _deed(clerk, [wang], rule="litter", penalties=True)
    assert refused.status_code == 422 and "扣分须写明原因" in text(refused)
    posted = _deed(clerk, [wang], rule="litter", penalties=True, memo="河边乱扔垃圾")
    assert posted.status_code == 302 and "/penalties/new" in posted.headers["Location"]
    [t] = session.execute(select(Transfer)).scalars().all()
    assert (t.kind, t.amount, t.memo) == ("penalty", 5, "河边乱扔垃圾")


def test_the_rule_can_be_picked_by_its_initials(clerk, village, session):
    answer = _deed(clerk, [village["people"]["王大"]], rule="", rule_q="hjzz")  # 环境整治
    assert answer.status_code == 302
    assert session.execute(select(Transfer.rule_code)).scalar() == "cleanup"


def test_a_reversal_needs_a_reason_and_links_both_entries(clerk, village, make, session):
    deed = make.deed(village["bank"], "cleanup", [village["people"]["王大"]]).transfers[0]
    url = f"/banks/hp/transfers/{deed.id}"
    refused = clerk.post(url, data={"reason": " ", "idem": "r1"})
    assert refused.status_code == 422 and "冲正须写明原因" in text(refused)
    assert clerk.post(url, data={"reason": "记错了人", "idem": "r1"}).status_code == 302
    reversal = session.execute(select(Transfer).where(Transfer.reverses_id == deed.id)).scalar_one()
    original_page, reversal_page = text(clerk.get(url)), text(clerk.get(f"/banks/hp/transfers/{reversal.id}"))
    assert "已冲正" in original_page and f"/banks/hp/transfers/{reversal.id}" in original_page
    assert "记错了人" in original_page and "冲正原因（必填）" not in original_page
    assert "本条冲正了" in reversal_page and url in reversal_page
    again = clerk.post(url, data={"reason": "再冲一次", "idem": "r2"})
    assert again.status_code == 409 and "已被冲正" in text(again)
    assert _count(session, Transfer) == 2


def test_the_reviewer_approves_and_rejects_with_a_reason_and_a_clerk_cannot(clerk, village, sign_in, make, session):
    bank, zeng = village["bank"], village["people"]["曾三"]
    first, second = (make.deed(bank, "mediation", [zeng], memo=f"调解{n}").pending[0] for n in (1, 2))
    assert clerk.post(f"/banks/hp/pending/{first.id}/approve").status_code == 403
    reviewer = sign_in(village["users"]["reviewer"])
    queue = text(reviewer.get("/banks/hp/pending"))
    assert "调解1" in queue and "调解2" in queue and "通过" in queue
    assert "通过" not in text(clerk.get("/banks/hp/pending")).split("<table>")[1]
    assert reviewer.post(f"/banks/hp/pending/{first.id}/approve").status_code == 302
    assert "已通过并入账" in text(reviewer.get("/banks/hp/pending"))
    refused = reviewer.post(f"/banks/hp/pending/{second.id}/reject", data={"reason": ""})
    assert refused.status_code == 422 and "驳回须写明原因" in text(refused)
    assert reviewer.post(f"/banks/hp/pending/{second.id}/reject", data={"reason": "证据不足"}).status_code == 302
    statuses = dict(session.execute(select(PendingDeed.id, PendingDeed.status)).all())
    assert statuses == {first.id: "approved", second.id: "rejected"}
    assert _count(session, Transfer) == 1


def test_the_resident_page_shows_balances_history_filters_and_a_masked_phone(clerk, village, make):
    bank, wang = village["bank"], village["people"]["王大"]
    make.deed(bank, "patrol", [wang], quantity=2)
    make.deed(bank, "litter", [wang], memo="乱扔")
    page = text(clerk.get(f"/banks/hp/residents/{wang.id}"))
    assert "138****5678" in page and "13812345678" not in page
    assert "+4" in page and "-5" in page and ">-1<" in page  # the balance
    only_penalties = text(clerk.get(f"/banks/hp/residents/{wang.id}?kind=penalty"))
    assert "-5" in only_penalties and "+4" not in only_penalties
    assert clerk.get(f"/banks/hp/residents/{wang.id}?since=yesterday").status_code == 422
    assert "13812345678" in text(clerk.get(f"/banks/hp/residents/{wang.id}/edit"))
    assert "138****5678" in text(clerk.get("/banks/hp/residents?q=wangda"))
    statement = text(clerk.get(f"/banks/hp/residents/{wang.id}/statement"))
    assert "积分对账单" in statement and "size: A4" in statement and "期间合计" in statement


def test_registering_and_editing_a_resident_with_a_rare_character(clerk, village, session):
    answer = clerk.post("/banks/hp/residents/new", data={"name": "𠮷野", "household": "E01", "phone": "139 1234 5678"})
    assert answer.status_code == 302
    resident = session.execute(select(Resident).where(Resident.name == "𠮷野")).scalar_one()
    edit = text(clerk.get(f"/banks/hp/residents/{resident.id}/edit"))
    assert "系统不认识“𠮷”的读音" in edit and "13912345678" in edit
    refused = clerk.post(f"/banks/hp/residents/{resident.id}/edit", data={"name": "𠮷野", "reading": "ji"})
    assert refused.status_code == 422 and "读音须有 2 个音节" in text(refused)
    clerk.post(f"/banks/hp/residents/{resident.id}/edit", data={"name": "𠮷野", "reading": "ji ye",
                                                                 "phone": "13912345678"})
    assert "𠮷野" in text(clerk.get("/banks/hp/residents?q=jiye"))
    bad = clerk.post("/banks/hp/residents/new", data={"name": "", "household": "NOPE", "phone": "12"})
    assert bad.status_code == 422
    assert all(why in text(bad) for why in ("姓名不能为空", "户号 NOPE 不存在或已停用", "电话号码"))


def test_moving_and_deactivating_a_resident_from_the_screens(clerk, village, session):
    wang = village["people"]["王大"]
    assert clerk.post(f"/banks/hp/residents/{wang.id}/move", data={"household": "W01", "reason": "分户"}).status_code == 302
    assert "E01 → W01" in text(clerk.get(f"/banks/hp/residents/{wang.id}"))
    refused = clerk.post(f"/banks/hp/residents/{wang.id}/active", data={"active": "0", "reason": ""})
    assert refused.status_code == 422 and "停用须写明原因" in text(refused)
    clerk.post(f"/banks/hp/residents/{wang.id}/active", data={"active": "0", "reason": "外出务工"})
    assert session.execute(select(Resident.active).where(Resident.id == wang.id)).scalar() is False


def test_households_are_registered_renamed_and_kept_while_someone_lives_there(clerk, village, session):
    assert clerk.post("/banks/hp/households", data={"code": "N01", "name": "新户"}).status_code == 302
    duplicate = clerk.post("/banks/hp/households", data={"code": "N01"})
    assert duplicate.status_code == 422 and "户号 N01 已存在" in text(duplicate)
    east = village["east"]
    refused = clerk.post(f"/banks/hp/households/{east.id}", data={"name": "王家", "active": "0"})
    assert refused.status_code == 409 and "户内还有 2 名在册居民" in text(refused)
    assert session.execute(select(Household.active).where(Household.id == east.id)).scalar() is True


def test_the_day_register_lists_the_day_with_signature_lines(clerk, village, make):
    bank = village["bank"]
    make.deed(bank, "patrol", [village["people"]["王大"], village["people"]["王二"]], quantity=2)
    page = text(clerk.get("/banks/hp/register"))
    assert "登分簿" in page and "2026年10月15日" in page
    assert "王大" in page and "王二" in page and "合计 2 条" in page and "+8" in page
    assert "记分员签字" in page and "理事签字" in page and "size: A4" in page
    assert clerk.get("/banks/hp/register?day=2026-10-20").status_code == 422


def test_the_county_admin_sees_every_bank_and_opens_one_from_a_template(sign_in, village, make, session):
    make.deed(village["bank"], "patrol", [village["people"]["王大"]], quantity=2)
    admin = sign_in(village["users"]["admin"])
    page = text(admin.get("/admin/banks"))
    row = re.search(r"和平村综治银行.*?</tr>", page, re.S).group(0)
    assert re.findall(r'class="num">([^<]*)<', row) == ["4", "2", "4", "4", "0"]
    refused = admin.post("/admin/banks", data={"code": "bad code!", "name": "", "template": "default",
                                              "clerk": "new-clerk", "password": "short"})
    assert refused.status_code == 422 and "密码至少 8 个字符" in text(refused)
    assert _count(session, Bank) == 1
    made = admin.post("/admin/banks", data={"code": "xz", "name": "新庄村综治银行", "template": "default",
                                           "clerk": "xz-clerk", "password": "a long password"})
    assert made.status_code == 302
    session.rollback()
    assert session.execute(select(User.role).where(User.name == "xz-clerk")).scalar() == "clerk"
    assert "新庄村综治银行" in text(admin.get("/admin/banks"))


def test_the_screens_switch_to_english(clerk, village):
    page = text(clerk.get("/banks/hp/deeds/new?lang=en"))
    assert "Log deed" in page and "Find residents" in page and '<html lang="en">' in page
    assert "登分" in text(clerk.get("/banks/hp/deeds/new?lang=zh"))


def test_the_deed_form_stays_under_60_kb_with_the_full_default_rules(clerk, village, session, clock):
    from pathlib import Path

    from ledger import banks

    rules = (Path(__file__).resolve().parents[2] / "seed_data" / "rules" / "default.yaml").read_text("utf-8")
    banks.load_rules(session, village["bank"], rules, source_name="default.yaml", by="t", clock=clock)
    ids = ",".join(str(p.id) for p in village["people"].values())
    page = clerk.get(f"/banks/hp/deeds/new?residents={ids}")
    assert page.status_code == 200 and "夜间巡逻" in text(page)
    assert len(page.get_data()) < 60 * 1024


# --- bounds: what is typed into a screen is checked as the API checks it ----------------------------

def test_a_quantity_that_is_not_ascii_digits_in_bounds_comes_back_and_posts_nothing(clerk, village, session):
    """"²" passed str.isdigit() and then int() answered 500."""
    for quantity in ("²", "١٢", "1001", "99999999999999999999999", " 1 2 "):
        answer = _deed(clerk, [village["people"]["王大"]], quantity=quantity)
        assert answer.status_code == 422, quantity
        assert "数量须为 1 到 1000 之间的整数" in text(answer)
    assert _count(session, Transfer) == 0 and _count(session, PendingDeed) == 0


def test_a_resident_of_another_village_refuses_the_whole_deed_form(clerk, village, session, make):
    """All or none on the screens too: the other village's resident was silently dropped and the
    deed posted for the rest."""
    other = make.bank("xz", "小庄村综治银行")
    stranger = make.resident(other, "外村人")
    team = [village["people"]["王大"], stranger, village["people"]["王二"]]
    answer = _deed(clerk, team, quantity="2")
    assert answer.status_code == 422
    page = text(answer)
    assert "所选居民中有 1 位不是本村在册居民，整张表单未登记" in page and "外村人" not in page
    assert _count(session, Transfer) == 0 and _count(session, PendingDeed) == 0


def test_a_resident_id_that_is_no_id_refuses_the_whole_deed_form(clerk, village, session):
    for chosen in ("²", "99999999999999999999999", "0"):
        answer = clerk.post("/banks/hp/deeds/new", data={
            "r": [str(village["people"]["王大"].id), chosen], "rule": "patrol", "quantity": "1",
            "occurred_on": "2026-10-15", "idem": "key-1"})
        assert answer.status_code == 422 and "整张表单未登记" in text(answer), chosen
    assert _count(session, Transfer) == 0


def test_a_memo_with_a_control_character_comes_back_and_posts_nothing(clerk, village, session):
    for memo in ("夜巡\x00", "夜巡\x01", "夜巡\u2028东片"):
        answer = _deed(clerk, [village["people"]["王大"]], memo=memo)
        assert answer.status_code == 422 and "不能含控制字符" in text(answer), repr(memo)
    assert _count(session, Transfer) == 0


def test_a_memo_over_several_lines_from_a_browser_posts(clerk, village, session):
    assert _deed(clerk, [village["people"]["王大"]], memo="东片\r\n西片").status_code == 302
    session.rollback()
    assert session.execute(select(Transfer.memo)).scalar() == "东片\n西片"


def test_a_screen_query_beyond_its_bound_is_refused_by_name(clerk, village):
    """?q=%00 answered 500 on PostgreSQL; ?after= past 64 bits overflowed the query."""
    for url, field in (("/banks/hp/residents?q=%00", "q"),
                       ("/banks/hp/residents?after=99999999999999999999", "after"),
                       ("/banks/hp/residents?after=%C2%B2", "after"), ("/banks/hp/households?q=%01", "q")):
        answer = clerk.get(url)
        assert answer.status_code == 422 and field in text(answer), url


def test_ids_after_posting_that_are_no_ids_are_left_out(clerk, village):
    assert clerk.get("/banks/hp/deeds/new?posted=%C2%B2,99999999999999999999&pending=²").status_code == 200


def test_a_household_with_unsafe_text_is_refused_and_writes_nothing(clerk, village, session):
    before = _count(session, Household)
    for form in ({"code": "E\x0002"}, {"code": "E02", "name": "王\x7f家"}):
        answer = clerk.post("/banks/hp/households", data=form)
        assert answer.status_code == 422 and "不能含控制字符" in text(answer), form
    assert _count(session, Household) == before


def test_a_reversal_reason_with_a_control_character_is_refused(clerk, village, session):
    assert _deed(clerk, [village["people"]["王大"]]).status_code == 302
    entry = session.execute(select(Transfer.id)).scalar()
    answer = clerk.post(f"/banks/hp/transfers/{entry}", data={"reason": "错登\x01", "idem": "r-1"})
    assert answer.status_code == 422 and "不能含控制字符" in text(answer)
    assert _count(session, Transfer) == 1
