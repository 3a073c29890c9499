"""Deeds over HTTP as a clerk's client sees them: the real server against a bare Flask endpoint.

One run starts, on 127.0.0.1 only:

* the real server, ``zongzhi serve`` (waitress, 8 threads; with --processes N, N gunicorn
  workers of 8 threads each, as ``zongzhi serve --processes N``), on SQLite in a temporary directory,
  and again on PostgreSQL when a URL is given (a database zongzhi_http_<pid> created beside
  the one in the URL and dropped at the end);
* a bare Flask app on the same server settings whose one endpoint parses the same JSON body
  and answers 201: the most any Flask endpoint could do on this machine now.

and drives each with ``wrk`` (the Debian package ``wrk``; without it the bench says so and
stops), for --seconds each, all in the same run so that a busy machine slows both sides alike:

1. one resident's deed, eight clients, against the bare endpoint, eight clients: ≥ 30%;
2. SQLite, eight clients against one: ≥ 2x one client's rate, with p99 < 50 ms;
3. PostgreSQL, eight clients each posting into a bank of its own against one client: ≥ 3x;
4. an eight-person team deed, eight clients: ≥ 2,000 transfers/s.

Beside 2 and 3 it prints, for comparison, the bare endpoint's own eight clients against one,
measured in the same run: how far an endpoint that does no work goes here from one client to
eight. Where one client's requests already keep the server's CPU busy, more clients can only add
the cores left: on 2 cores about 1x for one process and 1.5-2x for two. A deed's ratio can pass
it only by the time one client's deed spends waiting (on PostgreSQL, the round trips).

With --rounds N every measurement is made N times, the sides taking turns, and each figure is
judged by its median over the rounds (every round's line is printed, and an answer that was
not 201 in any round fails its line): on a shared machine one run of a side can be a fifth
slower than the next with nothing changed.

Afterwards every bank's chain is verified. The rule posted has no cap, so no deed is refused;
any answer but 201 is counted and fails its line.

    .venv/bin/python bench/http.py [--seconds 10] [--rounds 1] [--processes 1] [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

ZONGZHI_BENCH_POSTGRES_URL or ZONGZHI_TEST_POSTGRES_URL also turn the PostgreSQL half on.
It always exits 0: it is a report, and prints PASS/FAIL against each target.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# This file is named like the standard library's http, and bench/ledger.py like the package: put
# the project root first and drop bench/ before importing either.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

import urllib.request  # noqa: E402

THREADS = 8  # waitress threads, as `zongzhi serve` defaults

BARE_APP = f"""
import json, sys
from flask import Flask, request
from waitress import serve
app = Flask("bare")
@app.post("/api/v1/banks/<bank>/deeds")
def deed(bank):
    body = json.loads(request.get_data())
    return {{"transfers": [{{"id": 1, "rule": body["rule"], "residents": body["residents"]}}]}}, 201
port, processes = int(sys.argv[1]), int(sys.argv[2])
if processes == 1:
    serve(app, host="127.0.0.1", port=port, threads={THREADS})
else:  # as `zongzhi serve --processes` serves
    from zongzhi.serving import listening_socket, serve_processes
    serve_processes(lambda: app, listening_socket("127.0.0.1", port), threads={THREADS},
                    processes=processes)
