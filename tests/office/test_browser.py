"""The clerk's day in a real browser (Chromium via Playwright), with screenshots for a person to look at."""
from __future__ import annotations

import io

from openpyxl import Workbook

from ..browsing import sign_in as _sign_in


def test_a_clerk_logs_a_team_deed_hits_a_cap_and_reverses_an_entry(live_server, browser, village, artifacts):
    page = _sign_in(browser, live_server, "hp-clerk", viewport={"width": 1366, "height": 768})
    answer = page.goto(f"{live_server}/banks/hp/deeds/new")
    assert len(answer.body()) < 60 * 1024  # served uncompressed: what is transferred
    # The team, found by initials, and the rule: two lines of typing, two Enters.
    page.fill("#q", "wd we")
    page.press("#q", "Enter")
    page.wait_for_load_state()
    assert page.locator("input[name=r]:checked").count() == 2
    page.select_option("#rule", "patrol")
    page.fill("#quantity", "3")
    page.screenshot(path=str(artifacts / "office-deed-form.png"))
    # The submit button fits on a laptop screen without scrolling.
    box = page.locator("button[value=post]").bounding_box()
    assert box["y"] + box["height"] <= 768
    page.click("button[value=post]")
    page.wait_for_load_state()
    assert "已登记" in page.inner_text("main")
    assert "+6" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "office-deed-posted.png"))

    # The same team again: 6 of the day's 8 points are used, so 2 more hours is over the cap.
    page.fill("#q", "wd we")
    page.press("#q", "Enter")
    page.wait_for_load_state()
    assert "还可得 2 分" in page.inner_text("#rule")
    page.select_option("#rule", "patrol")
    page.fill("#quantity", "2")
    page.click("button[value=post]")
    page.wait_for_load_state()
    alert = page.locator("p.error[role=alert]").inner_text()
    assert "当天上限 8 分，还可得 2 分" in alert
    page.screenshot(path=str(artifacts / "office-cap-refused.png"))

    # Reverse the first entry from the resident's page, with a reason; both entries link.
    page.goto(f"{live_server}/banks/hp/residents/{village['people']['王大'].id}")
    page.screenshot(path=str(artifacts / "office-resident.png"))
    page.click("text=#1")
    page.fill("#reason", "巡逻时长记错")
    page.click("button.primary")
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert "已冲正" in text and "巡逻时长记错" in text and "#3" in text
    page.screenshot(path=str(artifacts / "office-reversal.png"))
    page.goto(f"{live_server}/banks/hp/register")
    assert "记分员签字" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "office-register.png"), full_page=True)

    # On a phone, the deed form fits the width: nothing to scroll sideways.
    phone = _sign_in(browser, live_server, "hp-clerk", viewport={"width": 360, "height": 740},
                     is_mobile=True, has_touch=True)
    phone.goto(f"{live_server}/banks/hp/deeds/new")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(artifacts / "office-deed-form-phone.png"), full_page=True)
    page.context.close()
    phone.context.close()


def test_a_reviewer_approves_and_a_bad_roster_is_reported_row_by_row(live_server, browser, village, make,
                                                                     artifacts, tmp_path):
    make.deed(village["bank"], "mediation", [village["people"]["曾三"]], memo="调解邻里纠纷")
    page = _sign_in(browser, live_server, "hp-reviewer", viewport={"width": 1366, "height": 768})
    page.goto(f"{live_server}/banks/hp/pending")
    assert "调解邻里纠纷" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "office-pending.png"))
    page.click("form[action$='/approve'] button")
    page.wait_for_load_state()
    assert "已通过并入账" in page.inner_text("main")
    assert "没有待审核的记录" in page.inner_text("main")

    book = Workbook()
    sheet = book.active
    for row in (["姓名", "户号", "与户主关系", "电话"], ["赵一", "N01", "户主", "13812340000"],
                ["赵二", "N01", "子", "1381234000"], ["𠮷野", "N02", "户主", ""]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    roster = tmp_path / "名册.xlsx"
    roster.write_bytes(out.getvalue())
    page.goto(f"{live_server}/banks/hp/roster")
    page.set_input_files("#file", str(roster))
    page.click("button.primary")
    page.wait_for_load_state()
    report = page.inner_text("#report")
    assert "未导入" in report and "第 3 行" in report
    assert "电话号码有 10 位数字，手机号应为 11 位" in report
    page.screenshot(path=str(artifacts / "office-roster-report.png"), full_page=True)
    page.goto(f"{live_server}/banks/hp/residents?q=zhao")
    assert "没有找到居民" in page.inner_text("main")
    page.context.close()


def test_typing_a_rules_initials_then_clicking_the_button_logs_the_deed(live_server, browser, village):
    """The rule list was required, so the browser blocked the click when only initials were typed."""
    page = _sign_in(browser, live_server, "hp-clerk")
    page.goto(f"{live_server}/banks/hp/deeds/new?residents={village['people']['王大'].id}")
    page.fill("#rule_q", "yjxl")  # 夜间巡逻
    page.click("button[value=post]")
    page.wait_for_load_state()
    assert "已登记" in page.inner_text("main") and "+2" in page.inner_text("main")
    page.close()
