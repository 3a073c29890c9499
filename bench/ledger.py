"""Benchmark of the ledger on a synthetic county, every figure next to a baseline from the same run.

What it builds (per backend): banks opened through ``ledger.banks.create_bank``, households,
residents and their points accounts inserted in bulk, and a history of transfers posted through
``ledger.posting.post`` in batches of 1,000 drafts per transaction, so the hash chains and the
balances are real (``verify_bank`` must pass on them). Most transfers go to one "big" bank,
the rest are spread over the others.

What it measures, each against a baseline:

1. posting through ``ledger.deeds.post_deed`` (single-resident deed, one transaction each) versus a
   plain INSERT of the same transfer row in its own committed transaction, on an engine from
   ``ground.db.make_engine`` (SQLite: WAL + synchronous=FULL; PostgreSQL: its default
   synchronous_commit). The plain INSERT goes into the real ``transfers`` table, so the
   database's own check on every insert (both accounts on the transfer's bank and ledger)
   runs for it too. Target: the service reaches 40% of the raw rate.
2. posting over HTTP (Flask test client, bearer token): a single-resident deed and an
   8-resident team deed, versus the same calls made to the service function directly.
3. balance read latency (``ledger.reading.account_summary``, what the API serves) p50/p99 when the
   big bank holds ~10,000 transfers (the baseline) and again when the database holds all of
   them. The database is copied at 10,000 and the final reads alternate between the copy and
   the full database, so a busy machine slows both sides alike. Target: p99 < 5 ms, and no
   growth with history.
4. ``verify_bank`` on the big bank in transfers/s versus a plain streaming SELECT of the same
   rows without hashing. Target: 100,000 transfers/s.
5. ``write_csv`` and ``write_beancount`` of the big bank versus a streaming SELECT of the rows
   they export.

Two "where the time goes" rows count the statements a post_deed and an account_summary send
(through SQLAlchemy and straight to the driver through ``ground.store.Prepared``) and the time
spent inside the driver, which tells database time from Python time. Each backend
prints the machine's load average: on a shared machine the absolute figures drop, the ratios
(each taken side by side with its baseline) much less. On 2 cores --small takes about a minute
per backend and the default size about ten minutes on SQLite, most of it building.

Run it from the project root:

    .venv/bin/python bench/ledger.py --small                 # ~20 banks, 5,000 residents, 50,000 transfers
    .venv/bin/python bench/ledger.py                         # 200 banks, 100,000 residents, 1,000,000 transfers
    .venv/bin/python bench/ledger.py --small --sqlite-only
    .venv/bin/python bench/ledger.py --postgres-url postgresql://postgres@127.0.0.1:5432/test

The PostgreSQL half runs when --postgres-url is given or ZONGZHI_BENCH_POSTGRES_URL or
ZONGZHI_TEST_POSTGRES_URL is set: it creates a database zongzhi_bench_<pid> next to the one in
the URL and drops it at the end. It runs ANALYZE after each bulk load (as autovacuum would,
soon after, in production); SQLite gets no ANALYZE because the application never runs one.
SQLite lives in a temporary directory that is deleted at the end. The script always exits 0:
it is a report, and it prints PASS/FAIL against the targets.
"""
from __future__ import annotations

import argparse
import functools
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# This file is named like the package it measures: put the project root first and drop bench/
# (which Python puts on the path when the script is run), so `import ledger` is the package.
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from sqlalchemy import create_engine, event, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

import migrations  # noqa: E402
from ledger import banks as ledger_banks, deeds as ledger_deeds, people as ledger_people, reading  # noqa: E402
from ground.clock import FixedClock
from ground.db import make_engine, normalize_url, session_factory, transaction
from ground.store import Prepared
from ledger.export import write_beancount, write_csv  # noqa: E402
from ledger.models import PTS, Account, Household, Resident, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, post  # noqa: E402
from ledger.verify import verify_bank  # noqa: E402

# --- the county --------------------------------------------------------------------------------

#: Wednesday 15 October 2026, 10:00 in the village (the tests' clock).
CLOCK = FixedClock(at=datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc))
TODAY = CLOCK.today()
YESTERDAY = TODAY - timedelta(days=1)

#: The two rules the synthetic county posts under: a patrol by the hour and a clean-up.
RULES = """\
rules:
  - {code: patrol, name: 夜间巡逻, category: 社会治安, points: 2, unit: 小时, caps: {day: 8, month: 60}}
  - {code: cleanup, name: 环境整治, category: 环境卫生, points: 3, unit: 次}
"""

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅春生海燕德文金宝"

