"""The pure core of the foundation: state machines, recusal, weighted scores, quorum and votes.

Plain functions on plain data: no Flask, no database. The services call them under their
transaction; the tests call them with plain asserts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ground.i18n import Message, _

# --- micro-project applications -----------------------------------------------------------------

DRAFT, SUBMITTED, SCREENING, IN_REVIEW = "draft", "submitted", "screening", "in_review"
AWARDED, DECLINED = "awarded", "declined"
IN_PROGRESS, COMPLETED, CLOSED, WITHDRAWN = "in_progress", "completed", "closed", "withdrawn"
STATES = (DRAFT, SUBMITTED, SCREENING, IN_REVIEW, AWARDED, DECLINED, IN_PROGRESS, COMPLETED,
          CLOSED, WITHDRAWN)
#: States in which the council has decided: the award (or its absence) is final.
DECIDED = frozenset({AWARDED, DECLINED, IN_PROGRESS, COMPLETED, CLOSED})
#: States in which the project has money: it was awarded and not yet closed.
FUNDED = frozenset({AWARDED, IN_PROGRESS, COMPLETED, CLOSED})

CLERKS = frozenset({"admin", "clerk", "reviewer"})
COUNCIL = frozenset({"admin", "reviewer"})


@dataclass(frozen=True)
class Action:
    """One move of the state machine: from which states, to which, and who may make it."""

    name: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("submit", frozenset({DRAFT}), SUBMITTED, CLERKS),
    Action("screen", frozenset({SUBMITTED}), SCREENING, CLERKS),
    Action("review", frozenset({SCREENING}), IN_REVIEW, CLERKS),
    Action("award", frozenset({IN_REVIEW}), AWARDED, COUNCIL),
    Action("decline", frozenset({IN_REVIEW}), DECLINED, COUNCIL),
    Action("start", frozenset({AWARDED}), IN_PROGRESS, CLERKS),
    Action("complete", frozenset({IN_PROGRESS}), COMPLETED, CLERKS),
    Action("close", frozenset({COMPLETED}), CLOSED, COUNCIL),
    Action("withdraw", frozenset({DRAFT, SUBMITTED, SCREENING, IN_REVIEW}), WITHDRAWN, CLERKS),
)}

#: Actions a request names directly; the others happen inside a service that does more
#: (a decision awards or declines, the first tranche starts, the completion report completes).
PLAIN_ACTIONS = ("submit", "screen", "review", "start", "close", "withdraw")


class IllegalMove(Exception):
    """A move the state machine does not allow from the current state."""

    def __init__(self, state: str, action: str):
        super().__init__(f"cannot {action} from {state}")
        self.state, self.action = state, action


def next_state(state: str, action: str) -> str:
    """Return the state after `action`, or raise IllegalMove if it is not allowed from `state`."""
    move = ACTIONS.get(action)
    if move is None or state not in move.sources:
        raise IllegalMove(state, action)
    return move.target


def allowed_actions(state: str, role: str) -> list[str]:
    """Return the actions a user with `role` may take from `state`, in table order."""
    return [a.name for a in ACTIONS.values() if state in a.sources and role in a.roles]


# --- wishes (微心愿) -------------------------------------------------------------------------------

COLLECTED, VERIFIED, REJECTED = "collected", "verified", "rejected"
PUBLISHED, CLAIMED, DELIVERED, FULFILLED = "published", "claimed", "delivered", "fulfilled"
WISH_STATES = (COLLECTED, VERIFIED, REJECTED, PUBLISHED, CLAIMED, DELIVERED, FULFILLED)
#: States in which a wish shows on the public wall.
ON_WALL = frozenset({PUBLISHED, CLAIMED, DELIVERED, FULFILLED})

WISH_MOVES: dict[str, tuple[frozenset[str], str]] = {
    "verify": (frozenset({COLLECTED}), VERIFIED),
    "reject": (frozenset({COLLECTED, VERIFIED}), REJECTED),
    "publish": (frozenset({VERIFIED}), PUBLISHED),
    "claim": (frozenset({PUBLISHED}), CLAIMED),
    "expire": (frozenset({CLAIMED}), PUBLISHED),
    "deliver": (frozenset({CLAIMED}), DELIVERED),
    "confirm": (frozenset({DELIVERED}), FULFILLED),
}


def next_wish_state(state: str, action: str) -> str:
    """Return the wish's state after `action`, or raise IllegalMove."""
    sources, target = WISH_MOVES.get(action, (frozenset(), ""))
    if state not in sources:
        raise IllegalMove(state, action)
    return target


