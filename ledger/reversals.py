"""Reversals: an event undone by posting the mirror of its whole entry.

Reversing any transfer reverses the entry it is a leg of (ledger.posting): one new entry whose
legs mirror the originals, each naming its original (`reverses_id`), dated today, with the
reason as memo. Nothing reverses half an event.

What a wing keeps beside the ledger (stock at the desk, a project's figures) is its own to undo
or to defend: the app factory (zongzhi.app.create_app) fills an `Undoers` registry with an
`Undo` per transfer kind, and gives it to every session its factory makes. The ledger asks the
registry; it imports no wing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import AlreadyReversed, ConflictError, NotFound, PeriodSealed
from ground.i18n import _
from ground.tenants import Bank

from . import periods
from .models import Transfer
from .posting import Draft, Idempotency, Posted
from .unit import UnitOfWork

#: Where a session made by the app's factory carries the app's registry (Session.info).
UNDOERS = "zongzhi.undoers"


@dataclass
class Reversal:
    """An entry being reversed, as the wings' `Undo`s see it."""

    bank: Bank
    #: The legs reversed, in chain order: the entry's, and any an `Undo.legs` added.
    originals: list[Transfer]
    reason: str
    by: str
    clock: Clock
    #: Their mirrors as posted, in the same order; empty until the mirror entry is posted.
    mirrors: list[Posted] = field(default_factory=list)

    def mirror_of(self, transfer_id: int | None) -> Posted | None:
        """Return the mirror of one of the originals, once posted."""
        return next((m for m in self.mirrors if m.reverses_id == transfer_id), None)

    @property
    def ids(self) -> set[int]:
        """The ids of the originals."""
        return {t.id for t in self.originals}


class Undo:
    """What a wing does when an entry holding transfers of a kind it registered is reversed.

    Each method is called inside the reversal's transaction, under the bank's posting lock:
    `legs` when the entry has a single leg, then `check` and `apply` once per reversal (an Undo
    registered for several kinds of one entry is still called once). Raising a ZongzhiError
    refuses the reversal, and then nothing at all is written. A subclass overrides what applies
    to it.
    """

    def legs(self, session: Session, bank: Bank, transfer: Transfer) -> list[int]:
        """Return the ids of the other legs of this transfer's event, for a transfer posted before
        entries existed (each then a one-leg entry): they are reversed in the same entry. An
        entry posted since holds all its legs; what this returns that it already holds is ignored."""
        return []

    def check(self, session: Session, reversal: Reversal) -> None:
        """Refuse the reversal, before anything is posted, if the wing's side cannot be undone."""

    def apply(self, session: Session, reversal: Reversal) -> None:
        """Undo the wing's side, once the mirror entry is posted (`reversal.mirrors`)."""


class Undoers:
    """The registry of `Undo`s by transfer kind; the app factory fills it."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Undo] = {}

    def register(self, kind: str, undo: Undo) -> None:
        """Have `undo` called when an entry holding a transfer of this kind is reversed."""
        if self._by_kind.get(kind, undo) is not undo:
            raise ValueError(f"transfers of kind {kind!r} already have an Undo")
        self._by_kind[kind] = undo

    def __contains__(self, kind: str) -> bool:
        return kind in self._by_kind

    def of(self, transfers) -> list[Undo]:
        """Return the Undos the transfers' kinds call for, each once, in the order first met."""
        found: list[Undo] = []
        for t in transfers:
            undo = self._by_kind.get(t.kind)
            if undo is not None and all(undo is not u for u in found):
                found.append(undo)
        return found

    @staticmethod
    def of_session(session: Session) -> "Undoers":
        """Return the registry the app factory gave the session; a session made otherwise has
        none, and a reversal through it is refused (it would skip what the wings must undo)."""
        undoers = session.info.get(UNDOERS)
        if undoers is None:
            raise RuntimeError("this session carries no Undoers: make it with the app's session "
                               "factory, or pass undoers= to reverse_transfer")
        return undoers


