"""The card sheet speaks Chinese: each card's number under 编号."""
from __future__ import annotations

import subprocess


def test_each_card_on_the_sheet_shows_its_number_under_bianhao(client, desk):
    answer = client.post("/api/v1/banks/hp/card-sheets", json={"residents": [desk.wang.id]}, headers=desk.clerk)
    text = subprocess.run(["pdftotext", "-", "-"], input=answer.data, capture_output=True, check=True).stdout.decode()
    assert "编号" in text and "No." not in text
