"""Uploaded rosters read within their bounds: spreadsheet and zip bombs, hostile CSVs, the row
limit before rows are read, and an import that checks its rows outside the write lock."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import pytest
from sqlalchemy import event, func, select

from ledger import roster
from ground.audit import AuditEntry
from ground.db import is_sqlite, make_engine, session_factory
from ground.errors import TooLarge, ValidationError
from ledger.models import Household, Resident
from tests.conftest import Factory

# --- workbooks written by hand, as an attacker would ----------------------------------------------

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""
SHARED = '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{}</sst>'


def cells(row: int, *values: str, first: str = "A") -> str:
    """A <row> of inline strings starting at column `first`."""
    start = ord(first) - ord("A")
    return f'<row r="{row}">' + "".join(
        f'<c r="{chr(ord("A") + start + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)) + "</row>"


HONEST_ROWS = cells(1, "姓名", "户号") + cells(2, "王大", "E01") + cells(3, "王二", "E01")


def sheet(rows: str = HONEST_ROWS, *, dimension: str | None = None, tail: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet '
            f'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dim}'
            f"<sheetData>{rows}</sheetData>{tail}</worksheet>")


def workbook(sheet_xml: str, shared: str = SHARED.format("")) -> bytes:
    """A minimal .xlsx whose first sheet is `sheet_xml`, deflated as Excel does."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/worksheets/sheet1.xml", sheet_xml), ("xl/sharedStrings.xml", shared)):
            z.writestr(name, text)
    return out.getvalue()


def declaring(data: bytes, member: str, size: int) -> bytes:
    """The same zip, its member `member` declaring `size` bytes uncompressed (a lie, as bombs tell)."""
    data = bytearray(data)
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, at + offset, size)
            at = data.find(signature, at + 4)
    return bytes(data)


BOMBS = {
    # As seen: 1.6 KB declaring 26 columns by 1,048,576 rows, with its last row filled in.
    "a declared dimension of a million rows": (
        lambda: workbook(sheet(HONEST_ROWS + cells(1048576, "张三", "E02"), dimension="A1:Z1048576")), "20000"),
    # The same over the whole grid: 16,384 columns by 1,048,576 rows.
    "a declared dimension of the whole grid": (
        lambda: workbook(sheet(HONEST_ROWS + cells(1048576, "张三", "E02"), dimension="A1:XFD1048576")),
        "20000"),
    # No dimension, one row at the very bottom: openpyxl pads the gap with empty rows.
    "a single row numbered 1048576": (
        lambda: workbook(sheet(HONEST_ROWS + cells(1048576, "张三", "E02"))), "20000"),
    "a declared dimension 702 columns wide": (
        lambda: workbook(sheet(dimension="A1:ZZ3")), "100 列"),
    "a row reaching column 101": (
        lambda: workbook(sheet(HONEST_ROWS + '<row r="4"><c r="CW4" t="inlineStr"><is><t>x</t></is></c></row>')),
        "100 列"),
    # Real deflate bombs: 20 MB of shared strings, 3 MB of sheet, each from a few kilobytes.
    "shared strings inflating a thousandfold": (
        lambda: workbook(sheet(), SHARED.format("<si><t>a</t></si>" * 1_250_000)), "16 MB"),
    "a sheet inflating a thousandfold": (
        lambda: workbook(sheet(tail=" " * 3_000_000)), "100 倍"),
    # A zip that lies: a few hundred bytes declaring a 3 GB sheet.
    "a sheet declaring 3 GB": (
        lambda: declaring(workbook(sheet()), "xl/worksheets/sheet1.xml", 3 * 2**30), "100 倍"),
}


@pytest.fixture
def bank(make):
    return make.bank()


def _nothing_written(session) -> bool:
    session.rollback()
    counts = [session.execute(select(func.count()).select_from(m)).scalar()
              for m in (Household, Resident, AuditEntry)]
    return counts == [0, 0, 1]  # the audit log holds only the bank's creation


