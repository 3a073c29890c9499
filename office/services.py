"""What the clerk's screens need beyond the ledger's services: the rule picker, the teams logged
lately, the county overview and opening a bank from a template.

Writes still go through the ledger's services (ledger.banks, ledger.people, ledger.deeds) and
web.auth for users; this module reads, and opens a bank with its first clerk in one go.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import banks, deeds, names
from ledger.lookup import active_residents
from ground.clock import Clock
from ground.errors import ValidationError
from ground.i18n import _
from ledger.models import PTS, Account, Household, PendingDeed, Resident, Transfer
from ground.tenants import Bank
from rules.model import Rule
from web.auth import create_user, password_problem
from ground.tenants import User

TEMPLATES = Path(__file__).resolve().parent.parent / "seed_data" / "rules"


# --- the rule picker --------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleChoice:
    """A rule as the deed form offers it: what it is worth and what the team may still earn."""

    rule: Rule
    #: Least points any selected resident may still earn under it in its tightest cap, or None.
    remaining: int | None
    keys: str

    @property
    def code(self) -> str:
        return self.rule.code


def rule_choices(session: Session, bank: Bank, *, penalties: bool, resident_ids: list[int],
                 on: date) -> list[tuple[str, list[RuleChoice]]]:
    """Return the rules in force on `on`, grouped by category in file order.

    Deeds or penalties only; each with the allowance left for the selected residents.
    """
    _version, book = banks.rulebook(session, bank.id)
    rules = [r for r in book.in_force(on) if (r.points < 0) == penalties]
    remaining = deeds.remaining_allowances(session, bank, resident_ids, rules, on)
    groups: dict[str, list[RuleChoice]] = {}
    for r in rules:
        initials = "".join(lazy_pinyin(r.name, style=Style.FIRST_LETTER, errors="ignore")).lower()
        groups.setdefault(r.category, []).append(
            RuleChoice(r, remaining.get(r.code), f"{r.code} {initials} {''.join(lazy_pinyin(r.name))}"))
    return list(groups.items())


def match_rule(groups: list[tuple[str, list[RuleChoice]]], q: str) -> list[RuleChoice]:
    """Return the rules a typed search means: by code, name, pinyin or its initials."""
    needle = names.normalize_query(q)
    if not needle:
        return []
    every = [c for _category, choices in groups for c in choices]
    exact = [c for c in every if needle in (c.code, c.rule.name) or needle in c.keys.split()]
    return exact or [c for c in every if needle in c.keys or needle in c.rule.name]


@dataclass(frozen=True)
class Team:
    """Residents logged together for one rule: a patrol team, a clean-up crew."""

    rule: RuleChoice
    residents: list[Resident]


def recent_teams(session: Session, bank: Bank, groups: list[tuple[str, list[RuleChoice]]], *,
                 by: str, limit: int = 5, scan: int = 300) -> list[Team]:
    """Return the teams this user logged lately (newest first), for one click to log them again.

    A team is the deed transfers of one posting (same moment, same form) for two or more
    residents; only rules among `groups` and residents still active are offered.
    """
    rows = session.execute(
        select(Transfer.recorded_at, Transfer.idempotency_key, Transfer.rule_code, Transfer.doer_id)
        .where(Transfer.bank_id == bank.id, Transfer.ledger == PTS, Transfer.kind == "deed",
               Transfer.recorded_by == by, Transfer.doer_id.is_not(None))
        .order_by(Transfer.seq.desc()).limit(scan)).all()
    postings: dict[tuple, list[int]] = {}
    for recorded_at, key, rule_code, doer_id in rows:
        postings.setdefault((recorded_at, key, rule_code), []).append(doer_id)
    offered = {c.code: c for _category, choices in groups for c in choices}
    teams, seen = [], set()
    for (_at, _key, rule_code), doers in postings.items():
        ids = sorted(set(doers))
        if len(ids) < 2 or rule_code not in offered or (rule_code, tuple(ids)) in seen:
            continue
        seen.add((rule_code, tuple(ids)))
        people = active_residents(session, bank, ids)
        if len(people) == len(ids):
            teams.append(Team(offered[rule_code], people))
        if len(teams) == limit:
            break
    return teams


# --- the county overview ----------------------------------------------------------------------

def bank_overview(session: Session, *, clock: Clock) -> list[dict]:
    """Return every bank with its residents, households, points issued this month and outstanding."""
    today = clock.today()
    month_start = today.replace(day=1)
    residents = dict(session.execute(select(Resident.bank_id, func.count()).where(
        Resident.active.is_(True)).group_by(Resident.bank_id)).all())
    households = dict(session.execute(select(Household.bank_id, func.count()).where(
        Household.active.is_(True)).group_by(Household.bank_id)).all())
    issued = dict(session.execute(select(Transfer.bank_id, func.sum(Transfer.amount)).where(
        Transfer.ledger == PTS, Transfer.kind == "deed",
        Transfer.occurred_on.between(month_start, today)).group_by(Transfer.bank_id)).all())
    outstanding = dict(session.execute(select(Account.bank_id, func.sum(Account.balance)).where(
        Account.ledger == PTS, Account.kind.in_(("resident", "household")))
        .group_by(Account.bank_id)).all())
    pending = dict(session.execute(select(PendingDeed.bank_id, func.count()).where(
        PendingDeed.status == "pending").group_by(PendingDeed.bank_id)).all())
    return [{"bank": b, "residents": residents.get(b.id, 0), "households": households.get(b.id, 0),
             "issued_this_month": int(issued.get(b.id) or 0),
             "outstanding": int(outstanding.get(b.id) or 0), "pending": pending.get(b.id, 0)}
            for b in session.execute(select(Bank).order_by(Bank.code)).scalars()]


def rule_templates() -> list[dict]:
    """Return the rule files a new bank can start from (seed_data/rules/*.yaml)."""
    out = []
    for path in sorted(TEMPLATES.glob("*.yaml")):
        first = next((line.lstrip("# ").strip() for line in path.read_text("utf-8").splitlines()
                      if line.startswith("#") and line.strip("# ")), path.stem)
        out.append({"name": path.stem, "title": first})
    return out


def open_bank(session: Session, *, code: str, name: str, template: str, clerk: str | None,
              password: str | None, by: str, clock: Clock) -> Bank:
    """Open a bank from a rule template, and its first clerk if one is named.

    Everything is checked before anything is written, so a bad clerk name opens no bank.
    """
    problems: dict[str, list[str]] = {}
    templates = {t["name"] for t in rule_templates()}
    if template not in templates:
        problems["template"] = [_("请选择一个规则模板")]
    clerk = (clerk or "").strip()
    if clerk:
        if len(clerk) > 80:
            problems["clerk"] = [_("用户名最长 80 个字符")]
        elif session.execute(select(User.id).where(User.name == clerk)).first():
            problems["clerk"] = [_("用户 %(name)s 已存在", name=clerk)]
        if (refused := password_problem(password)) is not None:
            problems["password"] = [refused]
    if problems:
        raise ValidationError(problems)
    path = TEMPLATES / f"{template}.yaml"
    bank = banks.create_bank(session, (code or "").strip(), (name or "").strip(),
                             rules_text=path.read_text("utf-8"), source_name=path.name, by=by,
                             clock=clock)
    if clerk:
        create_user(session, clerk, bank_code=bank.code, role="clerk", password=password, clock=clock,
                    by=by)
    return bank
