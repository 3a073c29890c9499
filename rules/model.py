"""Rules as immutable values: one rule, the bank's settings and cycle, a whole rule book."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

#: The five categories of the Anyi model; a bank may add its own in `bank.categories`.
DEFAULT_CATEGORIES = ("道德文化", "法治建设", "矛盾纠纷调解", "社会治安", "环境卫生")
UNITS = ("次", "小时")
NOTICE_MODES = ("full", "category_only", "hidden")
EVIDENCE_MODES = ("optional", "required")
ACCOUNT_UNITS = ("person", "household")
CAP_PERIODS = ("day", "week", "month", "year")
EXPIRY_MODES = ("year_end",)


@dataclass(frozen=True)
class Rule:
    """What one kind of deed (or breach of the village rules) is worth, and how it is shown."""

    code: str
    name: str
    category: str
    points: int
    unit: str
    caps: dict = field(default_factory=dict)
    review: bool = False
    notice: str = "full"
    #: "required": a deed under the rule must come with at least one photo as evidence.
    evidence: str = "optional"
    valid_from: date | None = None
    valid_until: date | None = None
    description: str = ""
    #: Where the rule was written: its line in the rule file.
    line: int = 0

    @property
    def is_penalty(self) -> bool:
        return self.points < 0

    def applies_on(self, day: date) -> bool:
        """Say whether the rule is valid on that day."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_until is None or day <= self.valid_until))

    def as_dict(self) -> dict:
        """Return the rule as the API shows it."""
        return {"code": self.code, "name": self.name, "category": self.category,
                "points": self.points, "unit": self.unit, "caps": dict(self.caps),
                "review": self.review, "notice": self.notice, "evidence": self.evidence,
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}


@dataclass(frozen=True)
class Title:
    """An annual commendation title (年表彰): who can get it and how many are named."""

    name: str
    count: int
    unit: str = "person"
    category: str | None = None
    #: A threshold title: only those with at least this many points are named.
    min_points: int | None = None


@dataclass(frozen=True)
class Cycle:
    """When the day closes, the notice goes up, the desk opens, and the year is commended."""

    day_close: time = time(21, 0)
    notice_day: int = 1
    notice_time: time = time(8, 0)
    objection_days: int = 7
    redemption_months: tuple[int, ...] = (1, 4, 7, 10)
    redemption_days: int = 7
    commendation_month: int = 1
    commendation_day: int = 10
    #: How many days back a deed (or any entry dated from input) may be dated: 补登 is allowed
    #: while the month is still open, never so far back that caps and the notice are sidestepped.
    backdate_days: int = 45
    titles: tuple[Title, ...] = (
        Title("平安卫士", 3, "person", "社会治安"),
        Title("最美志愿者", 5, "person"),
        Title("平安家庭", 3, "household"),
    )


@dataclass(frozen=True)
class Settings:
    """A bank's own settings from its rule file."""

    account_unit: str = "person"
    negative_balance_may_redeem: bool = False
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    #: What one point is worth in fen, for the fund's coverage of the points outstanding.
    point_value_fen: int = 10
    #: Below this coverage (fund / points outstanding, in percent) the council is warned.
    coverage_warning_percent: int = 100
    cycle: Cycle = field(default_factory=Cycle)
    #: "year_end": a year's remaining points expire after its commendation; None: they never do.
    expiry: str | None = None


@dataclass(frozen=True)
class Criterion:
    """One thing micro-project reviewers score (0–5), and its weight in the total."""

    code: str
    name: str
    weight: int


@dataclass(frozen=True)
class Foundation:
    """How the community foundation reviews and decides (the rule file's `foundation:` section)."""

    criteria: tuple[Criterion, ...] = (
        Criterion("need", "居民需求", 40),
        Criterion("feasibility", "可行性", 30),
        Criterion("participation", "居民参与", 30),
    )
    #: Council members who must attend a meeting for its decision to count.
    quorum: int = 5
    #: Rule that credits volunteers on an awarded project; rule that credits a resident donor.
    volunteer_rule: str | None = None
    donor_rule: str | None = None
    #: Days a donor has to deliver a claimed wish before it goes back on the wall.
    claim_days: int = 14


@dataclass(frozen=True)
class RuleBook:
    """One version of a bank's rule file: its text, content hash, settings and rules."""

    source: str
    content_hash: str
    settings: Settings
    rules: tuple[Rule, ...]
    foundation: Foundation = field(default_factory=Foundation)

    def knows(self, code: str) -> bool:
        """Say whether any version of the rule exists in this book."""
        return any(r.code == code for r in self.rules)

    def rule_for(self, code: str, day: date) -> Rule | None:
        """Return the rule with this code that is valid on that day, if any."""
        return next((r for r in self.rules if r.code == code and r.applies_on(day)), None)

    def in_force(self, day: date) -> list[Rule]:
        """Return the rules valid on that day, in file order."""
        return [r for r in self.rules if r.applies_on(day)]
