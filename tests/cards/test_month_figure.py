"""The card page's month figure counts what was earned, not what was spent at the desk."""
from __future__ import annotations

import re

from .test_cards import _issue, _path


def _month_figure(page: str, title: str) -> str:
    return re.search(re.escape(title) + r' <span class="muted">([^<]+)</span>', page).group(1)


def test_the_months_figure_counts_earnings_and_penalties_not_redemptions(client, desk, make):
    desk.points(desk.wang, 15)
    make.deed(desk.bank, "litter", [desk.wang])                # a penalty of 5 is part of the score
    desk.money(100000)
    desk.item(points=9)
    assert desk.redeem(client, desk.wang, [("rice", 1)]).status_code == 201
    page = client.get(_path(_issue(client, desk, desk.wang))).get_data(as_text=True)
    assert _month_figure(page, "2026年10月") == "+10"         # 15 - 5; the 9 spent is not counted
    assert "-9" in page                                        # the redemption is still listed
