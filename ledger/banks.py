"""Banks and their rules: opening a bank, loading rule files, and the rule version in force.

Each write is one unit of work (ledger.unit.UnitOfWork). A stored rule version never changes, so
each is parsed once per process.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

import rules as rulefiles
from rules import bounds
from ground.clock import Clock
from ground.errors import ConflictError, NotFound, ValidationError
from ground.i18n import _
from ground.tenants import Bank

from . import accounts
from .models import RuleVersion
from .posting import locked_rules, reread_lock, rules_in_force
from .unit import UnitOfWork

BANK_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
#: Codes that mean something else where a bank's code is asked for (`--bank all`: every bank).
RESERVED_CODES = frozenset({"all"})


def get_bank(session: Session, code: str) -> Bank:
    """Return the bank with this code, or raise NotFound."""
    bank = session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
    if bank is None:
        raise NotFound(_("找不到该银行"))
    return bank


def create_bank(session: Session, code: str, name: str, *, rules_text: str, source_name: str,
                by: str, clock: Clock) -> Bank:
    """Open a bank with its system accounts and its first rule version."""
    problems = {}
    if not BANK_CODE.match(code or ""):
        problems["code"] = [_("只能包含字母、数字、-、_，最长 40 个字符")]
    elif code.lower() in RESERVED_CODES:
        problems["code"] = [_("%(code)s 有别的意思（--bank all 指每个银行），不能作银行代码", code=code)]
    if not (name or "").strip() or len(name) > 100:
        problems["name"] = [_("名称不能为空，最长 100 个字符")]
    elif why := bounds.text_problem(name, max_len=100):
        problems["name"] = [why]
    if problems:
        raise ValidationError(problems)
    book = _parse_rules(rules_text, source_name)
    with UnitOfWork(session, None, by=by, clock=clock) as uow:
        # Codes that differ only in case would be told apart by nobody reading them aloud.
        if session.execute(select(Bank.id).where(func.lower(Bank.code) == code.lower())).first():
            raise ConflictError(_("银行代码 %(code)s 已存在", code=code), code="bank_exists")
        bank = uow.bank = Bank(code=code, name=name.strip(), created_at=clock.now())
        session.add(bank)
        session.flush()
        accounts.open_system_accounts(session, bank.id)
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        uow.audit("bank_create", f"bank:{bank.id}", {"code": code, "rules_version": version.version})
    return bank


def load_rules(session: Session, bank: Bank, text: str, *, source_name: str, by: str,
               clock: Clock) -> RuleVersion:
    """Install a new rule version for the bank; loading the version in force again is a no-op."""
    book = _parse_rules(text, source_name)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        current = _current_version(session, bank.id)
        if current is not None and current.content_hash == book.content_hash:
            return stored_version(session, bank.id, current.version)
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        uow.audit("rules_load", f"rules:{version.version}",
                  {"hash": version.content_hash, "source": source_name})
        return version


@dataclass(frozen=True)
class RulesInForce:
    """Which of a bank's rule versions is in force: its number and its content hash."""

    version: int
    content_hash: str


def rulebook(session: Session, bank_id: int,
             current: RulesInForce | None = None) -> tuple[RulesInForce, rulefiles.RuleBook]:
    """Return the bank's rule version in force and its parsed rules.

    A caller that read which version is in force along with something else passes it.
    """
    current = current or _current_version(session, bank_id)
    book = _BOOKS.get(current.content_hash)
    if book is None:
        book = parsed_version(stored_version(session, bank_id, current.version))
    return current, book


def bank_with_rulebook(session: Session, bank_id: int) -> tuple[Bank, str, rulefiles.RuleBook]:
    """Return the bank, its chain head's hash as the database has it now, and its parsed rules.

    One statement for what a page reads first; the head is read as a column, so a bank object
    the session already held does not stand in for it.
    """
    bank, head, version, content_hash = session.execute(_BANK_IN_FORCE, {"bank": bank_id}).one()
    _current, book = rulebook(session, bank_id, RulesInForce(version, content_hash)
                              if version is not None else None)
    return bank, head, book


def stored_version(session: Session, bank_id: int, version: int) -> RuleVersion:
    """Return one of the bank's stored rule versions, text and all."""
    return session.execute(select(RuleVersion).where(
        RuleVersion.bank_id == bank_id, RuleVersion.version == version)).scalar_one()


def rule_versions(session: Session, bank_id: int) -> list:
    """Return the bank's rule versions newest first: number, hash, source, when and by whom (not the text)."""
    return list(session.execute(
        select(RuleVersion.version, RuleVersion.content_hash, RuleVersion.source_name,
               RuleVersion.loaded_at, RuleVersion.loaded_by)
        .where(RuleVersion.bank_id == bank_id).order_by(RuleVersion.version.desc())).all())


_IN_FORCE = select(*(in_force.scalar_subquery() for in_force in rules_in_force(bindparam("bank"))))
_BANK_IN_FORCE = select(Bank, Bank.head_hash, *(in_force.scalar_subquery()
                                                for in_force in rules_in_force(Bank.id))
                        ).where(Bank.id == bindparam("bank"))


def _current_version(session: Session, bank_id: int) -> RulesInForce | None:
    # Every deed asks this: under the posting lock the lock's own read has the answer, and
    # otherwise it is one small row. The text is read only by a process that has not parsed
    # that version yet.
    row = locked_rules(session, bank_id) or session.connection().execute(
        _IN_FORCE, {"bank": bank_id}).first()
    return RulesInForce(*row) if row and row[0] is not None else None


#: Parsed rule books by content hash: a version never changes, so each is parsed once.
_BOOKS: dict[str, rulefiles.RuleBook] = {}


def parsed_version(version: RuleVersion) -> rulefiles.RuleBook:
    """Return a stored rule version's parsed rules."""
    book = _BOOKS.get(version.content_hash)
    if book is None:
        if len(_BOOKS) > 1024:
            _BOOKS.clear()
        book = _BOOKS[version.content_hash] = rulefiles.parse(
            version.content, f"rules@{version.content_hash[:12]}")
    return book


def _parse_rules(text: str, source_name: str) -> rulefiles.RuleBook:
    try:
        return rulefiles.parse(text, source_name)
    except rulefiles.RuleFileInvalid as invalid:
        raise ValidationError({"rules": [str(p) for p in invalid.problems]}, _("规则文件有误")) from None


def _add_rule_version(session, bank, book, source_name, *, by, clock) -> RuleVersion:
    latest = _current_version(session, bank.id)
    version = RuleVersion(bank_id=bank.id, version=(latest.version + 1) if latest else 1,
                          content_hash=book.content_hash, content=book.source,
                          source_name=source_name[:255], loaded_at=clock.now(), loaded_by=by)
    session.add(version)
    session.flush()
    reread_lock(session, bank.id)
    return version
