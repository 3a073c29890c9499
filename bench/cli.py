"""Benchmark of the command line's start: `zongzhi verify` next to Python importing its libraries.

A command run by hand, from cron or by a script should cost what it does, not what the whole
app costs to load. Every figure here is a command run as a user runs it (a fresh process of the
installed `zongzhi` script, end to end: start, imports, the database, the output), timed from
this process, best of N. Side by side, in the same rounds:

1. the baseline: `python -c "import sqlalchemy.orm, click"`, the two libraries no command can
   start without;
2. `zongzhi verify` of a small bank (26 transfers): the start itself. Target: within 3x of the
   baseline;
3. `zongzhi verify` of a bank of 100,000 transfers: the start plus the work, next to the two
   checks it runs, timed in this process on the same bank: `verify_bank` (the hash chain and
   balances) and `stats.upkeep.check` (the monthly figures);
4. for reference, what every command paid before it stopped building the app:
   `python -c "from zongzhi.app import create_app; create_app()"`.

What it builds: a temporary SQLite database at the schema's head (Alembic), two banks opened
through `ledger.banks.create_bank`, residents inserted in bulk, and their transfers posted
through `ledger.posting.post`, 1,000 drafts per transaction (bench/ledger.py's helpers), so the
hash chains, balances and monthly figures are real and `zongzhi verify` must say OK. The
monthly figures are counted as the daily close counts them. Everything is deleted at the end.

Run it from the project root (on 2 cores about a minute to build, a minute or two to time):

    .venv/bin/python bench/cli.py
    .venv/bin/python bench/cli.py --rounds 11 --transfers 100000

It prints the machine's load average: on a busy machine every figure grows, the ratio (each
side taken in the same rounds) much less. It exits 0 whatever it finds: it is a report, with
PASS/MISS against the target.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# This folder holds ledger.py, named like the package it measures: put the project root first
# and drop bench/ (which Python puts on the path when the script is run).
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

ZONGZHI = str(Path(sys.executable).with_name("zongzhi"))
BASELINE = [sys.executable, "-c", "import sqlalchemy.orm, click"]
WHOLE_APP = [sys.executable, "-c", "from zongzhi.app import create_app; create_app()"]
TARGET = 3.0
SMALL_TRANSFERS = 26


def _bench_ledger():
    """bench/ledger.py's building helpers, loaded under a name of their own."""
    spec = importlib.util.spec_from_file_location("bench_ledger", BENCH_DIR / "ledger.py")
    module = sys.modules["bench_ledger"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(url: str, transfers: int) -> dict:
    """Two banks at `url`: `small` with 26 transfers and `big` with `transfers`; their ids."""
    from sqlalchemy import select

    import migrations
    from ground.db import make_engine, session_factory
    from ledger import banks as ledger_banks
    from ledger.models import PTS, Account
    from stats import upkeep

    helpers = _bench_ledger()
    migrations.upgrade(url)
    engine = make_engine(url)
    sf = session_factory(engine)
    rng = random.Random(26)
    banks = {}
    with sf() as session:
        for code, name in (("small", "小村综治银行"), ("big", "大村综治银行")):
            bank = ledger_banks.create_bank(session, code, name, rules_text=helpers.RULES,
                                            source_name="bench.yaml", by="bench", clock=helpers.CLOCK)
            banks[code] = helpers.BankInfo(bank.id, code)
    for info, count, residents in ((banks["small"], SMALL_TRANSFERS, 12), (banks["big"], transfers, 2_000)):
        with sf() as session:
            system = dict(session.execute(select(Account.code, Account.id).where(
                Account.bank_id == info.id, Account.ledger == PTS)).all())
        info.issued, info.penalties = system["issued"], system["penalties"]
        helpers.add_residents(sf, info, residents, rng)
        t0 = time.perf_counter()
        helpers.post_history(sf, info, helpers.spread(count, helpers.TODAY - timedelta(days=999),
                                                       helpers.TODAY), rng)
        with sf() as session:
            upkeep.catch_up(session, info.id)
            session.commit()
        helpers.say(f"bank {info.code}: {count:,} transfers posted in {time.perf_counter() - t0:.1f}s")
    engine.dispose()
    return {code: info.id for code, info in banks.items()}


def verify_in_process(url: str, bank_id: int, times: int = 3) -> tuple[int, float, float]:
    """What `zongzhi verify` does, run in this process on one bank, best of `times`: the number
    of transfers, the time of `verify_bank` (the chain and balances) and of the monthly figures'
    check (`stats.upkeep.check`)."""
    from ground.db import make_engine, session_factory
    from ground.tenants import Bank
    from ledger.verify import verify_bank
    from stats import upkeep

    engine = make_engine(url)
    try:
        chain_s = figures_s = float("inf")
        for _ in range(times):
            with session_factory(engine)() as session:
                bank = session.get(Bank, bank_id)
                t0 = time.perf_counter()
                report = verify_bank(session, bank)
                t1 = time.perf_counter()
                differences = upkeep.check(session, bank)
                t2 = time.perf_counter()
            assert report.ok and not differences, (report.problems[:3], differences[:3])
            chain_s, figures_s = min(chain_s, t1 - t0), min(figures_s, t2 - t1)
        return report.transfers, chain_s, figures_s
    finally:
        engine.dispose()


def run(command: list[str], env: dict) -> tuple[float, float, str]:
    """Run a command to its end; return its time and its CPU time in seconds, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, cpu, done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=100_000, help="the big bank's transfers")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of timing (best of them counts)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="zongzhi-bench-cli-"))
    try:
        url = f"sqlite:///{workdir / 'zongzhi.db'}"
        env = {**os.environ, "ZONGZHI_DATABASE_URL": url, "ZONGZHI_INSTANCE": str(workdir / "instance"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("ZONGZHI_BROKER_URL", None)
        ids = build(url, args.transfers)
        count, chain_s, figures_s = verify_in_process(url, ids["big"])

        commands = {
            "baseline": BASELINE,
            "small": [ZONGZHI, "verify", "small"],
            "big": [ZONGZHI, "verify", "big"],
            "app": WHOLE_APP,
        }
        times = {name: [] for name in commands}
        cpus = {name: [] for name in commands}
        said = {}
        for name, command in commands.items():
            run(command, env)  # once first, so every round finds the files in the page cache
        for _ in range(args.rounds):
            for name, command in commands.items():
                seconds, cpu, said[name] = run(command, env)
                times[name].append(seconds)
                cpus[name].append(cpu)
        best = {name: min(values) for name, values in times.items()}
        cpu = {name: min(values) for name, values in cpus.items()}
        ratio = best["small"] / best["baseline"]

        def line(label: str, name: str | None, seconds: float, rest: str) -> None:
            used = f"{cpu[name] * 1000:7.0f} ms" if name else " " * 10
            print(f"  {label:46} {seconds * 1000:7.0f} ms {used}   {rest}")

        print()
        print(f"zongzhi verify, as a command: best of {args.rounds} rounds, each a fresh process ({load()})")
        print(f"  {'':46} {'time':>10} {'CPU time':>10}")
        line('python -c "import sqlalchemy.orm, click"', "baseline", best["baseline"], "the baseline")
        line(f"zongzhi verify small ({SMALL_TRANSFERS} transfers)", "small", best["small"],
             f"{ratio:.2f}x the baseline (CPU time {cpu['small'] / cpu['baseline']:.2f}x), "
             f"target <= {TARGET:.0f}x: {'PASS' if ratio <= TARGET else 'MISS'}")
        line(f"zongzhi verify big ({count:,} transfers)", "big", best["big"],
             f"{count / best['big']:,.0f} transfers/s end to end")
        line("  of which verify_bank, in process", None, chain_s,
             f"{count / chain_s:,.0f} transfers/s (the chain and balances)")
        line("  and the monthly figures' check, in process", None, figures_s,
             f"{count / figures_s:,.0f} transfers/s (stats.upkeep.check)")
        line('python -c "create_app()" (the whole app)', "app", best["app"],
             f"{best['app'] / best['baseline']:.2f}x the baseline: what every command paid before")
        print(f"  zongzhi said: {said['small']} | {said['big']}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    sys.exit(main())
