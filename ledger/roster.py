"""The roster in spreadsheets: import residents from .xlsx or .csv (all or nothing), export to .xlsx.

An import checks every row first and reports each one (row 17: phone has 10 digits); only a
file without a single bad row is written, in one short transaction. A row matches a resident
already registered by household and name, so importing the same file again changes nothing.
The file itself is read within its bounds by `ledger.sheets`, and exported cells are made inert
there too.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from rules import bounds

from . import names, sheets
from ground.clock import Clock
from ground.store import Prepared, snapshot
from ground.errors import ValidationError
from ground.i18n import _
from .formatting import mask_phone
from .models import Account, Household, Resident, Transfer
from ground.tenants import Bank
from .people import person_problems
from .unit import UnitOfWork

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
MAX_COLUMNS = 100
#: A 20,000-row roster is about 0.6 MB as .xlsx and 1 MB as CSV; room for extra columns.
MAX_BYTES = 8 * sheets.MB
BOUNDS = sheets.Bounds(max_bytes=MAX_BYTES, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
#: The resident's columns an import may change, in the order `_registered` reads them.
_STORED = ("phone", "relation", "reading")
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


# --- importing --------------------------------------------------------------------------------

@dataclass
class _Row:
    """A row as the file gives it, checked on its own (no database): its clean values and problems."""

    number: int
    name: str
    household: str
    clean: dict
    problems: dict[str, list[str]]
    #: A masked phone ("138****5678") that only the resident it matches can resolve.
    masked: str | None = None
    #: The pinyin search keys, once a resident is to be registered or re-read from this row.
    keys: dict | None = None


@dataclass(frozen=True)
class _Registered:
    """The bank's households and residents as an import needs them: plain values, read at once."""

    households: dict[str, tuple[int, bool]]            # code -> (id, active)
    residents: dict[tuple[int, str], tuple]            # (household id, name) -> (id, phone, relation, reading)


def import_roster(session: Session, bank: Bank, filename: str, data: bytes, *, by: str,
                  clock: Clock) -> RosterReport:
    """Check every row of a roster; if none is bad, register and update its residents.

    Return the report either way: `imported` says whether anything was written. The rows are
    read and checked outside any write transaction, against a snapshot of the bank's roster;
    the unit of work (ledger.unit: the write lock and the bank's posting lock) is held only to
    read the roster again (the rows are matched anew if a clerk changed it meanwhile) and to
    write them, in bulk.
    """
    table = sheets.read_table(filename, data, BOUNDS)
    while table and not any(table[0]):
        table.pop(0)
    if not table:
        raise ValidationError({"file": [_("文件是空的")]})
    columns, ignored = _columns(table[0])
    ignored = [str(_("%(title)s（不导入：本系统不保存身份证号）", title=t)) if t.lower() in NEVER_STORED else t
               for t in ignored]
    rows = _check_rows(table, columns)
    if not rows:
        raise ValidationError({"file": [_("文件除表头外没有数据行")]})
    # Only the columns the file has are compared and written: a roster without a phone
    # column leaves the phones alone.
    fields = [k for k in _STORED if k in columns]
    report = RosterReport(filename=filename, ignored_columns=ignored)

    with snapshot(session):
        seen = _registered(session, bank)
        plans = _match(rows, fields, seen, report)
    if report.errors:
        return report
    _search_keys(rows, report, fields)  # the costliest check of all, still outside the lock
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        registered = _registered(session, bank)
        if registered != seen:  # another clerk changed the roster meanwhile: match again
            plans = _match(rows, fields, registered, report)
            if report.errors:
                return report
            _search_keys(rows, report, fields)
        _write(session, bank, rows, report, plans, fields, registered, clock)
        uow.audit("roster_import", f"roster:{filename[:60]}",
                  {"created": report.count("create"), "updated": report.count("update"),
                   "unchanged": report.count("unchanged"), "households_created": report.households_created})
        report.imported = True
    session.expire_all()  # residents written in bulk: no object in the session may keep old values
    return report


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
        raise ValidationError({"file": [_("第 1 行须为表头，缺少列：%(missing)s", missing="、".join(missing))]},
                              _("名册缺少必需的列"))
    return found, ignored


