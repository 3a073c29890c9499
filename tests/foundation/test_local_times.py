"""The foundation's times read in the bank's time zone, on the screen and on the quarter's paper.

The test clock stands at 02:00 UTC on 15 October 2026: 10:00 in the village.
"""
from __future__ import annotations

import subprocess

from .conftest import API, application, station, to_review
from .test_pages import _sign_in


def test_an_applications_history_shows_the_villages_time(client, district):
    app_id = application(client, district, station(client, district))["id"]
    to_review(client, district, app_id)
    _sign_in(client, "clerk")
    page = client.get(f"/foundation/hp/applications/{app_id}").get_data(as_text=True)
    assert "2026年10月15日 10:00" in page
    assert "UTC" not in page and "02:00" not in page


def test_the_quarter_report_pdf_prints_the_villages_time(client, district, tmp_path):
    pdf = client.get(f"{API}/reports/2026-Q4.pdf", headers=district.supervisor)
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "打印时间 2026年10月15日 10:00" in text and "UTC" not in text
