"""The quarter's summary and the year's commendation (年表彰), as data.

Rankings come from sealed months only, so they cannot change once printed. Who gets a title
follows the tie rule documented in `reports.ranking`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules as rulefiles
from ledger.models import Household, Resident
from ground.tenants import Bank
from ledger.periods import Period

from .notice import month_movements
from .queries import RuleLookup
from .ranking import TIE_RULE_EN, TIE_RULE_ZH, competition_ranks, top


def redemption_window(cycle: rulefiles.Cycle, quarter: Period) -> tuple[date, date] | None:
    """Return the regular redemption window in a quarter (first and last day), if the rules set one."""
    months = [m for m in cycle.redemption_months if quarter.start.month <= m <= quarter.end.month]
    if not months:
        return None
    opens = date(quarter.start.year, months[0], 1)
    return opens, opens + timedelta(days=cycle.redemption_days - 1)



def commendation_due(cycle: rulefiles.Cycle, year: Period, tz) -> datetime:
    """Return when a year's commendation falls due: the rules' `commendation_month` and
    `commendation_day` of the next year, at `notice_time`."""
    return datetime.combine(date(year.start.year + 1, cycle.commendation_month, cycle.commendation_day),
                            cycle.notice_time, tzinfo=tz)

def summary_months(quarter: Period) -> list[Period]:
    """Return the three months a quarter's summary covers: those of the quarter before it."""
    return quarter.previous().months()


def quarter_summary(notices: dict[str, dict], months: list[str], hashes: dict[str, str]) -> dict:
    """Sum the frozen monthly notices of a quarter per resident and household.

    A resident's balance is the one on the last notice that lists them.
    """
    people: dict[int, dict] = {}
    homes: dict[str, dict] = {}
    for key in months:
        notice = notices.get(key)
        if not notice:
            continue
        for r in notice["residents"]:
            row = people.setdefault(r["id"], {"id": r["id"], "name": r["name"], "household": r["household"],
                                              "earned": 0, "penalties": 0, "net": 0, "balance": None})
            row["earned"] += sum(r["categories"].values())
            row["penalties"] += r["penalties"]
            row["net"] += r["net"]
            row["balance"] = r["balance"]
        for h in notice["households"]:
            row = homes.setdefault(h["code"], {"code": h["code"], "name": h["name"], "net": 0,
                                               "penalties": 0, "balance": 0})
            row["net"] += h["net"]
            row["penalties"] += h["penalties"]
            row["balance"] = h["balance"]
    residents = [{**row, "rank": rank} for rank, row in
                 competition_ranks(people.values(), lambda r: r["net"], lambda r: r["id"])]
    households = [{**row, "rank": rank} for rank, row in
                  competition_ranks(homes.values(), lambda r: r["net"], lambda r: r["code"])]
    return {"months": months, "months_frozen": [k for k in months if k in notices],
            "notice_hashes": {k: hashes[k] for k in months if k in hashes},
            "residents": residents, "households": households,
            "totals": {"earned": sum(r["earned"] for r in residents),
                       "penalties": sum(r["penalties"] for r in residents),
                       "net": sum(r["net"] for r in residents)}}


def year_candidates(*, residents: list[tuple[int, str, int]], households: dict[int, tuple[str, str]],
                    movements, rule_of, categories: tuple[str, ...], on: date) -> tuple[list[dict], list[dict]]:
    """Return per-resident and per-household yearly figures: points per category, total, penalties, deeds."""
    people = {rid: {"id": rid, "name": name, "household_id": hid, "household": households[hid][0],
                    "categories": {c: 0 for c in categories}, "total": 0, "penalties": 0, "deeds": 0}
              for rid, name, hid in residents}
    for m in movements:
        row = people.get(m.resident_id)
        if row is None:
            continue
        rule = rule_of(m.rule_code, m.rule_version, on)
        row["total"] += m.points
        if rule is None:
            continue
        if rule.is_penalty:
            row["penalties"] -= m.points
        else:
            row["deeds"] += m.entries
            if rule.notice != "hidden" and rule.category in row["categories"]:
                row["categories"][rule.category] += m.points
    homes: dict[int, dict] = {}
    for row in people.values():
        hid = row["household_id"]
        home = homes.setdefault(hid, {"id": hid, "code": households[hid][0], "name": households[hid][1],
                                      "categories": {c: 0 for c in categories}, "total": 0,
                                      "penalties": 0, "deeds": 0})
        for c in categories:
            home["categories"][c] += row["categories"][c]
        for k in ("total", "penalties", "deeds"):
            home[k] += row[k]
    return list(people.values()), list(homes.values())


def award(titles, people: list[dict], homes: list[dict]) -> list[dict]:
    """Name each title's awardees by the tie rule: the best `count` (above `min_points`, if set)."""
    awards = []
    for title in titles:
        pool = people if title.unit == "person" else homes
        candidates = [{"id": c["id"], "name": c["name"], "household": c.get("household") or c.get("code"),
                       "points": c["categories"].get(title.category, 0) if title.category else c["total"],
                       "penalties": c["penalties"], "deeds": c["deeds"]} for c in pool]
        threshold = getattr(title, "min_points", None)
        if threshold is not None:
            candidates = [c for c in candidates if c["points"] >= threshold]
        chosen = top(candidates, title.count)
        awards.append({"title": title.name, "unit": title.unit, "category": title.category,
                       "count": title.count, "min_points": threshold,
                       "awardees": [{**c, "place": i} for i, c in enumerate(chosen, start=1)]})
    return awards


def rankings(people: list[dict], homes: list[dict], categories: tuple[str, ...]) -> dict:
    """Return the year's rankings per category (residents) and per household, nonzero rows only."""
    def ranked(rows, score, key):
        chosen = [r for r in rows if score(r)]
        return [{"rank": rank, "id": r["id"], "name": r["name"], "household": r.get("household") or r.get("code"),
                 "points": score(r)} for rank, r in competition_ranks(chosen, score, key)]

    return {"categories": {c: ranked(people, lambda r, c=c: r["categories"][c], lambda r: r["id"])
                           for c in categories},
            "residents": ranked(people, lambda r: r["total"], lambda r: r["id"]),
            "households": ranked(homes, lambda r: r["total"], lambda r: r["code"])}


def gather_year(session: Session, bank: Bank, year: Period, book: rulefiles.RuleBook) -> dict:
    """Read a bank's year from the ledger and build its rankings and awards."""
    residents = list(session.execute(select(Resident.id, Resident.name, Resident.household_id)
                                     .where(Resident.bank_id == bank.id).order_by(Resident.id)).all())
    households = {hid: (code, name) for hid, code, name in session.execute(
        select(Household.id, Household.code, Household.name).where(Household.bank_id == bank.id)).all()}
    lookup = RuleLookup(session, bank.id)
    categories = book.settings.categories
    people, homes = year_candidates(residents=residents, households=households,
                                    movements=month_movements(session, bank.id, year.start, year.end),
                                    rule_of=lookup.rule, categories=categories, on=year.end)
    return {"categories": list(categories), "tie_rule": TIE_RULE_ZH, "tie_rule_en": TIE_RULE_EN,
            "awards": award(book.settings.cycle.titles, people, homes),
            "rankings": rankings(people, homes, categories)}