BATCH = 1_000          # drafts per post() call, one transaction each
HISTORY_DAYS = 1_000   # the big bank's history spans about this many days
BIG_SHARE = 0.6        # share of all transfers that go to the big bank
RESIDENTS_PER_HOUSEHOLD = 3.5


@dataclass(frozen=True)
class Size:
    banks: int
    residents: int
    transfers: int
    posts: int      # posts per side for figure 1 (HTTP uses half as many requests)
    reads: int      # balance reads per snapshot
    early: int = 10_000  # the big bank's history at the first balance-read snapshot


FULL = Size(banks=200, residents=100_000, transfers=1_000_000, posts=2_000, reads=2_000)
SMALL = Size(banks=20, residents=5_000, transfers=50_000, posts=500, reads=500)


@dataclass
class BankInfo:
    """What the bench needs about one bank: its id and code, residents and their accounts."""

    id: int
    code: str
    issued: int = 0
    penalties: int = 0
    residents: list[int] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)   # resident i's points account


@dataclass
class Row:
    """One line of the final table."""

    backend: str
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    verdict: str


# --- small helpers -----------------------------------------------------------------------------

_START = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", flush=True)


def load() -> str:
    """The machine's load average: figures taken on a busy machine are lower than they should be."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


@functools.lru_cache(maxsize=None)
def search_keys(name: str) -> dict[str, str]:
    return ledger_people.search_keys(name)


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


# --- building ----------------------------------------------------------------------------------

def open_banks(sf, count: int) -> list[BankInfo]:
    """Open `count` banks through the service (bank 0 is the big one) and one for raw inserts."""
    banks = []
    with sf() as session:
        for i in range(count + 1):
            code = "raw-baseline" if i == count else f"v{i:03d}"
            bank = ledger_banks.create_bank(session, code, f"第{i}村综治银行", rules_text=RULES,
                                            source_name="bench.yaml", by="bench", clock=CLOCK)
            info = BankInfo(bank.id, code)
            system = dict(session.execute(select(Account.code, Account.id).where(
                Account.bank_id == bank.id, Account.ledger == PTS)).all())
            info.issued, info.penalties = system["issued"], system["penalties"]
            banks.append(info)
    return banks


def resident_counts(size: Size) -> list[int]:
    """Residents per bank: the big bank twice the average, the others share the rest."""
    big = 2 * size.residents // size.banks
    rest, others = size.residents - big, size.banks - 1
    return [big] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]


def add_residents(sf, bank: BankInfo, count: int, rng: random.Random) -> None:
    """Insert the bank's households, residents and their points accounts in one transaction."""
    now = CLOCK.now()
    households = max(1, round(count / RESIDENTS_PER_HOUSEHOLD))
    with sf() as session, transaction(session):
        home_ids = session.execute(
            insert(Household.__table__).returning(Household.__table__.c.id, sort_by_parameter_order=True),
            [dict(bank_id=bank.id, code=f"H{h:04d}", name=f"{rng.choice(SURNAMES)}家", active=True,
                  created_at=now) for h in range(households)]).scalars().all()
        people = []
        for i in range(count):
            name = person_name(rng)
            phone = f"13{rng.randrange(10**9):09d}" if rng.random() < 0.3 else None
            people.append(dict(bank_id=bank.id, household_id=home_ids[i % households], name=name,
                               phone=phone, active=True, created_at=now, **search_keys(name)))
        bank.residents = session.execute(
            insert(Resident.__table__).returning(Resident.__table__.c.id, sort_by_parameter_order=True),
            people).scalars().all()
        # The same account accounts.resident_account() would open on the resident's first deed.
        bank.accounts = session.execute(
            insert(Account.__table__).returning(Account.__table__.c.id, sort_by_parameter_order=True),
            [dict(bank_id=bank.id, ledger=PTS, code=f"resident:{rid}", name=p["name"], kind="resident",
                  resident_id=rid, household_id=None, balance=0)
             for rid, p in zip(bank.residents, people)]).scalars().all()


def draft_for(bank: BankInfo, rng: random.Random, day: date) -> Draft:
    """A random deed or penalty of one of the bank's residents on `day`."""
    i = rng.randrange(len(bank.residents))
    resident, account = bank.residents[i], bank.accounts[i]
    roll = rng.random()
    if roll < 0.05:
        return Draft(ledger=PTS, debit_id=account, credit_id=bank.penalties, amount=5, kind="penalty",
                     occurred_on=day, rule_code="litter", rule_version=1, doer_id=resident)
    if roll < 0.30:
        return Draft(ledger=PTS, debit_id=bank.issued, credit_id=account, amount=3, kind="deed",
                     occurred_on=day, rule_code="cleanup", rule_version=1, doer_id=resident)
    memo = "夜巡 东片，\"老街\"" if roll > 0.95 else None
    return Draft(ledger=PTS, debit_id=bank.issued, credit_id=account, amount=2 * rng.randint(1, 4),
                 kind="deed", occurred_on=day, rule_code="patrol", rule_version=1, doer_id=resident,
                 memo=memo)


