"""Benchmark of the resident search on a bank of 5,000 residents, next to a baseline from the same run.

What it builds: one bank (``ledger.banks.create_bank``), 500 households and 5,000 residents with
their pinyin keys from ``ledger.names.search_keys`` (common surnames, the polyphonic ones 曾 单
仇 among them, and a few rare characters), on a migrated database, plus a second bank of the
same size so every query has to filter by bank.

What it measures, p50 and p99 over many queries (names, full pinyin, initials, partial
pinyin), for

1. ``ledger.people.search_residents`` — what the API's ``GET /residents?q=`` runs;
2. ``ledger.people.find_residents`` — the ranked lookup the deed form runs for each typed term;
3. the baseline: fetching one resident by primary key in the same session (``get_resident``),
   the cheapest read there is. Target: the search answers in under 50 ms at p99.

Run it from the project root:

    .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --postgres-url postgresql://postgres@127.0.0.1:5432/test

SQLite lives in a temporary directory deleted at the end; with --postgres-url a database
zongzhi_search_<pid> is created next to the one in the URL and dropped at the end.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from sqlalchemy import create_engine, insert, text  # noqa: E402

import migrations  # noqa: E402
from ledger import banks, names, people as ledger_people  # noqa: E402
from ground.clock import FixedClock
from ground.db import make_engine, normalize_url, session_factory, transaction
from ledger.models import Household, Resident  # noqa: E402

RESIDENTS = 5000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单仇"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红春生水根德福荣金凤玉梅冬兰小红丽萍欣怡子轩浩然家豪俊杰思琪雨涵"
RARE = ["䶮", "𪚥", "𬌗"]
CLOCK = FixedClock()


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    if rng.random() < 0.01:
        given = given[:-1] + rng.choice(RARE)
    return rng.choice(SURNAMES) + given


def populate(sf, code: str, rng: random.Random) -> tuple:
    session = sf()
    bank = banks.create_bank(session, code, f"{code} 村", rules_text=(
        ROOT / "seed_data" / "rules" / "default.yaml").read_text("utf-8"), source_name="default.yaml",
        by="bench", clock=CLOCK)
    now = datetime.now(timezone.utc)
    with transaction(session):
        session.execute(insert(Household), [
            {"bank_id": bank.id, "code": f"H{i:04d}", "name": "", "active": True, "created_at": now}
            for i in range(RESIDENTS // 10)])
    homes = [h for (h,) in session.execute(text("SELECT id FROM households WHERE bank_id = :b"),
                                           {"b": bank.id})]
    people = [person_name(rng) for _ in range(RESIDENTS)]
    with transaction(session):
        session.execute(insert(Resident), [
            {"bank_id": bank.id, "household_id": homes[i % len(homes)], "name": n, "phone": None,
             "relation": "", "reading": "", "active": True, "created_at": now, **names.search_keys(n)}
            for i, n in enumerate(people)])
    session.close()
    return bank, people


def queries(people: list[str], rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        name = rng.choice(people)
        keys = names.search_keys(name)
        kind = rng.randrange(4)
        if kind == 0:
            out.append(name)
        elif kind == 1:
            out.append(keys["pinyin"].split()[0])
        elif kind == 2:
            out.append(keys["initials"].split()[0])
        else:
            out.append(keys["pinyin"].split()[0][:4])
    return out


def timed(fn, args: list) -> list[float]:
    samples = []
    for a in args:
        start = time.perf_counter()
        fn(a)
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def pct(samples: list[float], p: float) -> float:
    return samples[min(len(samples) - 1, int(round(p / 100 * (len(samples) - 1))))]


def run(url: str, label: str, count: int) -> None:
    migrations.upgrade(url)
    engine = make_engine(url)
    sf = session_factory(engine)
    rng = random.Random(5000)
    bank, people = populate(sf, "bench", rng)
    populate(sf, "other", rng)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    session = sf()
    ids = [r for (r,) in session.execute(text("SELECT id FROM residents WHERE bank_id = :b"), {"b": bank.id})]
    asked = queries(people, rng, count)
    for q in asked[:50]:  # warm the caches
        ledger_people.search_residents(session, bank, q, limit=51, after=None)
    baseline = timed(lambda i: ledger_people.get_resident(session, bank, i), [rng.choice(ids) for _ in range(count)])
    search = timed(lambda q: ledger_people.search_residents(session, bank, q, limit=51, after=None), asked)
    ranked = timed(lambda q: ledger_people.find_residents(session, bank, q, limit=8), asked)
    hits = sum(1 for q in asked if ledger_people.search_residents(session, bank, q, limit=1, after=None))
    session.close()
    engine.dispose()
    print(f"\n{label}: {RESIDENTS:,} residents in the bank (and {RESIDENTS:,} in another), {count} queries, "
          f"{hits / count:.0%} with a hit")
    print(f"  {'':32} {'p50 ms':>8} {'p99 ms':>8}")
    for what, samples in (("baseline: resident by id", baseline), ("search_residents (API ?q=)", search),
                          ("find_residents (deed form)", ranked)):
        print(f"  {what:32} {pct(samples, 50):8.2f} {pct(samples, 99):8.2f}")
    verdict = "PASS" if pct(search, 99) < 50 and pct(ranked, 99) < 50 else "FAIL"
    print(f"  target p99 < 50 ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--postgres-url", default=os.environ.get("ZONGZHI_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="zongzhi-search-")
    try:
        run(f"sqlite:///{folder}/bench.db", "SQLite", args.queries)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.postgres_url:
        admin = create_engine(normalize_url(args.postgres_url), isolation_level="AUTOCOMMIT")
        name = f"zongzhi_search_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(normalize_url(args.postgres_url).rsplit("/", 1)[0] + f"/{name}", "PostgreSQL", args.queries)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
