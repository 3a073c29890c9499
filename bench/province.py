"""Benchmark of a province's hard mornings on PostgreSQL, every figure beside its baseline from the same run.

A tenth of a province is 2,000 banks, 1,000,000 residents and a month of 800,000 transfers. That
does not build in reasonable time on a 2-core machine, so the county is that tenth times
`--scale` (default 0.02: 40 banks, 20,000 residents, 16,000 September transfers); the per-notice and
per-request figures do not depend on the county's size, only on a bank's.

1. The 1st of the month: a year's notices (FIGURE_1_PERIODS) of half the banks rendered by
   one `zongzhi worker` process (the baseline), those of the other half by two (a single month
   of 20 banks takes under a second, too short to time); notices per minute each, the speed-up
   (target 1.8x), and from the one-process rate the cores that 20,000 notices within an hour need
   (target: 8 or fewer). Beside them, the cores the whole machine kept busy during each side
   (/proc/stat): one worker, its broker and PostgreSQL's backend already keep more than one
   core busy, so on N cores two workers can reach at most N over that.
2. The residents' morning: card pages p50/p99 with 50 concurrent readers (wrk, as bench/desk.py
   drives them) against `zongzhi serve --processes N` reading from a streaming replica (the lag
   it kept, and any page handed to the primary, printed with it), while two workers render a year of
   notices of every bank (FIGURE_2_PERIODS, lasting past the readers), against the same with
   nothing running (target p99 < 50 ms; any answer but 200 fails
   it). Each reader pauses about --think ms (default 500, at random about it, as in
   bench/desk.py) between pages, as a resident reads a page before opening the next; `--think 0`
   has them open pages flat out, which measures the server's capacity rather than a morning.
   The workers run as `zongzhi worker` does by default, below normal priority.
3. Posting: 16 clients posting deeds into 16 banks at once (transactions per second), spread
   over --processes processes, against pgbench's TPC-B with 16 clients on the same server
   (target >= 50%); and, looked at every 20 ms meanwhile, the bench database's sessions waiting
   on a lock: each client posts into a bank of its own, so any would be one bank's posting
   waiting on another's (target: none).

Run from the project root (needs RabbitMQ or Redis for figure 1 and 2):

    .venv/bin/python bench/province.py --postgres-url postgresql://postgres@127.0.0.1:5432/test \
        --broker redis://127.0.0.1:6379/14 [--replica-url postgresql://… | --no-replica] [--scale 0.02]

It creates the databases zongzhi_province_<pid> and zongzhi_pgbench_<pid> beside the one in the URL
and drops them at the end. The replica, when given, must be streaming from that server. Without
one, the bench makes its own as the tests do (tests/pgpair.py: `pg_basebackup -R` of that server,
started with the installed PostgreSQL 15 binaries on a free port, fsync on). A server that
refuses replication connections (no `host replication` line in its pg_hba.conf) cannot have one:
then the bench makes a primary too, with PostgreSQL's defaults, runs everything on it (pgbench
as well) and says so; `--no-replica` reads the card pages from the primary instead. It always
exits 0: it is a report, with PASS/FAIL against the targets.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]


from sqlalchemy import create_engine, func, select, text  # noqa: E402

import migrations  # noqa: E402
from cards import services as cards  # noqa: E402
from cycle import jobs, queue  # noqa: E402
from cycle.models import JobRun  # noqa: E402
from ground.db import normalize_url
from ground.tenants import Bank
from ledger.replica import Replica
from tests import pgpair

# The ledger bench builds a county the same way: its banks, residents and posting of history.
_spec = importlib.util.spec_from_file_location("bench_ledger", BENCH_DIR / "ledger.py")
county = importlib.util.module_from_spec(_spec)
sys.modules["bench_ledger"] = county
_spec.loader.exec_module(county)

# bench/http.py starts servers and drives them with wrk; the card readers live there.
_spec = importlib.util.spec_from_file_location("bench_http", BENCH_DIR / "http.py")
served = importlib.util.module_from_spec(_spec)
sys.modules["bench_http"] = served
_spec.loader.exec_module(served)

TENTH = {"banks": 2_000, "residents": 1_000_000, "transfers": 800_000}
PROVINCE_NOTICES = 20_000
READERS = served.CARD_READERS
#: The months whose notices each side of figure 1 renders, and those rendered in the background
#: of figure 2: enough that each lasts well past the workers' start, the hand-over and the
#: polling (one month of 20 banks takes under a second), and that figure 2's rendering outlasts
#: the readers. Four months each side had lasted 1.7-2.8 s, of which those fixed costs took a
#: share that weighed more on the two workers' shorter time.
FIGURE_1_PERIODS = [f"2025-{m:02d}" for m in range(10, 13)] + [f"2026-{m:02d}" for m in range(1, 10)]
FIGURE_2_PERIODS = [f"2024-{m:02d}" for m in range(1, 13)]
POSTERS = 16


def say(message: str) -> None:
    county.say(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Province:
    """The bench database, an app on it, and the processes started against it."""

    def __init__(self, server: str, broker: str, replica: str | None):
        self.name = f"zongzhi_province_{os.getpid()}"
        self.server = normalize_url(server).rsplit("/", 1)[0]
        self.admin = create_engine(self.server + "/postgres", isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = f"{self.server}/{self.name}"
        migrations.upgrade(self.url)
        self.queue = f"zongzhi.bench.{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "ZONGZHI_DATABASE_URL": self.url,
                    "ZONGZHI_BROKER_URL": broker, "ZONGZHI_CYCLE_QUEUE": self.queue,
                    "ZONGZHI_SECRET_KEY": "b" * 64, "ZONGZHI_PUBLIC_URL": "http://127.0.0.1"}
        if replica:
            self.env["ZONGZHI_REPLICA_URL"] = replica.rsplit("/", 1)[0] + f"/{self.name}"
        from zongzhi.app import create_app

        self.app = create_app({"DATABASE_URL": self.url, "BROKER_URL": broker, "CYCLE_QUEUE": self.queue,
                               "SECRET_KEY": "b"})
        self.sf = self.app.extensions["zongzhi.sessions"]
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, ready: str) -> subprocess.Popen:
        log = open(f"/tmp/{self.name}-{len(self.procs)}.log", "w+")
        proc = subprocess.Popen([sys.executable, "-m", "zongzhi.cli", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc.logfile = log
        self.procs.append(proc)
        deadline = time.monotonic() + 120
        while ready not in Path(log.name).read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)
        return proc

    def stop(self, proc) -> None:
        proc.terminate()
        proc.wait(timeout=30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        self.app.extensions["zongzhi.engine"].dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def build(p: Province, banks: int, residents: int, transfers: int, rng: random.Random) -> list:
    say(f"building {banks} banks, {residents:,} residents, {transfers:,} September transfers")
    opened = county.open_banks(p.sf, banks)[:banks]
    september = [date(2026, 9, 1) + timedelta(days=d) for d in range(30)]
    for bank in opened:
        county.add_residents(p.sf, bank, residents // banks, rng)
        county.post_history(p.sf, bank, sorted(rng.choice(september) for _ in range(transfers // banks)), rng)
    with p.admin.connect() as conn:
        conn.execute(text("SELECT 1"))
    with create_engine(p.url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("ANALYZE"))
    return opened


def busy_cores() -> float:
    """The machine's busy CPU time so far, in core-seconds (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def fan_out(p: Province, banks: list, periods: list[str], workers: int, busy: list | None = None) -> float:
    """Queue these periods' notices of these banks with `workers` worker processes; return seconds.
    With `busy`, append the cores the whole machine kept busy meanwhile (workers, their broker,
    PostgreSQL and the bench together)."""
    procs = [p.start("worker", "--concurrency", "1", ready="ready.") for _ in range(workers)]
    job = jobs.JOBS["monthly"]
    with p.sf() as session:
        rows = [session.get(Bank, b.id) for b in banks]
        for row in rows:
            session.expunge(row)
    t0, cpu0 = time.perf_counter(), busy_cores()
    with p.app.app_context():
        for period in periods:
            queue.hand_over_by_hand(p.app, rows, job, jobs.parse(job, period))
    ids = [b.id for b in banks]
    while True:
        with p.sf() as session:
            left = session.execute(select(func.count()).select_from(JobRun).where(
                JobRun.period.in_(periods), JobRun.bank_id.in_(ids),
                JobRun.status.not_in(("done", "failed")))).scalar()
        if not left:
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    if busy is not None:
        busy.append((busy_cores() - cpu0) / seconds)
    for proc in procs:
        p.stop(proc)
    with p.sf() as session:
        failed = session.execute(select(func.count()).select_from(JobRun).where(
            JobRun.period.in_(periods), JobRun.status == "failed")).scalar()
    assert not failed, f"{failed} notices failed"
    return seconds


