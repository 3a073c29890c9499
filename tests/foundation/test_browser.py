"""The foundation's forms in a real browser (Chromium via Playwright), as a clerk fills them."""
from __future__ import annotations

PASSWORD = "correct horse battery"


def test_a_clerk_registers_a_group_by_name_and_enters_its_application_after_a_refusal(
        live_server, browser, district, artifacts):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server}/login")
    page.fill("#name", "clerk")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()

    # The group's members, found by initials and by name, with one Enter.
    page.goto(f"{live_server}/foundation/hp/applicants/new")
    page.select_option("#kind", "group")
    page.fill("#name", "巡逻志愿队")
    page.fill("#members_q", "wdm 李四")
    page.press("#members_q", "Enter")
    page.wait_for_load_state()
    assert page.locator("input[name=members]:checked").count() == 2
    assert page.input_value("#name") == "巡逻志愿队"
    page.click("button[value=save]")
    page.wait_for_load_state()
    assert page.url.endswith("/foundation/hp/applications/new")

    # A budget that does not add up: the form comes back as typed, the problem beside the budget.
    page.select_option("#applicant", label="巡逻志愿队")
    page.fill("#title", "楼道照明")
    page.fill("#purpose", "楼道太黑，老人摔跤")
    page.fill("#budget", "感应灯 20 个 2000")
    page.fill("#amount_requested", "2500")
    page.fill("#starts_on", "2026-11-01")
    page.fill("#ends_on", "2026-11-30")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    beside = page.locator("#budget + p.field-error")
    assert beside.inner_text() == "预算明细合计 ¥2,000.00，与申请金额 ¥2,500.00 不符"
    assert page.input_value("#title") == "楼道照明" and page.input_value("#amount_requested") == "2500"
    assert beside.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    page.screenshot(path=str(artifacts / "foundation-application-refused.png"), full_page=True)

    page.fill("#amount_requested", "2000")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "楼道照明" in page.inner_text("h1") and "¥2,000.00" in page.inner_text("main")