# --- review ---------------------------------------------------------------------------------------

MEMBER, HOUSEHOLD, DECLARED = "member", "household", "declared"
SCORE_MIN, SCORE_MAX = 0, 5


def recusal(reviewer_resident: int | None, reviewer_household: int | None,
            members: Iterable[tuple[int, int]], *, declared: bool = False) -> str | None:
    """Return why a reviewer must stand aside from an application, or None.

    `members` are the applicant group's (resident id, household id). A reviewer who is a
    member, or lives in a member's household, is recused automatically; one who declared a
    conflict is recused by their own word.
    """
    members = list(members)
    if reviewer_resident is not None and any(r == reviewer_resident for r, _home in members):
        return MEMBER
    if reviewer_household is not None and any(h == reviewer_household for _who, h in members):
        return HOUSEHOLD
    return DECLARED if declared else None


def score_problems(scores: Mapping[str, object], criteria: Iterable[str]) -> dict[str, list[Message]]:
    """Return what is wrong with one reviewer's scores: every criterion once, each 0–5."""
    criteria = list(criteria)
    problems: dict[str, list[Message]] = {}
    for code in criteria:
        value = scores.get(code)
        if code not in scores:
            problems[code] = [_("缺少该项评分")]
        elif isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            problems[code] = [_("评分须为 %(low)d 到 %(high)d 的整数", low=SCORE_MIN, high=SCORE_MAX)]
    for code in scores:
        if code not in criteria:
            problems[code] = [_("未知的评审标准")]
    return problems


def weighted_score(by_reviewer: Mapping[object, Mapping[str, int]], weights: Mapping[str, int]) -> int | None:
    """Return the weighted mean score over reviewers, in hundredths (3.75 → 375), or None.

    Integer arithmetic, rounded half up, so the same scores always print the same figure.
    """
    if not by_reviewer:
        return None
    total_weight = sum(weights.values())
    numerator = sum(scores[c] * w for scores in by_reviewer.values() for c, w in weights.items())
    denominator = total_weight * len(by_reviewer)
    return (numerator * 200 + denominator) // (2 * denominator)


def hundredths(value: int | None) -> str:
    """Return a score in hundredths as text: 375 → "3.75"."""
    return "—" if value is None else f"{value // 100}.{value % 100:02d}"


# --- the council meeting ------------------------------------------------------------------------

def vote_problems(*, attendees: int, quorum: int, votes_for: int, votes_against: int,
                  abstaining: int, outcome: str) -> dict[str, list[Message]]:
    """Return what makes a council decision invalid: no quorum, votes that do not add up to the
    attendance, or an outcome the votes do not carry (an award needs more for than against)."""
    problems: dict[str, list[Message]] = {}
    if attendees < quorum:
        problems["attendees"] = [_("出席 %(n)d 人，未达法定人数 %(quorum)d 人", n=attendees, quorum=quorum)]
    if votes_for + votes_against + abstaining != attendees:
        problems["votes"] = [_("赞成、反对、弃权合计 %(votes)d 票，与出席人数 %(n)d 不符",
                               votes=votes_for + votes_against + abstaining, n=attendees)]
    elif outcome == AWARDED and votes_for <= votes_against:
        problems["outcome"] = [_("赞成 %(yes)d 票未多于反对 %(no)d 票，不能资助",
                                 yes=votes_for, no=votes_against)]
    return problems


def split_draw(amount: int, *, restricted: int, unrestricted: int) -> tuple[int, int]:
    """Split a payment between the project-restricted fund (first) and the unrestricted fund.

    Return (from restricted, from unrestricted). Money given for projects is used for projects
    before the council's free money is touched. Raises ValueError if both together fall short.
    """
    if amount > max(restricted, 0) + max(unrestricted, 0):
        raise ValueError("not enough money")
    first = min(amount, max(restricted, 0))
    return first, amount - first


def split_return(amount: int, *, drawn_restricted: int, drawn_unrestricted: int) -> tuple[int, int]:
    """Split unspent money going back to the fund. Return (to restricted, to unrestricted).

    The reverse of the draw: what was drawn last (the unrestricted money) goes back first, so
    money given for projects is what projects spent, and the council's free money comes home.
    """
    back_unrestricted = min(amount, drawn_unrestricted)
    rest = amount - back_unrestricted
    if rest > drawn_restricted:
        raise ValueError("returning more than was drawn")
    return rest, back_unrestricted
