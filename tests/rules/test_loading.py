"""Reading rule files: every problem at once, each with its file, line and field."""
from __future__ import annotations

import textwrap
from datetime import date, time
from pathlib import Path

import pytest

import rules

DEFAULT = Path(__file__).resolve().parents[2] / "seed_data" / "rules" / "default.yaml"


def _problems(text: str) -> list[str]:
    return [str(p) for p in rules.check(textwrap.dedent(text), "r.yaml")]


def test_the_default_rule_file_is_valid_and_covers_the_five_categories():
    book = rules.parse(DEFAULT.read_text("utf-8"), str(DEFAULT))
    assert {r.category for r in book.rules} == set(rules.DEFAULT_CATEGORIES)
    names = {r.name for r in book.rules}
    assert {"夜间巡逻", "调解纠纷", "义务劳动", "环境整治", "见义勇为", "乱扔垃圾", "赌博"} <= names
    assert any("高额彩礼" in n for n in names)
    assert book.rule_for("mediation", date(2026, 10, 1)).notice == "category_only"
    assert all(r.points < 0 for r in book.rules if r.code in {"littering", "gambling"})


def test_a_minimal_file_takes_the_default_settings_and_cycle():
    book = rules.parse("rules:\n  - {code: sweep, name: 扫街, category: 环境卫生, points: 1}\n")
    assert book.settings.account_unit == "person"
    assert book.settings.cycle.objection_days == 7
    assert book.settings.cycle.redemption_months == (1, 4, 7, 10)
    assert book.settings.cycle.day_close == time(21, 0)
    [sweep] = book.rules
    assert (sweep.unit, sweep.review, sweep.notice, sweep.caps) == ("次", False, "full", {})


def test_every_problem_is_reported_at_once_with_its_line():
    found = _problems("""\
        bank:
          account_unit: village
        rules:
          - code: patrol
            name: 巡逻
            category: 治安
            points: 2.5
          - code: Patrol!
            name: ""
            category: 社会治安
            points: 0
            notice: secret
            colour: red
        """)
    assert found == [
        "r.yaml:2: bank.account_unit: 须为以下之一：person, household",
        "r.yaml:6: rules[0].category: 未知类别「治安」，可选：法治建设、环境卫生、矛盾纠纷调解、社会治安、道德文化，"
        "或在 bank.categories 中增加",
        "r.yaml:7: rules[0].points: 须为整数",
        "r.yaml:8: rules[1].code: 须为小写字母开头的字母、数字或下划线，最长 40 个字符",
        "r.yaml:9: rules[1].name: 不能为空白",
        "r.yaml:11: rules[1].points: 不能为 0",
        "r.yaml:12: rules[1].notice: 须为以下之一：full, category_only, hidden",
        "r.yaml:13: rules[1].colour: 未知字段",
    ]


def test_a_duplicate_code_names_the_line_of_the_first():
    found = _problems("""\
        rules:
          - {code: sweep, name: 扫街, category: 环境卫生, points: 1}
          - {code: sweep, name: 扫街二, category: 环境卫生, points: 2}
        """)
    assert found == ["r.yaml:3: rules[1].code: 规则代码 sweep 重复（第 2 行已有）"]


def test_versions_of_one_code_must_not_overlap_but_may_follow_each_other():
    overlapping = _problems("""\
        rules:
          - {code: sweep, name: 扫街, category: 环境卫生, points: 1, valid_until: 2026-06-30}
          - {code: sweep, name: 扫街, category: 环境卫生, points: 2, valid_from: 2026-06-01}
        """)
    assert overlapping == ["r.yaml:3: rules[1].valid_from: 规则 sweep 的有效期与第 2 行的同代码规则重叠"]
    book = rules.parse(textwrap.dedent("""\
        rules:
          - {code: sweep, name: 扫街, category: 环境卫生, points: 1, valid_until: 2026-06-30}
          - {code: sweep, name: 扫街, category: 环境卫生, points: 2, valid_from: 2026-07-01}
        """))
    assert book.rule_for("sweep", date(2026, 6, 30)).points == 1
    assert book.rule_for("sweep", date(2026, 7, 1)).points == 2
    assert [r.points for r in book.in_force(date(2026, 7, 1))] == [2]