def test_a_hand_built_workbook_imports_so_the_bombs_are_refused_for_their_size(bank, session, clock):
    report = roster.import_roster(session, bank, "名册.xlsx", workbook(sheet(dimension="A1:B3")),
                                  by="clerk", clock=clock)
    assert report.imported and report.count("create") == 2


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_spreadsheet_bomb_is_refused_naming_the_file_and_the_limit_and_writes_nothing(bank, session, clock, bomb):
    build, limit = BOMBS[bomb]
    data = build()
    assert len(data) < 64 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as refused:
            roster.import_roster(session, bank, "名册.xlsx", data, by="clerk", clock=clock)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.status == 422 and limit in " ".join(refused.value.field_texts()["file"])
    assert limit.split()[0] in refused.value.message_en
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB held while refusing"
    assert _nothing_written(session)


def test_shared_strings_that_expand_entities_a_billion_times_are_refused(bank, session, clock):
    entities = "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    laughs = (f'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">{entities}]>'
              '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&j;</t></si></sst>')
    with pytest.raises(ValidationError) as refused:
        roster.import_roster(session, bank, "名册.xlsx", workbook(sheet(), laughs), by="clerk", clock=clock)
    assert "不是有效的 .xlsx" in refused.value.fields["file"][0]
    assert _nothing_written(session)


def test_reading_stops_one_row_past_the_limit_before_any_row_is_checked(bank, session, clock, monkeypatch):
    checked = []
    monkeypatch.setattr(roster, "person_problems", lambda **kw: checked.append(kw) or ({}, {}))
    rows = "".join(f"居民{n},E01\n" for n in range(roster.MAX_ROWS + 1))
    unread = "王大," + "x" * (200 * 1024) + "\n"  # never reached: it would be refused for itself
    with pytest.raises(ValidationError) as refused:
        roster.import_roster(session, bank, "roster.csv", f"姓名,户号\n{rows}{unread}".encode(), by="clerk",
                             clock=clock)
    assert "20000" in refused.value.fields["file"][0] and checked == []
    assert _nothing_written(session)


def test_an_export_quote_is_taken_off_again_on_import(bank, session, clock):
    data = workbook(sheet(cells(1, "姓名", "户号", "户名") + cells(2, "王大", "E01", "'=王家")))
    assert roster.import_roster(session, bank, "名册.xlsx", data, by="clerk", clock=clock).imported
    assert session.execute(select(Household.name)).scalar() == "=王家"


# --- CSV ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, why", [
    ("姓名,户号,备注\n王大,E01,".encode() + b"x" * (200 * 1024) + b"\n", "1000 个字符"),  # past csv's own cap
    ("姓名,户号,备注\n王大,E01,".encode() + b"x" * 5000 + b"\n", "1000 个字符"),
    ("姓名,户号\n王大,E01\n".encode("utf-16"), "NUL"),
    ("姓名,户号\n王\x00大,E01\n".encode(), "NUL"),
    (b"\xff\xfe\xff\xfe,E01\n", "编码"),
    ("姓名,户号\n" + "王大,E01\n" * (roster.MAX_ROWS + 1), "20000"),
    ("姓名,户号" + ",x" * 200 + "\n", "100 列"),
])
def test_a_hostile_csv_is_refused_naming_the_file_and_writes_nothing(bank, session, clock, data, why):
    if isinstance(data, str):
        data = data.encode()
    with pytest.raises(ValidationError) as refused:
        roster.import_roster(session, bank, "roster.csv", data, by="clerk", clock=clock)
    assert refused.value.status == 422 and why in refused.value.fields["file"][0]
    assert _nothing_written(session)


def test_a_household_code_with_control_characters_is_a_bad_row(bank, session, clock):
    report = roster.import_roster(session, bank, "roster.csv", "姓名,户号\n王大,E\x0101\n".encode(),
                                  by="clerk", clock=clock)
    assert not report.imported and "控制字符" in report.rows[0].problems[0]
    assert _nothing_written(session)


def test_a_file_over_its_size_is_refused_as_too_large(bank, session, clock):
    data = b"x" * (roster.MAX_BYTES + 1)
    with pytest.raises(TooLarge) as refused:
        roster.import_roster(session, bank, "roster.csv", data, by="clerk", clock=clock)
    assert refused.value.status == 413 and "8 MB" in refused.value.fields["file"][0]
    assert _nothing_written(session)


# --- the write lock -------------------------------------------------------------------------------

