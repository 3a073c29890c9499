"""The roster in spreadsheets: import residents from .xlsx or .csv (all or nothing), export to .xlsx.

An import checks every row first and reports each one (row 17: phone has 10 digits); only a
file without a single bad row is written, in one transaction. A row matches a resident already
registered by household and name, so importing the same file again changes nothing.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, names
from .clock import Clock
from .db import transaction
from .errors import ValidationError
from .formatting import mask_phone
from .models import Account, Bank, Household, Resident, Transfer
from .services import person_problems

#: Column -> the headers a roster may use for it (Chinese as villages write them, or English).
COLUMNS = {
    "name": ("姓名", "name"),
    "household": ("户号", "household"),
    "relation": ("与户主关系", "关系", "relation"),
    "phone": ("电话", "手机", "手机号", "联系电话", "phone"),
    "household_name": ("户名", "household_name"),
    "reading": ("读音", "reading"),
}
REQUIRED = ("name", "household")
#: Headers of columns this program never stores, whatever the file holds.
NEVER_STORED = ("身份证", "身份证号", "身份证号码", "id_number", "id")
MAX_ROWS = 20000
FIELD_NAMES = {"name": "姓名", "household": "户号", "relation": "与户主关系", "phone": "电话",
               "household_name": "户名", "reading": "读音", "file": "文件"}


@dataclass
class RowResult:
    """What the import made of one row of the file."""

    row: int
    name: str
    household: str
    action: str = ""  # create | update | unchanged | error
    problems: list[str] = field(default_factory=list)


@dataclass
class RosterReport:
    """The row-by-row report of an import, and whether anything was written."""

    filename: str
    rows: list[RowResult] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    households_created: list[str] = field(default_factory=list)
    imported: bool = False

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.problems]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    def as_dict(self) -> dict:
        return {"filename": self.filename, "imported": self.imported,
                "created": self.count("create"), "updated": self.count("update"),
                "unchanged": self.count("unchanged"), "households_created": self.households_created,
                "ignored_columns": self.ignored_columns,
                "rows": [{"row": r.row, "name": r.name, "household": r.household, "action": r.action,
                          "problems": r.problems} for r in self.rows]}


# --- reading the file -------------------------------------------------------------------------

def read_table(filename: str, data: bytes) -> list[list[str]]:
    """Return the file's first sheet (or the CSV) as rows of text cells, or refuse it."""
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a file that is not a workbook
            raise ValidationError({"file": ["无法读取：不是有效的 .xlsx 文件"]},
                                  "名册文件无法读取", "the roster file cannot be read") from None
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    if lower.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError({"file": ["无法识别文件编码，请存为 UTF-8 或 GBK 编码的 CSV"]})
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    raise ValidationError({"file": ["只能导入 .xlsx 或 .csv 文件"]},
                          "名册文件格式不支持", "only .xlsx and .csv rosters can be imported")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number Excel stored as a number
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    found, ignored = {}, []
    for index, title in enumerate(header):
        title = (title or "").strip()
        key = next((k for k, titles in COLUMNS.items() if title.lower() in titles), None)
        if key and key not in found:
            found[key] = index
        elif title:
            ignored.append(title)
    missing = [FIELD_NAMES[k] for k in REQUIRED if k not in found]
    if missing:
        raise ValidationError({"file": [f"第 1 行须为表头，缺少列：{'、'.join(missing)}"]},
                              "名册缺少必需的列", "the roster lacks required columns")
    return found, ignored


# --- importing --------------------------------------------------------------------------------

def import_roster(session: Session, bank: Bank, filename: str, data: bytes, *, by: str,
                  clock: Clock) -> RosterReport:
    """Check every row of a roster; if none is bad, register and update its residents.

    Return the report either way: `imported` says whether anything was written.
    """
    table = read_table(filename, data)
    while table and not any(table[0]):
        table.pop(0)
    if not table:
        raise ValidationError({"file": ["文件是空的"]})
    columns, ignored = _columns(table[0])
    if len(table) - 1 > MAX_ROWS:
        raise ValidationError({"file": [f"一次最多导入 {MAX_ROWS} 行"]})
    report = RosterReport(filename=filename, ignored_columns=[
        f"{t}（不导入：本系统不保存身份证号）" if t.lower() in NEVER_STORED else t for t in ignored])

    with transaction(session):
        households = {h.code: h for h in session.execute(
            select(Household).where(Household.bank_id == bank.id)).scalars()}
        residents: dict[tuple[int, str], Resident] = {}
        for r in session.execute(select(Resident).where(Resident.bank_id == bank.id)).scalars():
            residents.setdefault((r.household_id, r.name), r)
        plans = _check_rows(table, columns, households, residents, report)
        if not report.rows:
            raise ValidationError({"file": ["文件除表头外没有数据行"]})
        if report.errors:
            return report
        _write(session, bank, plans, households, report, clock)
        audit.record(session, bank_id=bank.id, actor=by, action="roster_import",
                     subject=f"roster:{filename[:60]}",
                     detail={"created": report.count("create"), "updated": report.count("update"),
                             "unchanged": report.count("unchanged"),
                             "households_created": report.households_created}, clock=clock)
        report.imported = True
    return report


