"""Every benchmark under bench/ starts: it imports what it needs and answers --help.

A benchmark is run by hand, rarely, so nothing else would notice one that no longer starts
(bench/http.py, for one, stands for the standard library's `http` to any script that imports
it before setting its path).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
#: Shared by the benchmarks, not one itself.
HELPERS = {"village.py"}
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def test_the_benchmarks_are_found():
    assert {"ledger.py", "http.py", "province.py", "office.py"} <= set(SCRIPTS)


@pytest.mark.slow
def test_every_benchmark_answers_help():
    # All at once: each is a fresh interpreter importing the app.
    runs = {name: subprocess.Popen([sys.executable, str(BENCH / name), "--help"], cwd=BENCH.parent,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in SCRIPTS}
    failed = {}
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0 or "usage:" not in out:
            failed[name] = (proc.returncode, err.strip().splitlines()[-1:] or out[:200])
    assert failed == {}
