"""Paper: the notice, the day's register, the honour roll and certificates, as HTML and PDF.

Templates render through the app's own Jinja environment, the one every screen renders with
(its loader over every package's templates, its filters), inside a request or any app context
(the command line, the cycle, the bench). PDFs go through `web.pdf`'s page setup; the
fast path (the default) skips WeasyPrint's full HTML user-agent stylesheet, which a printed
report does not need, and reuses parsed stylesheets.

The notice's tables are most of its cost: WeasyPrint lays out and draws every cell as its own
box. On paper, each row that surely fits prints instead as one line of a monospaced CJK face,
its fields padded to columns that are whole numbers of half-width cells, so the figures stand
exactly under their headings and one 500-resident notice is a few hundred boxes, not thousands.
A row with a character of uncertain width (or a value too long for its column) prints cell by
cell as before, aligned the same way.

Each column is as wide as its heading on one line and its widest value, in whole cells, so a
category's name never breaks (道德文/化); 明细 takes what is left, each rule with its points kept
on one line. When that leaves 明细 too little room (many categories, or the wider English
headings), the headings print smaller, never folded. A name or a household code too long for
its capped column prints cell by cell and folds inside its cell, so one long value never widens
its column at the others' cost. Pages after the first repeat the notice's title (bank and month)
at their head.
"""
from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from jinja2 import Environment

from ground.i18n import _, current_language, render
from ledger import formatting
from web.pdf import FONT_CHAIN, base_css, qr_png_data_uri

from .notice import HOW_TO_OBJECT

#: What a report needs of a browser's default styles, and nothing more.
LEAN_UA_CSS = """
html, body, div, h1, h2, p { display: block }
head, style, script, title, meta, link { display: none }
table { display: table; box-sizing: border-box; border-spacing: 2px }
colgroup { display: table-column-group } col { display: table-column }
thead { display: table-header-group } tbody { display: table-row-group }
tfoot { display: table-footer-group } tr { display: table-row }
td, th { display: table-cell; vertical-align: middle } th { text-align: center }
h1 { margin: .67em 0 } h2 { margin: .83em 0 } p { margin: 1em 0 }
small { font-size: smaller } br::before { content: "\\A"; white-space: pre-line }
img { display: inline-block }
"""

#: The font chain of the notice's table lines: a monospaced CJK face (every half-width character
#: 0.5em, every ideograph 1em), then the rare-character fonts, whose ideographs are 1em too.
MONO_CHAIN = ('"Noto Sans Mono CJK SC", "Noto Serif CJK SC", "HanaMinA", "HanaMinB", '
              '"BabelStone Han", monospace')
#: One half-width character of the table lines at their 8.5pt: the notice's columns are whole
#: numbers of these, so a row's cells can print as one line of text (one box, not a dozen) and
#: still stand exactly under the column headings.
CELL_PT = 4.25
#: A4 less the notice's side margins (10mm each).
CONTENT_PT = 190 / 25.4 * 72

