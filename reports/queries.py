"""Read-only queries the reports share: rules by version, signed movements, balances on a date."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased, defer

import rules as rulefiles
from ledger.models import PTS, Account, RuleVersion, Transfer
from ledger.banks import parsed_version

#: Kinds of transfer that move a resident's points for a deed or a breach of the rules.
DEED_KINDS = ("deed", "penalty")


class RuleLookup:
    """Find the rule a transfer was posted under, by code and rule version."""

    def __init__(self, session: Session, bank_id: int):
        self._books = {v.version: parsed_version(v) for v in session.execute(
            select(RuleVersion).options(defer(RuleVersion.content))
            .where(RuleVersion.bank_id == bank_id)).scalars()}
        self.latest = self._books[max(self._books)] if self._books else None

    def rule(self, code: str | None, version: int | None, on: date) -> rulefiles.Rule | None:
        """Return the rule, preferring the version named, then the latest that knows the code."""
        if code is None:
            return None
        for book in ([self._books.get(version)] if version in self._books else []) + \
                [self._books[v] for v in sorted(self._books, reverse=True)]:
            found = book.rule_for(code, on) or next((r for r in book.rules if r.code == code), None)
            if found:
                return found
        return None

    def name(self, code: str | None, version: int | None, on: date) -> str:
        rule = self.rule(code, version, on)
        return rule.name if rule else (code or "")


def signed_points_column(original_kind):
    """A SQL expression: a transfer's points as the doer sees them (+ deed, − penalty, reversals mirrored)."""
    return case(
        (Transfer.kind == "deed", Transfer.amount),
        (Transfer.kind == "penalty", -Transfer.amount),
        ((Transfer.kind == "reversal") & (original_kind == "deed"), -Transfer.amount),
        ((Transfer.kind == "reversal") & (original_kind == "penalty"), Transfer.amount),
        else_=0)


def original_alias():
    return aliased(Transfer)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants where a local day starts and the next one starts."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
    return start, end


def balances_now(session: Session, bank_id: int) -> dict[str, int]:
    """Return every resident's and household's points balance as it stands, by account code:
    the month still running's balances so far, read from the accounts, not added up."""
    return dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank_id, Account.ledger == PTS, Account.kind != "system")).all())


def balances_on(session: Session, bank_id: int, day: date) -> dict[str, int]:
    """Return every resident's and household's points balance at the end of `day`, by account code."""
    moved: dict[int, int] = {}
    for column, sign in ((Transfer.credit_id, 1), (Transfer.debit_id, -1)):
        for account_id, total in session.execute(
                select(column, func.sum(Transfer.amount)).where(
                    Transfer.bank_id == bank_id, Transfer.ledger == PTS, Transfer.occurred_on <= day)
                .group_by(column)).all():
            moved[account_id] = moved.get(account_id, 0) + sign * int(total)
    codes = dict(session.execute(select(Account.id, Account.code).where(
        Account.bank_id == bank_id, Account.ledger == PTS, Account.kind != "system")).all())
    return {code: moved.get(account_id, 0) for account_id, code in codes.items()}
