"""The honour roll and the certificates on paper: a full first page, awards kept whole, every
page named, household names as registered, and a certificate's frame closed inside the page."""
from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone

from reports import paper
from web.pdf import base_css

WHEN = datetime(2027, 1, 27, tzinfo=timezone.utc)


def _year(awards) -> dict:
    return {"year": 2026, "bank": {"code": "hp", "name": "和平村综治银行"},
            "categories": ["社会治安", "道德文化", "环境卫生"], "awards": awards,
            "sealed_months": ["2026-11", "2026-12"], "tie_rule": "同分时扣分少者优先。",
            "tie_rule_en": "Ties go to fewer penalty points.", "head": {"seq": 1, "hash": "ab" * 32}}


def _award(title, category, unit, names):
    return {"title": title, "category": category, "unit": unit,
            "awardees": [{"name": n, "points": 100 - i, "place": i + 1} for i, n in enumerate(names)]}


#: The demo's five awards, as the audit printed them.
DEMO = [_award("平安卫士", "社会治安", "person", ["万志明", "熊火根", "邹翠萍"]),
        _award("调解能手", "矛盾纠纷调解", "person", ["万光荣", "刘淑珍"]),
        _award("最美志愿者", "道德文化", "person", ["刘光荣", "黄细伢", "李老根", "喻思琪", "涂美华"]),
        _award("文明卫生户", "环境卫生", "household", ["二十口之家", "万火根户", "曾军户"]),
        _award("平安家庭", None, "household", ["二十口之家", "曾军户", "邹细伢户", "胡春生", "王家"])]


def _pages(data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "paper.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", str(n), "-l", str(n), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for n in range(1, count + 1)]


def test_the_demos_honour_roll_is_one_page_with_household_names_as_registered(app, tmp_path):
    for lang in ("zh", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            pages = _pages(paper.honour_roll_pdf(_year(DEMO), "cd" * 32, when=WHEN), tmp_path)
        assert len(pages) == 1, (lang, pages)                # no page holding the title alone
        text = pages[0]
        for award in DEMO:
            assert award["title"] in text
        assert "家家" not in text and "户家" not in text and "户 household" not in text
        # a name that does not say household gets it said; one that does prints as registered
        assert ("胡春生家" if lang == "zh" else "胡春生 household") in text
        assert "二十口之家" in text and "万火根户" in text and "王家" in text


def test_a_long_honour_roll_names_the_bank_and_year_on_every_page_and_parts_no_award(app, tmp_path):
    awards = [_award(f"奖项{n:02d}号", "社会治安", "person", [f"居民{n:02d}-{i:02d}" for i in range(14)]) for n in range(16)]
    for lang in ("zh", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            pages = _pages(paper.honour_roll_pdf(_year(awards), "cd" * 32, when=WHEN), tmp_path)
        assert len(pages) >= 2
        for page in pages:
            assert "和平村综治银行" in page and "2026" in page, page
        for award in awards:
            [home] = [page for page in pages if award["title"] in page]
            assert all(w["name"] in home for w in award["awardees"]), award["title"]


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def test_a_certificates_frame_lies_inside_the_page_in_both_languages(app, tmp_path):
    from weasyprint import CSS, HTML

    year = _year(DEMO)
    award = DEMO[2]
    for lang in ("zh", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            html = paper._render("reports/certificate.html", y=year, a=award, w=award["awardees"][3],
                                 issued="2027年1月27日",
                                 says_household=getattr(paper, "says_household", lambda name: False))
            document = HTML(string=html).render(stylesheets=[CSS(string=base_css() + paper.CERTIFICATE_CSS)])
            data = paper.certificate_pdf(year, award, award["awardees"][3], issued="27 Jan 2027", when=WHEN)
        assert len(document.pages) == 1
        page = document.pages[0]
        [frame] = [b for b in _boxes(page._page_box)
                   if b.element is not None and b.element.get("class") == "cert" and b.element_tag == "div"]
        margin = 12 / 25.4 * 96                              # the page's margin, in CSS px
        assert frame.position_y + frame.margin_height() <= page.height - margin + 0.5, lang
        # the category is one word: it prints whole on its line (no 道德文/化)
        [text] = _pages(data, tmp_path)
        assert "道德文化" in text, text


def test_a_households_certificate_does_not_double_its_household_word(app, tmp_path):
    award = DEMO[3]
    with app.test_request_context("/"):
        [text] = _pages(paper.certificate_pdf(_year(DEMO), award, award["awardees"][0], issued="2027年1月27日",
                                              when=WHEN), tmp_path)
    assert "二十口之家：" in text.replace(" ", "") and "之家家庭" not in text.replace(" ", "")