def test_a_cap_smaller_than_one_deed_is_refused_and_penalties_take_no_cap():
    found = _problems("""\
        rules:
          - code: patrol
            name: 巡逻
            category: 社会治安
            points: 5
            caps: {day: 4, month: 60}
          - code: fight
            name: 打架
            category: 社会治安
            points: -30
            caps: {month: 30}
        """)
    assert found == ["r.yaml:6: rules[0].caps.day: 上限 4 分小于一次（5 分）的分值",
                     "r.yaml:11: rules[1].caps: 扣分规则不设上限"]


def test_a_bank_may_add_categories_of_its_own():
    text = """\
        bank:
          categories: [乡风文明]
        rules:
          - {code: tea, name: 敬老茶会, category: 乡风文明, points: 2}
        """
    assert _problems(text) == []
    assert "乡风文明" in rules.parse(textwrap.dedent(text)).settings.categories


@pytest.mark.parametrize("text, expected", [
    ("rules: [", "r.yaml:1: yaml: YAML 格式错误：expected the node content, but found '<stream end>'"),
    ("- a list\n", "r.yaml:1: file: 规则文件须为包含 rules 的 YAML 映射"),
    ("", "r.yaml:1: file: 规则文件须为包含 rules 的 YAML 映射"),
    ("rules: []\n", "r.yaml:1: rules: 至少要有一条规则"),
    ("rules:\n  - {code: a, name: 甲, category: 环境卫生, points: 1, valid_from: 2026-13-01}\n",
     "r.yaml:2: rules[0].valid_from: 须为 YYYY-MM-DD 格式的日期"),
    ("rules:\n  - {code: a, name: 甲, category: 环境卫生, points: 1, review: yes please}\n",
     "r.yaml:2: rules[0].review: 须为 true 或 false"),
    ("rules:\n  - {code: a, name: 甲, category: 环境卫生, points: 1}\n  - {code: a, code: b}\n",
     "r.yaml:3: rules[1].code: 同一字段写了两次"),
])
def test_malformed_files_say_where_and_why(text, expected):
    assert expected in [str(p) for p in rules.check(text, "r.yaml")]


def test_parse_refuses_an_invalid_file_with_all_its_problems():
    with pytest.raises(rules.RuleFileInvalid) as refused:
        rules.parse("rules:\n  - {code: a, name: 甲, category: 无, points: x}\n", "bad.yaml")
    assert [p.field for p in refused.value.problems] == ["rules[0].category", "rules[0].points"]


def test_the_content_hash_ignores_line_endings_only():
    text = "rules:\n  - {code: a, name: 甲, category: 环境卫生, points: 1}\n"
    assert rules.parse(text).content_hash == rules.parse(text.replace("\n", "\r\n")).content_hash
    assert rules.parse(text).content_hash != rules.parse(text.replace("points: 1", "points: 2")).content_hash


def test_the_cycle_settings_are_read_from_the_bank_section():
    book = rules.parse(textwrap.dedent("""\
        bank:
          account_unit: household
          cycle:
            day_close: "20:30"
            objection_days: 5
            redemption_months: [10, 1]
            titles:
              - {name: 平安家庭, count: 2, unit: household}
        rules:
          - {code: a, name: 甲, category: 环境卫生, points: 1}
        """))
    cycle = book.settings.cycle
    assert book.settings.account_unit == "household"
    assert (cycle.day_close, cycle.objection_days, cycle.redemption_months) == (time(20, 30), 5, (1, 10))
    assert [(t.name, t.count, t.unit) for t in cycle.titles] == [("平安家庭", 2, "household")]