def _check_rows(table: list[list[str]], columns: dict[str, int]) -> list[_Row]:
    """Check each row on its own and against the file's other rows; nothing here reads the database."""
    rows = []
    seen: dict[tuple[str, str], int] = {}
    heads: dict[str, int] = {}
    for number, raw in enumerate(table[1:], start=2):
        if not any(raw):
            continue
        value = {k: (raw[i] if i < len(raw) else "") for k, i in columns.items()}
        problems: dict[str, list[str]] = {}
        code = value["household"].strip()
        if not code:
            problems["household"] = [_("户号不能为空")]
        elif len(code) > 40:
            problems["household"] = [_("户号最长 40 个字符")]
        elif bounds.text_problem(code, max_len=40):
            problems["household"] = [_("户号不能包含控制字符")]
        phone = value.get("phone", "")
        masked = phone.strip() if "*" in phone else None
        clean, person = person_problems(name=value["name"], phone=None if masked else phone,
                                        relation=value.get("relation"), reading=value.get("reading"))
        for key, messages in person.items():
            problems.setdefault(key, []).extend(messages)
        household_name = value.get("household_name", "").strip()
        if len(household_name) > 100:
            problems["household_name"] = [_("户名最长 100 个字")]
        elif bounds.text_problem(household_name, max_len=100, allow_blank=True):
            problems["household_name"] = [_("户名不能包含控制字符")]
        key = (code, clean["name"])
        if clean["name"] and code and key in seen:
            problems.setdefault("name", []).append(_("与第 %(line)s 行重复（同一户同一姓名）", line=seen[key]))
        seen.setdefault(key, number)
        if clean["relation"] == "户主" and code:
            if code in heads:
                problems.setdefault("relation", []).append(_("户号 %(code)s 已在第 %(line)s 行有户主", code=code, line=heads[code]))
            heads.setdefault(code, number)
        clean["household"], clean["household_name"] = code, household_name
        rows.append(_Row(number, value.get("name", ""), value.get("household", ""), clean, problems, masked))
    return rows


def _registered(session: Session, bank: Bank) -> _Registered:
    households = {code: (hid, active) for hid, code, active in session.execute(
        select(Household.id, Household.code, Household.active).where(Household.bank_id == bank.id))}
    residents: dict[tuple[int, str], tuple] = {}
    for rid, home, name, phone, relation, reading in session.execute(
            select(Resident.id, Resident.household_id, Resident.name, Resident.phone, Resident.relation,
                   Resident.reading).where(Resident.bank_id == bank.id).order_by(Resident.id)):
        residents.setdefault((home, name), (rid, phone, relation, reading))
    return _Registered(households, residents)


def _match(rows: list[_Row], fields: list[str], registered: _Registered, report: RosterReport) -> list[dict]:
    """Match the checked rows with the bank's roster, filling the report: what each row does,
    and what only the roster can refuse. Return each row's plan (its clean values, `match`)."""
    report.rows, plans = [], []
    for row in rows:
        clean, problems = row.clean, {k: list(v) for k, v in row.problems.items()}
        home = registered.households.get(clean["household"])
        match = registered.residents.get((home[0], clean["name"])) if home else None
        plan = {**clean, "match": match[0] if match else None}
        if row.masked is not None:
            stored = match[1] if match else None
            if stored and mask_phone(stored) == row.masked:
                plan["phone"] = stored  # an exported roster comes back with the number it went out with
            else:
                problems.setdefault("phone", []).insert(0, _("电话号码被遮盖（****），无法导入，请填写完整号码"))
        if home is not None and not home[1]:
            problems.setdefault("household", []).append(_("户号 %(code)s 已停用", code=clean["household"]))
        result = RowResult(row=row.number, name=row.name, household=row.household)
        result.problems = [str(_("%(field)s：%(problem)s", field=FIELD_NAMES[k], problem=m))
                           for k, ms in problems.items() for m in ms]
        if result.problems:
            result.action = "error"
        elif match is None:
            result.action = "create"
        elif any(match[_STORED.index(k) + 1] != plan[k] for k in fields):
            result.action = "update"
        else:
            result.action = "unchanged"
        report.rows.append(result)
        plans.append(plan)
    return plans


def _search_keys(rows: list[_Row], report: RosterReport, fields: list[str]) -> None:
    """Work out the pinyin search keys of the residents the import registers or re-reads."""
    for row, result in zip(rows, report.rows):
        if row.keys is None and (result.action == "create" or
                                 result.action == "update" and "reading" in fields):
            row.keys = names.search_keys(row.clean["name"], row.clean["reading"])


