"""The users' and the rules' screens in a real browser, at a laptop's width and a phone's."""
from __future__ import annotations

from tests.conftest import RULES

from .test_browser import _sign_in


def test_a_reviewer_adds_a_user_and_checks_a_rule_file_on_a_laptop_and_a_phone(live_server, browser, village,
                                                                               artifacts, tmp_path):
    page = _sign_in(browser, live_server, "hp-reviewer", viewport={"width": 1280, "height": 800})
    page.click("nav.staff >> text=用户")
    assert page.inner_text("h1") == "用户"
    page.fill("#name", "新记分员")
    page.select_option("#role", "clerk")
    page.fill("#password", "a long password")
    page.fill("#password_again", "a long passw0rd")
    page.click("button.primary")
    # Refused beside the field, the name and role kept, the passwords emptied.
    assert "两次输入的密码不一致" in page.inner_text("#password_again + .field-error")
    assert page.input_value("#name") == "新记分员" and page.input_value("#password") == ""
    page.screenshot(path=str(artifacts / "office-users-refused.png"), full_page=True)
    page.fill("#password", "a long password")
    page.fill("#password_again", "a long password")
    page.click("button.primary")
    assert page.inner_text("h1") == "用户 新记分员"
    page.click("text=发放令牌")
    assert len(page.inner_text("#secret code")) > 30
    page.screenshot(path=str(artifacts / "office-user-token.png"), full_page=True)

    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.replace("caps: {day: 8, month: 60}", "caps: {day: -8, month: 60}"), "utf-8")
    page.click("nav.staff >> text=积分规则")
    assert page.inner_text("h1") == "积分规则"
    page.screenshot(path=str(artifacts / "office-rules.png"), full_page=True)
    page.click("text=载入新规则")
    page.set_input_files("#file", str(broken))
    page.click("button[type=submit] >> text=检查")
    assert "第 9 行" in page.inner_text("#problems")
    page.screenshot(path=str(artifacts / "office-rules-problems.png"), full_page=True)
    changed = tmp_path / "changed.yaml"
    changed.write_text(RULES.replace("points: 2\n", "points: 3\n"), "utf-8")
    page.set_input_files("#file", str(changed))
    page.click("button[type=submit] >> text=检查")
    assert "+3" in page.inner_text("#diff")
    page.click("text=确认载入")
    assert "已载入第 2 版规则" in page.inner_text("main")

    phone = _sign_in(browser, live_server, "hp-reviewer", viewport={"width": 360, "height": 740},
                     is_mobile=True, has_touch=True)
    for path, name in (("users", "office-users-phone.png"), ("rules", "office-rules-phone.png"),
                       ("rules/versions/2", "office-rules-diff-phone.png")):
        phone.goto(f"{live_server}/banks/hp/{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, path
        phone.screenshot(path=str(artifacts / name), full_page=True)
    page.context.close()
    phone.context.close()
