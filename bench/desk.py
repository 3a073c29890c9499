"""Benchmark of the desk and the cards on the ledger benchmark's synthetic county.

The county is built exactly as ``bench/ledger.py`` builds it (its functions, imported): banks
opened through the service, residents in bulk, and a history of real hash-chained transfers
posted through ``ledger.posting.post``. On it, each figure next to a baseline from the same run:

1. the resident's page ``GET /c/<token>`` (Flask test client: routing, queries, template), server
   time p50/p99 with the big bank at ~10,000 transfers (baseline) and again with the database at
   its full size (1,000,000 transfers by default). Target: p99 < 20 ms.
2. redemption latency, ``POST /api/v1/banks/<bank>/redemptions`` (one item, an Idempotency-Key,
   a desk user's token) p50/p99, against a single-resident deed over HTTP in the same bank.
   Target: p99 < 50 ms on SQLite.
3. a card sheet (issuing the cards and rendering the A4 PDF) for 500 residents, against one
   page of 10.
4. the residents' morning: the real server (``zongzhi serve``, waitress, 8 threads) with 50
   readers opening cards (``wrk``, 50 connections, each reader pausing --think ms between pages)
   while a clerk posts deeds over HTTP, one every 200 ms (faster than a person types them); the
   card page's p99, against the same readers with no clerk. Target: p99 < 50 ms. Then again
   while deeds are posted back to back, as an import would (for information). Skipped with a
   message when wrk is missing.

    .venv/bin/python bench/desk.py --small      # 20 banks, 5,000 residents, 50,000 transfers
    .venv/bin/python bench/desk.py              # 200 banks, 100,000 residents, 1,000,000 transfers

SQLite, in a temporary directory deleted at the end. The script always exits 0 and prints
PASS/FAIL against the targets.
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

_spec = importlib.util.spec_from_file_location("ledger_bench", BENCH_DIR / "ledger.py")
county = sys.modules["ledger_bench"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(county)

from sqlalchemy import select  # noqa: E402

import migrations  # noqa: E402
from ground.db import make_engine, session_factory
from ledger.models import PTS, Account
from ground.tenants import Bank

CLOCK, TODAY = county.CLOCK, county.TODAY
PAGES = {"full": 1000, "small": 300}
REDEMPTIONS = {"full": 1000, "small": 300}
SHEET = 500
#: A clerk at the desk posting as fast as a person could: a deed every 200 ms, five a second (the
#: keyboard form needs a name, a rule and two Enters for each). Posting back to back, as an import
#: would, is measured as well.
CLERK_PACE_S = 0.2


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def p50_p99(values: list[float]) -> tuple[float, float]:
    return county.percentile(values, 50), county.percentile(values, 99)


class Site:
    """The app on the bench database, with a clerk's and a desk's token for the big bank."""

    def __init__(self, url: str, bank_code: str):
        from web.auth import create_token, create_user
        from zongzhi.app import create_app

        self.app = create_app({"DATABASE_URL": url, "CLOCK": CLOCK, "TESTING": True,
                               "SECRET_KEY": "bench", "CARD_GUESS_LIMIT": 10**9})
        self.client = self.app.test_client()
        self.sessions = self.app.extensions["zongzhi.sessions"]
        self.headers = {}
        with self.sessions() as session:
            for role in ("clerk", "desk"):
                create_user(session, f"bench-{role}", bank_code=bank_code, role=role,
                            password="bench password", clock=CLOCK)
                self.headers[role] = {"Authorization": f"Bearer {create_token(session, f'bench-{role}', clock=CLOCK)}"}

    def close(self):
        self.app.extensions["zongzhi.engine"].dispose()


def issue_cards(site: Site, bank_id: int, residents: list[int]) -> list[str]:
    from cards.services import issue_cards as issue

    with site.sessions() as session:
        bank = session.get(Bank, bank_id)
        return [i.token for i in issue(session, bank, resident_ids=residents, by="bench", clock=CLOCK)]


def measure_pages(site: Site, tokens: list[str], count: int) -> tuple[float, float]:
    for token in tokens[:20]:  # warm-up: templates compiled, rule book parsed
        site.client.get(f"/c/{token}")
    times = []
    for n in range(count):
        token = tokens[n % len(tokens)]
        ms = timed(lambda: _ok(site.client.get(f"/c/{token}"), 200))
        times.append(ms)
    return p50_p99(times)


def _ok(answer, status):
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    return answer


def stock_the_desk(site: Site, bank_code: str, bank_id: int, items: int) -> None:
    from redemption.services import catalog, fund, windows

    with site.sessions() as session:
        bank = session.get(Bank, bank_id)
        fund.record_receipt(session, bank, source="town", donor=None, received_on=TODAY,
                                amount_fen=10**10, restriction=None, memo=None, by="bench", clock=CLOCK)
        windows.open_window(session, bank, opens_on=TODAY, closes_on=TODAY + timedelta(days=7),
                             kind="extra", by="bench", clock=CLOCK)
        catalog.create_item(session, bank, sku="soap", name="肥皂", points=2, cost_fen=300,
                             limit_per_window=None, by="bench", clock=CLOCK)
        catalog.stock_in(session, bank, "soap", quantity=items, source="purchase", cost_fen=None,
                          donor=None, by="bench", clock=CLOCK)


def measure_redemptions(site: Site, bank_code: str, bank_id: int, count: int) -> tuple[float, float]:
    with site.sessions() as session:
        rich = session.execute(select(Account.resident_id).where(
            Account.bank_id == bank_id, Account.ledger == PTS, Account.kind == "resident",
            Account.balance >= 2 * (count // 100 + 10)).limit(200)).scalars().all()
    path = f"/api/v1/banks/{bank_code}/redemptions"
    times = []
    for n in range(count + 20):
        body = {"resident": rich[n % len(rich)], "items": [{"sku": "soap", "quantity": 1}]}
        headers = {**site.headers["desk"], "Idempotency-Key": f"bench-{n}"}
        ms = timed(lambda: _ok(site.client.post(path, json=body, headers=headers), 201))
        if n >= 20:
            times.append(ms)
    return p50_p99(times)


def measure_deeds(site: Site, bank_code: str, residents: list[int], count: int) -> tuple[float, float]:
    path = f"/api/v1/banks/{bank_code}/deeds"
    times = []
    for n in range(count + 20):
        body = {"rule": "cleanup", "residents": [residents[n % len(residents)]],
                "occurred_on": (TODAY - timedelta(days=1)).isoformat()}
        ms = timed(lambda: _ok(site.client.post(path, json=body, headers=site.headers["clerk"]), 201))
        if n >= 20:
            times.append(ms)
    return p50_p99(times)


def measure_sheet(site: Site, bank_code: str, residents: list[int]) -> float:
    path = f"/api/v1/banks/{bank_code}/card-sheets"
    t0 = time.perf_counter()
    answer = _ok(site.client.post(path, json={"residents": residents, "per_page": 10},
                                  headers=site.headers["clerk"]), 200)
    assert answer.data.startswith(b"%PDF")
    return time.perf_counter() - t0


def measure_morning(url: str, workdir: Path, bank_code: str, clerk_token: str, residents: list[int],
                    tokens: list[str], think_ms: int, seconds: int, processes: int = 1) -> dict:
    """Card pages under 50 readers, with and without a clerk posting; wrk's p50/p99 in ms."""
    import http.client
    import json
    import threading

    spec = importlib.util.spec_from_file_location("bench_http", BENCH_DIR / "http.py")
    served = sys.modules["bench_http"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(served)
    out = {}
    with served.zongzhi_serve(url, workdir, processes) as server:
        def readers():
            return served.card_readers(server.port, tokens, think_ms=think_ms, seconds=seconds,
                                       workdir=workdir)

        readers()  # warm-up
        out["quiet"] = readers()
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()

        def clerk(stop, posted, pace_s):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            n, due = 0, time.monotonic()
            while not stop.is_set():
                body = json.dumps({"rule": "cleanup", "residents": [residents[n % len(residents)]],
                                   "occurred_on": (today - timedelta(days=1)).isoformat()})
                conn.request("POST", f"/api/v1/banks/{bank_code}/deeds", body=body, headers={
                    "Authorization": f"Bearer {clerk_token}", "Content-Type": "application/json"})
                answer = conn.getresponse()
                said = answer.read()
                posted.append(answer.status)
                if answer.status != 201 and len(posted) - posted.count(201) == 1:
                    county.say(f"the first deed refused, {answer.status}: {said[:300]!r}")
                n += 1
                if pace_s:
                    due += pace_s
                    stop.wait(max(0.0, due - time.monotonic()))

        for name, pace_s in (("busy", CLERK_PACE_S), ("flat_out", 0.0)):
            stop, posted = threading.Event(), []
            thread = threading.Thread(target=clerk, args=(stop, posted, pace_s))
            thread.start()
            try:
                out[name] = readers()
            finally:
                stop.set()
                thread.join()
            out[name]["deeds"] = posted.count(201) / seconds
            out[name]["refused"] = len(posted) - posted.count(201)
    return out


def run(size_name: str, think_ms: int = 500, seconds: int = 10, processes: int = 1) -> list[tuple]:
    size = county.SMALL if size_name == "small" else county.FULL
    rng = random.Random(20261015)
    workdir = Path(tempfile.mkdtemp(prefix="zongzhi_desk_bench_"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    rows = []
    try:
        migrations.upgrade(url)
        engine = make_engine(url)
        sf = session_factory(engine)
        t0 = time.perf_counter()
        banks = county.open_banks(sf, size.banks)
        big = banks[0]
        for bank, count in zip(banks[:-1], county.resident_counts(size)):
            county.add_residents(sf, bank, count, rng)
        early_days, old_days = county.big_bank_plan(size)
        county.post_history(sf, big, early_days, rng)
        county.say(f"built {size.banks} banks, big bank at {len(early_days):,} transfers "
                   f"({time.perf_counter() - t0:.1f}s)")

        site = Site(url, big.code)
        sample = rng.sample(big.residents, 200)
        tokens = issue_cards(site, big.id, sample)
        early_p50, early_p99 = measure_pages(site, tokens, PAGES[size_name])
        county.say(f"card page at {len(early_days):,} transfers: p50 {early_p50:.2f} ms, p99 {early_p99:.2f} ms")

        t0 = time.perf_counter()
        county.post_history(sf, big, old_days, rng)
        rest = size.transfers - len(early_days) - len(old_days)
        others = banks[1:-1]
        for k, bank in enumerate(others):
            n = rest // len(others) + (1 if k < rest % len(others) else 0)
            county.post_history(sf, bank, county.spread(
                n, TODAY - timedelta(days=county.HISTORY_DAYS - 1), TODAY), rng)
        total = county._count_transfers(sf)
        county.say(f"built the county: {total:,} transfers ({time.perf_counter() - t0:.1f}s)")
        late_p50, late_p99 = measure_pages(site, tokens, PAGES[size_name])
        county.say(f"card page at {total:,} transfers: p50 {late_p50:.2f} ms, p99 {late_p99:.2f} ms")
        health = p50_p99([timed(lambda: site.client.get("/api/v1/health")) for _ in range(300)])

        stock_the_desk(site, big.code, big.id, 10 * REDEMPTIONS[size_name])
        red_p50, red_p99 = measure_redemptions(site, big.code, big.id, REDEMPTIONS[size_name])
        county.say(f"redemption over HTTP: p50 {red_p50:.2f} ms, p99 {red_p99:.2f} ms")
        deed_p50, deed_p99 = measure_deeds(site, big.code, big.residents, REDEMPTIONS[size_name])
        county.say(f"deed over HTTP: p50 {deed_p50:.2f} ms, p99 {deed_p99:.2f} ms")

        one_page = measure_sheet(site, big.code, big.residents[:10])
        sheet_s = measure_sheet(site, big.code, big.residents[:SHEET])
        county.say(f"card sheet: {SHEET} residents in {sheet_s:.1f}s; 10 residents in {one_page:.2f}s")
        morning = None
        if shutil.which("wrk") is None:
            county.say("the morning of 50 readers needs wrk (apt-get install wrk): skipped")
        else:
            clerk_token = site.headers["clerk"]["Authorization"].split()[1]
            # The card sheets above issued new cards to the first residents, revoking any of the
            # sample's among them: the morning's readers hold cards issued now.
            tokens = issue_cards(site, big.id, sample)
            site.close()
            morning = measure_morning(url, workdir, big.code, clerk_token, big.residents, tokens,
                                      think_ms, seconds, processes)
            for name, clerk in (("busy", "a clerk posts"), ("flat_out", "deeds are posted back to back:")):
                seen = morning[name]
                county.say(f"morning, 50 readers: card page p50 {seen['p50']:.1f} ms, p99 {seen['p99']:.1f} ms "
                           f"({seen['pages']:,.0f} pages/s) while {clerk} {seen['deeds']:,.1f} deeds/s; "
                           f"{seen['refused']} deeds and {seen['bad']} pages answered other than 201 / 200")
            county.say(f"morning, 50 readers without the clerk: p99 {morning['quiet']['p99']:.1f} ms")
        with site.sessions() as session:
            from ledger.verify import verify_bank

            report = verify_bank(session, session.get(Bank, big.id))
        site.close()
        engine.dispose()

        def verdict(ok):
            return "PASS" if ok else "FAIL"

        rows = [
            (f"card page p50 @ {total:,}", f"{late_p50:.2f} ms", f"{early_p50:.2f} ms @ {len(early_days):,}",
             f"{late_p50 / early_p50:.2f}x", "", "info"),
            (f"card page p99 @ {total:,}", f"{late_p99:.2f} ms", f"{early_p99:.2f} ms @ {len(early_days):,}",
             f"{late_p99 / early_p99:.2f}x", "< 20 ms", verdict(late_p99 < 20)),
            ("GET /api/v1/health (framework floor)", f"p50 {health[0]:.2f} ms", f"p99 {health[1]:.2f} ms",
             "", "", "info"),
            ("redemption p50 (HTTP)", f"{red_p50:.2f} ms", f"deed {deed_p50:.2f} ms",
             f"{red_p50 / deed_p50:.2f}x", "", "info"),
            ("redemption p99 (HTTP)", f"{red_p99:.2f} ms", f"deed {deed_p99:.2f} ms",
             f"{red_p99 / deed_p99:.2f}x", "< 50 ms", verdict(red_p99 < 50)),
            (f"card sheet, {SHEET} residents (50 pages)", f"{sheet_s:.1f} s", f"{one_page:.2f} s for 10",
             f"{sheet_s / one_page:.0f}x for 50x the cards", "", "info"),
            *([("card page p99, 50 readers while a clerk posts", f"{morning['busy']['p99']:.1f} ms",
                f"{morning['quiet']['p99']:.1f} ms without the clerk",
                f"{morning['busy']['deeds']:,.1f} deeds/s", "< 50 ms",
                verdict(morning["busy"]["p99"] < 50 and not morning["busy"]["bad"]
                        and not morning["busy"]["refused"])),
               ("the same while deeds are posted back to back", f"{morning['flat_out']['p99']:.1f} ms",
                f"{morning['quiet']['p99']:.1f} ms without them",
                f"{morning['flat_out']['deeds']:,.0f} deeds/s", "",
                "info" if not (morning["flat_out"]["bad"] or morning["flat_out"]["refused"]) else "FAIL")]
              if morning else []),
            ("verify the big bank after the bench", "OK" if report.ok else "FAILED", "", "", "OK",
             verdict(report.ok)),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a small county, for a quick run")
    parser.add_argument("--think", type=int, default=500, help="ms each of the 50 readers pauses between pages")
    parser.add_argument("--seconds", type=int, default=10, help="length of each morning measurement")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes for the morning (`zongzhi serve --processes`; default 1)")
    args = parser.parse_args()
    rows = run("small" if args.small else "full", args.think, args.seconds, args.processes)
    widths = [max(len(str(r[i])) for r in rows + [("figure", "value", "baseline", "ratio", "target",
                                                    "verdict")]) for i in range(6)]
    header = ("figure", "value", "baseline", "ratio", "target", "verdict")
    print()
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
