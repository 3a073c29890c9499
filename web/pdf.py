"""Printable paper: HTML rendered to PDF by WeasyPrint, with Chinese fonts embedded.

Every printed page uses one font chain, so any name a village registers prints with real
glyphs: Noto CJK for common characters, then Hanazono and BabelStone Han for the rare ones
(CJK Extension B and beyond, as GB 18030-2022 asks) that Noto lacks.

Every package that prints (the reports, the desk's receipts, card sheets, the dashboards, the
foundation's quarter) renders its template through the app's one Jinja environment and hands
the HTML here, so it sits on the floor every blueprint stands on.
"""
from __future__ import annotations

import base64
import io
from datetime import datetime, timezone

import qrcode

from ground.i18n import _

#: The CSS font-family chain of every printed page.
FONT_CHAIN = ('"Noto Sans CJK SC", "Noto Serif CJK SC", "HanaMinA", "HanaMinB", '
              '"BabelStone Han", sans-serif')

#: What every printed page shares: A4, margins, the font chain, table headers that repeat on
#: each page, and the page number at the foot (its words filled in by `base_css`).
BASE_CSS = f"""
@page {{
  size: A4;
  margin: 16mm 14mm 18mm 14mm;
  @bottom-center {{ content: %(page_of)s;
                    font-family: {FONT_CHAIN}; font-size: 9pt; color: #444; }}
}}
html {{ font-family: {FONT_CHAIN}; font-size: 10.5pt; color: #111; }}
h1 {{ font-size: 17pt; text-align: center; margin: 0 0 4mm; }}
h2 {{ font-size: 12.5pt; margin: 5mm 0 2mm; }}
table {{ width: 100%; border-collapse: collapse; }}
thead {{ display: table-header-group; }}
tr {{ page-break-inside: avoid; }}
th, td {{ border: 0.6pt solid #555; padding: 1.2mm 1.6mm; text-align: left; }}
th {{ background: #eee; }}
td.num, th.num {{ text-align: right; }}
.muted {{ color: #555; font-size: 9pt; }}
.signatures {{ display: flex; justify-content: space-between; margin-top: 12mm; page-break-inside: avoid; }}
.signatures div {{ width: 45%; border-top: 0.6pt solid #111; padding-top: 1.5mm; }}
code, .hash {{ font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; word-break: break-all; }}
"""


def base_css() -> str:
    """Return what every printed page shares, with "第 N 页 / 共 M 页" in the reader's language."""
    words = _("第 %(page)s 页 / 共 %(pages)s 页", page='" counter(page) "', pages='" counter(pages) "')
    return BASE_CSS.replace("%(page_of)s", f'"{words}"')


def render_pdf(html: str, *, css: str = "", base_url: str | None = None,
               when: datetime | None = None) -> bytes:
    """Render an HTML document to PDF bytes, with the shared page CSS and fonts.

    `when` stamps the document's creation date, so that rendering the same snapshot twice
    gives the same content.
    """
    from weasyprint import CSS, HTML

    stamp = (when or datetime(2000, 1, 1, tzinfo=timezone.utc)).astimezone(timezone.utc)
    document = HTML(string=html, base_url=base_url).render(
        stylesheets=[CSS(string=base_css() + css)])
    document.metadata.created = document.metadata.modified = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return document.write_pdf()


def qr_png_data_uri(text: str, *, box_size: int = 8, border: int = 2) -> str:
    """Return a QR code of `text` as a PNG data URI (what scanners read most reliably on paper)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                         border=border)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
