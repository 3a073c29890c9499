"""The monthly public notice (月公示): what it shows, built from the ledger as plain data.

`build_notice` is pure: residents, households, each resident's points per rule, the rules and
the month-end balances go in; the notice's rows come out, ranked. `gather_notice` reads those
inputs from the database for one bank and month.

What a row shows follows each rule's `notice` setting: a `full` rule is itemised and counted in
its category; a `category_only` rule only in its category's total (or the penalty total);
a `hidden` rule only in the month's net.

An entry dated in an earlier month but recorded after that month's notice was frozen (a deed
logged late, within the objection window; a correction an objection won) is on no month's
rows: the next notice lists it, one line each, under `late` (补登与更正), so that every entry
reaches a notice board. Notices frozen before that list existed have none.

Two residents of one household with the same name would print as two rows alike: each of them
carries a `mark` (its relation to the head of household when that tells them apart, otherwise
its place in registration order among them). Notices frozen before marks existed have none;
their content, and so their hash, stays as it was frozen.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import rules as rulefiles
from ground.i18n import _
from ledger.models import PTS, Household, Resident, Transfer
from ground.tenants import Bank
from ledger.periods import Period

from .queries import DEED_KINDS, RuleLookup, balances_now, balances_on, original_alias, signed_points_column
from .ranking import competition_ranks

#: How to object: a notice keeps it in Chinese (`render(HOW_TO_OBJECT, "zh")`), as part of what
#: its hash covers; screens and paper show it in the reader's language.
HOW_TO_OBJECT = _("如对本公示有异议，请在异议截止时间前到村综治银行（记分员处）或通过积分卡页面提出，"
                  "写明对哪一条记录或哪一项缺漏有异议及理由；理事会审核后答复，"
                  "确有差错的在本期更正并公示。异议期满后该月封账。")



def notice_due(cycle: rulefiles.Cycle, month: Period, tz) -> datetime:
    """Return when a month's notice falls due: the rules' `notice_day` of the next month, at
    `notice_time` (the monthly job runs then; the month's screen shows it)."""
    return datetime.combine((month.end + timedelta(days=1)).replace(day=cycle.notice_day),
                            cycle.notice_time, tzinfo=tz)

@dataclass(frozen=True)
class Person:
    id: int
    name: str
    household_id: int
    active: bool = True
    #: Relation to the head of household (户主, 配偶, 子, ...), as the roster says; may be empty.
    relation: str = ""


@dataclass(frozen=True)
class Home:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Movement:
    """A resident's points under one rule version in the month (signed), and how many entries."""

    resident_id: int
    rule_code: str
    rule_version: int | None
    points: int
    entries: int = 1


def build_notice(*, residents: list[Person], households: list[Home], movements: list[Movement],
                 rule_of, categories: tuple[str, ...], balances: dict[str, int],
                 account_unit: str, on: date) -> dict:
    """Return the notice's rows: residents and households, each ranked by the month's net.

    `rule_of(code, version, on)` returns the Rule a movement was posted under. Equal nets share
    a rank; residents are then listed by id, households by code.
    """
    by_resident: dict[int, dict] = {}
    for m in movements:
        row = by_resident.setdefault(m.resident_id, _blank(categories))
        rule = rule_of(m.rule_code, m.rule_version, on)
        row["net"] += m.points
        row["entries"] += m.entries
        if rule is None or rule.notice == "hidden":
            continue
        if rule.is_penalty:
            row["penalties"] += m.points
        else:
            row["categories"][rule.category] = row["categories"].get(rule.category, 0) + m.points
        if rule.notice == "full":
            row["details"][rule.name] = row["details"].get(rule.name, 0) + m.points
    homes = {h.id: h for h in households}
    shown = [p for p in residents if p.active or p.id in by_resident
             or balances.get(f"resident:{p.id}", 0)]
    person_rows = []
    for p in shown:
        row = by_resident.get(p.id) or _blank(categories)
        own = balances.get(f"resident:{p.id}", 0)
        person_rows.append({
            "id": p.id, "name": p.name, "household": homes[p.household_id].code,
            "categories": {c: row["categories"].get(c, 0) for c in categories},
            "details": [{"rule": name, "points": pts} for name, pts in sorted(row["details"].items()) if pts],
            "penalties": row["penalties"], "net": row["net"],
            "balance": own if account_unit == "person" else None,
        })
    for row, mark in tell_apart(shown, homes).items():
        person_rows[row]["mark"] = mark
    ranked = competition_ranks(person_rows, lambda r: r["net"], lambda r: r["id"])
    residents_out = [{**row, "rank": rank} for rank, row in ranked]

    members: dict[int, list[dict]] = {}
    for row, p in zip(person_rows, shown):
        members.setdefault(p.household_id, []).append(row)
    home_rows = []
    for home in households:
        rows = members.get(home.id, [])
        if not rows and not balances.get(f"household:{home.id}", 0):
            continue
        home_rows.append({
            "id": home.id, "code": home.code, "name": home.name, "members": len(rows),
            "categories": {c: sum(r["categories"][c] for r in rows) for c in categories},
            "penalties": sum(r["penalties"] for r in rows), "net": sum(r["net"] for r in rows),
            "balance": balances.get(f"household:{home.id}", 0)
            + sum(balances.get(f"resident:{r['id']}", 0) for r in rows),
        })
    ranked_homes = competition_ranks(home_rows, lambda r: r["net"], lambda r: r["code"])
    households_out = [{**row, "rank": rank} for rank, row in ranked_homes]
    earned = sum(sum(r["categories"].values()) for r in residents_out)
    totals = {"residents": len(residents_out), "households": len(households_out), "earned": earned,
              "penalties": sum(r["penalties"] for r in residents_out),
              "net": sum(r["net"] for r in residents_out),
              "categories": {c: sum(r["categories"][c] for r in residents_out) for c in categories}}
    return {"residents": residents_out, "households": households_out, "totals": totals}


def tell_apart(people: list[Person], homes: dict[int, Home]) -> dict[int, dict]:
    """Return a mark for each of `people` (by index) whose row would read like another's: the
    same name in the same household. The mark is the relation to the head of household when
    every one of them has a different one, else the place in registration order among them
    (1, 2, ...). People with nobody alike get no mark."""
    alike: dict[tuple[str, str], list[int]] = {}
    for i, p in enumerate(people):
        alike.setdefault((p.name, homes[p.household_id].code), []).append(i)
    marks = {}
    for group in alike.values():
        if len(group) < 2:
            continue
        relations = [people[i].relation.strip() for i in group]
        by_relation = all(relations) and len(set(relations)) == len(relations)
        for order, i in enumerate(sorted(group, key=lambda i: people[i].id), start=1):
            marks[i] = {"relation": people[i].relation.strip()} if by_relation else {"order": order}
    return marks


def _blank(categories) -> dict:
    return {"categories": {}, "details": {}, "penalties": 0, "net": 0, "entries": 0}


def month_movements(session: Session, bank_id: int, start: date, end: date) -> list[Movement]:
    """Return each resident's signed points per rule version for entries dated start..end."""
    original = original_alias()
    signed = signed_points_column(original.kind)
    rows = session.execute(
        select(Transfer.doer_id, Transfer.rule_code, Transfer.rule_version, func.sum(signed),
               func.count())
        .outerjoin(original, original.id == Transfer.reverses_id)
        .where(Transfer.bank_id == bank_id, Transfer.ledger == PTS, Transfer.doer_id.is_not(None),
               Transfer.occurred_on.between(start, end),
               Transfer.kind.in_(DEED_KINDS) | ((Transfer.kind == "reversal")
                                                & original.kind.in_(DEED_KINDS)))
        .group_by(Transfer.doer_id, Transfer.rule_code, Transfer.rule_version)).all()
    return [Movement(doer, code, version, int(points), int(count))
            for doer, code, version, points, count in rows]


def gather_notice(session: Session, bank: Bank, month: Period, book: rulefiles.RuleBook, *,
                  running: bool = False) -> dict:
    """Read one bank's month from the database and build the notice's rows; a month still
    `running` shows the balances as they stand (no month end to add them up to)."""
    residents = [Person(*row) for row in session.execute(
        select(Resident.id, Resident.name, Resident.household_id, Resident.active, Resident.relation)
        .where(Resident.bank_id == bank.id).order_by(Resident.id)).all()]
    households = [Home(*row) for row in session.execute(
        select(Household.id, Household.code, Household.name)
        .where(Household.bank_id == bank.id).order_by(Household.code)).all()]
    lookup = RuleLookup(session, bank.id)
    return build_notice(residents=residents, households=households,
                        movements=month_movements(session, bank.id, month.start, month.end),
                        rule_of=lookup.rule, categories=book.settings.categories,
                        balances=(balances_now(session, bank.id) if running
                                  else balances_on(session, bank.id, month.end)),
                        account_unit=book.settings.account_unit, on=month.end)


def late_entries(session: Session, bank_id: int, month: Period, head_seq: int,
                 notice_heads: dict[str, int], rule_of) -> list[dict]:
    """Return the entries this month's notice lists as late: dated in an earlier month whose
    notice was frozen before they were recorded, and recorded since the notice before this one.

    `notice_heads` maps each frozen notice's month ("2026-10") to the chain head it was frozen
    at; `rule_of(code, version, on)` returns the Rule an entry was posted under. Each line says
    who, when, what (as the rule's `notice` setting allows) and the points, signed.
    """
    earlier = [seq for key, seq in notice_heads.items() if key < month.key]
    if not earlier:
        return []
    original = original_alias()
    rows = session.execute(
        select(Transfer.seq, Transfer.occurred_on, Transfer.doer_id, Transfer.kind,
               func.coalesce(original.rule_code, Transfer.rule_code),
               func.coalesce(original.rule_version, Transfer.rule_version),
               signed_points_column(original.kind), Resident.name, Household.code)
        .outerjoin(original, original.id == Transfer.reverses_id)
        .join(Resident, Resident.id == Transfer.doer_id)
        .join(Household, Household.id == Resident.household_id)
        .where(Transfer.bank_id == bank_id, Transfer.ledger == PTS, Transfer.doer_id.is_not(None),
               Transfer.occurred_on < month.start, Transfer.seq > max(earlier), Transfer.seq <= head_seq,
               Transfer.kind.in_(DEED_KINDS) | ((Transfer.kind == "reversal")
                                                & original.kind.in_(DEED_KINDS)))
        .order_by(Transfer.seq)).all()
    out = []
    for seq, on, doer, kind, code, version, points, name, household in rows:
        own_head = notice_heads.get(f"{on.year:04d}-{on.month:02d}")
        if own_head is None or seq <= own_head:
            continue  # on its own month's notice, or on one still to come
        rule = rule_of(code, version, on)
        if rule is None or rule.notice == "hidden":
            what = ""
        elif rule.notice == "full":
            what = rule.name
        else:  # its category, or for a penalty nothing more than that it is one
            what = "" if rule.is_penalty else rule.category
        out.append({"seq": seq, "occurred_on": on.isoformat(), "resident": doer, "name": name,
                    "household": household, "what": what, "penalty": bool(rule and rule.is_penalty),
                    "reversal": kind == "reversal", "points": int(points)})
    return out
