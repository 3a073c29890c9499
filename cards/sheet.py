"""Printable card sheets: A4, 8 or 10 cards a page, each with its QR code and short number."""
from __future__ import annotations

from datetime import datetime

from flask import render_template

from web.pdf import qr_png_data_uri, render_pdf

LAYOUTS = {
    # cards a page: (columns, rows, card width mm, card height mm)
    8: (2, 4, 92, 66),
    10: (2, 5, 85.6, 54),  # ID-1, the size of a bank card
}

SHEET_CSS = """
@page { size: A4; margin: 6mm 9mm; @bottom-center { content: none; } }
.page { page-break-after: always; overflow: hidden; }
.page:last-child { page-break-after: auto; }
.card { float: left; box-sizing: border-box; overflow: hidden; position: relative;
        border: 0.4pt dashed #888; border-radius: 3mm; margin: 0 2mm 2mm 0; padding: 3mm 3.5mm; }
.card .bank { font-size: 8.5pt; color: #b3261e; font-weight: bold; }
.card .name { font-size: 15pt; font-weight: bold; margin-top: 2mm; }
.card .home { font-size: 9pt; margin-top: 1mm; }
.card .number { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; position: absolute;
                left: 3.5mm; bottom: 3mm; letter-spacing: 0.5pt; }
.card .hint { font-size: 7pt; color: #555; position: absolute; left: 3.5mm; bottom: 8mm; width: 40mm; }
.card img { position: absolute; right: 2.5mm; top: 50%; transform: translateY(-50%);
            image-rendering: pixelated; }
"""


def render_sheet(issued: list, *, bank, base_url: str, per_page: int, when: datetime) -> bytes:
    """Render issued cards (with their tokens) as an A4 PDF of `per_page` cards a page."""
    columns, rows, width, height = LAYOUTS[per_page]
    qr_mm = min(height - 8, 44)
    cards = [{"name": i.name, "household": i.household_code, "household_name": i.household_name,
              "number": i.card.number, "is_household": i.card.household_id is not None,
              "qr": qr_png_data_uri(card_url(base_url, i.token), box_size=10, border=4)}
             for i in issued]
    pages = [cards[n:n + per_page] for n in range(0, len(cards), per_page)]
    html = render_template("cards/sheet.html", bank=bank, pages=pages, width=width, height=height,
                           qr_mm=qr_mm, columns=columns)
    return render_pdf(html, css=SHEET_CSS, when=when)


def card_url(base_url: str, token: str) -> str:
    """Return the URL a card's QR code holds."""
    return f"{base_url.rstrip('/')}/c/{token}"
