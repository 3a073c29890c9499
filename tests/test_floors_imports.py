"""The floors point down: the import-linter contracts of `.importlinter`, run as a test.

A broken contract fails here by name, followed by import-linter's account of the imports that
break it (module, line) and how to mend it.
"""
from __future__ import annotations

from pathlib import Path

from importlinter import api
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".importlinter"


def _contracts() -> list[dict]:
    return api.read_configuration(str(CONFIG))["contracts_options"]


def test_the_contracts_cover_floors_views_the_cycle_and_circles_and_ignore_nothing():
    kinds = {c["type"] for c in _contracts()}
    assert {"layers", "forbidden", "acyclic_siblings"} <= kinds
    assert not [c["name"] for c in _contracts() if c.get("ignore_imports")]


def test_every_floor_contract_is_kept(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    kept = use_cases.lint_imports(config_filename=str(CONFIG), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    broken = [line.strip().removesuffix(" BROKEN") for line in report.splitlines()
              if line.rstrip().endswith(" BROKEN")]
    assert kept, f"broken contracts: {'; '.join(broken) or '(see below)'}\n\n{report}"