"""

WRK_SCRIPT = """
local targets = {%(targets)s}
local body = '%(body)s'
local started = 0
function setup(thread)
  started = started + 1
  local t = targets[((started - 1) %% #targets) + 1]
  thread:set("path", t[1])
  thread:set("token", t[2])
end
function init(args)
  req = wrk.format("POST", path, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. token}, body)
end
function request() return req end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%f %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


#: The residents' morning: this many readers opening card pages at once (bench/desk.py and
#: bench/province.py), each a wrk connection.
CARD_READERS = 50
CARD_READERS_SCRIPT = """
local paths = {%(paths)s}
local at = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(id * 7919)
  at = math.random(#paths)
end
function request()
  at = at %% #paths + 1
  return wrk.format("GET", paths[at])
end
-- Each reader pauses a random time, exponentially distributed about the mean --think (capped at
-- five times it): residents open their cards independently, not all at one instant every
-- --think ms, as a fixed pause would have wrk's 50 connections do once they fall into step.
function delay()
  if %(think)d == 0 then return 0 end
  return math.floor(math.min(5 * %(think)d, -%(think)d * math.log(1 - math.random())))
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""




def card_readers(port: int, tokens: list[str], *, think_ms: int, seconds: int, workdir: Path) -> dict:
    """CARD_READERS readers opening the cards' pages (/c/<token>) for `seconds`, each pausing
    about `think_ms` between pages; wrk's pages a second, p50 and p99 in ms, and how many
    answers were not 200."""
    script = workdir / f"readers-{port}.lua"
    script.write_text(CARD_READERS_SCRIPT % {"paths": ", ".join(f'"/c/{t}"' for t in tokens),
                                             "think": think_ms})
    requests, duration, p50, p99, bad = run_wrk(port, script, threads=2, connections=CARD_READERS,
                                                seconds=seconds)
    return {"pages": int(requests) / (float(duration) / 1e6), "p50": float(p50) / 1000,
            "p99": float(p99) / 1000, "bad": int(bad)}


def run_wrk(port: int, script: Path, *, threads: int, connections: int, seconds: int) -> list[str]:
    """Run wrk with the script against 127.0.0.1:port; return the fields of the line its done()
    writes after "RESULT"."""
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    return next(l for l in out.splitlines() if l.startswith("RESULT ")).split()[1:]


def deed_figures(fields: list[str]) -> dict:
    """WRK_SCRIPT's RESULT fields as a rate, p50/p90/p99 in ms and the failures."""
    requests, duration, p50, p90, p99, bad, errors = fields
    return {"rate": int(requests) / (float(duration) / 1e6), "requests": int(requests),
            "p50": float(p50) / 1000, "p90": float(p90) / 1000, "p99": float(p99) / 1000,
            "bad": int(bad), "errors": int(errors)}


def load_village():
    spec = importlib.util.spec_from_file_location("bench_village", BENCH_DIR / "village.py")
    module = sys.modules["bench_village"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} stopped: exit {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except OSError as err:
            if getattr(err, "code", None):  # it answered, if not with 200
                return
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port} within a minute")


class Server:
    """A server process on 127.0.0.1, stopped (and waited for) on leaving."""

    def __init__(self, argv, env: dict, ready_path: str):
        self.port = free_port()
        self.proc = subprocess.Popen(argv(self.port), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.ready_path = ready_path

    def __enter__(self):
        try:
            wait_for(self.port, self.ready_path, self.proc)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def zongzhi_serve(url: str, workdir: Path, processes: int = 1) -> Server:
    env = {**os.environ, "ZONGZHI_DATABASE_URL": url, "ZONGZHI_SECRET_KEY": "bench-http", "ZONGZHI_GROUP_COMMIT": "1",
           "ZONGZHI_INSTANCE": str(workdir), "ZONGZHI_PUBLIC_URL": "http://127.0.0.1"}
    zongzhi = str(Path(sys.executable).parent / "zongzhi")
    return Server(lambda port: [zongzhi, "serve", "--port", str(port), "--threads", str(THREADS),
                                "--processes", str(processes)],
                  env, "/api/v1/health")


def bare_flask(processes: int = 1) -> Server:
    return Server(lambda port: [sys.executable, "-c", BARE_APP, str(port), str(processes)],
                  {**os.environ, "PYTHONPATH": str(ROOT)}, "/")


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process and its live children (a server's workers) have used so
    far (from /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def drive(port: int, targets: list[tuple[str, str]], body: dict, *, clients: int, seconds: int,
          workdir: Path) -> dict:
    """Run wrk with `clients` connections (one thread each) for `seconds`; return its figures."""
    script = workdir / f"wrk-{port}-{clients}.lua"
    script.write_text(WRK_SCRIPT % {
        "targets": ", ".join(f'{{"{p}", "{t}"}}' for p, t in targets),
        "body": json.dumps(body, ensure_ascii=True)})
    return deed_figures(run_wrk(port, script, threads=clients, connections=clients, seconds=seconds))


def driven(server: Server, *args, **kw) -> dict:
    """drive() against a server, adding the server's own CPU per request (ms): on a busy machine
    the wall-clock rates fall with the load, this much less."""
    before = cpu_seconds(server.proc.pid)
    result = drive(server.port, *args, **kw)
    result["cpu_ms"] = (cpu_seconds(server.proc.pid) - before) * 1000 / max(1, result["requests"])
    return result


def middle(runs: list[dict]) -> dict:
    """The rounds of one measurement as one: the median of each rate, latency and CPU figure,
    the requests and every failure added up."""
    if len(runs) == 1:
        return runs[0]
    return {**{key: statistics.median(r[key] for r in runs)
               for key in ("rate", "p50", "p90", "p99", "cpu_ms") if key in runs[0]},
            **{key: sum(r[key] for r in runs) for key in ("requests", "bad", "errors")}}


def rounds_of(measurements: list[tuple], rounds: int, measure) -> dict:
    """Make each measurement (named first in its tuple) `rounds` times, in turn, printing each;
    return each one's `middle`."""
    runs: dict[str, list] = {}
    for n in range(rounds):
        if rounds > 1:
            print(f"  round {n + 1} of {rounds} ({load()})", flush=True)
        for name, *how in measurements:
            runs.setdefault(name, []).append(r := measure(*how))
            print("  " + describe(name, r), flush=True)
    if rounds > 1:
        print(f"  medians of {rounds} rounds:")
        for name, rs in runs.items():
            print("  " + describe(name, middle(rs)), flush=True)
    return {name: middle(rs) for name, rs in runs.items()}


def describe(name: str, r: dict) -> str:
    trouble = f", {r['bad']} answers not 201" if r["bad"] else ""
    trouble += f", {r['errors']} socket errors" if r["errors"] else ""
    return (f"{name}: {r['rate']:,.0f} req/s, p50 {r['p50']:.1f} ms, p90 {r['p90']:.1f} ms, "
            f"p99 {r['p99']:.1f} ms ({r['requests']:,} requests{trouble}); server CPU "
            f"{r.get('cpu_ms', 0):.2f} ms a request")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores"


def build(url: str, banks: int, village) -> list:
    import migrations
    from ground.db import make_engine, session_factory

    migrations.upgrade(url)
    engine = make_engine(url)
    try:
        return village.build(session_factory(engine), banks=banks, residents=64,
                             clock=village.wall_clock())
    finally:
        engine.dispose()


def verify_all(url: str, villages) -> list[str]:
    from ground.db import make_engine, session_factory
    from ground.tenants import Bank
    from ledger.verify import verify_bank

    engine = make_engine(url)
    try:
        out = []
        with session_factory(engine)() as session:
            for v in villages:
                report = verify_bank(session, session.get(Bank, v.id))
                out.append(f"{v.code} {'intact' if report.ok else 'BROKEN ' + str(report.problems[:2])}"
                           f" ({report.transfers:,} transfers)")
        return out
    finally:
        engine.dispose()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_sqlite(workdir: Path, seconds: int, village, rows: list, processes: int, rounds: int = 1) -> float:
    """The SQLite half's rows; returns the bare endpoint's eight clients against one."""
    url = f"sqlite:///{workdir}/http.db"
    [bank] = build(url, 1, village)
    day = village.yesterday(village.wall_clock())
    target = [(f"/api/v1/banks/{bank.code}/deeds", bank.token)]
    one = {"rule": "cleanup", "residents": [bank.residents[0]], "occurred_on": day}
    team = {"rule": "cleanup", "residents": bank.residents[:8], "occurred_on": day}
    with bare_flask(processes) as bare, zongzhi_serve(url, workdir, processes) as real:
        print(f"servers up ({load()}); {seconds} s a measurement", flush=True)
        drive(real.port, target, one, clients=2, seconds=2, workdir=workdir)  # warm-up
        results = rounds_of([("bare Flask, 8 clients", bare, one, 8),
                             ("bare Flask, 1 client", bare, one, 1),
                             ("SQLite deed, 1 client", real, one, 1),
                             ("SQLite deed, 8 clients", real, one, 8),
                             ("SQLite team of 8, 8 clients", real, team, 8)], rounds,
                            lambda server, body, clients: driven(server, target, body, clients=clients,
                                                                 seconds=seconds, workdir=workdir))
    bare, bare1, one1, one8, team8 = results.values()
    ceiling = bare["rate"] / bare1["rate"]
    clean = lambda *rs: all(r["bad"] == 0 and r["errors"] == 0 for r in rs)  # noqa: E731
    ratio = one8["rate"] / bare["rate"]
    rows.append(("one resident's deed, 8 clients, vs bare Flask", f"{one8['rate']:,.0f} vs "
                 f"{bare['rate']:,.0f} req/s = {ratio:.0%} (server CPU a request {one8['cpu_ms']:.2f} vs "
                 f"{bare['cpu_ms']:.2f} ms = {bare['cpu_ms'] / one8['cpu_ms']:.0%})", "≥ 30%",
                 verdict(ratio >= 0.30 and clean(one8))))
    scale = one8["rate"] / one1["rate"]
    rows.append(("SQLite: 8 clients vs 1", f"{one8['rate']:,.0f} vs {one1['rate']:,.0f} req/s = "
                 f"{scale:.1f}x, p99 {one8['p99']:.1f} ms", "≥ 2x, p99 < 50 ms",
                 verdict(scale >= 2 and one8["p99"] < 50 and clean(one1, one8))))
    rows.append(("  for comparison: bare Flask, 8 clients vs 1", f"{bare['rate']:,.0f} vs "
                 f"{bare1['rate']:,.0f} req/s = {ceiling:.1f}x", "none: an endpoint doing no work, here",
                 "info"))
    transfers = team8["rate"] * 8
    rows.append(("team of 8, 8 clients (SQLite)", f"{transfers:,.0f} transfers/s "
                 f"({team8['rate']:,.0f} req/s, p99 {team8['p99']:.1f} ms)", "≥ 2,000 transfers/s",
                 verdict(transfers >= 2000 and clean(team8))))
    for line in verify_all(url, [bank]):
        print(f"  verify {line}")
    return ceiling


def run_postgres(admin_url: str, workdir: Path, seconds: int, village, rows: list,
                 processes: int, ceiling: float, rounds: int = 1) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from ground.db import normalize_url

    admin_url = normalize_url(admin_url)
    database = f"zongzhi_http_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    try:
        banks = build(url, 8, village)
        day = village.yesterday(village.wall_clock())
        targets = [(f"/api/v1/banks/{b.code}/deeds", b.token) for b in banks]
        body = {"rule": "cleanup", "residents": [banks[0].residents[0]], "occurred_on": day}
        with zongzhi_serve(url, workdir, processes) as real:
            # Each client posts into its own bank: resident ids differ by bank, so each gets a body
            # naming its own bank's first resident.
            drive(real.port, targets[:1], body, clients=1, seconds=2, workdir=workdir)

            def eight_banks():
                before = cpu_seconds(real.proc.pid)
                eight = drive_banks(real.port, banks, day, seconds, workdir)
                eight["cpu_ms"] = (cpu_seconds(real.proc.pid) - before) * 1000 / max(1, eight["requests"])
                return eight

            results = rounds_of(
                [("PostgreSQL deed, 1 client, 1 bank", lambda: driven(
                    real, targets[:1], body, clients=1, seconds=seconds, workdir=workdir)),
                 ("PostgreSQL deed, 8 clients, 8 banks", eight_banks)], rounds, lambda run: run())
            one, eight = results.values()
        scale = eight["rate"] / one["rate"]
        rows.append(("PostgreSQL: 8 clients into 8 banks vs 1", f"{eight['rate']:,.0f} vs "
                     f"{one['rate']:,.0f} req/s = {scale:.1f}x, p99 {eight['p99']:.1f} ms", "≥ 3x",
                     verdict(scale >= 3 and one["bad"] == 0 and eight["bad"] == 0)))
        rows.append(("  for comparison: bare Flask, 8 clients vs 1 (above)", f"{ceiling:.1f}x",
                     "none: an endpoint doing no work, here", "info"))
        for line in verify_all(url, banks):
            print(f"  verify {line}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def drive_banks(port: int, banks, day: str, seconds: int, workdir: Path) -> dict:
    """Eight clients, each posting into a bank of its own with one of that bank's residents."""
    script = workdir / "wrk-banks.lua"
    targets = ", ".join(
        f'{{"/api/v1/banks/{b.code}/deeds", "{b.token}", '
        f"'{json.dumps({'rule': 'cleanup', 'residents': [b.residents[0]], 'occurred_on': day})}'}}"
        for b in banks)
    script.write_text(WRK_SCRIPT.replace("thread:set(\"token\", t[2])",
                                         "thread:set(\"token\", t[2])\n  thread:set(\"body\", t[3])")
                      .replace("local body = '%(body)s'\n", "") % {"targets": targets})
    return deed_figures(run_wrk(port, script, threads=len(banks), connections=len(banks),
                                seconds=seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1,
                        help="make every measurement this many times, in turn, and judge each figure "
                             "by its median (default 1)")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes, for the real server and the bare app alike "
                             "(`zongzhi serve --processes`; default 1, waitress)")
    parser.add_argument("--postgres-url", default=os.environ.get("ZONGZHI_BENCH_POSTGRES_URL")
                        or os.environ.get("ZONGZHI_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be from 1 to 50")
    if not 1 <= args.seconds <= 3600:
        parser.error("--seconds must be from 1 to 3600")
    if shutil.which("wrk") is None:
        print("bench/http.py needs the load generator wrk, which is not installed: "
              "`make setup` installs it as root (apt-get install wrk). Skipped.")
        return
    village = load_village()
    rows: list[tuple] = []
    workdir = Path(tempfile.mkdtemp(prefix="zongzhi-http-"))
    try:
        print(f"bench/http.py: {load()}; {args.processes} server process{'es' if args.processes > 1 else ''} "
              f"of {THREADS} threads each", flush=True)
        ceiling = run_sqlite(workdir, args.seconds, village, rows, args.processes, args.rounds)
        if args.postgres_url:
            run_postgres(args.postgres_url, workdir, args.seconds, village, rows, args.processes, ceiling,
                         args.rounds)
        else:
            print("PostgreSQL half skipped: no --postgres-url")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{load()} after the run")
    width = max(len(r[0]) for r in rows)
    for figure, value, target, result in rows:
        print(f"{result:<4}  {figure:<{width}}  {value}  (target {target})")


if __name__ == "__main__":
    main()
