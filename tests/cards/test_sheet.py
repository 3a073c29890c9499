"""Card sheets: A4, 8 or 10 a page; every QR code on the paper opens its holder's page."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..redemption.conftest import csrf_token, sign_in


def _decode(pdf: bytes, folder: Path) -> list[str]:
    """Read every QR code on the sheet, scanned as office printers print it (300 and 200 dpi).

    zbarimg now and then misses one code in a whole page that a phone reads at once; a code
    counts as readable when either scan finds it.
    """
    (folder / "sheet.pdf").write_bytes(pdf)
    found: dict[str, None] = {}
    for dpi in ("300", "200"):
        subprocess.run(["pdftoppm", "-r", dpi, "-png", str(folder / "sheet.pdf"), str(folder / f"p{dpi}")],
                       check=True)
        for image in sorted(folder.glob(f"p{dpi}*.png")):
            read = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
                                  capture_output=True, text=True)
            found.update(dict.fromkeys(line for line in read.stdout.splitlines() if line))
    return list(found)


def _pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "A4" in info
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.mark.parametrize("per_page", [8, 10])
def test_every_qr_code_on_a_sheet_opens_its_holders_page(client, desk, make, tmp_path, per_page):
    people = [desk.wang, desk.wang2, desk.li] + [make.resident(desk.bank, f"熊{n}号") for n in range(8)]
    answer = client.post("/api/v1/banks/hp/card-sheets", json={"all": True, "per_page": per_page},
                         headers=desk.clerk)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert _pages(answer.data) == 2
    urls = _decode(answer.data, tmp_path)
    assert len(urls) == len(people) == len(set(urls))
    names = set()
    for url in urls:
        assert url.startswith("http://localhost/c/")
        page = client.get(url.removeprefix("http://localhost"))
        assert page.status_code == 200
        names |= {p.name for p in people if f"<h1>{p.name}</h1>" in page.get_data(as_text=True)}
    assert names == {p.name for p in people}


def test_a_sheet_for_a_selection_reissues_only_those_cards(client, desk):
    first = client.post(f"/api/v1/banks/hp/residents/{desk.li.id}/card", headers=desk.clerk).get_json()
    answer = client.post("/api/v1/banks/hp/card-sheets", json={"residents": [desk.wang.id]},
                         headers=desk.clerk)
    assert answer.status_code == 200
    assert client.get("/c/" + first["token"]).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({}, "residents"), ({"residents": [999]}, "residents"), ({"per_page": 9, "all": True}, "per_page"),
    ({"households": ["E01"]}, "households"),
])
def test_bad_sheet_requests_are_refused(client, desk, body, field):
    answer = client.post("/api/v1/banks/hp/card-sheets", json=body, headers=desk.clerk)
    assert answer.status_code == 422 and field in answer.get_json()["fields"]


def test_the_clerk_prints_a_selection_from_the_cards_screen(client, desk, make, tmp_path):
    sign_in(client, make, desk.bank, "clerk", "jifenyuan")
    screen = client.get("/banks/hp/cards?q=wang")
    assert screen.status_code == 200 and "王大" in screen.get_data(as_text=True)
    answer = client.post("/banks/hp/cards", data={
        "resident": [str(desk.wang.id), str(desk.li.id)], "per_page": "8",
        "csrf_token": csrf_token(client, "/banks/hp/cards")})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert len(_decode(answer.data, tmp_path)) == 2


def test_a_resident_typed_as_no_number_on_the_cards_screen_is_refused_by_name(client, desk, make):
    """"²" passed str.isdigit() and then int() answered 500; a household code with a NUL reached
    the database. Nothing is issued."""
    sign_in(client, make, desk.bank, "clerk", "jifenyuan")
    for form, field in (({"resident": [str(desk.wang.id), "²"]}, "residents"),
                        ({"resident": ["99999999999999999999"]}, "residents"),
                        ({"household": ["E01\x00"]}, "households")):
        answer = client.post("/banks/hp/cards", data={
            **form, "csrf_token": csrf_token(client, "/banks/hp/cards")})
        assert answer.status_code == 422 and field in answer.get_data(as_text=True), form
    assert client.get("/banks/hp/cards?q=%00").status_code == 422
    from cards.models import Card
    from sqlalchemy import func, select

    desk.session.rollback()
    assert desk.session.execute(select(func.count()).select_from(Card)).scalar() == 0


def test_printing_the_whole_villages_cards_first_says_how_many_are_cancelled_and_cancels_nothing(
        client, desk, make, tmp_path):
    old = client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card", headers=desk.clerk).get_json()
    sign_in(client, make, desk.bank, "clerk", "jifenyuan")
    asked = client.post("/banks/hp/cards", data={
        "all": "1", "per_page": "8", "csrf_token": csrf_token(client, "/banks/hp/cards")})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and asked.mimetype == "text/html"
    assert "将作废现有的 1 张积分卡，并重新发放 3 张新卡" in page
    assert client.get("/c/" + old["token"]).status_code == 200         # nothing cancelled yet
    confirmed = client.post("/banks/hp/cards", data={
        "all": "1", "per_page": "8", "confirm": "1", "csrf_token": csrf_token(client, "/banks/hp/cards")})
    assert confirmed.mimetype == "application/pdf" and len(_decode(confirmed.data, tmp_path)) == 3
    assert client.get("/c/" + old["token"]).status_code == 404


def test_two_members_of_one_household_with_one_name_get_cards_marked_as_the_notice_marks_them(
        client, desk, make, tmp_path):
    home = make.household(desk.bank, "H20", "二十口之家")
    first, other, second = (make.resident(desk.bank, name, home) for name in ("张一", "张二", "张一"))
    answer = client.post("/api/v1/banks/hp/card-sheets",
                         json={"residents": [second.id, other.id], "per_page": 10}, headers=desk.clerk)
    assert answer.status_code == 200
    text = _text(answer.data, tmp_path)
    # only the second is on this sheet: it still says which 张一 it is
    assert "张一（2）" in text and "张一（1）" not in text and "张二（" not in text
    both = client.post("/api/v1/banks/hp/card-sheets", json={"residents": [first.id, second.id]},
                       headers=desk.clerk)
    assert "张一（1）" in _text(both.data, tmp_path) and "张一（2）" in _text(both.data, tmp_path)


def _text(pdf: bytes, folder: Path, *args: str) -> str:
    (folder / "text.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *args, str(folder / "text.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("per_page", [8, 10])
def test_a_long_name_and_household_stay_left_of_the_qr_code_and_clear_of_the_number(
        client, desk, make, tmp_path, per_page):
    import html
    import re

    from cards.sheet import LAYOUTS

    home = make.household(desk.bank, "H" + "9" * 39, ("阿依古丽·买买提艾力·库尔班江·热合曼家" * 3)[:100])
    longest = make.resident(desk.bank, ("阿依古丽·买买提艾力·库尔班江·热合曼·阿不都热合曼·玉素甫·艾则孜" * 2)[:50], home)
    answer = client.post("/api/v1/banks/hp/card-sheets", json={"residents": [longest.id], "per_page": per_page},
                         headers=desk.clerk)
    assert answer.status_code == 200
    _columns, _rows, width, height = LAYOUTS[per_page]
    mm = 72 / 25.4
    qr_left = (9 + width - 2.5 - min(height - 8, 44)) * mm      # the card's QR code, in points
    words = [(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        _text(answer.data, tmp_path, "-bbox"))]
    assert words
    for x0, y0, x1, y1, word in words:
        assert x1 <= qr_left + 0.5, word                       # nothing runs under the QR code
    for i, (x0, y0, x1, y1, word) in enumerate(words):         # nothing prints over anything else
        for a0, b0, a1, b1, other in words[i + 1:]:
            # (a word's box is the font's full height: tight lines' boxes touch a little)
            overlap = min(x1, a1) - max(x0, a0), min(y1, b1) - max(y0, b0)
            assert not (overlap[0] > 0.5 and overlap[1] > 0.4 * min(y1 - y0, b1 - b0)), (word, other)
    text = _text(answer.data, tmp_path)
    assert "扫码查积分 · 兑换请出示" in text and re.search(r"编号 [0-9A-Z]{4}-[0-9A-Z]{4}", text)
    assert "阿依古丽" in text and "…" in text                  # cut, and saying so
