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