def reverse_transfer(session: Session, bank: Bank, transfer_id: int, *, reason: str, by: str,
                     clock: Clock, idem: Idempotency | None = None,
                     undoers: Undoers | None = None) -> Transfer:
    """Reverse the entry a transfer belongs to; return the mirror of that transfer.

    Refused with 409 if the transfer is itself a reversal (cannot_reverse_reversal), if any leg
    of its entry was already reversed (already_reversed), if today's month is sealed
    (period_sealed), if a fund cash account would go below zero (insufficient_funds, the
    database's own check), or if a wing's `Undo` refuses. `undoers` defaults to the registry the
    app factory gave the session.
    """
    undoers = undoers if undoers is not None else Undoers.of_session(session)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            ids = uow.replayed.data
            return session.get(Transfer, ids.get("transfer") or ids["transfers"][0])
        original = session.get(Transfer, transfer_id)
        if original is None or original.bank_id != bank.id:
            raise NotFound(_("找不到该流水"))
        if original.kind == "reversal":
            raise ConflictError(_("冲正记录不能再被冲正，请重新登记"), code="cannot_reverse_reversal")
        today = clock.today()
        if periods.is_sealed(session, bank.id, today):
            key = periods.month_key(today)
            raise PeriodSealed(_("%(month)s 已封账，冲正无法入账", month=key))
        reversal = Reversal(bank, _event(session, bank, original, undoers), reason, by, clock)
        done = session.execute(select(Transfer.reverses_id).where(
            Transfer.reverses_id.in_(reversal.ids)).limit(1)).first()
        if done:
            seq = original.seq if done[0] == original.id else next(
                t.seq for t in reversal.originals if t.id == done[0])
            raise AlreadyReversed(_("流水 %(seq)s 已被冲正", seq=seq))
        undos = undoers.of(reversal.originals)
        for undo in undos:
            undo.check(session, reversal)
        # The reversal is dated today: a closed month stays closed, the correction lands now.
        [mirrors] = uow.post([
            Draft(ledger=t.ledger, debit_id=t.credit_id, credit_id=t.debit_id, amount=t.amount,
                  kind="reversal", occurred_on=today, rule_code=t.rule_code,
                  rule_version=t.rule_version, doer_id=t.doer_id, memo=reason, reverses_id=t.id)
            for t in reversal.originals])
        reversal.mirrors = list(mirrors)
        for undo in undos:
            undo.apply(session, reversal)
        mirror = reversal.mirror_of(original.id)
        uow.remember("posted", {"transfer": mirror.id, "transfers": [m.id for m in mirrors],
                                "pending": []})
        uow.audit("reversal", f"transfer:{original.id}",
                  {"reason": reason, "reversal": mirror.id, "transfers": [m.id for m in mirrors]})
    return session.get(Transfer, mirror.id)


def _event(session: Session, bank: Bank, original: Transfer, undoers: Undoers) -> list[Transfer]:
    """Return the legs of the original's event, in chain order: its entry's, and for a transfer
    posted before entries existed, the legs its wing linked to it."""
    legs = entry_of(session, bank, original)
    if len(legs) == 1:
        more = {i for undo in undoers.of(legs) for i in undo.legs(session, bank, original)} - {original.id}
        if more:
            legs += session.execute(select(Transfer).where(
                Transfer.bank_id == bank.id, Transfer.id.in_(more))).scalars()
            legs.sort(key=lambda t: t.seq)
    return legs


def entry_of(session: Session, bank: Bank, transfer: Transfer) -> list[Transfer]:
    """Return the legs of the entry a transfer belongs to, in chain order."""
    return list(session.execute(select(Transfer).where(
        Transfer.bank_id == bank.id, Transfer.entry_seq == transfer.entry_seq)
        .order_by(Transfer.seq)).scalars())
