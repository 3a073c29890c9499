"""`zongzhi serve --processes N`: several waitress processes behind one address, each building the
app after the fork; a worker that dies is replaced, and stopping the server stops them all."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from zongzhi.cli import main

from .. import served


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="--processes forks: POSIX only")]

ZONGZHI = str(Path(sys.executable).parent / "zongzhi")
DEEDS = 24


def _workers(pid: int) -> set[int]:
    """The server's worker processes: the master's children, from /proc."""
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _until(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {seconds} s")


@pytest.fixture
def village(database_url):
    return served.village(database_url, 1)


def _start(village, tmp_path, *options, preexec_fn=None):
    """`zongzhi serve` on the village's database with these options; returns (process, base)."""
    port = served.free_port()
    env = {**os.environ, "ZONGZHI_DATABASE_URL": village["url"], "ZONGZHI_SECRET_KEY": "k" * 64,
           "ZONGZHI_INSTANCE": str(tmp_path), "ZONGZHI_PUBLIC_URL": "http://127.0.0.1"}
    proc = subprocess.Popen([ZONGZHI, "serve", "--port", str(port), *options], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    base = f"http://127.0.0.1:{port}"

    def answering():
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=10) as answer:
                return answer.status == 200
        except OSError:  # not listening yet, or no worker ready to answer
            return False
    _until(answering, "the server answering")
    return proc, base


def _stop(proc) -> None:
    """Stop a server the way a service manager does, and leave none of its workers behind."""
    workers = _workers(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in workers:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def server(village, tmp_path):
    """`zongzhi serve --processes 2 --threads 4`; yields (process, base)."""
    proc, base = _start(village, tmp_path, "--processes", "2", "--threads", "4")
    yield proc, base
    _stop(proc)


def _post(base: str, village: dict, key: str) -> int:
    body = json.dumps({"rule": "cleanup", "residents": village["residents"][:1],
                       "occurred_on": village["today"]}).encode()
    request = urllib.request.Request(
        base + "/api/v1/banks/hp/deeds", data=body, method="POST",
        headers={"Authorization": f"Bearer {village['token']}", "Content-Type": "application/json",
                 "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def _balance(base: str, village: dict) -> int:
    request = urllib.request.Request(base + f"/api/v1/banks/hp/residents/{village['residents'][0]}/account",
                                     headers={"Authorization": f"Bearer {village['token']}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["balance"]


def test_two_processes_post_deeds_at_once_and_a_killed_worker_is_replaced(server, village):
    proc, base = server
    workers = _until(lambda: len(_workers(proc.pid)) == 2 and _workers(proc.pid), "two workers")
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: _post(base, village, f"many-{i}"), range(DEEDS)))
    assert statuses == [201] * DEEDS
    # the same key again, on whichever worker: replayed, not posted twice
    assert _post(base, village, "many-0") == 201
    assert _balance(base, village) == 3 * DEEDS

    killed = min(workers)
    os.kill(killed, signal.SIGKILL)
    replaced = _until(lambda: (now := _workers(proc.pid)) and len(now) == 2 and killed not in now and now,
                      "a new worker in the killed one's place")
    assert replaced - workers and not _alive(killed)
    assert _post(base, village, "after") == 201
    assert _balance(base, village) == 3 * (DEEDS + 1)

    result = CliRunner().invoke(main, ["verify", "hp"], env={"ZONGZHI_DATABASE_URL": village["url"]})
    assert result.exit_code == 0 and "hp: OK" in result.output, result.output


def test_stopping_the_server_stops_every_worker(server):
    proc, _base = server
    workers = _until(lambda: len(_workers(proc.pid)) == 2 and _workers(proc.pid), "two workers")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    assert not any(_alive(pid) for pid in workers)


def test_workers_whose_master_is_killed_stop_rather_than_serve_on_unsupervised(server):
    proc, base = server
    workers = _until(lambda: len(_workers(proc.pid)) == 2 and _workers(proc.pid), "two workers")
    proc.kill()
    proc.wait()
    _until(lambda: not any(_alive(pid) for pid in workers), "the orphaned workers stopping", 15)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/api/v1/health", timeout=5)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT, though started with SIGINT ignored"])
def test_one_process_stops_on_sigterm_and_on_sigint_even_when_started_ignoring_it(village, tmp_path, how):
    # A shell's background job starts with SIGINT ignored; `zongzhi serve` handles it all the same.
    proc, base = _start(village, tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
        assert proc.wait(timeout=40) == 0
    finally:
        _stop(proc)


def test_a_port_already_in_use_is_said_plainly_and_nothing_starts():
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        for processes in ("1", "2"):
            result = CliRunner().invoke(main, ["serve", "--port", str(port), "--processes", processes])
            assert result.exit_code == 1, result.output
            assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
    finally:
        taken.close()


@pytest.mark.parametrize("count", ["0", "-1", "65", "many"])
def test_a_number_of_processes_out_of_bounds_is_refused_before_anything_starts(count):
    result = CliRunner().invoke(main, ["serve", "--processes", count])
    assert result.exit_code == 2 and "--processes" in result.output