GOOD = "姓名,户号,电话\n王大,E01,13812345678\n王二,E01,\n李四,W01,\n"


def _impatient_session(app):
    """Another server process's session, which gives up on a busy database within a second."""
    engine = make_engine(app.config["DATABASE_URL"])

    @event.listens_for(engine, "connect")
    def _impatient(dbapi_conn, _record):
        if is_sqlite(engine):
            dbapi_conn.execute("PRAGMA busy_timeout=500")

    return session_factory(engine)(), engine


def test_another_banks_deed_posts_while_the_import_checks_its_rows(app, bank, session, clock, make, monkeypatch):
    other_bank = make.bank("xy", "另一个村")
    patroller = make.resident(other_bank, "赵六")
    other, engine = _impatient_session(app)
    posted = []
    check = roster.person_problems

    def checking(**kw):
        if not posted:  # while the first row is being checked, another clerk posts a deed
            posted.extend(Factory(other, clock).deed(other_bank, "patrol", [patroller]).transfers)
        return check(**kw)

    monkeypatch.setattr(roster, "person_problems", checking)
    try:
        report = roster.import_roster(session, bank, "roster.csv", GOOD.encode(), by="clerk", clock=clock)
    finally:
        other.close()
        engine.dispose()
    assert len(posted) == 1 and report.imported and report.count("create") == 3


def test_a_resident_registered_while_the_rows_were_checked_is_matched_not_registered_twice(
        app, bank, session, clock, make, monkeypatch):
    other, engine = _impatient_session(app)
    registered = roster._registered
    calls = []

    def meanwhile(s, b):
        found = registered(s, b)
        if not calls:  # after the check against the snapshot, before the write lock
            Factory(other, clock).resident(bank, "王大", Factory(other, clock).household(bank, "E01"))
        calls.append(1)
        return found

    monkeypatch.setattr(roster, "_registered", meanwhile)
    try:
        report = roster.import_roster(session, bank, "roster.csv", GOOD.encode(), by="clerk", clock=clock)
    finally:
        other.close()
        engine.dispose()
    assert report.imported and [r.action for r in report.rows] == ["update", "create", "create"]
    assert report.households_created == ["W01"]
    assert session.execute(select(func.count()).where(Resident.name == "王大")).scalar() == 1
    assert session.execute(select(Resident.phone).where(Resident.name == "王大")).scalar() == "13812345678"


def test_an_import_that_fails_while_writing_leaves_nothing_behind(bank, session, clock, monkeypatch):
    write = roster._write

    def failing(*args, **kw):
        write(*args, **kw)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(roster, "_write", failing)
    with pytest.raises(RuntimeError):
        roster.import_roster(session, bank, "roster.csv", GOOD.encode(), by="clerk", clock=clock)
    assert _nothing_written(session)


def test_a_workbook_declaring_exactly_the_row_limit_is_read(bank, session, clock):
    declared = f"A1:B{roster.MAX_ROWS + 1}"
    report = roster.import_roster(session, bank, "名册.xlsx", workbook(sheet(dimension=declared)),
                                  by="clerk", clock=clock)
    assert report.imported and report.count("create") == 2


@pytest.mark.slow
def test_an_honest_roster_of_20000_rows_imports_in_full(bank, session, clock):
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰涛明超霞平"
    lines = ["姓名,户号,与户主关系,电话,出生日期"] + [
        f"王{given[n % 20]}{given[n // 20 % 20]}{given[n // 400 % 20]}{given[n // 8000]},H{n // 4:05d},"
        f"{'户主' if n % 4 == 0 else '其他'},138{n:08d},1960-01-01" for n in range(roster.MAX_ROWS)]
    data = "\n".join(lines).encode("gb18030")
    report = roster.import_roster(session, bank, "名册.csv", data, by="clerk", clock=clock)
    assert report.imported and report.count("create") == roster.MAX_ROWS
    assert len(report.households_created) == roster.MAX_ROWS // 4
    session.rollback()
    assert session.execute(select(func.count()).select_from(Resident)).scalar() == roster.MAX_ROWS
    assert session.execute(select(Resident.pinyin).where(Resident.phone == "13800000000")).scalar() == "wangweiweiweiwei"
