"""Printable card sheets: A4, 8 or 10 cards a page, each with its QR code and short number.

Every card keeps its text in the box left of the QR code: a long name prints smaller, over two
or three lines, and what does not fit ends in an ellipsis; the household line takes at most two
lines. The hint and the short number (read over the phone) have the card's foot to themselves.
Two members of one household with one name are marked apart as the monthly notice marks them
(张一（1）, 张一（2）), by the notice's own rule (reports.notice.tell_apart).
"""
from __future__ import annotations

import unicodedata
from datetime import datetime

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.i18n import _, current_language
from ledger.models import Household, Resident
from reports.notice import Home, Person, tell_apart
from reports.paper import name_mark
from web.pdf import qr_png_data_uri, render_pdf

LAYOUTS = {
    # cards a page: (columns, rows, card width mm, card height mm)
    8: (2, 4, 92, 66),
    10: (2, 5, 85.6, 54),  # ID-1, the size of a bank card
}

#: The card's padding on the left and at the top, the QR code's gap to the right edge, the gap
#: between the text and the QR code, and the foot kept for the hint and the number (mm).
PAD_LEFT, PAD_TOP, QR_RIGHT, QR_GAP, FOOT = 3.5, 3, 2.5, 1.5, 15
#: The name's sizes (pt), largest first, with the lines each may take: the largest the name fits
#: in; at the smallest, what does not fit ends in an ellipsis.
NAME_SIZES = ((15, 1), (12, 2), (10, 3))
#: The household line's size (pt); it takes at most two lines.
HOME_PT = 9

SHEET_CSS = """
@page { size: A4; margin: 6mm 9mm; @bottom-center { content: none; } }
.page { page-break-after: always; overflow: hidden; }
.page:last-child { page-break-after: auto; }
.card { float: left; box-sizing: border-box; overflow: hidden; position: relative;
        border: 0.4pt dashed #888; border-radius: 3mm; margin: 0 2mm 2mm 0; padding: 3mm 3.5mm; }
.card .text { position: absolute; overflow: hidden; }
.card .bank { font-size: 8.5pt; color: #b3261e; font-weight: bold; white-space: nowrap;
              overflow: hidden; text-overflow: ellipsis; }
/* fit() cuts what would not fit; the heights only keep a stray fold inside the box (a clamp
   would not fold a long code: WeasyPrint ignores overflow-wrap under line-clamp) */
.card .name { font-weight: bold; margin-top: 2mm; line-height: 1.2; overflow-wrap: anywhere;
              overflow: hidden; }
.card .home { font-size: 9pt; margin-top: 1mm; line-height: 1.3; overflow-wrap: anywhere;
              max-height: 2.6em; overflow: hidden; }
.card .number { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; position: absolute;
                left: 3.5mm; bottom: 3mm; letter-spacing: 0.5pt; white-space: nowrap; }
.card .hint { font-size: 7pt; line-height: 1.25; color: #555; position: absolute; left: 3.5mm;
              bottom: 8mm; max-height: 6.5mm; overflow: hidden; }
.card img { position: absolute; right: 2.5mm; top: 50%; transform: translateY(-50%);
            image-rendering: pixelated; }
"""


