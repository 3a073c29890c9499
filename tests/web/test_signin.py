"""Signing in to the screens, in a real browser and through the test client."""
from __future__ import annotations


def test_a_clerk_signs_in_and_a_wrong_password_is_refused(live_server, browser, make, artifacts):
    bank = make.bank()
    make.user(bank, "clerk", name="wang")
    page = browser.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#name", "wang")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert "用户名或密码不正确" in page.content()
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{live_server}/banks/{bank.code}/"  # where a clerk's work is
    assert "wang" in page.inner_text("header")
    page.screenshot(path=str(artifacts / "signed-in.png"))
    page.close()


def test_a_form_without_its_csrf_token_is_refused(client, make):
    bank = make.bank()
    make.user(bank, "clerk", name="wang")
    answer = client.post("/login", data={"name": "wang", "password": "correct horse battery"})
    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)


def test_a_page_in_english_on_request(client):
    answer = client.get("/login?lang=en")
    assert answer.status_code == 200
    assert "lang=en" in answer.headers.get("Set-Cookie", "")