#: The notice's own page: compact rows, fixed columns, the footer block, normal weight only
#: (one face per font keeps the embedded fonts small).
NOTICE_CSS = """
@page { margin-left: 10mm; margin-right: 10mm;
        @top-center { content: string(notice-title); font-family: %(chain)s; font-size: 9pt;
                      color: #444; } }
@page :first { @top-center { content: none; } }
html { font-size: 8.5pt; }
h1, h2, th, b { font-weight: normal; }
h1 { font-size: 15pt; string-set: notice-title content(); }
h2 { font-size: 11pt; }
.meta { text-align: center; font-size: 8.5pt; margin: 0 0 3mm; }
table.rows { table-layout: fixed; border-collapse: separate; border-spacing: 0;
             border-top: 0.8pt solid #333; border-bottom: 0.8pt solid #333; }
table.rows th, table.rows td { border: none; }
table.rows th { border-bottom: 0.6pt solid #333; }
table.rows td { white-space: nowrap; padding: 0.6mm 4.25pt; border-bottom: 0.3pt solid #bbb; }
table.rows th { padding: 0.8mm 1pt 0.8mm 4.25pt; font-size: 8pt; white-space: nowrap; }
table.rows.h7 th { font-size: 7pt; }
table.rows.h6 th { font-size: 6pt; }
table.rows th.num { padding: 0.8mm 4.25pt 0.8mm 1pt; }
/* English headings fold at their spaces; a category's name (Chinese, one word) and 明细 never */
html[lang=en] table.rows th { white-space: normal; }
html[lang=en] table.rows th.cat, table.rows th.detail { white-space: nowrap; }
table.rows td.detail { white-space: normal; font-size: 7pt; color: #333; }
/* a long name or code folds inside its own (capped) column, anywhere if it has to */
table.rows td.name, table.rows td.code { white-space: normal; overflow-wrap: anywhere; }
table.late { width: 100%; margin-bottom: 2mm; }
table.late td.what { white-space: normal; }
p.late-note { font-size: 8pt; color: #333; margin: 0 0 1mm; }
table.rows td.code { word-break: break-all; }
.item { white-space: nowrap; }
table.rows td.line { white-space: pre; padding-left: 0; padding-right: 0; font-size: 8.5pt;
                     font-family: %(mono)s; }
tr.total td { background: #f3f3f3; }
.closing { page-break-inside: avoid; }  /* the way to object, the hashes and who signs: one page */
.foot { display: flex; justify-content: space-between; margin-top: 4mm; page-break-inside: avoid; }
.object { width: 140mm; font-size: 8pt; }
.qr { text-align: center; font-size: 7.5pt; }
.qr img { width: 26mm; height: 26mm; }
.hash { font-size: 7pt; color: #444; margin-top: 3mm; word-break: break-all; }
""".replace("%(mono)s", MONO_CHAIN).replace("%(chain)s", FONT_CHAIN)

REGISTER_CSS = """
@page { @top-center { content: string(register-title); font-family: %(chain)s; font-size: 9pt;
                      color: #444; } }
@page :first { @top-center { content: none; } }
html { font-size: 9pt; }
h1 { string-set: register-title content() " " attr(data-day); }
h1, h2, th { font-weight: normal; }
.meta { text-align: center; }
/* the entries: fixed columns, so one long name, code or memo folds in its own cell and never
   squeezes 事项, 积分 or 备注 on every page */
table.entries { table-layout: fixed; }
table.entries td { overflow-wrap: anywhere; }
table.entries td.code { word-break: break-all; }
table.entries th.num, table.entries td.num, table.entries td.date { white-space: nowrap; }
.hash { font-size: 7pt; color: #444; word-break: break-all; }
""".replace("%(chain)s", FONT_CHAIN)

LANDSCAPE_CSS = """
@page { size: A4 landscape; margin: 14mm; }
h1, h2 { font-weight: normal; }
"""

HONOUR_CSS = LANDSCAPE_CSS + """
@page { @top-center { content: string(roll-title); font-family: %(chain)s; font-size: 9pt;
                      color: #444; } }
@page :first { @top-center { content: none; } }
h1.roll-title { font-size: 26pt; color: #b3261e; letter-spacing: 4pt; margin-bottom: 6mm;
                string-set: roll-title content(); }
/* two awards a row; a row (so an award) is never parted across pages when it fits on one */
table.awards { table-layout: fixed; }
table.awards td { border: none; padding: 0 3mm 4mm; vertical-align: top; width: 50%; }
.award h2 { color: #b3261e; border-bottom: 0.6pt solid #b3261e; margin-top: 0; }
.awardee { display: inline-block; margin: 0 6mm 2mm 0; font-size: 14pt; }
.awardee small { font-size: 8pt; color: #555; }
.closing { page-break-inside: avoid; }
.hash { font-size: 7pt; color: #444; word-break: break-all; }
""".replace("%(chain)s", FONT_CHAIN)