def _em(text: str) -> float:
    """About how wide `text` prints, in ems: a wide (CJK) character 1, any other about 0.6."""
    return sum(1 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def _lines(text: str, room: float) -> int:
    """How many lines `text` folds into, `room` ems each, as the page folds it: at spaces and
    between wide characters, and inside a word only when the word alone is wider than a line
    (on a line of its own first: WeasyPrint folds at a space before it folds inside a word)."""
    words, word = [], ""
    for ch in text:
        if ch == " " or _em(ch) == 1:
            if word:
                words.append(word)
            word = ""
            words.append(ch)
        else:
            word += ch
    if word:
        words.append(word)
    lines, used = 1, 0.0
    for w in words:
        width = _em(w)
        if used + width <= room or w == " ":
            used += width
            continue
        if used:                                      # the word starts a line of its own
            lines, used = lines + 1, 0.0
        if width <= room:
            used = width
            continue
        for ch in w:                                  # a word wider than a line folds anywhere
            if used + _em(ch) > room:
                lines, used = lines + 1, 0.0
            used += _em(ch)
    return lines


def fit(text: str, width_mm: float, pt: float, lines: int) -> str:
    """`text` as it fits in `lines` lines `width_mm` wide at `pt`: whole, or cut with an
    ellipsis (a clamp alone would draw the ellipsis past the box's edge)."""
    room = width_mm / 25.4 * 72 / pt * 0.93           # ems a line, less a margin
    if _lines(text, room) <= lines:
        return text
    cut = len(text)
    while cut and _lines(text[:cut].rstrip(" ·") + "…", room) > lines:
        cut -= 1
    return text[:cut].rstrip(" ·") + "…"


def name_style(name: str, width_mm: float) -> tuple[str, str]:
    """The name as it prints in a text box `width_mm` wide, and its size and height: the
    largest size it fits in whole, else the smallest, cut with an ellipsis."""
    for pt, lines in NAME_SIZES:
        if fit(name, width_mm, pt, lines) == name:
            break
    return fit(name, width_mm, pt, lines), f"font-size: {pt}pt; max-height: {1.2 * lines:g}em;"


def same_name_marks(session: Session, bank_id: int, issued: list) -> dict[int, str]:
    """Each resident card's mark (by resident id) when another member of the household bears
    the same name: as the monthly notice marks them, among the household's active members."""
    holders = {i.card.resident_id for i in issued if i.card.resident_id is not None}
    if not holders:
        return {}
    rows = session.execute(
        select(Resident.id, Resident.name, Resident.household_id, Resident.active, Resident.relation)
        .where(Resident.bank_id == bank_id, Resident.household_id.in_(
            select(Resident.household_id).where(Resident.bank_id == bank_id, Resident.id.in_(holders))))
        .order_by(Resident.id)).all()
    people = [Person(*row) for row in rows if row.active or row.id in holders]
    homes = {h.id: h for h in (Home(*row) for row in session.execute(
        select(Household.id, Household.code, Household.name)
        .where(Household.id.in_({p.household_id for p in people}))).all())}
    lang = current_language()
    return {people[i].id: name_mark(mark, lang) for i, mark in tell_apart(people, homes).items()
            if people[i].id in holders}


def render_sheet(issued: list, *, bank, base_url: str, per_page: int, when: datetime,
                 session: Session | None = None) -> bytes:
    """Render issued cards (with their tokens) as an A4 PDF of `per_page` cards a page.

    `session` reads the holders' households, to mark apart members who share a name (the
    request's session when not given)."""
    if session is None:
        from ground.db import get_session

        session = get_session()
    columns, rows, width, height = LAYOUTS[per_page]
    qr_mm = min(height - 8, 44)
    text_mm = round(width - PAD_LEFT - QR_RIGHT - qr_mm - QR_GAP, 2)
    box = (f"left: {PAD_LEFT}mm; top: {PAD_TOP}mm; width: {text_mm}mm; "
           f"height: {round(height - PAD_TOP - FOOT, 2)}mm;")
    marks = same_name_marks(session, bank.id, issued)
    cards = []
    for i in issued:
        name, style = name_style(i.name + marks.get(i.card.resident_id, ""), text_mm)
        is_household = i.card.household_id is not None
        home = (f"{_('户卡')} · {_('户号')} {i.household_code}" if is_household else
                f"{_('户号')} {i.household_code}" + (f" · {i.household_name}" if i.household_name else ""))
        cards.append({"name": name, "name_style": style, "home": fit(home, text_mm, HOME_PT, 2),
                      "number": i.card.number, "is_household": is_household,
                      "qr": qr_png_data_uri(card_url(base_url, i.token), box_size=10, border=4)})
    pages = [cards[n:n + per_page] for n in range(0, len(cards), per_page)]
    html = render_template("cards/sheet.html", bank=bank, pages=pages, width=width, height=height,
                           qr_mm=qr_mm, columns=columns, text_box=box, text_mm=text_mm)
    return render_pdf(html, css=SHEET_CSS, when=when)


def card_url(base_url: str, token: str) -> str:
    """Return the URL a card's QR code holds."""
    return f"{base_url.rstrip('/')}/c/{token}"
