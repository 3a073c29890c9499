"""The posting path's own database helpers: statements compiled once and run on the driver,
writes sent together, the lock read once per transaction, and the summary read in two statements.

Each is checked against what the ORM or the plain JSON encoder would have done.
"""
from __future__ import annotations

import json
import random
import string
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from ground import audit
from ledger import banks, chain, deeds, reading
from ground.audit import AuditEntry
from ground.clock import FixedClock
from ground.db import transaction
from ground.store import Prepared, pipelined
from ledger.models import IdempotencyRecord, Transfer
from ledger.posting import lock_chain, locked_rules

from ..conftest import RULES


def test_a_prepared_insert_stores_exactly_what_the_orm_stores(session, make, clock):
    bank = make.bank()
    at = datetime(2026, 10, 15, 10, 0, 0, 1234, tzinfo=timezone(timedelta(hours=8)))
    with transaction(session):
        session.add(AuditEntry(bank_id=bank.id, at=at, actor="orm", action="t", subject="s"))
        session.flush()
        audit.record(session, bank_id=bank.id, actor="prepared", action="t", subject="s",
                     clock=FixedClock(at=at))
    stored = dict(session.execute(text("SELECT actor, at FROM audit_log WHERE action = 't'")).all())
    assert stored["orm"] == stored["prepared"]
    read = {e.actor: e.at for e in session.execute(select(AuditEntry).where(AuditEntry.action == "t")).scalars()}
    assert read["orm"] == read["prepared"]


def test_a_prepared_statement_raises_sqlalchemys_errors_and_rows_have_names(session, make, clock):
    bank = make.bank()
    add = Prepared(insert(IdempotencyRecord.__table__),
                   columns=["bank_id", "key", "request_hash", "status", "outcome", "created_at"])
    row = {"bank_id": bank.id, "key": "k1", "request_hash": "h", "status": 201, "outcome": "{}",
           "created_at": clock.now()}
    with transaction(session):
        add.execute(session, row)
    with pytest.raises(IntegrityError):
        with transaction(session):
            add.execute(session, row)
    table = IdempotencyRecord.__table__
    read = Prepared(select(table.c.key, table.c.status).where(table.c.bank_id == bank.id))
    [found] = read.rows(session)
    assert (found.key, found.status) == ("k1", 201)


def test_writes_sent_together_fail_together(session, make, clock):
    """An error inside a pipelined block surfaces as SQLAlchemy's, and the transaction keeps nothing."""
    bank = make.bank()
    add = Prepared(insert(IdempotencyRecord.__table__),
                   columns=["bank_id", "key", "request_hash", "status", "outcome", "created_at"])
    row = {"bank_id": bank.id, "request_hash": "h", "status": 201, "outcome": "{}",
           "created_at": clock.now()}
    with pytest.raises(IntegrityError):
        with transaction(session):
            with pipelined(session):
                add.execute(session, {**row, "key": "a"})
                add.execute(session, {**row, "key": "b"})
                add.execute(session, {**row, "key": "a"})
    assert session.execute(select(IdempotencyRecord)).first() is None
    with transaction(session):
        with pipelined(session):
            add.execute(session, {**row, "key": "a"})
            add.execute(session, {**row, "key": "b"})
    assert session.execute(text("SELECT count(*) FROM idempotency_records")).scalar() == 2


def test_the_lock_is_read_once_per_transaction_and_never_reused_after_it(app, session, make, clock):
    bank = make.bank()
    zhang = make.resident(bank)
    with transaction(session):
        first = lock_chain(session, bank.id)
        assert locked_rules(session, bank.id)[0] == 1
        assert lock_chain(session, bank.id) == first
    # Another connection loads new rules: the next transaction must see them, not the old read.
    other = app.extensions["zongzhi.sessions"]()
    banks.load_rules(other, other.get(type(bank), bank.id), RULES.replace("points: 3", "points: 4"),
                     source_name="v2.yaml", by="t", clock=clock)
    other.close()
    assert locked_rules(session, bank.id) is None
    outcome = deeds.post_deed(session, bank, rule_code="cleanup", resident_ids=[zhang.id],
                              quantity=1, occurred_on=clock.today(), memo=None, by="t", clock=clock)
    [posted] = outcome.transfers
    assert (posted.rule_version, posted.amount, posted.seq) == (2, 4, 1)
    stored = session.get(Transfer, posted.id)
    assert (stored.hash, stored.prev_hash, stored.amount) == (posted.hash, posted.prev_hash, 4)


def test_loading_rules_under_the_lock_is_seen_by_the_same_transaction(session, make, clock):
    bank = make.bank()
    with transaction(session):
        lock_chain(session, bank.id)
        assert banks.rulebook(session, bank.id)[0].version == 1
        book = banks._parse_rules(RULES.replace("points: 3", "points: 5"), "v2.yaml")
        banks._add_rule_version(session, bank, book, "v2.yaml", by="t", clock=clock)
        version, rules = banks.rulebook(session, bank.id)
        assert version.version == 2 and rules.rule_for("cleanup", clock.today()).points == 5


