"""Benchmark: rendering monthly notices, the naive way against ours, in one run.

    python bench/notices.py               # a 500-resident notice, and a county of 200 such banks
    python bench/notices.py --banks 20    # a smaller county, for a quick look

The notices are built with the real code (reports.notice.build_notice) from generated residents,
names with rare characters (䶮 𠮷 𪚥 𬌗) among them, then rendered to PDF:

- naive: web.pdf.render_pdf with WeasyPrint's defaults (its full HTML stylesheet, automatic
  table layout), one process;
- fontTools: the naive rendering with font subsetting done by fontTools, as WeasyPrint did
  before it subset with HarfBuzz (the setup where a notice took 13-18 s, most of it subsetting);
- the job: what the monthly cycle and a printer do for a real bank of --residents residents and a
  month of deeds (three each) on SQLite: reports.services.publish_notice (the snapshot, under
  the bank's lock) and reports.paper.notice_pdf of the stored snapshot; against it, plain
  WeasyPrint (naive, below) rendering the same snapshot's table, in the same warm process.
  Target: the job in at most a third of plain WeasyPrint's time.
- ours: reports.paper.to_pdf on the paper notice (reports.paper.notice_html): each table row
  prints as one line of a monospaced CJK face whose columns are whole numbers of half-width
  cells (one box instead of a dozen per row; rows that may not fit fall back to cells), a
  stylesheet cut to what reports use, parsed stylesheets reused; for the county, a process
  pool of one worker per core.

"fontTools" is the naive baseline the targets are measured against (the original 13-18 s).
The county is measured for --banks banks (200 unless told) and, when fewer, extrapolated to
200; the naive county is measured for --naive-banks banks in one process and extrapolated.
The output says which figures were measured and which extrapolated.

Every PDF is checked: all names come back out of pdftotext, so no speed is bought with glyphs.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/http.py and bench/ledger.py are named like a module and a package: drop bench/ first.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from reports import paper  # noqa: E402
from reports.notice import Home, Movement, Person, build_notice  # noqa: E402
from rules import DEFAULT_CATEGORIES, Rule  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂建国志长根水生春德华细伢火冬俊浩然子轩家豪亮光荣发花梅小红萍美凤玉月娥"
RARE = "䶮𠮷𪚥𬌗"
RULES = {r.code: r for r in (
    Rule("patrol", "夜间巡逻", "社会治安", 2, "小时"), Rule("cleanup", "环境整治", "环境卫生", 3, "次"),
    Rule("volunteer", "志愿服务", "道德文化", 2, "小时"), Rule("law", "参加普法学习", "法治建设", 2, "次"),
    Rule("mediation", "调解纠纷", "矛盾纠纷调解", 10, "次", notice="category_only"),
    Rule("litter", "乱扔垃圾", "环境卫生", -5, "次"), Rule("gambling", "赌博", "法治建设", -20, "次", notice="hidden"))}


def notice_content(seed: int, residents: int) -> tuple[dict, list[str]]:
    """A generated bank's notice content, as the monthly job freezes it."""
    rng = random.Random(seed)
    homes = [Home(i, f"H{i:03d}", "") for i in range(1, residents // 3 + 2)]
    people, names = [], []
    for i in range(1, residents + 1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < .7 else "")
        if i % 97 == 0:
            name = name[0] + RARE[(i // 97) % 4] + name[1:]
        names.append(name)
        people.append(Person(i, name, homes[(i - 1) // 3].id))
    moves = [Movement(p.id, code, 1, rng.choice([1, 2, 3]) * RULES[code].points, 1)
             for p in people for code in rng.sample(sorted(RULES), rng.randint(0, 3))]
    built = build_notice(residents=people, households=homes, movements=moves,
                         rule_of=lambda code, v, on: RULES[code], categories=DEFAULT_CATEGORIES,
                         balances={f"resident:{p.id}": rng.randint(0, 300) for p in people},
                         account_unit="person", on=date(2026, 9, 30))
    content = {"bank": {"code": f"b{seed}", "name": f"第{seed}村综治银行"}, "month": "2026-09",
               "published_at": "2026-10-01T00:00:00+00:00", "objection_deadline": "2026-10-08T08:00+08:00",
               "objection_days": 7, "how_to_object": "请到记分员处提出异议。", "account_unit": "person",
               "categories": list(DEFAULT_CATEGORIES), "rules_version": "0" * 64,
               "head": {"seq": 12345, "hash": "ab" * 32}, **built}
    return content, names


def render(content: dict, mode: str) -> bytes:
    html = paper.notice_html(content, "cd" * 32, qr_url=f"https://example.org/n/{content['bank']['code']}",
                             tz=TZ, lines=(mode == "ours"))
    if mode == "fonttools":
        from weasyprint.pdf import fonts

        fonts.harfbuzz_subset = None  # WeasyPrint then subsets with fontTools, as it used to
        mode = "naive"
    return paper.to_pdf(html, paper.NOTICE_CSS, fast=(mode == "ours"))


def check(pdf: bytes, names: list[str]) -> None:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", f.name, "-"], capture_output=True,
                              check=True).stdout.decode("utf-8")
    lost = [n for n in names if n not in text]
    if lost:
        raise SystemExit(f"names lost in print: {lost[:5]}")


_app = None


def paper_context():
    """The app's context, which paper renders in (the app's Jinja environment): one app a process."""
    global _app
    if _app is None:
        from zongzhi.app import create_app

        _app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "bench"})
    return _app.app_context()


def _one(args) -> tuple[float, float]:
    """(wall, CPU) seconds of rendering one generated notice, its names checked afterwards."""
    seed, residents, mode = args
    content, names = notice_content(seed, residents)
    with paper_context():
        started, cpu = time.perf_counter(), time.process_time()
        pdf = render(content, mode)
        took = time.perf_counter() - started, time.process_time() - cpu
    check(pdf, names)
    return took


def timed(mode: str, residents: int, repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) of `repeat` renders of one notice, in a fresh process (nothing warm but
    what we warm)."""
    with ProcessPoolExecutor(1) as pool:
        pool.submit(_one, (999, 20, mode)).result()  # start-up: imports, fonts found once per process
        return min(pool.submit(_one, (1, residents, mode)).result() for _ in range(repeat))


def _job(residents: int) -> tuple[float, float, float, float, float]:
    """(job wall, plain WeasyPrint wall of the same table, the job's snapshot, job CPU, plain
    CPU) in seconds."""
    import importlib.util
    import json
    import shutil
    from datetime import datetime, timezone

    from sqlalchemy import select

    import migrations
    from ground.clock import FixedClock
    from ground.db import make_engine, session_factory, transaction
    from ledger.models import PTS, Account
    from ground.tenants import Bank
    from ledger.posting import Draft, post
    from reports import services as reports

    spec = importlib.util.spec_from_file_location("bench_village", BENCH_DIR / "village.py")
    village = sys.modules["bench_village"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(village)
    clock = FixedClock(at=datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc))
    workdir = tempfile.mkdtemp(prefix="zongzhi-notice-job-")
    try:
        url = f"sqlite:///{workdir}/job.db"
        migrations.upgrade(url)
        engine = make_engine(url)
        sf = session_factory(engine)
        [bank] = village.build(sf, banks=1, residents=residents, clock=clock)
        with sf() as session:
            accounts = dict(session.execute(select(Account.code, Account.id).where(
                Account.bank_id == bank.id, Account.ledger == PTS)).all())
            drafts = [Draft(ledger=PTS, debit_id=accounts["issued"], credit_id=accounts[f"resident:{r}"],
                            amount=3, kind="deed", occurred_on=date(2026, 9, 1 + (i * 7 + k) % 30),
                            rule_code="cleanup", rule_version=1, doer_id=r)
                      for i, r in enumerate(bank.residents) for k in range(3)]
            with transaction(session):
                post(session, bank.id, *([d] for d in drafts), by="bench", clock=clock)
        with sf() as session, paper_context():
            row = session.get(Bank, bank.id)
            started, cpu = time.perf_counter(), time.process_time()
            snapshot = reports.publish_notice(session, row, "2026-09", by="bench", clock=clock)
            frozen = time.perf_counter() - started
            content = json.loads(snapshot.content)
            paper.notice_pdf(content, snapshot.content_hash, qr_url="https://example.org/n", tz=TZ)
            job, job_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        with paper_context():
            html = paper.notice_html(content, snapshot.content_hash, qr_url="https://example.org/n", tz=TZ,
                                     lines=False)
        paper.to_pdf(html, paper.NOTICE_CSS, fast=False)
        plain, plain_cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        return job, plain, frozen, job_cpu, plain_cpu
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def job_timing(residents: int) -> tuple[float, float, float, float, float]:
    """The job against plain WeasyPrint, in one warm process (a small notice first warms both)."""
    with ProcessPoolExecutor(1) as pool:
        pool.submit(_one, (999, 20, "naive")).result()
        pool.submit(_one, (998, 20, "ours")).result()
        return pool.submit(_job, residents).result()


def county(mode: str, banks: int, residents: int, workers: int) -> tuple[float, float]:
    """(wall, summed render CPU) seconds of a county's notices over `workers` processes."""
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        times = list(pool.map(_one, [(seed, residents, mode) for seed in range(banks)], chunksize=2))
    return time.perf_counter() - started, sum(cpu for _, cpu in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--banks", type=int, default=200, help="banks rendered our way (measured)")
    parser.add_argument("--naive-banks", type=int, default=3,
                        help="banks rendered the naive (fontTools) way, to extrapolate its county time")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"notices of {args.residents} residents; {cores} cores; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
    timings = {mode: timed(mode, args.residents, args.repeat) for mode in ("fonttools", "naive", "ours")}
    figures = {mode: wall for mode, (wall, _) in timings.items()}
    print(f"one notice (measured, best of {args.repeat}, warm process):")
    for mode, (wall, cpu) in timings.items():
        print(f"  {mode:9s} {wall:6.2f} s  (CPU {cpu:5.2f} s)")
    single_x = figures["fonttools"] / figures["ours"]
    print(f"  ours vs naive (fontTools): {single_x:.1f}x faster; "
          f"vs plain WeasyPrint: {figures['naive'] / figures['ours']:.1f}x faster")
    job, plain, frozen, job_cpu, plain_cpu = job_timing(args.residents)
    print(f"the job for a bank of {args.residents} residents (snapshot {frozen:.2f} s + its PDF): "
          f"{job:.2f} s (CPU {job_cpu:.2f} s); plain WeasyPrint of the same table: {plain:.2f} s "
          f"(CPU {plain_cpu:.2f} s); {job / plain:.0%} of it "
          f"(target at most 33%: {'met' if job <= plain / 3 else 'MISSED'})")
    naive_measured, _ = county("fonttools", args.naive_banks, args.residents, 1)
    naive_200 = naive_measured / args.naive_banks * 200
    ours_measured, ours_cpu = county("ours", args.banks, args.residents, cores)
    ours_200 = ours_measured / args.banks * 200
    print("county (one notice per bank, start-up of the processes included):")
    print(f"  naive (fontTools, 1 process): measured {naive_measured:6.1f} s for {args.naive_banks} banks "
          f"-> extrapolated {naive_200:6.0f} s for 200")
    how = "measured" if args.banks == 200 else f"extrapolated from {ours_measured:.1f} s measured for {args.banks}"
    print(f"  ours ({cores} processes): {ours_200:6.1f} s for 200 banks ({how})")
    print(f"  ours vs naive: {naive_200 / ours_200:.1f}x faster")
    print(f"  ours, render CPU summed over the {args.banks} notices: {ours_cpu:.1f} s "
          f"({ours_cpu / args.banks:.2f} s a notice; {ours_cpu / args.banks * 200 / cores:.0f} s for 200 "
          f"banks on {cores} idle cores, a floor computed from the measured CPU, not measured)")
    print(f"  load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(other work on the machine slows every wall-clock figure above)")
    print("targets:")
    print(f"  one notice < 2 s: {figures['ours']:.2f} s, {'met' if figures['ours'] < 2 else 'MISSED'}")
    print(f"  county of 200 < 300 s on {cores} cores: {ours_200:.0f} s, {'met' if ours_200 < 300 else 'MISSED'}"
          f"{'' if args.banks == 200 else ' (extrapolated)'}")
    print(f"  >= 5x faster than naive: one notice {single_x:.1f}x, county {naive_200 / ours_200:.1f}x, "
          f"{'met' if min(single_x, naive_200 / ours_200) >= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
