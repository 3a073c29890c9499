"""Benchmark of the kept monthly figures on a synthetic county, each figure beside its baseline.

What it builds (per backend): banks opened through ``ledger.banks.create_bank`` (200 by default),
households, residents and their accounts inserted in bulk, and a year of transfers (1,000,000 by
default: deeds, penalties and redemptions over November 2025 – October 2026) inserted in bulk
(COPY on PostgreSQL), then counted into the figures by ``stats.upkeep.rebuild`` — the same
statements the daily close's ``catch_up`` runs — up to the last day's share of each bank's
transfers (``--tail-days``), which is left uncounted as it is between two daily closes.

What it measures:

1. the county dashboard's data (``county``: every bank's last month and the county's twelve
   months, what /county/dashboard reads; /api/v1/county/stats reads the first half) p50/p99 with a day's
   tail of every bank uncounted (read with the figures, as every read does), then again with
   no tail after every bank's ``catch_up``, beside the same figures computed from the
   transfers (the recomputing check's statements for every bank) in the same run. Target:
   p99 < 200 ms.
2. the cost the upkeep adds to posting a deed: none runs there any more, so ``post_deed`` (one
   resident, one transaction each) is timed alone, beside what the daily close's ``catch_up``
   takes to count a day's transfers of one bank (where that cost went). Target: < 10%.
3. that kept figures plus the tail agree with a recount (``stats.upkeep.check``) on the bank the
   deeds went to, before and after its catch-up.

    .venv/bin/python bench/stats.py                       # 200 banks, 100,000 residents, 1,000,000 transfers
    .venv/bin/python bench/stats.py --small               # 20 banks, 10,000 residents, 100,000 transfers
    .venv/bin/python bench/stats.py --postgres-url postgresql://postgres@127.0.0.1:5432/test --postgres-only

The PostgreSQL half runs when --postgres-url is given or ZONGZHI_TEST_POSTGRES_URL is set: it
creates a database zongzhi_bench_stats_<pid> beside the one in the URL and drops it at the end,
and runs ANALYZE after the bulk load (as autovacuum would soon after). The script always exits
0: it is a report, and prints PASS/FAIL against the targets.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# The file is named like the package it measures: the project root first, bench/ dropped.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

import migrations  # noqa: E402
from ledger import banks as ledger_banks, deeds as ledger_deeds  # noqa: E402
from ground.clock import FixedClock
from ground.db import make_engine, normalize_url, session_factory
from ledger.models import PTS, Account, Household, Resident
from ground.tenants import Bank
from stats import services as stats, upkeep  # noqa: E402

CLOCK = FixedClock(at=datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc))
FIRST_DAY, LAST_DAY = date(2025, 11, 1), date(2026, 10, 14)
RULES = """\
rules:
  - {code: patrol, name: 夜间巡逻, category: 社会治安, points: 2, unit: 小时}
  - {code: cleanup, name: 环境整治, category: 环境卫生, points: 3, unit: 次}
  - {code: litter, name: 乱扔垃圾, category: 环境卫生, points: -5, unit: 次}