def test_the_summary_adds_the_household_members_and_only_this_months_deeds(session, make, clock):
    bank = make.bank()
    home = make.household(bank, "A1", "王家")
    wang, wife = make.resident(bank, "王五", home), make.resident(bank, "李梅", home)
    stranger = make.resident(bank, "赵六")
    make.deed(bank, "cleanup", [wang], quantity=2)                        # 6, this month
    make.deed(bank, "cleanup", [wang], occurred_on=date(2026, 9, 30))     # 3, last month
    make.deed(bank, "cleanup", [wife])                                    # 3, the wife's
    make.deed(bank, "cleanup", [stranger])                                # another household
    make.deed(bank, "litter", [wang])                                  # a penalty
    summary = reading.account_summary(session, bank, wang.id, clock=clock)
    penalty = -banks.rulebook(session, bank.id)[1].rule_for("litter", clock.today()).points
    assert summary["balance"] == 9 - penalty
    assert summary["household_balance"] == 9 - penalty + 3
    assert (summary["earned_this_month"], summary["penalties_this_month"]) == (6, penalty)
    assert (summary["household"], summary["account"]) == ("A1", f"resident:{wang.id}")
    other = make.bank("other")
    with pytest.raises(Exception) as missing:
        reading.account_summary(session, other, wang.id, clock=clock)
    assert missing.value.code == "not_found"


def test_the_canonical_encoding_is_the_standard_encoders_byte_for_byte():
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=chain._plain).encode
    rng = random.Random(2026)
    alphabet = string.printable + "中文𠮷䶮\x00\x1f\u2028\"\\"
    samples = [(1, None, True, False, 10**20, -5, "", "𠮷\n\t\"", date(2026, 2, 28),
                datetime(2026, 1, 2, 3, 4, 5, 6), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8))))]
    for _ in range(500):
        samples.append(tuple(rng.choice([None, rng.randint(-10**15, 10**15), date(2026, 1, 1),
                                         "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))])
                             for _ in range(len(chain.CHAINED_COLUMNS))))
    for values in samples:
        assert chain.canonical(values) == standard(values).encode("utf-8")
    # A time in Beijing and the same moment in UTC are one canonical value.
    assert chain.canonical(samples[0][10:11]) == chain.canonical(samples[0][11:12])


def test_a_large_batch_returns_each_transfer_with_its_own_id_in_order(session, make, clock):
    from ledger import accounts
    from ledger.models import PTS
    from ledger.posting import Draft, legs, post
    from ledger.verify import verify_bank

    bank = make.bank()
    people = [accounts.resident_account(session, make.resident(bank, f"村民{i}")) for i in range(30)]
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    drafts = [Draft(PTS, issued.id, people[i % 30].id, 1 + i % 7, "deed", clock.today())
              for i in range(600)]
    with transaction(session):
        posted = legs(post(session, bank.id, *([d] for d in drafts), by="test", clock=clock))
    assert [p.seq for p in posted] == list(range(1, 601))
    stored = {t.id: t for t in session.execute(select(Transfer)).scalars()}
    assert len(stored) == 600 and {p.id for p in posted} == set(stored)
    assert all((stored[p.id].seq, stored[p.id].hash, stored[p.id].amount) == (p.seq, p.hash, p.amount)
               for p in posted)
    assert verify_bank(session, bank).ok


def test_a_lock_taken_outside_a_service_is_not_remembered_after_its_commit(app, session, make, clock):
    bank = make.bank()
    zhang = make.resident(bank)
    session.commit()
    assert lock_chain(session, bank.id) == (0, "0" * 64)   # begins a transaction of its own
    session.commit()
    other = app.extensions["zongzhi.sessions"]()
    banks.load_rules(other, other.get(type(bank), bank.id), RULES.replace("points: 3", "points: 4"),
                     source_name="v2.yaml", by="t", clock=clock)
    other.close()
    assert locked_rules(session, bank.id) is None
    assert banks.rulebook(session, bank.id)[0].version == 2
    session.commit()
    [posted] = make.deed(bank, "cleanup", [zhang]).transfers
    assert (posted.seq, posted.rule_version, posted.amount) == (1, 2, 4)


def test_verify_reads_dates_and_times_as_their_canonical_text_on_every_database(session, make):
    from ledger.verify import verify_bank

    bank = make.bank()
    zhang = make.resident(bank)
    moments = [datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc),
               datetime(2026, 10, 15, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8))),
               datetime(2026, 10, 16, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5)))]
    for at in moments:
        clock = FixedClock(at=at)
        deeds.post_deed(session, bank, rule_code="cleanup", resident_ids=[zhang.id], quantity=1,
                        occurred_on=clock.today() - timedelta(days=40), memo="跨年 \"引号\"",
                        by="t", clock=clock)
    report = verify_bank(session, bank)
    assert report.ok and report.transfers == 3, report.problems


def test_locking_a_bank_that_does_not_exist_says_so(session):
    with pytest.raises(LookupError, match="no bank 999999"):
        lock_chain(session, 999999)
    session.rollback()