def _write(session: Session, bank: Bank, rows: list[_Row], report: RosterReport, plans: list[dict],
           fields: list[str], registered: _Registered, clock: Clock) -> None:
    """Write the import in bulk: the new households, then the new residents and the changes."""
    now = clock.now()
    actions = [r.action for r in report.rows]
    new_homes: dict[str, str] = {}
    for action, plan in zip(actions, plans):
        if action == "create" and plan["household"] not in registered.households:
            new_homes.setdefault(plan["household"], plan["household_name"])
    if new_homes:
        _INSERT_HOUSEHOLD.executemany(session, [{"bank_id": bank.id, "code": code, "name": name,
                                                 "active": True, "created_at": now}
                                                for code, name in new_homes.items()])
        report.households_created = list(new_homes)
    homes = {code: hid for code, (hid, _active) in registered.households.items()}
    if new_homes:
        homes = dict(session.execute(select(Household.code, Household.id).where(
            Household.bank_id == bank.id)).all())
    created, updated = [], []
    for row, action, plan in zip(rows, actions, plans):
        if action == "create":
            created.append({"bank_id": bank.id, "household_id": homes[plan["household"]],
                            "name": plan["name"], "phone": plan["phone"], "relation": plan["relation"],
                            "reading": plan["reading"], "active": True, "created_at": now, **row.keys})
        elif action == "update":
            change = {"match_id": plan["match"], **{k: plan[k] for k in fields}}
            if "reading" in fields:
                change.update(row.keys)
            updated.append(change)
    # Statements compiled once and run as the driver's executemany: SQLAlchemy's work for each
    # of 20,000 rows would cost more than the writes, all of it inside the write lock.
    if created:
        _INSERT_RESIDENT.executemany(session, created)
    if updated:
        _update_residents(tuple(k for k in updated[0] if k != "match_id")).executemany(session, updated)


_INSERT_HOUSEHOLD = Prepared(insert(Household.__table__),
                             columns=["bank_id", "code", "name", "active", "created_at"])
_INSERT_RESIDENT = Prepared(insert(Resident.__table__),
                            columns=["bank_id", "household_id", "name", "phone", "relation", "reading",
                                     "active", "created_at", "pinyin", "initials"])


@functools.cache
def _update_residents(columns: tuple[str, ...]) -> Prepared:
    """The UPDATE of these columns of a resident, by id (one per set of columns a roster has)."""
    table = Resident.__table__
    return Prepared(update(table).where(table.c.id == bindparam("match_id")), columns=list(columns))


# --- exporting --------------------------------------------------------------------------------

ROSTER_HEADER = ("户号", "户名", "姓名", "与户主关系", "电话", "读音", "拼音", "状态")


def roster_xlsx(session: Session, bank: Bank) -> bytes:
    """Return the bank's roster as a workbook, phones masked; it imports back unchanged."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("居民名册")
    sheet.append(sheets.row(ROSTER_HEADER))
    rows = session.execute(select(Household.code, Household.name, Resident).join(
        Household, Household.id == Resident.household_id).where(Resident.bank_id == bank.id)
        .order_by(Household.code, Resident.id)).all()
    for code, household_name, r in rows:
        sheet.append(sheets.row((code, household_name, r.name, r.relation, mask_phone(r.phone), r.reading,
                                 r.pinyin.split(" ")[0], "在册" if r.active else "已停用")))
    return _save(book)


LEDGER_HEADER = ("序号", "发生日期", "记录时间", "账本", "类型", "规则", "规则版本", "居民", "户号",
                 "借方", "贷方", "金额", "居民积分变动", "冲正的序号", "备注", "记录人", "哈希")


def ledger_xlsx(session: Session, bank: Bank) -> bytes:
    """Return the bank's transfers as a workbook, oldest first (points, and money in fen)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("流水")
    sheet.append(sheets.row(LEDGER_HEADER))
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
        sheet.append(sheets.row((
            t.seq, t.occurred_on, t.recorded_at.replace(tzinfo=None), t.ledger, t.kind, t.rule_code or "",
            t.rule_version, who, home, debit, credit, t.amount, signed,
            seqs.get(t.reverses_id) if t.reverses_id else None, t.memo or "", t.recorded_by, t.hash)))
    return _save(book)


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
