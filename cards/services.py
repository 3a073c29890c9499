"""Card services: issue, reissue and revoke cards; find a card by its token; the page it opens.

A card's token is a random secret of 192 bits; only its sha256 is stored, so the token exists
only on the card (and in the answer that issued it). Reissuing a holder's card revokes the old
one in the same transaction: a lost card stops working the moment the new one is printed.

A card issued under a retry key (the API's Idempotency-Key) has a token drawn from the app's
secret key and a random seed, and the seed is kept with the key's outcome: a retry answers the
same token again, while the database alone (seeds, hashes) still opens no card.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select, union_all, update
from sqlalchemy.orm import Session, aliased

from ledger import banks as ledger_banks
from ledger import people as ledger_people
from ground.clock import Clock
from ground.errors import IdempotencyMismatch, NotFound, ValidationError
from ground.i18n import _
from ledger.models import PTS, Account, Household, Resident, Transfer
from ledger.posting import Idempotency
from ledger.residents import resident_problems
from ledger.unit import UnitOfWork
from ground.tenants import Bank

from ledger import periods
from ledger.periods import Period
from reports.notice import gather_notice
from reports.services import content_of, current_notice, get_snapshot

from .models import Card

TOKEN_BYTES = 24  # 192 bits
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # nothing to misread: no 0/O, 1/I/L
TOKEN_IN_TEXT = re.compile(r"(?:/c/)?([A-Za-z0-9_-]{22,64})/?\s*$")
#: A card's short number as a person types it: two fours of NUMBER_ALPHABET, the dash optional.
NUMBER_TYPED = re.compile(r"^[2-9A-HJ-NP-Z]{4}-?[2-9A-HJ-NP-Z]{4}\Z")
#: Months of entries the page shows: this one and the two before; at most so many entries,
#: so the page stays small on a slow phone connection.
MONTHS_SHOWN = 3
ENTRIES_SHOWN = 80
#: The system accounts a holder earns from and is fined into: what counts as earned.
EARNING = ("issued", "penalties")


def digest(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_in(text: str) -> str | None:
    """Return the token in what a scanner typed (the card's URL) or a person pasted, if any."""
    match = TOKEN_IN_TEXT.search((text or "").strip())
    return match.group(1) if match else None


def _new_number(session: Session, bank_id: int) -> str:
    while True:
        raw = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
        number = f"{raw[:4]}-{raw[4:]}"
        if not session.execute(select(Card.id).where(Card.bank_id == bank_id,
                                                     Card.number == number)).first():
            return number


@dataclass(frozen=True)
class IssuedCard:
    """A card just issued, with its token: the one moment the token is known to the server."""

    card: Card
    token: str
    name: str
    household_code: str
    household_name: str


def issue_cards(session: Session, bank: Bank, *, resident_ids: list[int] | None = None,
                household_codes: list[str] | None = None, whole_bank: bool = False, by: str,
                clock: Clock, idem: Idempotency | None = None,
                secret: str | None = None) -> list[IssuedCard]:
    """Issue new cards (revoking the old ones) for residents, households, or the whole bank.

    Household cards exist only when the bank keeps points per household. The whole bank means
    every active resident, and every active household too when points are per household. A
    retry with the same key returns the cards the first one issued, with their tokens, and
    revokes nothing; a key needs the app's `secret` to draw the tokens from (see the module).
    """
    if idem is not None and not secret:
        raise ValueError("a card issued under a retry key needs the app's secret")
    unit = ledger_banks.rulebook(session, bank.id)[1].settings.account_unit
    if household_codes and unit != "household":
        raise ValidationError({"households": [_("本村积分以个人为单位，不发户卡")]})
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return _issued_before(session, uow.replayed.data["cards"], secret)
        residents, households = _holders(session, bank, resident_ids, household_codes, whole_bank, unit)
        homes = {h.id: h for h in session.execute(select(Household).where(
            Household.id.in_({r.household_id for r in residents} | {h.id for h in households})))
            .scalars()}
        now = clock.now()
        issued, seeds = [], []
        for holder in [*households, *residents]:
            is_home = isinstance(holder, Household)
            column = Card.household_id if is_home else Card.resident_id
            session.execute(update(Card).where(Card.bank_id == bank.id, column == holder.id,
                                               Card.revoked_at.is_(None))
                            .values(revoked_at=now, revoked_by=by))
            if idem is None:
                token = secrets.token_urlsafe(TOKEN_BYTES)
            else:
                seeds.append(secrets.token_urlsafe(16))
                token = _drawn_token(secret, seeds[-1])
            card = Card(bank_id=bank.id, resident_id=None if is_home else holder.id,
                        household_id=holder.id if is_home else None, token_hash=digest(token),
                        number=_new_number(session, bank.id), issued_at=now, issued_by=by)
            session.add(card)
            session.flush()
            home = holder if is_home else homes[holder.household_id]
            issued.append(IssuedCard(card, token, home.name or home.code if is_home else holder.name,
                                     home.code, home.name))
        uow.remember("issued", {"cards": [[i.card.id, seed] for i, seed in zip(issued, seeds)]})
        uow.audit("cards_issue", f"cards:{len(issued)}",
                  {"residents": [r.id for r in residents], "households": [h.code for h in households]})
    return _in_print_order(issued)


def _in_print_order(issued: list[IssuedCard]) -> list[IssuedCard]:
    return sorted(issued, key=lambda i: (i.household_code, i.card.household_id is None, i.card.id))


def _drawn_token(secret: str, seed: str) -> str:
    """Return the token of a card issued under a retry key: as long as a random one, and known
    only to whoever holds both the app's secret and the seed."""
    mac = hmac.new(secret.encode("utf-8"), b"card-token:" + seed.encode("ascii"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:TOKEN_BYTES]).decode("ascii")


def _issued_before(session: Session, kept: list, secret: str) -> list[IssuedCard]:
    """Return the cards a keyed issue made, with their tokens drawn again from their seeds."""
    issued = []
    for card_id, seed in kept:
        card = session.get(Card, card_id)
        token = _drawn_token(secret, seed)
        if digest(token) != card.token_hash:
            # The app's secret changed since: this key can no longer answer what it answered.
            raise IdempotencyMismatch()
        if card.household_id is not None:
            home = session.get(Household, card.household_id)
            name = home.name or home.code
        else:
            resident = session.get(Resident, card.resident_id)
            home, name = session.get(Household, resident.household_id), resident.name
        issued.append(IssuedCard(card, token, name, home.code, home.name))
    return _in_print_order(issued)


def whole_bank_reissue(session: Session, bank: Bank) -> dict[str, int]:
    """Return what printing the whole bank's cards would do: cards issued, and live cards cancelled.

    Asked before the clerk confirms, since every card in the village stops working at once.
    """
    unit = ledger_banks.rulebook(session, bank.id)[1].settings.account_unit
    residents, households = _holders(session, bank, None, None, True, unit)
    live = session.execute(select(func.count()).select_from(Card).where(
        Card.bank_id == bank.id, Card.revoked_at.is_(None),
        Card.resident_id.in_([r.id for r in residents]) |
        Card.household_id.in_([h.id for h in households]))).scalar_one()
    return {"issue": len(residents) + len(households), "cancel": live}


def _holders(session, bank, resident_ids, household_codes, whole_bank, unit):
    if whole_bank:
        residents = list(session.execute(select(Resident).where(
            Resident.bank_id == bank.id, Resident.active.is_(True)).order_by(Resident.id)).scalars())
        households = list(session.execute(select(Household).where(
            Household.bank_id == bank.id, Household.active.is_(True)).order_by(Household.code))
            .scalars()) if unit == "household" else []
        return residents, households
    resident_ids, household_codes = resident_ids or [], household_codes or []
    if not resident_ids and not household_codes:
        raise ValidationError({"residents": [_("请选择居民或住户")]})
    found = {r.id: r for r in session.execute(select(Resident).where(
        Resident.bank_id == bank.id, Resident.id.in_(resident_ids))).scalars()}
    homes = {h.code: h for h in session.execute(select(Household).where(
        Household.bank_id == bank.id, Household.code.in_(household_codes))).scalars()}
    problems = {}
    bad = resident_problems(resident_ids, found, repeats=True, say_which=False)
    if bad:
        problems["residents"] = bad
    bad = [_("户号 %(code)s 不存在或已停用", code=c) for c in household_codes if c not in homes or not homes[c].active]
    if bad:
        problems["households"] = bad
    if problems:
        raise ValidationError(problems)
    return ([found[i] for i in dict.fromkeys(resident_ids)],
            [homes[c] for c in dict.fromkeys(household_codes)])


def revoke_card(session: Session, bank: Bank, *, resident_id: int | None = None,
                household_code: str | None = None, by: str, clock: Clock,
                idem: Idempotency | None = None) -> int:
    """Revoke a holder's card(s) at once; return how many were revoked (a retry with the same
    key, what the first one revoked)."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return uow.replayed.data["revoked"]
        if resident_id is not None:
            holder = ledger_people.get_resident(session, bank, resident_id)
            column = Card.resident_id
        else:
            holder = ledger_people.find_household(session, bank, household_code or "")
            if holder is None:
                raise NotFound(_("找不到该住户"))
            column = Card.household_id
        count = session.execute(update(Card).where(Card.bank_id == bank.id, column == holder.id,
                                                   Card.revoked_at.is_(None))
                                .values(revoked_at=clock.now(), revoked_by=by)).rowcount
        uow.remember("revoked", {"revoked": count})
        uow.audit("card_revoke", f"{'resident' if resident_id is not None else 'household'}:{holder.id}",
                  {"revoked": count})
    return count


def find_card(session: Session, token: str) -> Card | None:
    """Return the live card with this token, or None (unknown, revoked, or not a token at all)."""
    if not token or len(token) > 64:
        return None
    return session.execute(_LIVE_CARD, {"hash": digest(token)}).scalar_one_or_none()


# The statements every card page runs, built once: building one costs more than running it.
_LIVE_CARD = select(Card).where(Card.token_hash == bindparam("hash"), Card.revoked_at.is_(None))


def card_named(session: Session, bank: Bank, text: str) -> Card | None:
    """Return the card a scanned token (or its URL) or a typed short number names, live or revoked:
    by number among this bank's cards (the latest), by token among every bank's; or None."""
    text = (text or "").strip()
    if NUMBER_TYPED.match(text.upper()):
        number = text.upper()
        number = number if "-" in number else f"{number[:4]}-{number[4:]}"
        return session.execute(select(Card).where(Card.bank_id == bank.id, Card.number == number)
                               .order_by(Card.id.desc()).limit(1)).scalar_one_or_none()
    if (token := token_in(text)) is not None:
        return session.execute(select(Card).where(Card.token_hash == digest(token))).scalar_one_or_none()
    return None


def card_holder(session: Session, bank: Bank, token: str) -> Resident | Household | None:
    """Return whom a scanned card belongs to in this bank, or None."""
    card = find_card(session, token)
    if card is None or card.bank_id != bank.id:
        return None
    if card.resident_id is not None:
        return session.get(Resident, card.resident_id)
    return session.get(Household, card.household_id)


# --- the page a card opens -----------------------------------------------------------------------

def _month_start(day: date, back: int = 0) -> date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def card_page(session: Session, card: Card, *, clock: Clock) -> dict:
    """Return what a card's page shows: the holder, balances, recent entries, rank, the desk.

    Nothing about any other resident but the holder's rank among them.
    """
    bank, head, book = ledger_banks.bank_with_rulebook(session, card.bank_id)
    unit = book.settings.account_unit
    today = clock.today()
    household, resident, members = _holder(session, card)
    name = resident.name if resident is not None else household.name or household.code
    doers = [resident.id] if resident is not None else members
    codes = [f"household:{household.id}"] + [f"resident:{m}" for m in members]
    held, earning = _accounts(session, bank.id, codes)
    home_account = held.get(f"household:{household.id}")
    if unit == "household":
        holder = home_account
        balance = home_account.balance if home_account else 0
        household_balance = balance
    else:
        # Household cards exist only when points are per household: here the card is a resident's.
        holder = held.get(f"resident:{resident.id}")
        balance = holder.balance if holder else 0
        household_balance = sum(a.balance for c, a in held.items() if c.startswith("resident:"))
    since = _month_start(today, MONTHS_SHOWN - 1)
    entries = _entries(session, bank, doers, since, {a.id for a in held.values()}, book,
                       earning=earning)
    truncated = len(entries) > ENTRIES_SHOWN
    entries = entries[:ENTRIES_SHOWN]
    months = []
    for back in range(MONTHS_SHOWN):
        start = _month_start(today, back)
        rows = [e for e in entries if e["month"] == (start.year, start.month)]
        # The month's figure is what was earned (less penalties), as the notice ranks it: points
        # spent at the desk are not a month's score going down.
        months.append({"start": start, "entries": rows,
                       "earned": sum(e["points"] for e in rows if e["earned"])})
    notice = current_notice(session, bank)
    ranks = month_ranks(session, bank, periods.period_of("month", today), book, head=head,
                        frozen=notice is not None and notice["month"] == periods.month_key(today))
    ranked = ranks["households" if unit == "household" else "residents"]
    place, score = ranked["of"].get(household.id if unit == "household" else resident.id, (None, 0))
    rank = {"place": place, "of": ranked["count"], "unit": unit, "score": score}
    return {"bank": bank, "card": card, "name": name, "notice": notice,
            "resident": resident, "household": household, "unit": unit, "balance": balance,
            "household_balance": household_balance, "months": months, "truncated": truncated,
            "rank": rank, "settings": book.settings, "rules": book, "today": today,
            "members": members, "doers": doers}


def _holder(session: Session, card: Card) -> tuple[Household, Resident | None, list[int]]:
    # The household, the resident holding the card (None for a household's card) and the ids of
    # every resident registered in the household, in one statement.
    if card.resident_id is not None:
        rows = session.execute(_RESIDENTS_HOME, {"resident": card.resident_id}).all()
    else:
        rows = session.execute(_HOUSEHOLDS_HOME, {"household": card.household_id}).all()
    household, resident = rows[0][0], rows[0][1]
    return household, resident, [row[2] for row in rows if row[2] is not None]


def _home(household):
    member = aliased(Resident)
    return (select(Household, Resident, member.id).select_from(Household)
            .outerjoin(Resident, Resident.id == bindparam("resident"))
            .outerjoin(member, member.household_id == Household.id)
            .where(Household.id == household).order_by(member.id))


_RESIDENTS_HOME = _home(select(Resident.household_id).where(Resident.id == bindparam("resident"))
                        .scalar_subquery())
# A household's card is nobody's: no resident is joined.
_HOUSEHOLDS_HOME = _home(bindparam("household")).params(resident=None)


def _accounts(session: Session, bank_id: int, codes: list[str]) -> tuple[dict, set[int]]:
    # The holders' accounts by code, and the system accounts earned from (see _earning_sources),
    # in one statement.
    found = session.execute(_ACCOUNTS, {"bank": bank_id, "codes": [*codes, *EARNING]})
    held, earning = {}, set()
    for account in found:
        if account.kind == "system":
            earning.add(account.id)
        else:
            held[account.code] = account
    return held, earning


def _entries(session, bank, doers, since, own_accounts, book, *, earning: set[int]) -> list[dict]:
    if not doers:
        return []
    # Per member, on the index (bank, doer, seq), newest first, the months filtered here: given
    # a date condition, SQLite's planner takes the date index instead and reads every entry of
    # the whole bank in those months. The members' reads are one statement.
    params = {"bank": bank.id, **{f"doer{n}": doer for n, doer in enumerate(doers)}}
    read = session.execute(_entries_of(len(doers)), params).all()
    # A reversal is newer than what it reverses, and made for the same doer: an entry shown
    # here has its reversal among the same rows, if it has one.
    reversed_ids = {t.reverses_id for t in read if t.reverses_id is not None}
    rows = [t for t in read if t.occurred_on >= since]
    out = []
    # Newest first by the day it happened (entries are often logged a day or two late).
    for t in sorted(rows, key=lambda t: (t.occurred_on, t.seq), reverse=True):
        if t.credit_id in own_accounts:
            points, other = t.amount, t.debit_id
        elif t.debit_id in own_accounts:
            points, other = -t.amount, t.credit_id
        else:
            continue
        rule = book.rule_for(t.rule_code, t.occurred_on) if t.rule_code else None
        if t.kind == "reversal":
            what = _("冲正：%(rule)s", rule=rule.name) if rule else _("冲正")
        elif t.kind == "redemption":
            what = t.memo or _("兑换")
        elif rule is not None:
            what = rule.name
        else:
            what = t.rule_code or t.kind
        reversed_ = t.id in reversed_ids
        out.append({"id": t.id, "day": t.occurred_on, "month": (t.occurred_on.year, t.occurred_on.month),
                    "what": what, "points": points, "kind": t.kind, "doer": t.doer_id,
                    "earned": other in earning, "reversed": reversed_,
                    # Neither a reversed entry nor a reversal is objected to: the entry is undone.
                    "objectable": not reversed_ and t.kind != "reversal"})
    return out


_ACCOUNTS = select(Account.id, Account.code, Account.kind, Account.balance).where(
    Account.bank_id == bindparam("bank"), Account.ledger == PTS,
    Account.code.in_(bindparam("codes", expanding=True)))


@functools.lru_cache(maxsize=32)
def _entries_of(doers: int):
    # The latest entries of each of so many doers (parameters doer0, doer1 ...), one statement.
    reads = [select(Transfer.id, Transfer.seq, Transfer.occurred_on, Transfer.debit_id,
                    Transfer.credit_id, Transfer.amount, Transfer.kind, Transfer.rule_code,
                    Transfer.memo, Transfer.doer_id, Transfer.reverses_id)
             .where(Transfer.bank_id == bindparam("bank"), Transfer.doer_id == bindparam(f"doer{n}"),
                    Transfer.ledger == PTS)
             .order_by(Transfer.seq.desc()).limit(ENTRIES_SHOWN + 1) for n in range(doers)]
    return reads[0] if doers == 1 else union_all(*(read.subquery().select() for read in reads))


_ranks_cache: dict[tuple, tuple[str, float, dict]] = {}
_ranks_lock = threading.Lock()
_ranks_building = threading.Lock()
#: How long a month's ranks are kept while no entry moves the chain head: a resident registered
#: or retired moves no head, and is counted (共 N 人) within this many seconds.
RANKS_KEPT_S = 60


def month_ranks(session: Session, bank: Bank, month: Period, book, *, head: str | None = None,
                frozen: bool = False) -> dict:
    """Return the month's ranks as its notice gives them: for "residents" and "households",
    `of` ({id: (rank, net)}) and `count` (how many the notice ranks).

    From the frozen notice when `frozen` (the caller knows it is out); else as the notice would
    rank the month now (reports.notice.gather_notice), cached per bank until its chain head
    moves (or for `RANKS_KEPT_S`), so a busy morning does not build the month for every card.
    """
    if frozen:
        snapshot = get_snapshot(session, bank.id, "notice", month.key)
        if snapshot is not None:
            return _ranks_of(content_of(snapshot))
    key = (bank.id, month.key)
    # The chain head's hash names the ledger's whole content: a new entry anywhere changes it.
    if head is None:
        head = session.execute(select(Bank.head_hash).where(Bank.id == bank.id)).scalar_one()
    with _ranks_lock:
        cached = _ranks_cache.get(key)
    if cached and cached[0] == head and time.monotonic() - cached[1] < RANKS_KEPT_S:
        return cached[2]
    # One build at a time: readers arriving while the month is built wait for it, then read it,
    # rather than each building it again.
    with _ranks_building:
        with _ranks_lock:
            cached = _ranks_cache.get(key)
        now = time.monotonic()
        if cached and cached[0] == head and now - cached[1] < RANKS_KEPT_S:
            return cached[2]
        ranks = _ranks_of(gather_notice(session, bank, month, book, running=True))
        with _ranks_lock:
            if len(_ranks_cache) > 1000:
                _ranks_cache.clear()
            _ranks_cache[key] = (head, now, ranks)
    return ranks


def _ranks_of(notice: dict) -> dict:
    # Only what a card shows of a notice: each row's rank and net, by id.
    return {kind: {"of": {row["id"]: (row["rank"], row["net"]) for row in notice[kind]},
                   "count": len(notice[kind])} for kind in ("residents", "households")}


def holders_overview(session: Session, bank: Bank, *, q: str | None = None,
                     limit: int = 500) -> dict:
    """Return residents (found by name or pinyin) and households, each with its live card, if any."""
    residents = ledger_people.search_residents(session, bank, q, limit=limit, after=None)
    households = list(session.execute(select(Household).where(
        Household.bank_id == bank.id, Household.active.is_(True)).order_by(Household.code)
        .limit(limit)).scalars())
    live = session.execute(select(Card.resident_id, Card.household_id, Card.number, Card.issued_at)
                           .where(Card.bank_id == bank.id, Card.revoked_at.is_(None))).all()
    by_resident = {c.resident_id: c for c in live if c.resident_id is not None}
    by_household = {c.household_id: c for c in live if c.household_id is not None}
    codes = {h.id: h.code for h in households}
    codes.update(dict(session.execute(select(Household.id, Household.code).where(
        Household.id.in_({r.household_id for r in residents}))).all()) if residents else {})
    return {"residents": [{"resident": r, "household": codes.get(r.household_id, ""),
                           "card": by_resident.get(r.id)} for r in residents if r.active],
            "households": [{"household": h, "card": by_household.get(h.id)} for h in households]}


def member_names(session: Session, ids: list[int]) -> list[tuple[int, str]]:
    """Return (id, name) of a household card's members, for choosing who objects."""
    return [(r.id, r.name) for r in session.execute(
        select(Resident).where(Resident.id.in_(ids)).order_by(Resident.id)).scalars()]