def _check_rows(table, columns, households, residents, report) -> list[tuple[RowResult, dict, Resident | None]]:
    plans = []
    seen: dict[tuple[str, str], int] = {}
    heads: dict[str, int] = {}
    for number, raw in enumerate(table[1:], start=2):
        if not any(raw):
            continue
        value = {k: (raw[i] if i < len(raw) else "") for k, i in columns.items()}
        result = RowResult(row=number, name=value.get("name", ""), household=value.get("household", ""))
        report.rows.append(result)
        problems: dict[str, list[str]] = {}
        code = value["household"].strip()
        if not code:
            problems["household"] = ["户号不能为空"]
        elif len(code) > 40:
            problems["household"] = ["户号最长 40 个字符"]
        phone = value.get("phone", "")
        home = households.get(code)
        match = residents.get((home.id, value["name"].strip())) if home else None
        masked = "*" in phone
        if masked and match is not None and match.phone and mask_phone(match.phone) == phone.strip():
            phone = match.phone  # an exported roster comes back with the number it went out with
        elif masked:
            problems["phone"] = ["电话号码被遮盖（****），无法导入，请填写完整号码"]
            phone = ""
        clean, person = person_problems(name=value["name"], phone=phone,
                                        relation=value.get("relation"), reading=value.get("reading"))
        for key, messages in person.items():
            problems.setdefault(key, []).extend(messages)
        if home is not None and not home.active:
            problems.setdefault("household", []).append(f"户号 {code} 已停用")
        if len(value.get("household_name", "")) > 100:
            problems["household_name"] = ["户名最长 100 个字"]
        key = (code, clean["name"])
        if clean["name"] and code and key in seen:
            problems.setdefault("name", []).append(f"与第 {seen[key]} 行重复（同一户同一姓名）")
        seen.setdefault(key, number)
        if clean["relation"] == "户主" and code:
            if code in heads:
                problems.setdefault("relation", []).append(f"户号 {code} 已在第 {heads[code]} 行有户主")
            heads.setdefault(code, number)
        result.problems = [f"{FIELD_NAMES[k]}：{m}" for k, ms in problems.items() for m in ms]
        if result.problems:
            result.action = "error"
            continue
        clean["household"], clean["household_name"] = code, value.get("household_name", "").strip()
        # Only the columns the file has are compared and written: a roster without a phone
        # column leaves the phones alone.
        clean["fields"] = [k for k in ("phone", "relation", "reading") if k in columns]
        if match is None:
            result.action = "create"
        elif any(getattr(match, k) != clean[k] for k in clean["fields"]):
            result.action = "update"
        else:
            result.action = "unchanged"
        plans.append((result, clean, match))
    return plans


def _write(session, bank, plans, households, report, clock) -> None:
    now = clock.now()
    for result, clean, match in plans:
        home = households.get(clean["household"])
        if home is None:
            home = Household(bank_id=bank.id, code=clean["household"], name=clean["household_name"],
                             created_at=now)
            session.add(home)
            session.flush()
            households[home.code] = home
            report.households_created.append(home.code)
        if result.action == "create":
            person = {k: clean[k] for k in ("name", "phone", "relation", "reading")}
            session.add(Resident(bank_id=bank.id, household_id=home.id, created_at=now, **person,
                                 **names.search_keys(person["name"], person["reading"])))
        elif result.action == "update":
            for key in clean["fields"]:
                setattr(match, key, clean[key])
            keys = names.search_keys(match.name, match.reading)
            match.pinyin, match.initials = keys["pinyin"], keys["initials"]
    session.flush()


# --- exporting --------------------------------------------------------------------------------

ROSTER_HEADER = ("户号", "户名", "姓名", "与户主关系", "电话", "读音", "拼音", "状态")


def roster_xlsx(session: Session, bank: Bank) -> bytes:
    """Return the bank's roster as a workbook, phones masked; it imports back unchanged."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("居民名册")
    sheet.append(ROSTER_HEADER)
    rows = session.execute(select(Household.code, Household.name, Resident).join(
        Household, Household.id == Resident.household_id).where(Resident.bank_id == bank.id)
        .order_by(Household.code, Resident.id)).all()
    for code, household_name, r in rows:
        sheet.append((code, household_name, r.name, r.relation, mask_phone(r.phone), r.reading,
                      r.pinyin.split(" ")[0], "在册" if r.active else "已停用"))
    return _save(book)


LEDGER_HEADER = ("序号", "发生日期", "记录时间", "账本", "类型", "规则", "规则版本", "居民", "户号",
                 "借方", "贷方", "金额", "居民积分变动", "冲正的序号", "备注", "记录人", "哈希")


def ledger_xlsx(session: Session, bank: Bank) -> bytes:
    """Return the bank's transfers as a workbook, oldest first (points, and money in fen)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("流水")
    sheet.append(LEDGER_HEADER)
    codes = dict(session.execute(select(Account.id, Account.code).where(Account.bank_id == bank.id)).all())
    people = {rid: (name, code) for rid, name, code in session.execute(
        select(Resident.id, Resident.name, Household.code).join(
            Household, Household.id == Resident.household_id).where(Resident.bank_id == bank.id)).all()}
    seqs = dict(session.execute(select(Transfer.id, Transfer.seq).where(Transfer.bank_id == bank.id)).all())
    for t in session.execute(select(Transfer).where(Transfer.bank_id == bank.id)
                             .order_by(Transfer.seq)).scalars():
        debit, credit = codes[t.debit_id], codes[t.credit_id]
        holder = ("resident:", "household:")
        signed = t.amount if credit.startswith(holder) else -t.amount if debit.startswith(holder) else None
        who, home = people.get(t.doer_id, ("", ""))
        sheet.append((t.seq, t.occurred_on, t.recorded_at.replace(tzinfo=None), t.ledger, t.kind,
                      t.rule_code or "", t.rule_version, who, home, debit, credit, t.amount, signed,
                      seqs.get(t.reverses_id) if t.reverses_id else None, t.memo or "", t.recorded_by,
                      t.hash))
    return _save(book)


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
