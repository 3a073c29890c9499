"""The desk's paper: a receipt's words whole and its figures in their columns, the quarter's
summary with room for the goods' names and its header on every page, the disclosure's one
period, and English copies in English punctuation."""
from __future__ import annotations

import re
import subprocess

from redemption import printing

LONG_ITEM = ("金龙鱼非转基因压榨一级花生油五升装家庭实惠装（限综治银行积分兑换专用，不得转售）" * 3)[:100]


def _pages(pdf: bytes) -> list[str]:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", "-f", str(n), "-l", str(n), "-", "-"],
                           input=pdf, capture_output=True, check=True).stdout.decode() for n in range(1, count + 1)]


def _receipt(client, desk, answer, lang="zh"):
    assert answer.status_code == 201, answer.get_json()
    pdf = client.get(answer.get_json()["receipt_pdf"] + ("?lang=en" if lang == "en" else ""), headers=desk.desk)
    assert pdf.status_code == 200
    [page] = _pages(pdf.data)
    return page


def test_a_receipts_words_stay_whole_and_its_figures_keep_their_columns(client, desk):
    desk.points(desk.wang, 90)
    desk.money(1_000_000)
    desk.item("long", LONG_ITEM, points=20, stock=5)
    desk.item("towel", "毛巾", points=4, stock=5)
    page = _receipt(client, desk, desk.redeem(client, desk.wang, [("long", 1), ("towel", 1)]))
    lines = page.splitlines()
    assert any("流水 #" in line for line in lines), page              # not 流/水
    header = next(line for line in lines if "物品" in line)
    assert "数量" in header and "积分" in header, page                  # not one character a line
    assert any("毛巾" in line and re.search(r"\b1\s+4\b", line) for line in lines), page
    assert "金龙鱼" in page


def test_an_english_receipt_uses_english_punctuation(client, desk):
    desk.points(desk.wang, 30)
    desk.money(1_000_000)
    desk.item("towel", "毛巾", points=4, stock=5)
    page = _receipt(client, desk, desk.redeem(client, desk.wang, [("towel", 1)]), lang="en")
    assert "Balance after: " in page and "Received by: " in page
    assert "：" not in page and "（" not in page


def test_the_desk_summary_gives_the_goods_names_their_room_and_repeats_its_header(
        client, desk, monkeypatch):
    pages_html = []
    real = printing.render_pdf
    monkeypatch.setattr(printing, "render_pdf", lambda html, **kw: pages_html.append(html) or real(html, **kw))
    desk.points(desk.wang, 300)
    desk.money(10_000_000)
    names = ["大米 5kg", "菜籽油 1.8L", "洗衣皂 4块"]
    for n, name in enumerate(names):
        desk.item(f"i{n}", name, points=5, stock=50)
    for n in range(60):
        desk.item(f"x{n:02d}", f"物品{n:02d}号", points=5, stock=3)
    desk.item("long", LONG_ITEM, points=20, stock=5)
    assert desk.redeem(client, desk.wang, [("i0", 1), ("i1", 1), ("i2", 1), ("long", 1)]).status_code == 201
    for lang in ("zh", "en"):
        pdf = client.get("/api/v1/banks/hp/desk-summary/2026-Q4.pdf" + ("?lang=en" if lang == "en" else ""),
                         headers=desk.supervisor)
        assert pdf.status_code == 200
        pages = _pages(pdf.data)
        text = "\n".join(pages)
        for name in names:                                    # a name of normal length: one line
            assert any(name in line for line in text.splitlines()), (lang, name)
        assert len(pages) >= 2
        for page in pages:                                    # the header on every page
            assert ("兑出数量" if lang == "zh" else "SKU") in page, page
    assert '<html lang="zh-CN">' in pages_html[0] and '<html lang="en">' in pages_html[1]


def test_the_disclosure_states_one_period_and_speaks_english_in_english(client, desk):
    desk.money(100_000, donor="县农商行")
    zh = "\n".join(_pages(client.get("/api/v1/banks/hp/fund/disclosures/2026-Q4.pdf", headers=desk.supervisor).data))
    en = "\n".join(_pages(client.get("/api/v1/banks/hp/fund/disclosures/2026-Q4.pdf?lang=en",
                                     headers=desk.supervisor).data))
    # the money and the foundation's work: the quarter, both; the figures as of today
    period = re.search(r"公开期间 (\S+) . (\S+?)（截至 (\S+)）", zh)
    assert period and period.groups()[:2] == ("2026年10月1日", "2026年12月31日"), zh
    assert "社区基金工作 · 2026年10月1日 – 2026年12月31日" in zh
    assert "(as of " in en and "（" not in en and "：" not in en
    assert "Received: " in en
