"""Benchmark of roster uploads: spreadsheet and zip bombs against an honest 20,000-row roster, one run.

What it builds: a migrated SQLite database with two banks, copied afresh for every case; an
honest roster of 20,000 residents in 5,000 households, as .xlsx (openpyxl) and as CSV; and
the hostile files of ``tests/ledger/test_uploads.py`` (the same builders): a 1.6 KB workbook
declaring 26 columns by 1,048,576 rows (the file seen in the wild), one declaring the whole
grid (16,384 by 1,048,576), a single row numbered 1,048,576, shared strings that inflate a
thousandfold, and a zip whose header declares a 3 GB sheet.

What it measures, each case in a child process of its own so that its peak is its own:

1. the child's resident memory after start-up (imports, database open, the file read) and its
   peak during the import (Linux's VmHWM, reset just before), and the wall time of
   ``roster.import_roster`` — what the office's roster screen runs — on that file;
2. the baseline: the honest 20,000-row import, in the same run. A bomb should cost a small
   fraction of the honest import in time and memory: it is refused before its rows are read;
3. how long the import holds SQLite's write lock, and how long another bank's deed waits
   meanwhile (another process posting one deed every 20 ms): the import checks its rows
   outside the write lock, so the longest wait is the short bulk write, not the whole import.

Run it from the project root:

    .venv/bin/python bench/uploads.py
"""
from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

ROWS = 20000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红春生水根德福荣金凤玉梅冬小萍欣怡子轩浩然家豪俊思琪雨涵"


