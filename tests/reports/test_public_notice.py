"""The public notice the printed QR opens: read on a 360 px phone, printable without signing in."""
from reports import services


def _publish(session, september, clock):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    return f"/n/hp/2026-09/{snapshot.content_hash[:16]}"


def test_the_public_notice_reads_on_a_360px_phone_without_sideways_scroll(
        session, september, make, clock, live_server, browser, artifacts):
    bank, _, _ = september
    make.resident(bank, name="欧阳娜娜", household=make.household(bank, code="H003", name="欧阳家"))  # a long name stays on one line
    address = _publish(session, september, clock)
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    assert page.goto(live_server + address).status == 200
    page.screenshot(path=str(artifacts / "public-notice-360.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    name = page.locator(".people .name", has_text="吉𠮷").first
    line = float(name.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    name_height = name.bounding_box()["height"]
    row_height = page.locator(".people tbody tr").first.bounding_box()["height"]
    header_height = page.locator(".people thead tr").bounding_box()["height"]
    folded = page.locator(".people tbody tr", has_text="吉𠮷").locator(".fold").inner_text()
    context.close()
    assert width <= 360
    assert name_height < 2 * line                               # one line, not one character per line
    assert header_height < 3 * line and row_height < 6 * line
    assert "社会治安 4" in folded and "H001" in folded          # the categories fold under the name


def test_the_public_notice_keeps_its_columns_on_a_wide_screen(
        session, september, clock, live_server, browser, artifacts):
    address = _publish(session, september, clock)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server + address)
    page.screenshot(path=str(artifacts / "public-notice-1280.png"), full_page=True)
    headers = page.locator(".people thead th").all_inner_texts()
    folds_shown = page.locator(".people .fold").first.is_visible()
    context.close()
    assert "户号" in headers and "扣分" in headers and not folds_shown


def test_the_public_notice_links_a_pdf_that_opens_without_signing_in(session, september, client, clock):
    address = _publish(session, september, clock)
    page = client.get(address).get_data(as_text=True)
    assert f'href="{address}.pdf"' in page
    answer = client.get(address + ".pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF")


def test_the_public_pdf_checks_the_key_as_the_page_does(session, september, client, clock):
    _publish(session, september, clock)
    assert client.get(f"/n/hp/2026-09/{'0' * 16}.pdf").status_code == 404
    assert client.get("/n/hp/2026-09/abc.pdf").status_code == 404
    assert client.get(f"/n/nowhere/2026-09/{'0' * 16}.pdf").status_code == 404
