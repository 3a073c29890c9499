"""The deed form from the keyboard alone: no mouse, no clicks, only typing, Tab and Enter."""
from __future__ import annotations

from ..browsing import PASSWORD, assert_accessible


def _tab_to(page, words: str, most: int = 60) -> None:
    """Press Tab until the focused element reads `words`, as a person looking at the focus ring does."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("(document.activeElement.textContent || '').trim()") == words:
            return
    raise AssertionError(f"{words!r} cannot be reached with Tab")


def _enter(page) -> None:
    """Press Enter and wait for the page it opens or posts to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_clerk_logs_a_team_deed_and_logs_the_team_again_from_the_keyboard_alone(live_server, browser,
                                                                                 village):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login")
        # The name field has the focus (autofocus, applied once the page has settled): a person
        # starts typing when they see the caret there.
        page.wait_for_function("document.activeElement && document.activeElement.id === 'name'",
                               timeout=5000)
        page.keyboard.type("hp-clerk")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        _enter(page)
        _tab_to(page, "登分")
        _enter(page)
        assert page.inner_text("h1") == "登分"
        assert_accessible(page)

        # The search box has the focus: the team by initials, Enter ticks whoever is unique.
        page.keyboard.type("wd we")
        _enter(page)
        assert page.locator("input[name=r]:checked").count() == 2
        # The rule's initials box has the focus now; Tab on to the hours, Enter posts.
        assert page.evaluate("document.activeElement.id") == "rule_q"
        page.keyboard.type("yjxl")
        page.keyboard.press("Tab")
        page.keyboard.type("3")
        _enter(page)
        done = page.inner_text("[role=status]")
        assert "已登记" in done and "王大" in done and "王二" in done and done.count("+6") == 2

        # The same team again: its link under 最近登记的队伍, then Enter on the focused button.
        _tab_to(page, "王大、王二 · 夜间巡逻")
        _enter(page)
        assert page.locator("input[name=r]:checked").count() == 2
        assert page.evaluate("document.activeElement.value") == "post"
        _enter(page)
        assert page.inner_text("[role=status]").count("+2") == 2
    finally:
        context.close()
