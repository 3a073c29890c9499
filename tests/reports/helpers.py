"""Small helpers for the cycle's tests: clocks at any village time, a bank with September's deeds."""
from __future__ import annotations

import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger import deeds
from ground.clock import FixedClock

TZ = ZoneInfo("Asia/Shanghai")
RARE_NAMES = ("王䶮", "吉𠮷", "龚𪚥", "李𬌗")


def at(year, month, day, hour=10, minute=0) -> FixedClock:
    """A clock stopped at that moment in the village."""
    return FixedClock(tz=TZ, at=datetime(year, month, day, hour, minute, tzinfo=TZ))


def deed(session, bank, rule, residents, on: date, clock, quantity=1):
    return deeds.post_deed(session, bank, rule_code=rule, resident_ids=[r.id for r in residents],
                           quantity=quantity, occurred_on=on, memo=None, by="clerk", clock=clock)


def pdf_text(data: bytes, tmp_path) -> tuple[str, str]:
    """Return (pdftotext, pdffonts) of a PDF."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True).stdout
    return text.decode("utf-8"), fonts.decode("utf-8")