def _post_from(url: str, banks: list, seconds: float, done) -> None:
    """In a process of its own: one thread a bank, each posting deeds into it for `seconds`;
    put the count on `done`."""
    from ground.db import make_engine, session_factory

    engine = make_engine(url)
    sf = session_factory(engine)
    counts = [0] * len(banks)
    stop = time.monotonic() + seconds

    def post(i: int) -> None:
        poster = county.ServicePoster(sf, banks[i])
        try:
            while time.monotonic() < stop:
                poster.deeds(1)
                counts[i] += 1
        finally:
            poster.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(banks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    done.put(sum(counts))


def posting(p: Province, banks: list, seconds: float, processes: int) -> tuple[float, list[int]]:
    """POSTERS clients, each posting deeds into a bank of its own, spread over `processes`
    processes (one Python process runs one core's worth of Python however many threads it has,
    as pgbench's clients are not limited); return transactions per second, and how many of
    the bench database's sessions were waiting on a lock at each look meanwhile."""
    import multiprocessing

    # The children open their own connections; the parent's pool is left to the parent.
    p.app.extensions["zongzhi.engine"].dispose()
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    children = [context.Process(target=_post_from, args=(p.url, banks[k:POSTERS:processes], seconds, done))
                for k in range(processes)]
    for child in children:
        child.start()
    waits = watch_lock_waits(p.url, children)
    total = sum(done.get(timeout=seconds + 120) for _ in children)
    for child in children:
        child.join()
    assert all(child.exitcode == 0 for child in children), [child.exitcode for child in children]
    return total / seconds, waits


def pgbench(server: str, seconds: int) -> float:
    name = f"zongzhi_pgbench_{os.getpid()}"
    bin_dir = pgpair.BIN
    admin = create_engine(normalize_url(server).rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        host = server.split("@", 1)[1].split("/", 1)[0]
        h, port = (host.split(":") + ["5432"])[:2]
        common = ["-h", h, "-p", port, "-U", "postgres"]
        subprocess.run([f"{bin_dir}/pgbench", "-i", "-s", str(POSTERS), "-q", *common, name], check=True,
                       capture_output=True)
        out = subprocess.run([f"{bin_dir}/pgbench", "-c", str(POSTERS), "-j", "2", "-T", str(seconds), *common, name],
                             check=True, capture_output=True, text=True).stdout
        return float(re.search(r"tps = ([0-9.]+)", out).group(1))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def watch_lock_waits(url: str, children: list) -> list[int]:
    """Count, every 20 ms while any of `children` runs, the database's sessions waiting on a
    lock (pg_stat_activity's wait_event_type 'Lock'): with each client posting into a bank of
    its own, any would be one bank's posting waiting on another's. Returns the looks' list."""
    counts: list[int] = []
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")

    def look() -> None:
        with engine.connect() as conn:
            while any(child.is_alive() for child in children):
                counts.append(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar())
                time.sleep(0.02)
        engine.dispose()

    threading.Thread(target=look, daemon=True).start()
    return counts


def watch_lag(url: str | None, work: threading.Thread) -> list[float]:
    """Look at the replica's lag (as the server does) twice a second while `work` runs, from a
    thread of its own; return the list the looks go into (empty without a replica)."""
    lags: list[float] = []
    if not url:
        return lags
    replica = Replica(url, max_lag=5)

    def look() -> None:
        while not work.is_alive() and not work.ident:  # until the fan-out starts
            time.sleep(0.05)
        while work.is_alive():
            try:
                lags.append(replica.lag())
            except Exception:
                lags.append(float("inf"))
            time.sleep(0.5)
        replica.engine.dispose()

    threading.Thread(target=look, daemon=True).start()
    return lags


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("ZONGZHI_BENCH_POSTGRES_URL")
                        or os.environ.get("ZONGZHI_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--broker", default=os.environ.get("ZONGZHI_BROKER_URL") or "redis://127.0.0.1:6379/14")
    parser.add_argument("--replica-url", default=os.environ.get("ZONGZHI_REPLICA_URL"),
                        help="a replica streaming from --postgres-url's server; without it the bench "
                             "makes one of its own (tests/pgpair.py)")
    parser.add_argument("--no-replica", action="store_true",
                        help="read the card pages from the primary, with no replica at all")
    parser.add_argument("--scale", type=float, default=0.02, help="of a tenth of a province (default 0.02)")
    parser.add_argument("--seconds", type=int, default=10, help="each timed read and posting phase")
    parser.add_argument("--think", type=int, default=500,
                        help="ms each of the 50 readers pauses between pages, on average")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="server processes for the card pages, and processes the 16 posting "
                             "clients are spread over (default: one per core)")
    args = parser.parse_args()
    size = {k: max(4 if k == "banks" else 1, int(v * args.scale)) for k, v in TENTH.items()}
    load = os.getloadavg()
    say(f"scale {args.scale} of a tenth of a province; {os.cpu_count()} cores, load {load[0]:.1f}")
    server, replica_url, pair = args.postgres_url, args.replica_url, None
    if not replica_url and not args.no_replica and pgpair.available():
        pair = pgpair.make(Path(tempfile.mkdtemp(prefix="zongzhi-province-pair-")), server.rsplit("/", 1)[0],
                           fsync=True)
        replica_url = f"{pair.replica.url}/postgres"
        if pair.own_primary:
            # The server refuses replication connections: the whole bench, pgbench included, runs on
            # a primary made for the replica, with PostgreSQL's defaults.
            server = f"{pair.primary_url}/postgres"
        say(f"a streaming replica of {pair.primary_url} on port {pair.replica.port}"
            + (f" ({args.postgres_url.rsplit('/', 1)[0]} refuses replication: primary and replica made "
               "by the bench)" if pair.own_primary else ""))
    if not replica_url and not args.no_replica:
        say(f"no replica: the PostgreSQL 15 binaries are not in {pgpair.BIN}; the primary serves the card pages")
    p = Province(server, args.broker, replica_url)
    rows = []
    try:
        banks = build(p, size["banks"], size["residents"], size["transfers"], random.Random(7))
        half = len(banks) // 2
        say(f"figure 1: {len(FIGURE_1_PERIODS)} months' notices, one worker process then two")
        busy: list[float] = []
        one = fan_out(p, banks[:half], FIGURE_1_PERIODS, 1, busy)
        two = fan_out(p, banks[half:2 * half], FIGURE_1_PERIODS, 2, busy)
        notices = half * len(FIGURE_1_PERIODS)
        per_minute_one, per_minute_two = notices / one * 60, notices / two * 60
        cores = PROVINCE_NOTICES * (one / notices) / 3600
        rows += [("notices per minute, 2 workers", f"{per_minute_two:,.0f}", f"{per_minute_one:,.0f} (1 worker)",
                  f"{per_minute_two / per_minute_one:.2f}x", ">= 1.8x", verdict(per_minute_two >= 1.8 * per_minute_one)),
                 ("  cores the machine kept busy, 2 workers", f"{busy[1]:.2f}", f"{busy[0]:.2f} (1 worker)",
                  f"at most {(os.cpu_count() or 1) / busy[0]:.2f}x on {os.cpu_count()} cores", "", "info"),
                 ("cores for 20,000 notices in an hour", f"{cores:.1f}", f"{one / notices:.2f} s a notice",
                  "", "<= 8", verdict(cores <= 8))]
        say(f"figure 2: card pages with 50 readers, idle then during {len(FIGURE_2_PERIODS)} months' fan-out")
        with p.sf() as session:
            bank = session.get(Bank, banks[0].id)
            tokens = [c.token for c in cards.issue_cards(session, bank, resident_ids=banks[0].residents[:200],
                                                         by="bench", clock=county.CLOCK)]
        port = free_port()
        card_server = p.start("serve", "--port", str(port), "--processes", str(args.processes), ready="serving on")
        workdir = Path(f"/tmp/{p.name}-wrk")
        workdir.mkdir(exist_ok=True)

        def read(seconds: int) -> dict:
            return served.card_readers(port, tokens, think_ms=args.think, seconds=seconds, workdir=workdir)

        read(5)  # warm-up: every server process has built its app and compiled its templates
        idle = read(args.seconds)
        background = threading.Thread(target=fan_out, args=(p, banks, FIGURE_2_PERIODS, 2))
        lags = watch_lag(p.env.get("ZONGZHI_REPLICA_URL"), background)
        background.start()
        busy = read(args.seconds)
        background.join()
        p.stop(card_server)
        handed = Path(card_server.logfile.name).read_text(errors="replace").count("the primary serves")
        where = "replica" if replica_url else "primary (no replica)"
        clean = not busy["bad"] and not idle["bad"]
        rows += [(f"card page p50 on the {where}, during fan-out", f"{busy['p50']:.1f} ms",
                  f"{idle['p50']:.1f} ms idle", f"{busy['p50'] / idle['p50']:.2f}x", "", ""),
                 (f"card page p99 on the {where}, during fan-out", f"{busy['p99']:.1f} ms",
                  f"{idle['p99']:.1f} ms idle", f"{busy['p99'] / idle['p99']:.2f}x", "< 50 ms",
                  verdict(busy["p99"] < 50 and clean)),
                 (f"card pages a second, {READERS} readers pausing about {args.think} ms",
                  f"{busy['pages']:,.0f}", f"{idle['pages']:,.0f} idle",
                  f"{busy['bad'] + idle['bad']} not 200", "", "" if clean else "FAIL")]
        if lags:
            rows.append(("replica's lag during the fan-out, most", f"{max(lags):.2f} s",
                         f"{len(lags)} looks", f"{handed} hand-overs to the primary", "", ""))
        say("figure 3: 16 clients posting into 16 banks, then pgbench TPC-B with 16 clients")
        ours, waits = posting(p, banks[:POSTERS], args.seconds, args.processes)
        theirs = pgbench(server, args.seconds)
        rows.append(("deeds posted per second, 16 clients in 16 banks", f"{ours:,.0f}",
                     f"{theirs:,.0f} pgbench TPC-B", f"{ours / theirs:.0%}", ">= 50%", verdict(ours >= theirs / 2)))
        rows.append(("sessions waiting on a lock while they post, most", f"{max(waits, default=0)}",
                     f"{len(waits)} looks", f"{sum(1 for w in waits if w)} looks with any", "0",
                     verdict(bool(waits) and not any(waits))))
    finally:
        p.close()
        if pair:
            pair.stop()
    print()
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in [("figure", "value", "baseline", "ratio", "target", "verdict")] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    end = os.getloadavg()
    print(f"\nscale {args.scale}: {size['banks']} banks, {size['residents']:,} residents, "
          f"{size['transfers']:,} transfers; load average {load[0]:.1f} at the start, {end[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
