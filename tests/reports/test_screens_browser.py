"""A reviewer's month in a real browser: the notice posted by hand, an objection upheld."""
from __future__ import annotations

from tests.office.conftest import sign_in, village  # noqa: F401  (fixtures)
from tests.office.test_browser import _sign_in

from .test_screens import _objection, october  # noqa: F401  (a fixture)


def test_a_reviewer_posts_the_month_and_upholds_an_objection_at_1280_and_360(
        live_server, browser, october, session, clock, artifacts):
    page = _sign_in(browser, live_server, "hp-reviewer", viewport={"width": 1280, "height": 800})
    page.click("nav.staff >> text=月公示")
    assert page.inner_text("h1") == "月公示" and "未公示" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "reports-months.png"), full_page=True)
    page.click("main >> text=2026年10月")
    page.click("text=发布公示")
    page.wait_for_load_state()
    assert "已公示" in page.inner_text("main") and "异议期中" in page.inner_text("main")
    link = page.locator(".link a").inner_text()
    assert "/n/hp/2026-10/" in link
    assert page.locator(".qr img").evaluate("img => img.naturalWidth") > 100
    page.screenshot(path=str(artifacts / "reports-month.png"), full_page=True)

    filed = _objection(session, october, clock)
    phone = _sign_in(browser, live_server, "hp-reviewer", viewport={"width": 360, "height": 740},
                     is_mobile=True, has_touch=True)
    phone.goto(live_server + "/banks/hp/objections")
    assert phone.locator(f"#uphold-reason-{filed.id}").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(artifacts / "reports-objections-phone.png"), full_page=True)

    page.click("nav.staff >> text=异议")
    assert "巡逻只有一小时，多记了" in page.inner_text("main")
    # Rejecting without a reason is stopped by the browser; with one typed, upholding posts the fix.
    page.click("text=驳回 >> nth=-1")
    assert page.locator(f"#reject-reason-{filed.id}").evaluate("f => f.validity.valueMissing")
    page.fill(f"#uphold-reason-{filed.id}", "核实只巡逻一小时")
    page.click("text=支持并更正")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert f"已支持异议 #{filed.id}" in main and "支持，已更正" in main
    page.screenshot(path=str(artifacts / "reports-objection-upheld.png"), full_page=True)

    for url, name in (("/banks/hp/months/2026-10", "reports-month-phone.png"),
                      ("/banks/hp/objections", "reports-objection-upheld-phone.png"),
                      ("/banks/hp/months", "reports-months-phone.png")):
        phone.goto(live_server + url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, url
        phone.screenshot(path=str(artifacts / name), full_page=True)
    page.context.close()
    phone.context.close()
