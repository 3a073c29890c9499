"""What the browser tests share: signing in as a person does, axe-core's accessibility check,
and the phone-width check.

axe-core's script comes with the axe-playwright-python package (a test dependency), so nothing
is fetched while the tests run.
"""
from __future__ import annotations

PASSWORD = "correct horse battery"

#: The impacts that fail a page: axe's "serious" and "critical" (WCAG A and AA failures).
FAILING_IMPACTS = frozenset({"serious", "critical"})

_axe_script: str | None = None


def sign_in(context_or_browser, live_server: str, name: str, password: str = PASSWORD, **context):
    """Open the sign-in page in a new page, sign in as `name`, and return the page where it lands."""
    target = context_or_browser.new_context(**context) if hasattr(context_or_browser, "contexts") \
        else context_or_browser
    page = target.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def axe_violations(page, *, impacts=FAILING_IMPACTS) -> list[dict]:
    """Run axe-core on the page as it stands and return its violations of the given impacts."""
    global _axe_script
    if _axe_script is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe_script = Axe().axe_script
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_script)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict]) -> str:
    """Return axe's violations as lines a person can act on: the rule, its impact, and where."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:120]}")
    return "\n".join(lines)


def assert_accessible(page, where: str = "") -> None:
    """Fail, listing every violation, when axe finds a serious or critical one on the page."""
    found = axe_violations(page)
    assert not found, f"axe on {where or page.url}:\n{describe(found)}"


def sideways_scroll(page) -> int:
    """Return how many pixels the page is wider than its window (0 when nothing scrolls sideways)."""
    return page.evaluate("Math.max(0, document.documentElement.scrollWidth - window.innerWidth)")