"""
HASH = "0" * 64


def say(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- the county ----------------------------------------------------------------------------------

def build(url: str, banks: int, residents: int, transfers: int, tail_days: float) -> None:
    engine = make_engine(url)
    sf = session_factory(engine)
    rng = random.Random(16)
    started = time.perf_counter()
    with sf() as session:
        for n in range(banks):
            ledger_banks.create_bank(session, f"b{n:03d}", f"第{n + 1}村综治银行", rules_text=RULES,
                                     source_name="bench.yaml", by="bench", clock=CLOCK)
    per_bank = residents // banks
    now = CLOCK.now()
    created = datetime(2025, 10, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        bank_ids = [r[0] for r in conn.execute(select(Bank.id).order_by(Bank.id))]
        conn.execute(insert(Household), [
            {"bank_id": b, "code": f"H{h:04d}", "name": "", "active": True, "created_at": created}
            for b in bank_ids for h in range(per_bank // 4 + 1)])
        homes = {}
        for hid, b, code in conn.execute(select(Household.id, Household.bank_id, Household.code)):
            homes[b, code] = hid
        conn.execute(insert(Resident), [
            {"bank_id": b, "household_id": homes[b, f"H{r // 4:04d}"], "name": f"居民{r}", "pinyin": "",
             "initials": "", "relation": "", "reading": "", "active": True, "created_at": created}
            for b in bank_ids for r in range(per_bank)])
        people = conn.execute(select(Resident.id, Resident.bank_id)).all()
        conn.execute(insert(Account), [
            {"bank_id": b, "ledger": PTS, "code": f"resident:{rid}", "name": "", "kind": "resident",
             "resident_id": rid, "balance": 0} for rid, b in people])
        own = {rid: aid for aid, rid in conn.execute(
            select(Account.id, Account.resident_id).where(Account.kind == "resident"))}
        system = {(b, code): aid for aid, b, code in conn.execute(
            select(Account.id, Account.bank_id, Account.code).where(Account.kind == "system",
                                                                   Account.ledger == PTS))}
    by_bank: dict[int, list[int]] = {}
    for rid, b in people:
        by_bank.setdefault(b, []).append(rid)
    say(f"  banks, {len(people):,} residents and accounts: {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    days = (LAST_DAY - FIRST_DAY).days + 1
    columns = ["bank_id", "seq", "ledger", "debit_id", "credit_id", "amount", "kind", "rule_code",
               "rule_version", "doer_id", "occurred_on", "recorded_at", "recorded_by", "prev_hash", "hash",
               "entry_seq"]
    seqs = {b: 0 for b in bank_ids}
    balances: dict[int, int] = {}

    def rows():
        for _ in range(transfers):
            b = bank_ids[rng.randrange(len(bank_ids))]
            rid = rng.choice(by_bank[b])
            seqs[b] += 1
            roll = rng.random()
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            if roll < 0.85:
                rule, points = ("patrol", 2 * rng.randint(1, 4)) if roll < 0.5 else ("cleanup", 3)
                debit, credit, kind = system[b, "issued"], own[rid], "deed"
            elif roll < 0.95:
                rule, points, kind = "litter", 5, "penalty"
                debit, credit = own[rid], system[b, "penalties"]
            else:
                rule, points, kind = None, 30, "redemption"
                debit, credit = own[rid], system[b, "redeemed"]
            balances[debit] = balances.get(debit, 0) - points
            balances[credit] = balances.get(credit, 0) + points
            yield (b, seqs[b], PTS, debit, credit, points, kind, rule, 1 if rule else None, rid, day,
                   now, "bench", HASH, HASH, seqs[b])

    engine_name = engine.dialect.name
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine_name == "postgresql":
            with cursor.copy(f"COPY transfers ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            batch = []
            for row in rows():
                batch.append(tuple(v.isoformat(" ") if isinstance(v, datetime) else
                                   v.isoformat() if isinstance(v, date) else v for v in row))
                if len(batch) == 50_000:
                    cursor.executemany(f"INSERT INTO transfers ({', '.join(columns)}) VALUES ({marks})", batch)
                    batch = []
            if batch:
                cursor.executemany(f"INSERT INTO transfers ({', '.join(columns)}) VALUES ({marks})", batch)
        raw.commit()
    finally:
        raw.close()
    # The heads and balances the bulk rows imply, so posting carries on from them.
    with engine.begin() as conn:
        conn.execute(text("UPDATE banks SET head_seq = :seq WHERE id = :bank"),
                     [{"bank": b, "seq": n} for b, n in seqs.items()])
        conn.execute(text("UPDATE accounts SET balance = :balance WHERE id = :account"),
                     [{"account": a, "balance": n} for a, n in balances.items()])
    say(f"  {transfers:,} transfers in bulk: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    counted_total = 0
    with engine.begin() as conn:
        for b, head in conn.execute(select(Bank.id, Bank.head_seq)).all():
            counted = head - round(head * tail_days / days)
            if counted:
                upkeep.rebuild(conn, b, counted)
            counted_total += counted
            conn.execute(text("INSERT INTO stats_progress (bank_id, counted_seq) VALUES (:b, :n)"),
                         {"b": b, "n": counted})
    if engine_name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    say(f"  figures counted up to a day before the head ({transfers - counted_total:,} transfers left in "
        f"the tails): {time.perf_counter() - started:.1f} s")
    engine.dispose()


# --- the measurements ----------------------------------------------------------------------------

def measure(url: str, reads: int, deeds: int) -> dict:
    engine = make_engine(url)
    sf = session_factory(engine)
    out = {}
    month = stats.last_month(CLOCK.today())
    first, last = stats.previous_months(CLOCK.today(), 12)

    def dashboard() -> tuple[float, float, float]:
        """p50 and p99 of the wall time, and the p50 of this process's CPU time (the database's not in it)."""
        times, cpu = [], []
        for _ in range(reads):
            started, started_cpu = time.perf_counter(), time.process_time()
            stats.county(session, month, first, last, clock=CLOCK)
            session.rollback()
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        return percentile(times, 50), percentile(times, 99), statistics.median(cpu)

    with sf() as session:
        stats.county(session, month, first, last, clock=CLOCK)  # rule books parsed once, as a server would
        out["load"] = os.getloadavg()[0]
        out["kept_p50"], out["kept_p99"], out["kept_cpu"] = dashboard()
        banks = list(session.execute(select(Bank)).scalars())
        times = []
        for _ in range(3):
            started = time.perf_counter()
            conn = session.connection()
            for bank in banks:
                params = {"bank": bank.id, "first": 1, "last": bank.head_seq}
                conn.execute(upkeep.MONTH_ROWS, params).all()
                conn.execute(upkeep.RESIDENT_ROWS, params).all()
            session.rollback()
            times.append((time.perf_counter() - started) * 1000)
        out["ledger_p50"] = percentile(times, 50)

        bank = banks[0]
        ids = list(session.execute(select(Resident.id).where(Resident.bank_id == bank.id)).scalars())
        times = []
        for i in range(deeds):
            started = time.perf_counter()
            ledger_deeds.post_deed(session, bank, rule_code="cleanup", resident_ids=[ids[i % len(ids)]],
                                   quantity=1, occurred_on=CLOCK.today(), memo=None, by="bench", clock=CLOCK)
            times.append((time.perf_counter() - started) * 1000)
        out["deed"] = statistics.median(times)
        out["check_tail"] = upkeep.check(session, session.get(Bank, bank.id))
        # The daily close: every bank's day counted (the first bank's also holds the deeds above).
        times, counted = [], []
        for b in banks[1:]:
            started = time.perf_counter()
            counted.append(upkeep.catch_up(session, b.id))
            session.commit()
            times.append((time.perf_counter() - started) * 1000)
        out["catch_up_ms"], out["catch_up_n"] = statistics.median(times), statistics.median(counted)
        upkeep.catch_up(session, bank.id)
        session.commit()
        out["check"] = upkeep.check(session, session.get(Bank, bank.id))
        out["bare_p50"], out["bare_p99"], out["bare_cpu"] = dashboard()
    engine.dispose()
    return out


def report(name: str, got: dict, transfers: int) -> None:
    say(f"  load average {got['load']:.2f} when the reads began")
    say(f"  county dashboard data (kept figures + a day's tail): p50 {got['kept_p50']:.1f} ms, "
        f"p99 {got['kept_p99']:.1f} ms [{'PASS' if got['kept_p99'] < 200 else 'FAIL'} < 200 ms]; "
        f"this process's CPU p50 {got['kept_cpu']:.1f} ms")
    say(f"  the same with no tail (after the daily close): p50 {got['bare_p50']:.1f} ms, "
        f"p99 {got['bare_p99']:.1f} ms; CPU p50 {got['bare_cpu']:.1f} ms")
    say(f"  the same figures from the {transfers:,} transfers: {got['ledger_p50']:.0f} ms "
        f"({got['ledger_p50'] / got['kept_p50']:.0f}x)")
    say(f"  post_deed: {got['deed']:.2f} ms, nothing of the figures in it: +0.0% [PASS < 10%]; the daily "
        f"close counts a bank's day ({got['catch_up_n']:.0f} transfers) in {got['catch_up_ms']:.1f} ms")
    for when, found in (("with the tail", got["check_tail"]), ("after the catch-up", got["check"])):
        say(f"  figures agree with a recount {when}: {'yes' if not found else found[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--banks", type=int)
    parser.add_argument("--transfers", type=int)
    parser.add_argument("--tail-days", type=float, default=1.0,
                        help="the days of transfers left uncounted at the end of each bank's ledger")
    parser.add_argument("--deeds", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("ZONGZHI_TEST_POSTGRES_URL"))
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    banks = args.banks or (20 if args.small else 200)
    transfers = args.transfers or (100_000 if args.small else 1_000_000)
    residents = banks * 500
    say(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"{banks} banks, {residents:,} residents, {transfers:,} transfers")
    if not args.postgres_only:
        folder = tempfile.mkdtemp(prefix="zongzhi-bench-stats-")
        try:
            url = f"sqlite:///{folder}/bench.db"
            migrations.upgrade(url)
            say("SQLite")
            build(url, banks, residents, transfers, args.tail_days)
            report("sqlite", measure(url, reads=100, deeds=args.deeds), transfers)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.postgres_url and not args.sqlite_only:
        admin = create_engine(normalize_url(args.postgres_url), isolation_level="AUTOCOMMIT")
        name = f"zongzhi_bench_stats_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = normalize_url(args.postgres_url).rsplit("/", 1)[0] + f"/{name}"
        try:
            migrations.upgrade(url)
            say("PostgreSQL")
            build(url, banks, residents, transfers, args.tail_days)
            report("postgresql", measure(url, reads=100, deeds=args.deeds), transfers)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