#: A4 landscape less the 12mm margins leaves 186mm: the frame, border and padding included, is
#: a little less, so its bottom edge always prints on the page.
CERTIFICATE_CSS = LANDSCAPE_CSS + """
@page { margin: 12mm; @bottom-center { content: none; } }
.cert { box-sizing: border-box; border: 3mm double #b3261e; height: 184mm; padding: 14mm 24mm;
        text-align: left; overflow: hidden; }
.cert-title { font-size: 44pt; color: #b3261e; text-align: center; letter-spacing: 20pt; margin-bottom: 10mm; }
.cert-name { font-size: 22pt; margin-bottom: 6mm; overflow-wrap: anywhere; }
.cert-name.long { font-size: 15pt; }
.cert-text { font-size: 16pt; text-indent: 2em; line-height: 1.8; }
.cert-award { font-size: 30pt; color: #b3261e; text-align: center; margin: 6mm 0; }
.cert-sign { font-size: 14pt; text-align: right; margin-top: 16mm; line-height: 1.8; }
.word { white-space: nowrap; }
"""

def environment() -> Environment:
    """Return the Jinja environment printed reports render with: the app's, as the screens'.

    Paper speaks the reader's language as the screens do, through gettext: Chinese unless the
    request asked for English, and Chinese outside a request (the command line, the cycle).
    """
    return current_app.jinja_env


def _render(template: str, **context) -> str:
    # A template rendered straight from the environment gets no context processor: `lang` is
    # passed here as render_template would (the <html lang>, a field kept in both languages).
    return environment().get_template(template).render(lang=current_language(), **context)


def notice_view(content: dict, tz: ZoneInfo) -> dict:
    """Return the notice's content with what the page prints: the month's title, local times,
    in the reader's language; the standard way to object as a message, the notice's own text
    when it says something else."""
    lang = current_language()
    year, month = (int(p) for p in content["month"].split("-"))
    published = datetime.fromisoformat(content["published_at"])
    deadline = datetime.fromisoformat(content["objection_deadline"])
    standard = content.get("how_to_object") == render(HOW_TO_OBJECT, "zh")
    residents = [{**r, "label": r["name"] + name_mark(r.get("mark"), lang)} for r in content["residents"]]
    late = [{**e, "day": formatting.day(date.fromisoformat(e["occurred_on"]), lang), "said": _late_said(e)}
            for e in content.get("late", [])]
    return {**content, "residents": residents, "late": late, "marked": any("mark" in r for r in residents),
            "month_title": formatting.month(year, month, lang),
            "published_local": formatting.when(published, tz, lang),
            "deadline_local": formatting.when(deadline, tz, lang),
            **({"how_to_object": HOW_TO_OBJECT} if standard else {})}


def _late_said(entry: dict) -> str:
    # What a late entry was, as far as its rule's `notice` setting lets a notice say.
    what = entry["what"] or (str(_("扣分")) if entry["penalty"] else "—")
    return str(_("冲正：%(rule)s", rule=what)) if entry["reversal"] else what


def name_mark(mark: dict | None, lang: str) -> str:
    """What follows a name that another row of the household shares: its relation, or its place
    in registration order; nothing for a name nobody shares (and on notices frozen before).
    `mark` is what reports.notice.tell_apart gives; the card sheets print the same."""
    if not mark:
        return ""
    text = mark.get("relation") or str(mark.get("order", ""))
    return f"({text})" if lang == "en" else f"（{text}）"


#: The narrowest a column of the tables may be, in half-width cells; a name wider than
#: NAME_MAX_CELLS (a household code wider than CODE_MAX_CELLS) prints cell by cell, folding in
#: its cell, rather than taking the details' and the figures' room.
LEAST_CELLS, NAME_MAX_CELLS, CODE_MAX_CELLS = 4, 20, 12
#: The headings' size (pt) and side padding (pt, a cell on the side of the column's values, a
#: point on the other): a heading's width in cells follows from them.
HEADING_PT, HEADING_PAD_PT = 8, 4.25 + 1
#: The smaller sizes the headings may take (pt), each with its class on the tables, when at
#: HEADING_PT they would leave 明细 less than DETAIL_MIN_PT: a heading shrinks, it never folds.
SMALLER_HEADINGS = ((7, "h7"), (6, "h6"))
DETAIL_MIN_PT = 100


