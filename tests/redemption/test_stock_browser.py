"""The windows and goods screens in a real browser (Chromium via Playwright): a reviewer opens an
extra window and restocks, on a laptop and on a phone, with screenshots for a person to look at."""
from __future__ import annotations

import pytest

from ..conftest import RULES
from ..browsing import sign_in
from .conftest import Desk



@pytest.fixture
def village(make, session, clock):
    """A village whose regular window is over on the tests' day, with rice on the shelf."""
    desk = Desk(make, session, clock, rules=RULES)
    desk.money(100_000)
    desk.item()
    make.user(desk.bank, "reviewer", name="hp-reviewer")
    return desk


def _sign_in(browser, live_server, width):
    return sign_in(browser, live_server, "hp-reviewer", viewport={"width": width, "height": 800},
                   is_mobile=width < 600, has_touch=width < 600)


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_a_reviewer_opens_an_extra_window_and_restocks_on_a_laptop_and_a_phone(live_server, browser, village,
                                                                               artifacts):
    page = _sign_in(browser, live_server, 1280)
    page.click("nav.staff >> text=兑换期")
    assert page.inner_text("h1") == "兑换期"
    page.fill("#opens_on", "2026-10-15")
    page.fill("#closes_on", "2026-10-25")
    page.fill("#memo", "理事会决定加开")
    page.click("form.office button.primary")
    page.wait_for_load_state()
    assert "今天（2026年10月15日）兑换台开放：2026年10月15日 至 2026年10月25日" in page.inner_text("#today")
    page.screenshot(path=str(artifacts / "redemption-windows.png"), full_page=True)

    page.click("nav.staff >> text=商品与库存")
    page.click("#goods >> text=入库")
    page.fill("#purchase-quantity", "5")
    page.fill("#purchase-total", "120.50")
    page.click("button:has-text('购入入库')")
    page.wait_for_load_state()
    assert "已购入：大米 5kg × 5，共 ¥120.50，现有库存 15" in page.inner_text("main")
    assert "15" in page.inner_text("#goods tbody tr")
    page.screenshot(path=str(artifacts / "redemption-goods.png"), full_page=True)
    assert village.stock() == 15

    phone = _sign_in(browser, live_server, 360)
    for path, name in (("redemption-windows", "redemption-windows-phone"), ("goods", "redemption-goods-phone")):
        phone.goto(f"{live_server}/banks/hp/{path}")
        assert _fits(phone), path
        phone.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    # A refused form on the phone: the problem beside its field, the page still a phone's width.
    phone.fill("#donation-quantity", "3")
    phone.select_option("#donation-sku", "rice")
    phone.fill("#donation-donor", " ")
    phone.click("button:has-text('登记捐赠')")
    phone.wait_for_load_state()
    assert "捐赠须写明捐赠人" in phone.inner_text("main") and _fits(phone)
    phone.screenshot(path=str(artifacts / "redemption-goods-refused-phone.png"), full_page=True)
    page.context.close()
    phone.context.close()