def post_history(sf, bank: BankInfo, days: list[date], rng: random.Random) -> None:
    """Post one transfer per entry of `days` through ledger.posting.post, BATCH per transaction."""
    with sf() as session:
        for start in range(0, len(days), BATCH):
            drafts = [draft_for(bank, rng, day) for day in days[start:start + BATCH]]
            with transaction(session):
                post(session, bank.id, *([d] for d in drafts), by="bench-import", clock=CLOCK)
            session.expunge_all()


def spread(count: int, first: date, last: date) -> list[date]:
    """`count` dates from `first` to `last`, ascending and evenly spread."""
    span = (last - first).days + 1
    return [first + timedelta(days=i * span // count) for i in range(count)] if count else []


def big_bank_plan(size: Size) -> tuple[list[date], list[date]]:
    """The big bank's dates: the first `early` end today, the rest are the older history.

    At a steady daily volume, both snapshots hold the same month-to-date entries, so a
    balance read that only looks at this month costs the same at 10,000 and at 1,000,000.
    """
    big = int(size.transfers * BIG_SHARE)
    per_day = max(1, math.ceil(big / HISTORY_DAYS))
    early = min(size.early, big)
    early_first = TODAY - timedelta(days=math.ceil(early / per_day) - 1)
    old_last = early_first - timedelta(days=1)
    old_first = old_last - timedelta(days=math.ceil((big - early) / per_day) - 1)
    return spread(early, early_first, TODAY), spread(big - early, old_first, old_last)


def analyze(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# --- figure 1 and 2: posting -------------------------------------------------------------------

TRANSFERS = Transfer.__table__


class RawInserter:
    """The baseline: the same transfer row inserted with one plain INSERT per committed transaction.

    It writes to a bank of its own ("raw-baseline") whose chain and balances it does not keep:
    that bank is the one bank of the county that would not verify.
    """

    def __init__(self, engine, bank: BankInfo):
        self.conn = engine.connect()
        self.bank, self.seq = bank, 0
        self.stmt = insert(TRANSFERS)

    def __call__(self, count: int) -> float:
        bank, conn = self.bank, self.conn
        t0 = time.perf_counter()
        for _ in range(count):
            self.seq += 1
            i = self.seq % len(bank.residents)
            with conn.begin():
                conn.execute(self.stmt, dict(
                    bank_id=bank.id, seq=self.seq, ledger=PTS, debit_id=bank.issued,
                    credit_id=bank.accounts[i], amount=3, kind="deed", rule_code="cleanup",
                    rule_version=1, doer_id=bank.residents[i], occurred_on=YESTERDAY,
                    recorded_at=CLOCK.now(), recorded_by="bench", memo=None, reverses_id=None,
                    idempotency_key=None, request_hash=None, entry_seq=self.seq, prev_hash="0" * 64,
                    hash=f"{self.seq:064x}"))
        return time.perf_counter() - t0

    def close(self) -> None:
        self.conn.close()


class ServicePoster:
    """Deeds through ledger.deeds.post_deed, each its own transaction, on one long-lived session."""

    def __init__(self, sf, bank: BankInfo):
        self.session = sf()
        self.bank = self.session.get(Bank, bank.id)
        self.residents, self.next = bank.residents, 0

    def _ids(self, team: int) -> list[int]:
        ids = [self.residents[(self.next + k) % len(self.residents)] for k in range(team)]
        self.next += team
        return ids

    def deeds(self, count: int, team: int = 1) -> float:
        t0 = time.perf_counter()
        for _ in range(count):
            outcome = ledger_deeds.post_deed(self.session, self.bank, rule_code="cleanup",
                                             resident_ids=self._ids(team), quantity=1,
                                             occurred_on=YESTERDAY, memo=None, by="bench", clock=CLOCK)
            assert outcome.posted and len(outcome.transfers) == team
        return time.perf_counter() - t0

    def close(self) -> None:
        self.session.close()


class HttpPoster:
    """The same deeds as POST /api/v1/banks/<bank>/deeds through Flask's test client."""

    def __init__(self, url: str, bank: BankInfo):
        from web.auth import create_token, create_user
        from zongzhi.app import create_app

        self.app = create_app({"DATABASE_URL": url, "CLOCK": CLOCK, "TESTING": True,
                               "SECRET_KEY": "bench"})
        with self.app.extensions["zongzhi.sessions"]() as session:
            create_user(session, "bench-clerk", bank_code=bank.code, role="clerk",
                        password="bench password", clock=CLOCK)
            token = create_token(session, "bench-clerk", clock=CLOCK)
        self.client = self.app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.path = f"/api/v1/banks/{bank.code}/deeds"
        # Start where the service poster will not: the halves of the residents do not overlap.
        self.residents, self.next = bank.residents, len(bank.residents) // 2

    def deeds(self, count: int, team: int = 1) -> float:
        t0 = time.perf_counter()
        for _ in range(count):
            ids = [self.residents[(self.next + k) % len(self.residents)] for k in range(team)]
            self.next += team
            answer = self.client.post(self.path, headers=self.headers, json={
                "rule": "cleanup", "residents": ids, "occurred_on": YESTERDAY.isoformat()})
            assert answer.status_code == 201, answer.get_json()
        return time.perf_counter() - t0

    def close(self) -> None:
        self.app.extensions["zongzhi.engine"].dispose()


def interleaved(a, b, count: int, rounds: int = 5) -> tuple[float, float]:
    """Run `count` operations of each of a and b in alternating rounds; return their total times."""
    ta = tb = 0.0
    for r in range(rounds):
        n = count // rounds + (1 if r < count % rounds else 0)
        ta += a(n)
        tb += b(n)
    return ta, tb


def measure_posting(engine, sf, bank: BankInfo, raw_bank: BankInfo, size: Size) -> dict:
    raw, service = RawInserter(engine, raw_bank), ServicePoster(sf, bank)
    try:
        raw(50)  # warm-up
        service.deeds(50)
        t_service, t_raw = interleaved(service.deeds, raw, size.posts)
    finally:
        raw.close()
        service.close()
    return {"service": rate(size.posts, t_service), "raw": rate(size.posts, t_raw)}


def measure_http(url: str, sf, bank: BankInfo, size: Size) -> dict:
    http, service = HttpPoster(url, bank), ServicePoster(sf, bank)
    singles, teams = size.posts // 2, size.posts // 8
    try:
        http.deeds(20)  # warm-up
        service.deeds(20)
        t_http1, t_svc1 = interleaved(http.deeds, service.deeds, singles)
        t_http8, t_svc8 = interleaved(lambda n: http.deeds(n, team=8),
                                      lambda n: service.deeds(n, team=8), teams)
    finally:
        http.close()
        service.close()
    return {"http1": rate(singles, t_http1), "svc1": rate(singles, t_svc1),
            "http8": rate(teams, t_http8), "svc8": rate(teams, t_svc8)}


# --- figure 3: balance reads -------------------------------------------------------------------

def detached_bank(sf, bank: BankInfo) -> Bank:
    with sf() as session:
        bank_row = session.get(Bank, bank.id)
        session.expunge(bank_row)
    return bank_row


def read_summary(sf, bank_row: Bank, resident: int) -> float:
    """One balance read as the API serves it: a fresh session, account_summary, close; seconds."""
    t0 = time.perf_counter()
    session = sf()
    summary = reading.account_summary(session, bank_row, resident, clock=CLOCK)
    session.close()
    seconds = time.perf_counter() - t0
    assert summary["resident"] == resident
    return seconds


def measure_reads(sf, bank: BankInfo, count: int, rng: random.Random) -> tuple[float, float]:
    """Return p50 and p99 (ms) of account_summary over `count` reads of random residents."""
    bank_row = detached_bank(sf, bank)
    sample = [rng.choice(bank.residents) for _ in range(count)]
    for resident in sample[:50]:  # warm-up
        read_summary(sf, bank_row, resident)
    latencies = [read_summary(sf, bank_row, resident) * 1000 for resident in sample]
    return percentile(latencies, 50), percentile(latencies, 99)


def measure_reads_side_by_side(early_sf, late_sf, bank: BankInfo, count: int,
                               rng: random.Random) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p99 (ms) on the early copy and on the full database, reads alternating between them.

    Alternating read by read, both sides see the same machine: a busy neighbour slows both.
    """
    early_bank, late_bank = detached_bank(early_sf, bank), detached_bank(late_sf, bank)
    sample = [rng.choice(bank.residents) for _ in range(count)]
    for resident in sample[:50]:  # warm-up
        read_summary(early_sf, early_bank, resident)
        read_summary(late_sf, late_bank, resident)
    early, late = [], []
    for resident in sample:
        early.append(read_summary(early_sf, early_bank, resident) * 1000)
        late.append(read_summary(late_sf, late_bank, resident) * 1000)
    return (percentile(early, 50), percentile(early, 99)), (percentile(late, 50), percentile(late, 99))


# --- where the time goes -----------------------------------------------------------------------

class Anatomy:
    """Count the statements a block sends and the time the driver spends on them (COMMIT aside).

    Statements go two ways: through SQLAlchemy (its cursor events) and, for the few every
    posting runs, straight to the driver through ``ground.store.Prepared`` (timed by wrapping it).
    """

    def __init__(self, engine):
        self.engine, self.statements, self.seconds, self.by_sql = engine, 0, 0.0, {}
        self._names: dict = {}

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        self._originals = {name: getattr(Prepared, name) for name in ("execute", "executemany")}
        for name, original in self._originals.items():
            setattr(Prepared, name, self._timed(original))
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        for name, original in self._originals.items():
            setattr(Prepared, name, original)

    def _timed(self, original):
        def timed(prepared, session, params=None):
            t0 = time.perf_counter()
            try:
                return original(prepared, session, params)
            finally:
                # Named by the statement's first words, rendered once (rendering costs more
                # than running it).
                if prepared not in self._names:
                    self._names[prepared] = str(prepared.statement)
                self._count(self._names[prepared], time.perf_counter() - t0)
        return timed

    def _before(self, conn, cursor, statement, *args):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, *args):
        self._count(statement, time.perf_counter() - conn.info.pop("bench_t0"))

    def _count(self, statement: str, seconds: float) -> None:
        self.statements += 1
        self.seconds += seconds
        key = " ".join(statement.split())[:60]
        self.by_sql[key] = self.by_sql.get(key, 0.0) + seconds

    def per(self, ops: int) -> str:
        return (f"{self.statements / ops:.1f} statements, {self.seconds / ops * 1000:.2f} ms in the "
                f"driver of {self.wall / ops * 1000:.2f} ms")

    def slowest(self, ops: int) -> str:
        sql, seconds = max(self.by_sql.items(), key=lambda kv: kv[1])
        return f"{seconds / ops * 1000:.2f} ms per op in: {sql}"


def measure_anatomy(engine, sf, village: BankInfo, raw_bank: BankInfo, big: BankInfo,
                    ops: int = 100) -> dict[str, Anatomy]:
    """Run a few deeds, raw inserts and balance reads again, counting what they send."""
    service, raw = ServicePoster(sf, village), RawInserter(engine, raw_bank)
    raw.seq = 10**9  # clear of the seqs the timed run used
    bank_row = detached_bank(sf, big)
    try:
        with Anatomy(engine) as deed:
            service.deeds(ops)
        with Anatomy(engine) as insert_:
            raw(ops)
        with Anatomy(engine) as read:
            for resident in big.residents[:ops]:
                read_summary(sf, bank_row, resident)
    finally:
        service.close()
        raw.close()
    return {"deed": deed, "raw": insert_, "read": read}


# --- figure 4 and 5: verify and export ---------------------------------------------------------

def _scan(sf, stmt) -> tuple[int, float]:
    """Stream the statement's rows without doing anything with them; return (rows, seconds)."""
    with sf() as session:
        t0 = time.perf_counter()
        result = session.connection().execution_options(stream_results=True, yield_per=5000).execute(stmt)
        rows = sum(1 for _ in result)
        return rows, time.perf_counter() - t0


def verify_scan(sf, bank_id: int) -> tuple[int, float]:
    """The rows verify_bank reads, in the same order and the same way (the driver's tuples), no hashing."""
    from ledger.verify import _TRANSFERS_IN_ORDER

    with sf() as session:
        t0 = time.perf_counter()
        rows = sum(1 for _ in _TRANSFERS_IN_ORDER.stream(session, {"bank": bank_id}))
        return rows, time.perf_counter() - t0


def export_scan(sf, bank_id: int) -> tuple[int, float]:
    """The rows write_csv and write_beancount read (with the doer's name), no formatting."""
    return _scan(sf, select(Transfer.seq, Transfer.id, Transfer.ledger, Transfer.occurred_on,
                            Transfer.recorded_at, Transfer.recorded_by, Transfer.kind,
                            Transfer.debit_id, Transfer.credit_id, Transfer.amount,
                            Transfer.rule_code, Transfer.rule_version, Transfer.doer_id,
                            Resident.name, Transfer.memo, Transfer.reverses_id, Transfer.hash,
                            Transfer.prev_hash)
                 .outerjoin(Resident, Resident.id == Transfer.doer_id)
                 .where(Transfer.bank_id == bank_id).order_by(Transfer.seq))


def run_verify(sf, bank_id: int):
    with sf() as session:
        bank = session.get(Bank, bank_id)
        t0 = time.perf_counter()
        report = verify_bank(session, bank)
        return report, time.perf_counter() - t0


def run_export(sf, bank_id: int, writer, path: Path) -> tuple[int, float, int]:
    with sf() as session, open(path, "w", encoding="utf-8", newline="") as out:
        bank = session.get(Bank, bank_id)
        session.commit()  # end the read, as a request would before exporting
        t0 = time.perf_counter()
        count = writer(session, bank, out)
        seconds = time.perf_counter() - t0
    size = path.stat().st_size
    path.unlink()
    return count, seconds, size


def best_of(*fns, times: int = 2) -> list:
    """Run the functions in turn, `times` rounds; return each one's result with the least time.

    Each result is a tuple whose last element is its time in seconds.
    """
    results = [[fn() for fn in fns] for _ in range(times)]
    return [min(column, key=lambda r: r[-1]) for column in zip(*results)]


# --- one backend -------------------------------------------------------------------------------

def describe_durability(engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[conn.exec_driver_sql("PRAGMA synchronous").scalar()]
            return f"journal_mode={mode} synchronous={sync}"
        version = conn.exec_driver_sql("SHOW server_version").scalar()
        settings = " ".join(f"{s}={conn.exec_driver_sql(f'SHOW {s}').scalar()}"
                            for s in ("fsync", "synchronous_commit", "shared_buffers"))
        return f"PostgreSQL {version} {settings}"


def bench_backend(backend, size: Size) -> list[Row]:
    """Build the county in the backend's empty database, measure, and return the table rows."""
    say(f"{backend.name}: migrating {make_url(backend.url).render_as_string(hide_password=True)}")
    migrations.upgrade(backend.url)
    engine = make_engine(backend.url)
    try:
        say(f"{backend.name}: {describe_durability(engine)}; {load()}")
        return _bench(backend, engine, size, random.Random(2026))
    finally:
        engine.dispose()


def _bench(backend, engine, size: Size, rng: random.Random) -> list[Row]:
    name, url, workdir = backend.name, backend.url, backend.workdir
    sf = session_factory(engine)
    build_t0 = time.perf_counter()
    banks = open_banks(sf, size.banks)
    big, raw_bank, village = banks[0], banks[-1], banks[1]
    counts = resident_counts(size)
    for bank, count in zip(banks[:-1], counts):
        add_residents(sf, bank, count, rng)
    add_residents(sf, raw_bank, 50, rng)
    say(f"{name}: {size.banks} banks and {sum(counts):,} residents in {time.perf_counter() - build_t0:.1f}s")

    early_days, old_days = big_bank_plan(size)
    t0 = time.perf_counter()
    post_history(sf, big, early_days, rng)
    analyze(engine)
    say(f"{name}: big bank v000 ({len(big.residents):,} residents) at {len(early_days):,} transfers "
        f"in {time.perf_counter() - t0:.1f}s")
    p50, p99 = measure_reads(sf, big, size.reads, random.Random(7))
    say(f"{name}: account_summary at {len(early_days):,} transfers: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(as measured now; the table compares a copy of this state side by side with the full one)")
    early_url = backend.snapshot(engine)

    t0 = time.perf_counter()
    post_history(sf, big, old_days, rng)
    say(f"{name}: big bank at {len(early_days) + len(old_days):,} transfers ({time.perf_counter() - t0:.1f}s)")
    rest = size.transfers - len(early_days) - len(old_days)
    others = banks[1:-1]
    for k, bank in enumerate(others):
        n = rest // len(others) + (1 if k < rest % len(others) else 0)
        post_history(sf, bank, spread(n, TODAY - timedelta(days=HISTORY_DAYS - 1), TODAY), rng)
    analyze(engine)
    build_seconds = time.perf_counter() - build_t0
    total = _count_transfers(sf)
    say(f"{name}: built {total:,} transfers in {build_seconds:.1f}s "
        f"({rate(size.transfers - len(early_days), time.perf_counter() - t0):,.0f} transfers/s after the snapshot)")

    # Figure 4: verify, and the plain scan of the same rows; each twice, the best of each counts.
    (scan_rows, scan_s), (report, verify_s) = best_of(lambda: verify_scan(sf, big.id),
                                                      lambda: run_verify(sf, big.id))
    say(f"{name}: verify v000: {'OK' if report.ok else 'FAILED ' + str(report.problems[:3])}, "
        f"{report.transfers:,} transfers in {verify_s:.2f}s; plain scan {scan_rows:,} rows in {scan_s:.2f}s")
    other_report, _ = run_verify(sf, banks[-2].id)
    say(f"{name}: verify {banks[-2].code}: {'OK' if other_report.ok else 'FAILED'}, {other_report.transfers:,} transfers")

    # Figure 5: export, against the scan of the rows it exports.
    [(ex_rows, ex_s)] = best_of(lambda: export_scan(sf, big.id))
    csv_n, csv_s, csv_bytes = run_export(sf, big.id, write_csv, workdir / "export.csv")
    bean_n, bean_s, bean_bytes = run_export(sf, big.id, write_beancount, workdir / "export.beancount")
    say(f"{name}: write_csv {csv_n:,} rows in {csv_s:.2f}s ({csv_bytes / 1e6:.0f} MB); "
        f"write_beancount {bean_n:,} in {bean_s:.2f}s ({bean_bytes / 1e6:.0f} MB); scan {ex_s:.2f}s")

    # Figure 3 again, now that the database holds everything, side by side with the early copy.
    early_engine = make_engine(early_url)
    try:
        (early_p50, early_p99), (late_p50, late_p99) = measure_reads_side_by_side(
            session_factory(early_engine), sf, big, size.reads, random.Random(7))
    finally:
        early_engine.dispose()
    say(f"{name}: account_summary, reads alternating: at {len(early_days):,} transfers p50 {early_p50:.2f} ms "
        f"p99 {early_p99:.2f} ms; at {total:,} p50 {late_p50:.2f} ms p99 {late_p99:.2f} ms")

    # Figures 1 and 2: posting.
    posting = measure_posting(engine, sf, village, raw_bank, size)
    say(f"{name}: post_deed {posting['service']:,.0f}/s, raw INSERT {posting['raw']:,.0f}/s")
    anatomy = measure_anatomy(engine, sf, village, raw_bank, big)
    say(f"{name}: per post_deed: {anatomy['deed'].per(100)}; per raw INSERT: {anatomy['raw'].per(100)}")
    say(f"{name}: per account_summary: {anatomy['read'].per(100)}; slowest {anatomy['read'].slowest(100)}")
    http = measure_http(url, sf, village, size)
    say(f"{name}: HTTP single {http['http1']:,.0f} req/s (service {http['svc1']:,.0f}/s); "
        f"HTTP team of 8 {http['http8']:,.0f} req/s (service {http['svc8']:,.0f}/s)")
    say(f"{name}: measurements done; {load()}")
    village_report, _ = run_verify(sf, village.id)
    say(f"{name}: verify {village.code} after service and HTTP posting: "
        f"{'OK' if village_report.ok else 'FAILED ' + str(village_report.problems[:3])}, "
        f"{village_report.transfers:,} transfers")

    def row(figure, value, baseline, ratio, target, verdict):
        return Row(name, figure, value, baseline, ratio, target, verdict)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    service_share = posting["service"] / posting["raw"]
    verify_rate, scan_rate = rate(report.transfers, verify_s), rate(scan_rows, scan_s)
    return [
        row("build (banks, residents, transfers)", f"{build_seconds:,.1f} s", f"{total:,} transfers",
            "", "", "info"),
        row("1 post_deed, 1 resident, own txn", fmt_rate(posting["service"], "transfers/s"),
            fmt_rate(posting["raw"], "raw INSERT/s"), f"{service_share:.0%}", ">= 40% of raw",
            verdict(service_share >= 0.40)),
        row("1 where a post_deed's time goes", anatomy["deed"].per(100), anatomy["raw"].per(100),
            "", "", "info"),
        row("2 HTTP deed, 1 resident", fmt_rate(http["http1"], "req/s = transfers/s"),
            fmt_rate(http["svc1"], "service/s"), f"{http['http1'] / http['svc1']:.0%}", "", "info"),
        row("2 HTTP deed, team of 8", f"{http['http8']:,.0f} req/s = {8 * http['http8']:,.0f} transfers/s",
            f"{http['svc8']:,.0f} service calls/s = {8 * http['svc8']:,.0f} transfers/s",
            f"{http['http8'] / http['svc8']:.0%}", "", "info"),
        row(f"3 account_summary p50 @ {total:,}", f"{late_p50:.2f} ms",
            f"{early_p50:.2f} ms @ {len(early_days):,} (copy)", f"{late_p50 / early_p50:.2f}x",
            "no growth (<= 1.5x)", verdict(late_p50 <= 1.5 * early_p50)),
        row(f"3 account_summary p99 @ {total:,}", f"{late_p99:.2f} ms",
            f"{early_p99:.2f} ms @ {len(early_days):,} (copy)", f"{late_p99 / early_p99:.2f}x", "< 5 ms",
            verdict(late_p99 < 5.0)),
        row("3 where an account_summary's time goes", anatomy["read"].per(100), "", "", "", "info"),
        row(f"4 verify_bank v000 ({report.transfers:,})", fmt_rate(verify_rate, "transfers/s"),
            fmt_rate(scan_rate, "rows/s scan"), f"{verify_rate / scan_rate:.0%}", ">= 100,000/s",
            verdict(report.ok and verify_rate >= 100_000)),
        row(f"5 write_csv v000 ({csv_n:,})", f"{csv_s:.2f} s = {rate(csv_n, csv_s):,.0f} rows/s",
            fmt_rate(rate(ex_rows, ex_s), "rows/s scan"), f"{rate(csv_n, csv_s) / rate(ex_rows, ex_s):.0%}",
            "", "info"),
        row(f"5 write_beancount v000 ({bean_n:,})", f"{bean_s:.2f} s = {rate(bean_n, bean_s):,.0f} rows/s",
            fmt_rate(rate(ex_rows, ex_s), "rows/s scan"), f"{rate(bean_n, bean_s) / rate(ex_rows, ex_s):.0%}",
            "", "info"),
        row("verify (v000, last village, posting bank)",
            "OK" if report.ok and other_report.ok and village_report.ok else "FAILED", "", "", "all OK",
            verdict(report.ok and other_report.ok and village_report.ok)),
    ]


def _count_transfers(sf) -> int:
    with sf() as session:
        return session.execute(select(func.count()).select_from(TRANSFERS)).scalar()


# --- backends ----------------------------------------------------------------------------------

class SqliteBackend:
    """A database file in a temporary directory, deleted with everything in it at the end."""

    name = "sqlite"

    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="zongzhi_bench_"))
        self.path = self.workdir / "bench.db"
        self.url = f"sqlite:///{self.path}"

    def snapshot(self, engine) -> str:
        """Copy the database as it is now (SQLite's online backup); return the copy's URL."""
        copy = self.workdir / "early.db"
        source, target = sqlite3.connect(self.path), sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        return f"sqlite:///{copy}"

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


class PostgresBackend:
    """A database zongzhi_bench_<pid> created on the server of `admin_url`, dropped at the end."""

    name = "postgresql"

    def __init__(self, admin_url: str):
        self.admin_url = normalize_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.workdir = Path(tempfile.mkdtemp(prefix="zongzhi_bench_"))
        self.database = f"zongzhi_bench_{os.getpid()}"
        self.created: list[str] = []
        try:
            self.url = self._create(self.database)
        except Exception:
            self.close()
            raise

    def _create(self, database: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            self.created.append(database)
            conn.execute(text(f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else "")))
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def snapshot(self, engine) -> str:
        """Copy the database as it is now (CREATE DATABASE ... TEMPLATE); return the copy's URL."""
        engine.dispose()  # a template may have no open sessions
        for attempt in range(20):
            try:
                return self._create(f"{self.database}_early", template=self.database)
            except OperationalError:  # autovacuum was visiting: try again in a moment
                if attempt == 19:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        with self.admin.connect() as conn:
            for database in reversed(self.created):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self.admin.dispose()
        shutil.rmtree(self.workdir, ignore_errors=True)
        say(f"postgresql: dropped {', '.join(self.created)}")


def run(backend_factory, size: Size) -> list[Row]:
    backend = backend_factory()
    try:
        return bench_backend(backend, size)
    finally:
        backend.close()


def print_table(rows: list[Row]) -> None:
    headers = Row("backend", "figure", "value", "baseline", "ratio", "target", "verdict")
    table = [headers, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in Row.__dataclass_fields__]
    print()
    for i, r in enumerate(table):
        print("  ".join(getattr(r, f).ljust(w) for f, w in zip(Row.__dataclass_fields__, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    failed = [r for r in rows if r.verdict == "FAIL"]
    print(f"\n{len(failed)} of {sum(r.verdict in ('PASS', 'FAIL') for r in rows)} targets missed"
          + ("" if not failed else ": " + "; ".join(f"{r.backend} {r.figure}" for r in failed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="20 banks, 5,000 residents, 50,000 transfers")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even if configured")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create the bench database on")
    args = parser.parse_args(argv)
    size = SMALL if args.small else FULL
    postgres = None if args.sqlite_only else (
        args.postgres_url or os.environ.get("ZONGZHI_BENCH_POSTGRES_URL")
        or os.environ.get("ZONGZHI_TEST_POSTGRES_URL"))
    say(f"size: {size.banks} banks, {size.residents:,} residents, {size.transfers:,} transfers; "
        f"{size.posts} posts per side; {size.reads} reads per snapshot; python {sys.version.split()[0]}")
    rows = run(SqliteBackend, size)
    if postgres:
        rows += run(lambda: PostgresBackend(postgres), size)
    else:
        say("postgresql: skipped (no --postgres-url, ZONGZHI_BENCH_POSTGRES_URL or ZONGZHI_TEST_POSTGRES_URL)")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