#: Wide characters whose glyphs in the chain are all 1em: CJK ideographs (all planes), CJK
#: punctuation and strokes, kana, hangul, full-width forms.
_WIDE = ((0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFF60),
         (0xFFE0, 0xFFE6), (0x20000, 0x3FFFF))


def _cells(text: str) -> int | None:
    """How many half-width cells `text` takes in the monospaced chain, or None if not sure."""
    n = 0
    for ch in text:
        if " " <= ch <= "~":
            n += 1
        elif unicodedata.east_asian_width(ch) in "WF" and any(a <= ord(ch) <= b for a, b in _WIDE):
            n += 2
        else:
            return None
    return n


def _line(fields) -> str | None:
    """One table row as a line of text: each (text, width, right) field padded to its width,
    a cell's worth of space on the side of its padding; None if a value may not fit."""
    out = []
    for i, (text, width, right) in enumerate(fields):
        text = str(text)
        # An em dash (0.894em) is taken for two cells only at a line's end, where it shifts nothing.
        used = 2 if text == "—" and i == len(fields) - 1 else _cells(text)
        if used is None or used > width - 1:
            return None
        pad = " " * (width - used - 1)
        out.append(pad + text + " " if right else " " + text + pad)
    return "".join(out)


def _guess_cells(text: str) -> int:
    """How many half-width cells `text` surely fits in: its exact width when sure, else two
    cells a character (what a wide character takes; narrower ones take less)."""
    exact = _cells(text)
    return exact if exact is not None else 2 * len(text)


