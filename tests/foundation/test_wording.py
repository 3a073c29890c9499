"""The foundation's quarter report names its quarter in words."""
from __future__ import annotations

import subprocess

from .conftest import API


def test_the_quarter_report_pdf_names_the_quarter_in_words(client, district):
    pdf = client.get(f"{API}/reports/2026-Q4.pdf", headers=district.supervisor)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert "2026年第四季度" in text and "Q4" not in text
