"""The resident's page on a cheap phone: headless Chromium at 360 px, no script, under 30 KB."""
from __future__ import annotations

BUDGET = 30 * 1024


def test_the_card_page_reads_at_360px_without_script_in_under_30_kb(
        client, desk, make, live_server, browser, artifacts, clock):
    for n in range(40):                                   # a busy resident: a full page of entries
        make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=clock.today().replace(day=1 + n % 14))
    make.deed(desk.bank, "litter", [desk.wang])
    card = client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card", headers=desk.clerk).get_json()
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, java_script_enabled=False)
    page = context.new_page()
    transferred = []
    page.on("response", lambda r: transferred.append(
        (r.url, len(r.body()) + sum(len(k) + len(v) + 4 for k, v in r.headers.items()))))
    answer = page.goto(f"{live_server}/c/{card['token']}", wait_until="load")
    assert answer.status == 200
    assert page.locator("h1").inner_text() == "王大"
    assert "积分超市开放中" in page.content()
    page.screenshot(path=str(artifacts / "card-page-360.png"), full_page=True)
    context.close()
    total = sum(size for _, size in transferred)
    assert total < BUDGET, transferred
    assert len(transferred) == 1, transferred          # the page alone: no script, style or font files
    # Nothing wider than the phone: measured with script on, in a separate context.
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server}/c/{card['token']}")
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 360


def test_a_revoked_card_shows_a_friendly_page_on_the_phone(client, desk, live_server, browser):
    card = client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card", headers=desk.clerk).get_json()
    client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card/revoke", headers=desk.clerk)
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    answer = page.goto(f"{live_server}/c/{card['token']}")
    assert answer.status == 404 and "找不到这张积分卡" in page.content()
    context.close()