def _heading_cells(text: str, lang: str, pt: float = HEADING_PT) -> int:
    """How many cells a column needs for its heading on one line at `pt` (in English: its
    longest word, since English headings fold at their spaces)."""
    words = str(text).split() if lang == "en" else [str(text)]
    # An ideograph is 1em; a letter of the proportional face about 0.58em (more than most).
    em = max((sum(1 if _cells(ch) == 2 else 0.58 for ch in w) for w in words), default=0)
    return -int(-(em * pt + HEADING_PAD_PT + 0.5) // CELL_PT)


def _column(heading, values, lang: str, most: int | None = None, pt: float = HEADING_PT) -> int:
    """A column's width in cells: its heading on one line (at `pt`), its widest value with a
    cell of space either side (but no more than `most` for the values), never under LEAST_CELLS."""
    widest = max((_guess_cells(str(v)) + 2 for v in values if v not in (None, "")), default=0)
    if most is not None:
        widest = min(widest, most)
    return max(LEAST_CELLS, _heading_cells(heading, lang, pt), widest)


def _widths(view: dict, lang: str, *, pt: float = HEADING_PT) -> tuple[list[int], list[int]]:
    """The residents' columns before 明细, and the households' columns but the last, in cells,
    with the headings at `pt`."""
    cats, people, homes, totals = view["categories"], view["residents"], view["households"], view["totals"]

    def column(heading, values, most=None):
        return _column(heading, values, lang, most, pt)

    people_cols = ([column(_("排名"), [r["rank"] for r in people]),
                    column(_("姓名"), [r["label"] for r in people], NAME_MAX_CELLS),
                    column(_("户号"), [r["household"] for r in people], CODE_MAX_CELLS)]
                   + [column(c, [r["categories"][c] for r in people] + [totals["categories"][c]]) for c in cats]
                   + [column(_("扣分"), [r["penalties"] for r in people] + [totals["penalties"]]),
                      column(_("本月合计"), [r["net"] for r in people] + [totals["net"]]),
                      column(_("累计积分"), ["—"] + [r["balance"] for r in people])])
    home_cols = ([column(_("排名"), [h["rank"] for h in homes]),
                  column(_("户号"), [h["code"] for h in homes], CODE_MAX_CELLS),
                  column(_("户名"), [h["name"] for h in homes], NAME_MAX_CELLS),
                  column(_("人数"), [h["members"] for h in homes])]
                 + [column(c, [h["categories"][c] for h in homes]) for c in cats]
                 + [column(_("扣分"), [h["penalties"] for h in homes]),
                    column(_("本月合计"), [h["net"] for h in homes])])
    return people_cols, home_cols


def notice_paper_view(content: dict, tz: ZoneInfo) -> dict:
    """`notice_view`, plus each row of the two tables as one line of monospaced text (or None
    where a row prints cell by cell), the columns' widths and the headings' size class."""
    view = notice_view(content, tz)
    lang = current_language()
    cats = view["categories"]
    cols, homes = _widths(view, lang)
    size = ""
    for pt, name in SMALLER_HEADINGS:
        if CONTENT_PT - sum(cols) * CELL_PT >= DETAIL_MIN_PT:
            break
        (cols, homes), size = _widths(view, lang, pt=pt), name
    rank, name, hh, *nums = cols
    residents = [{**r, "line": _line(
        [(r["rank"], rank, False), (r["label"], name, False), (r["household"], hh, False)]
        + list(zip([r["categories"][c] or "" for c in cats]
                   + [r["penalties"] or "", r["net"], "—" if r["balance"] is None else r["balance"]],
                   nums, [True] * len(nums))))}
        for r in view["residents"]]
    # The households' columns share out what their widths leave (the last, 累计积分, the rest).
    spare = int(CONTENT_PT / CELL_PT) - sum(homes) - _column(_("累计积分"), [], lang)
    homes = [width + max(0, spare) // (len(homes) + 1) for width in homes]
    households = [{**h, "line": _line(
        [(h["rank"], homes[0], False), (h["code"], homes[1], False), (h["name"], homes[2], False)]
        + list(zip([h["members"]] + [h["categories"][c] or "" for c in cats] + [h["penalties"] or "", h["net"]],
                   homes[3:], [True] * (len(homes) - 3))))}
        for h in view["households"]]
    return {**view, "residents": residents, "households": households, "heading_size": size,
            "columns": [f"{width * CELL_PT:g}pt" for width in cols],
            "home_columns": [f"{width * CELL_PT:g}pt" for width in homes]}


def notice_html(content: dict, snapshot_hash: str, *, qr_url: str | None, tz: ZoneInfo,
                lines: bool = True) -> str:
    """Return the notice as a standalone HTML document for printing; `lines` prints the table
    rows as lines of text (fast), otherwise every row cell by cell (what the bench calls naive)."""
    view = notice_paper_view(content, tz)
    if not lines:
        view = {**view, "residents": [{**r, "line": None} for r in view["residents"]],
                "households": [{**h, "line": None} for h in view["households"]]}
    return _render("reports/notice_paper.html", n=view, snapshot_hash=snapshot_hash,
                   qr=qr_png_data_uri(qr_url) if qr_url else None)


def to_pdf(html: str, css: str, *, when: datetime | None = None, fast: bool = True) -> bytes:
    """Render a report's HTML to PDF; `fast` is the subset-font path, otherwise the plain one."""
    if not fast:
        from web.pdf import render_pdf

        return render_pdf(html, css=css, when=when)
    stamp = (when or datetime(2000, 1, 1, tzinfo=timezone.utc)).astimezone(timezone.utc)
    document = _LeanHTML(string=html).render(stylesheets=[_css(base_css() + css)])
    document.metadata.created = document.metadata.modified = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return document.write_pdf()


_stylesheets: dict[str, object] = {}


def _css(text: str):
    # A parsed stylesheet is reused by every render in the process.
    if text not in _stylesheets:
        from weasyprint import CSS

        _stylesheets[text] = CSS(string=text)
    return _stylesheets[text]


class _LeanUA:
    css = None


def _lean_ua():
    if _LeanUA.css is None:
        from weasyprint import CSS

        _LeanUA.css = CSS(string=LEAN_UA_CSS)
    return _LeanUA.css


try:
    from weasyprint import HTML as _HTML

    class _LeanHTML(_HTML):
        """WeasyPrint's HTML with a user-agent stylesheet cut down to what reports use.

        WeasyPrint takes its user-agent stylesheets from this method (not a documented API; its
        own tests replace them the same way). Matching the full HTML stylesheet's hundreds of
        rules against every box is a fifth of a notice's rendering time. tests/ground/test_pins.py
        checks on a rendered PDF that the lean stylesheet, and only it, still takes effect.
        """

        def _ua_stylesheets(self, forms=False):
            return [_lean_ua()]
except ImportError:  # pragma: no cover - WeasyPrint is a dependency
    _LeanHTML = None


def notice_pdf(content: dict, snapshot_hash: str, *, qr_url: str | None, tz: ZoneInfo,
               fast: bool = True) -> bytes:
    """Render a frozen notice to PDF; the same snapshot gives the same bytes."""
    when = datetime.fromisoformat(content["published_at"])
    return to_pdf(notice_html(content, snapshot_hash, qr_url=qr_url, tz=tz), NOTICE_CSS, when=when,
                  fast=fast)


def register_pdf(bank, register, *, head: dict | None, overdue: int, when: datetime | None) -> bytes:
    """Render the day's register (登分簿) for signing."""
    html = _render(
        "reports/register_paper.html", bank=bank, reg=register, head=head, overdue=overdue,
        day_title=formatting.day(register.day))
    return to_pdf(html, REGISTER_CSS, when=when)


def quarter_pdf(content: dict, snapshot_hash: str, *, when: datetime | None) -> bytes:
    """Render a frozen quarter's summary (季度汇总), A4: its residents and households ranked by
    the quarter's net, from the months' notices it names."""
    year, number = (int(p) for p in content["quarter"].split("-Q"))
    lang = current_language()
    months = [formatting.month(int(k[:4]), int(k[5:]), lang) for k in content["months_frozen"]]
    window = content.get("window")
    days = [formatting.day(date.fromisoformat(window[k]), lang) for k in ("opens_on", "closes_on")] if window else None
    html = _render("reports/quarter_paper.html", q=content, snapshot_hash=snapshot_hash,
                   title=formatting.quarter(year, number, lang), months=months, window=days)
    # The register's page: its title atop every page after the first, its tables' columns fixed.
    return to_pdf(html, REGISTER_CSS, when=when)


def says_household(name: str) -> bool:
    """Whether a household's name already says it is a household (王家, 万火根户, 二十口之家), so
    that paper prints it as registered rather than adding 家 (二十口之家家)."""
    return str(name).rstrip().endswith(("家", "户"))


def honour_roll_pdf(content: dict, snapshot_hash: str, *, when: datetime | None) -> bytes:
    """Render the year's honour roll (光荣榜), A4 landscape: two awards a row, none parted across
    pages, every page after the first headed by the bank and the year."""
    html = _render("reports/honour_roll.html", y=content, snapshot_hash=snapshot_hash,
                   says_household=says_household)
    return to_pdf(html, HONOUR_CSS, when=when)


def certificate_pdf(content: dict, award: dict, awardee: dict, *, issued: str,
                    when: datetime | None) -> bytes:
    """Render one certificate (奖状) for one awardee, A4 landscape."""
    html = _render(
        "reports/certificate.html", y=content, a=award, w=awardee, issued=issued,
        says_household=says_household)
    return to_pdf(html, CERTIFICATE_CSS, when=when)


def dumps(content: dict) -> str:
    return json.dumps(content, ensure_ascii=False)
