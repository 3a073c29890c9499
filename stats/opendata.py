"""A year's open data: the bank's aggregate figures as CSV files and a README of their fields.

Only figures per month, per category and per rule: no resident, household, phone or anything
else that names or points to a person. CSV is UTF-8 with a byte-order mark, so Excel opens the
Chinese as it is; no cell starts a formula (every text cell is a month, a category or a rule
from the rule file, and `ledger.sheets` quotes any that would).
"""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

from ledger import sheets

#: Each file, its columns and what each column means: the README is written from this.
FILES = {
    "months.csv": ("每月概况 · monthly figures", [
        ("month", "月份（YYYY-MM） · the month"),
        ("residents", "本月居民数：月末在册（仍在册）的居民，加上本月有记分的其他居民（之后登记或已迁出）"
                      " · residents registered (and still active) by the month's end, plus any other "
                      "resident with a deed or penalty dated in the month (registered later, or moved away)"),
        ("active_residents", "本月获得积分的居民数 · residents who earned points in the month, net of reversals"),
        ("participation_percent", "参与率（%，向下取一位小数） · active residents / residents, rounded down"),
        ("points", "本月登分所得积分 · points earned by deeds dated in the month, net of reversals"),
        ("penalty_points", "本月扣分 · penalty points dated in the month, net of reversals"),
        ("redeemed_points", "本月兑换积分 · points handed in at the redemption desk"),
        ("points_outstanding", "月末居民和农户持有积分（欠分相抵） · points held at the month's end, debts netted"),
        ("fund_fen", "月末综治基金现金（分） · the fund's cash at the month's end, in fen"),
        ("coverage_percent", "基金保障率（%） · what can honour points / points held at the point value; empty when none are held"),
        ("coverage_warning_percent", "预警线（%） · the rule file's warning line"),
        ("objections_filed", "对该月提出的异议数 · objections filed against the month"),
        ("objections_upheld", "其中成立的异议数 · of which upheld"),
        ("sealed", "是否已封账（1 是，0 否）：未封账月份（如本月）的数字仍会随补登、冲正而变 · 1 when the "
                   "month is sealed and its figures final, 0 when not: a month not yet sealed (this one, "
                   "say) still changes as deeds are logged late or reversed"),
    ]),
    "categories.csv": ("各类积分 · points by category", [
        ("month", "月份 · the month"),
        ("category", "类别（规则文件） · the category, as the rule file names it"),
        ("points", "所得积分 · points earned"),
    ]),
    "penalties.csv": ("扣分（按规则） · penalty points by rule", [
        ("month", "月份 · the month"),
        ("rule", "规则代码 · the rule's code"),
        ("rule_name", "规则名称 · the rule's name"),
        ("points", "扣分 · penalty points"),
    ]),
}


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(sheets.row("" if v is None else v for v in row))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _readme(bank_name: str, bank_code: str, year: int, made_on: date) -> bytes:
    lines = [f"{bank_name}（{bank_code}）{year} 年公开数据 · open data of {bank_code} for {year}",
             f"生成日期 · made on {made_on.isoformat()}", "",
             "只含每月汇总数字，不含任何居民或农户的姓名、户号、电话等可识别个人的信息。",
             "Aggregate figures per month only: no name, household, phone or anything else that "
             "identifies a person.",
             "CSV 文件为 UTF-8（带 BOM），可直接用 Excel 打开。 · CSV files are UTF-8 with a BOM.", ""]
    for name, (title, columns) in FILES.items():
        lines += [f"{name} — {title}"]
        lines += [f"  {column}: {meaning}" for column, meaning in columns]
        lines.append("")
    return ("\ufeff" + "\r\n".join(lines)).encode("utf-8")


def year_zip(bank, year: int, months: list[dict], *, made_on: date) -> bytes:
    """Return the year's open data as a zip: months.csv, categories.csv, penalties.csv, README.txt."""
    columns = {name: [c for c, _ in spec[1]] for name, spec in FILES.items()}
    month_rows = [[m["month"], m["residents"], m["active_residents"], m["participation_percent"],
                   m["points"], m["penalty_points"], m["redeemed_points"], m["points_outstanding"],
                   m["fund_fen"], m["coverage_percent"], m["coverage_warning_percent"],
                   m["objections"]["filed"], m["objections"]["upheld"],
                   1 if m["sealed"] else 0] for m in months]
    category_rows = [[m["month"], category, points] for m in months
                     for category, points in m["points_by_category"].items()]
    penalty_rows = [[m["month"], p["rule"], p["name"], p["points"]] for m in months
                    for p in m["penalties_by_rule"]]
    out = io.BytesIO()
    stamp = (made_on.year, made_on.month, made_on.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in (("months.csv", month_rows), ("categories.csv", category_rows),
                           ("penalties.csv", penalty_rows)):
            archive.writestr(zipfile.ZipInfo(name, stamp), _csv(columns[name], rows),
                             zipfile.ZIP_DEFLATED)
        archive.writestr(zipfile.ZipInfo("README.txt", stamp),
                         _readme(bank.name, bank.code, year, made_on), zipfile.ZIP_DEFLATED)
    return out.getvalue()
