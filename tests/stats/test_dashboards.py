"""The dashboards as a person sees them: charts drawn on the server, Chinese labels in the CJK
font, readable in grey, each printable on A4."""
from __future__ import annotations

import re
import subprocess

import pytest

from stats import charts

from ..browsing import sign_in

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


@pytest.fixture(scope="module")
def cjk_glyphs() -> set[int]:
    """The characters Noto Sans CJK SC draws: anything else in a label would print as tofu."""
    from fontTools.ttLib import TTCollection

    for font in TTCollection(CJK_FONT).fonts:
        if font["name"].getDebugName(1) == "Noto Sans CJK SC":
            return set(font.getBestCmap())
    pytest.fail("Noto Sans CJK SC is not installed")


def _sign_in(browser, live_server, name):
    return sign_in(browser, live_server, name, viewport={"width": 1280, "height": 900})


def _labels(page) -> list[list[str]]:
    """The text of each chart on the page, as the browser holds it."""
    return page.eval_on_selector_all(
        "figure.chart svg", "svgs => svgs.map(s => [...s.querySelectorAll('text')].map(t => t.textContent))")


def test_the_banks_dashboard_draws_six_visible_charts_labelled_in_chinese(
        live_server, browser, make, village, artifacts, cjk_glyphs):
    make.user(village.bank, "supervisor", name="hp-supervisor")
    page = _sign_in(browser, live_server, "hp-supervisor")
    page.goto(f"{live_server}/banks/hp/dashboard")
    assert page.inner_text("h1") == "数据看板"
    charts_on_page = page.locator("figure.chart svg")
    assert charts_on_page.count() == 6
    for i in range(6):
        box = charts_on_page.nth(i).bounding_box()
        assert charts_on_page.nth(i).is_visible() and box["width"] > 300 and box["height"] > 100
    labels = _labels(page)
    text = " ".join(" ".join(chart) for chart in labels)
    for words in ("参与率（%）", "各类积分", "环境卫生", "社会治安", "乱扔垃圾", "兑换积分",
                  "基金保障率（%）", "预警线 120%", "今年累计积分与去年同期", "2026年", "2025年", "10月"):
        assert words in text, words
    missing = {ch for ch in text if not ch.isspace() and ord(ch) not in cjk_glyphs}
    assert missing == set(), f"would print as tofu: {missing}"
    # Nothing from outside the server: no script, no font, no image by address.
    html = page.content()
    assert "<script" not in html and "@font-face" not in html and "http" not in "".join(
        re.findall(r'(?:src|href)="([^"]+)"', "".join(re.findall(r"<svg.*?</svg>", html, re.S))))
    page.screenshot(path=str(artifacts / "stats-bank-dashboard.png"), full_page=True)
    # The figures' table says what the API says.
    assert "33.3%" in page.inner_text("table.summary")


def test_the_county_dashboard_ranks_the_banks_and_names_the_late_notices(
        live_server, browser, make, session, clock, client, village, artifacts):
    from .conftest import Village

    other = Village(make, session, clock, code="xz", name="新庄村综治银行")
    make.deed(other.bank, "cleanup", [other.wang], occurred_on=clock.today().replace(day=1))
    make.user(None, "admin", name="county")
    page = _sign_in(browser, live_server, "county")
    page.goto(f"{live_server}/county/dashboard")
    assert page.inner_text("h1") == "全县看板"
    rows = page.locator("table.ranking tbody tr")
    assert rows.count() == 2
    # September's notices were due on 1 October: both banks are late.
    assert "和平村综治银行" in page.inner_text("p.warning") and "新庄村综治银行" in page.inner_text("p.warning")
    labels = " ".join(" ".join(chart) for chart in _labels(page))
    assert "全县参与率（%）" in labels and "全县积分与扣分" in labels
    page.screenshot(path=str(artifacts / "stats-county-dashboard.png"), full_page=True)


@pytest.mark.parametrize("path, role, words", [
    ("/banks/hp/dashboard.pdf", "supervisor", ["数据看板", "参与率", "各类积分", "环境卫生"]),
    ("/county/dashboard.pdf", "admin", ["全县看板", "各银行排名", "全县参与率"]),
])
def test_each_dashboard_prints_on_a4_with_its_chart_labels_as_text(
        client, signed_in, make, village, tmp_path, path, role, words):
    user = make.user(None if role == "admin" else village.bank, role)
    answer = signed_in(user).get(path)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    pdf = tmp_path / "dashboard.pdf"
    pdf.write_bytes(answer.data)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "pts (A4)" in info
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert all(w in text for w in words), text[:500]
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "Noto-Sans-CJK-SC" in fonts and " no " not in fonts.split("\n", 2)[2]  # embedded


def test_every_chart_is_drawn_in_greys_with_hatching_so_it_reads_on_a_grey_printer():
    svg = charts.bars("各类积分", ["9月", "10月"], [("社会治安", [1, 2]), ("环境卫生", [3, 4]),
                                                  ("道德文化", [5, 6])])
    colours = set(re.findall(r"#([0-9a-fA-F]{6})\b", svg))
    assert colours and all(c[0:2] == c[2:4] == c[4:6] for c in colours), colours
    assert svg.count("<pattern") >= 2  # hatching, not colour, tells the series apart


def test_a_chart_keeps_its_labels_as_text_in_the_printed_pages_font():
    svg = charts.lines("参与率（%）", ["9月", "10月"], [("参与率", [10.5, None])], percent=True)
    assert svg.startswith("<svg ") and 'aria-label="参与率（%）"' in svg
    assert "参与率（%）" in re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "Noto Sans CJK SC" in svg and "<script" not in svg


@pytest.mark.parametrize("role, status", [("desk", 403), ("clerk", 200), ("reviewer", 200)])
def test_who_may_open_the_banks_dashboard(signed_in, make, role, status):
    bank = make.bank()
    assert signed_in(make.user(bank, role)).get("/banks/hp/dashboard").status_code == status


@pytest.mark.parametrize("role", ["clerk", "supervisor"])
def test_only_the_county_admin_opens_the_county_dashboard(signed_in, make, role):
    bank = make.bank()
    assert signed_in(make.user(bank, role)).get("/county/dashboard").status_code == 403


def test_the_dashboards_speak_english_when_asked(signed_in, make, village):
    supervisor = signed_in(make.user(village.bank, "supervisor"))
    supervisor.get("/banks/hp/dashboard?lang=en")
    page = supervisor.get("/banks/hp/dashboard").get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in page and "Participation (%)" in page and "Warning line 120%" in page
    admin = signed_in(make.user(None, "admin"))
    admin.get("/county/dashboard?lang=en")
    page = admin.get("/county/dashboard").get_data(as_text=True)
    assert "<h1>County dashboard</h1>" in page and "Late notices" in page