def honest_rows() -> list[list]:
    rng = random.Random(20000)
    rows, seen = [], set()
    while len(rows) < ROWS:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        home = f"H{len(rows) // 4:05d}"
        if (home, name) in seen:
            continue
        seen.add((home, name))
        relation = "户主" if len(rows) % 4 == 0 else rng.choice(("配偶", "子", "女", "孙子", "其他"))
        rows.append([name, home, relation, f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}", f"{name[0]}家"])
    return rows


def honest_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("名册")
    sheet.append(["姓名", "户号", "与户主关系", "电话", "户名"])
    for row in honest_rows():
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def honest_csv() -> bytes:
    lines = ["姓名,户号,与户主关系,电话,户名"] + [",".join(r) for r in honest_rows()]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def cases() -> list[tuple[str, str, bytes]]:
    """(label, filename, bytes) of every case; the honest ones first."""
    from tests.ledger.test_uploads import BOMBS

    out = [("honest roster, 20,000 rows (.xlsx)", "roster.xlsx", honest_xlsx()),
           ("honest roster, 20,000 rows (.csv)", "roster.csv", honest_csv())]
    for label in ("a declared dimension of a million rows", "a declared dimension of the whole grid",
                  "a single row numbered 1048576", "shared strings inflating a thousandfold",
                  "a sheet declaring 3 GB"):
        out.append((f"bomb: {label}", "bomb.xlsx", BOMBS[label][0]()))
    return out


# --- the child: one import, measured ------------------------------------------------------------

def child(db: str, filename: str, path: str) -> None:
    import contextlib

    from ledger import banks, roster
    from ground.clock import FixedClock
    from ground.db import make_engine, session_factory
    from ground.errors import ZongzhiError

    clock = FixedClock()
    session = session_factory(make_engine(f"sqlite:///{db}"))()
    bank = banks.get_bank(session, "bench")
    data = Path(path).read_bytes()
    session.commit()

    held: list[float] = []
    write = roster.transaction

    @contextlib.contextmanager
    def timed(s):
        began = time.perf_counter()
        try:
            with write(s) as inside:
                yield inside
        finally:
            held.append(time.perf_counter() - began)

    roster.transaction = timed  # the bench's own probe: how long the import holds the write lock
    stop = Path(path + ".stop")
    poster = subprocess.Popen([sys.executable, __file__, "--poster", db, str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    assert poster.stdout.readline().strip() == "ready"
    start = memory("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on is the import's
    began = time.perf_counter()
    try:
        report = roster.import_roster(session, bank, filename, data, by="bench", clock=clock)
        outcome = f"imported {report.count('create'):,}" if report.imported else f"{len(report.errors)} bad rows"
    except ZongzhiError as err:
        outcome = f"{err.status} {err.message_en}"
    took = time.perf_counter() - began
    peak = memory("VmHWM")
    time.sleep(0.1)
    stop.write_text("")
    waits = json.loads(poster.communicate()[0])
    print(json.dumps({"seconds": took, "start_mb": start, "peak_mb": peak, "outcome": outcome,
                      "lock_s": max(held, default=0.0), "deeds": len(waits),
                      "max_wait_ms": max(waits, default=0) * 1000}))


def memory(key: str) -> float:
    """Return this process's resident memory (VmRSS) or its peak since the last reset (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def poster(db: str, stop: str) -> None:
    """Another server process: post a deed for the other bank every 20 ms until told to stop."""
    from ledger import banks, deeds, people
    from ground.clock import FixedClock
    from ground.db import make_engine, session_factory

    clock = FixedClock()
    session = session_factory(make_engine(f"sqlite:///{db}"))()
    bank = banks.get_bank(session, "other")
    patroller = people.create_resident(session, bank, name="赵六", household="X01", phone=None, clock=clock)
    waits = []
    print("ready", flush=True)
    while not Path(stop).exists():
        began = time.perf_counter()
        deeds.post_deed(session, bank, rule_code="littering", resident_ids=[patroller.id], quantity=1,
                        occurred_on=clock.today(), memo="bench", by="bench", clock=clock, idem=None)
        waits.append(time.perf_counter() - began)
        time.sleep(0.02)
    print(json.dumps(waits))


# --- the parent: build, run each case in a child, report ----------------------------------------

def template(folder: Path) -> Path:
    import migrations
    from ledger import banks, people
    from ground.clock import FixedClock
    from ground.db import make_engine, session_factory

    path = folder / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    session = session_factory(engine)()
    rules = (ROOT / "seed_data" / "rules" / "default.yaml").read_text("utf-8")
    for code in ("bench", "other"):
        banks.create_bank(session, code, f"{code} 村", rules_text=rules, source_name="default.yaml",
                          by="bench", clock=FixedClock())
    people.create_household(session, banks.get_bank(session, "other"), code="X01", name="", clock=FixedClock())
    session.close()
    engine.dispose()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("DB", "FILENAME", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--poster", nargs=2, metavar=("DB", "STOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.poster:
        poster(*args.poster)
        return
    folder = Path(tempfile.mkdtemp(prefix="zongzhi-uploads-"))
    try:
        base = template(folder)
        print("SQLite; each case in a fresh child process on a fresh copy of a database of two banks\n")
        print(f"  {'case':48} {'file':>9} {'time s':>7} {'start MB':>9} {'peak MB':>8} {'+MB':>6} "
              f"{'lock s':>6}  {'deeds':>5} {'max wait ms':>11}  outcome")
        rows = []
        for n, (label, filename, data) in enumerate(cases()):
            db, upload = folder / f"case{n}.db", folder / f"case{n}-{filename}"
            shutil.copy(base, db)
            upload.write_bytes(data)
            began = time.perf_counter()
            answer = subprocess.run([sys.executable, __file__, "--child", str(db), filename, str(upload)],
                                    capture_output=True, text=True, cwd=ROOT)
            size = f"{len(data) / 1024:.1f} KB" if len(data) < 2**20 else f"{len(data) / 2**20:.1f} MB"
            if answer.returncode != 0:  # a bomb that went off: say so, and go on with the others
                why = (answer.stderr.strip().splitlines() or ["killed"])[-1]
                print(f"  {label:48} {size:>9} {time.perf_counter() - began:7.2f}  the import crashed: {why[:80]}")
                rows.append((label, {"seconds": float("inf"), "start_mb": 0, "peak_mb": float("inf")}))
                continue
            figures = json.loads(answer.stdout.strip().splitlines()[-1])
            rows.append((label, figures))
            print(f"  {label:48} {size:>9} {figures['seconds']:7.2f} {figures['start_mb']:9.0f} "
                  f"{figures['peak_mb']:8.0f} {figures['peak_mb'] - figures['start_mb']:6.0f} "
                  f"{figures['lock_s']:6.2f}  {figures['deeds']:5d} {figures['max_wait_ms']:11.0f}  {figures['outcome'][:70]}")
        honest = rows[0][1]
        worst = max((f for label, f in rows if label.startswith("bomb")), key=lambda f: f["seconds"])
        grown = max((f["peak_mb"] - f["start_mb"] for label, f in rows if label.startswith("bomb")))
        print(f"\n  baseline (honest .xlsx import): {honest['seconds']:.2f} s, +{honest['peak_mb'] - honest['start_mb']:.0f} MB")
        print(f"  slowest bomb: {worst['seconds']:.3f} s; most memory a bomb added: {grown:.0f} MB")
        verdict = "PASS" if worst["seconds"] < honest["seconds"] / 10 and grown < 50 else "FAIL"
        print(f"  target: every bomb refused in under a tenth of the honest import's time, adding < 50 MB: {verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
