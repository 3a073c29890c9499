"""The foundation's request and response shapes (marshmallow), also the source of the OpenAPI document."""
from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from ground.i18n import _
from ledger.schemas import DEED_RESIDENTS_MAX, MEMO_MAX, PHONE
from rules import bounds
from rules.schemas import Schema, SafeText, day_field, note_field, text_field, whole

from . import workflow as wf

TEXT_MAX = 5000


def _count(**kw):
    """Votes of a council: zero or more, at most a thousand."""
    return whole(min=0, max=1000, **kw)


def _fen(**kw):
    """An amount of money in fen, above zero, at most bounds.FEN_MAX."""
    return whole(max=bounds.FEN_MAX, **kw)


def _optional(field_type=fields.String, **kw):
    return field_type(load_default=None, allow_none=True, **kw)


# --- applicants ---------------------------------------------------------------------------------

class ApplicantIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("group", "station")),
                         metadata={"description": "group: a resident group; station: a welfare station (公益站)"})
    name = text_field(100, required=True)
    phone = _optional(validate=PHONE)
    members = fields.List(whole(), required=True, validate=validate.Length(min=1, max=500),
                          metadata={"description": "resident ids of the members"})


class ApplicantMemberOut(Schema):
    id = fields.Integer()
    name = fields.String()


class ApplicantOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    members = fields.List(fields.Nested(ApplicantMemberOut))


class ReviewerLinkIn(Schema):
    resident = whole(required=True, metadata={"description": "the resident this reviewer is"})


class ReviewerLinkOut(Schema):
    user = fields.Integer(attribute="user_id")
    resident = fields.Integer(attribute="resident_id")
    linked_by = fields.String()
    linked_at = fields.DateTime()


# --- applications -------------------------------------------------------------------------------

class BudgetLineIn(Schema):
    item = text_field(100, required=True)
    amount = _fen(required=True, metadata={"description": "fen"})


class BudgetLineOut(Schema):
    item = fields.String()
    amount = fields.Integer()


class ApplicationIn(Schema):
    applicant = whole(required=True)
    title = text_field(100, required=True)
    purpose = SafeText(TEXT_MAX, multiline=True, required=True)
    budget = fields.List(fields.Nested(BudgetLineIn), required=True, validate=validate.Length(min=1, max=50),
                         metadata={"description": "budget lines; they must add up to amount_requested"})
    amount_requested = _fen(required=True, metadata={"description": "fen"})
    starts_on = day_field(required=True)
    ends_on = day_field(required=True)


class ApplicationOut(Schema):
    id = fields.Integer()
    applicant = fields.Integer(attribute="applicant_id")
    applicant_name = fields.String()
    title = fields.String()
    purpose = fields.String()
    state = fields.String(metadata={"enum": list(wf.STATES)})
    amount_requested = fields.Integer()
    amount_awarded = fields.Integer(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    disbursed = fields.Integer()
    spent = fields.Integer()
    returned = fields.Integer()
    starts_on = fields.Date()
    ends_on = fields.Date()
    entered_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ApplicationTransitionOut(Schema):
    action = fields.String()
    from_state = fields.String(data_key="from")
    to_state = fields.String(data_key="to")
    by = fields.String()
    at = fields.DateTime()
    note = fields.String(allow_none=True)


class ApplicationAttachmentOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    on_behalf_of = fields.String(allow_none=True)
    entered_by = fields.String()
    entered_at = fields.DateTime()
    progress = fields.Integer(attribute="progress_id", allow_none=True)


class CouncilDecisionOut(Schema):
    met_on = fields.Date()
    attendees = fields.List(fields.String())
    quorum = fields.Integer()
    votes_for = fields.Integer()
    votes_against = fields.Integer()
    abstaining = fields.Integer()
    minutes = fields.String()
    outcome = fields.String()
    amount = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    weighted_score = fields.Integer(allow_none=True, metadata={"description": "hundredths: 375 is 3.75"})
    recorded_by = fields.String()
    recorded_at = fields.DateTime()


class ProjectTrancheOut(Schema):
    id = fields.Integer()
    application = fields.Integer(attribute="application_id")
    amount = fields.Integer()
    from_restricted = fields.Integer(metadata={"description": "drawn from fund:projects"})
    from_unrestricted = fields.Integer(metadata={"description": "drawn from fund"})
    paid_on = fields.Date()
    memo = fields.String(allow_none=True)
    by = fields.String()


class ProjectProgressOut(Schema):
    id = fields.Integer()
    reported_on = fields.Date()
    percent = fields.Integer()
    text = fields.String()
    by = fields.String()


class ProjectVolunteerOut(Schema):
    resident = fields.Integer()
    name = fields.String()
    transfer = fields.Integer(allow_none=True)
    pending = fields.Integer(allow_none=True)
    points = fields.Integer(allow_none=True)
    occurred_on = fields.Date(allow_none=True)


class ApplicationDetailOut(ApplicationOut):
    budget = fields.List(fields.Nested(BudgetLineOut))
    spent_lines = fields.List(fields.Nested(BudgetLineOut))
    completion_report = fields.String(allow_none=True)
    transitions = fields.List(fields.Nested(ApplicationTransitionOut))
    attachments = fields.List(fields.Nested(ApplicationAttachmentOut))
    decision = fields.Nested(CouncilDecisionOut, allow_none=True)
    tranches = fields.List(fields.Nested(ProjectTrancheOut))
    progress = fields.List(fields.Nested(ProjectProgressOut))
    volunteers = fields.List(fields.Nested(ProjectVolunteerOut))
    actions = fields.List(fields.String(), metadata={"description": "the moves the asker may make now"})


class MoveNoteIn(Schema):
    note = note_field(MEMO_MAX)


class ConflictIn(Schema):
    note = SafeText(MEMO_MAX, multiline=True, required=True,
                    metadata={"description": "why the reviewer stands aside"})


class ReviewScoreIn(Schema):
    criterion = text_field(40, required=True)
    score = whole(min=wf.SCORE_MIN, max=wf.SCORE_MAX, required=True)
    comment = note_field(MEMO_MAX)


class ReviewScoresIn(Schema):
    scores = fields.List(fields.Nested(ReviewScoreIn), required=True, validate=validate.Length(min=1, max=20),
                         metadata={"description": "one entry per criterion of the bank's rules"})

    @validates_schema
    def _once_each(self, data, **kw):
        codes = [s["criterion"] for s in data.get("scores", [])]
        if len(set(codes)) != len(codes):
            raise SchemaError(_("每项评审标准只能评一次"), "scores")


class PanelSeatOut(Schema):
    user = fields.Integer()
    name = fields.String()
    recused = fields.String(allow_none=True, metadata={"description": "member | household | declared"})
    scored = fields.Boolean()


class ReviewScoreOut(Schema):
    reviewer = fields.String()
    criterion = fields.String()
    weight = fields.Integer()
    score = fields.Integer()
    comment = fields.String(allow_none=True)


class ReviewOut(Schema):
    complete = fields.Boolean(metadata={"description": "every reviewer not recused has scored"})
    panel = fields.List(fields.Nested(PanelSeatOut))
    scores = fields.List(fields.Nested(ReviewScoreOut),
                         metadata={"description": "the asker's own until the review is complete, then all"})
    weighted_score = fields.Integer(allow_none=True, metadata={"description": "hundredths"})


class CouncilDecisionIn(Schema):
    met_on = day_field(required=True, metadata={"description": "the council meeting's date"})
    attendees = fields.List(text_field(50), required=True, validate=validate.Length(min=1, max=100))
    votes_for = _count(required=True)
    votes_against = _count(required=True)
    abstaining = _count(required=True)
    minutes = SafeText(TEXT_MAX, multiline=True, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf((wf.AWARDED, wf.DECLINED)))
    amount = _fen(load_default=None, allow_none=True, metadata={"description": "fen, for an award"})
    reason = note_field(MEMO_MAX)


class ProjectFundOut(Schema):
    restricted = fields.Integer(metadata={"description": "fund:projects balance"})
    unrestricted = fields.Integer(metadata={"description": "fund balance"})
    committed = fields.Integer(metadata={"description": "awarded but not yet paid"})
    free = fields.Integer(metadata={"description": "what a new award may use"})


class ProjectTrancheIn(Schema):
    amount = _fen(required=True, metadata={"description": "fen"})
    memo = note_field(MEMO_MAX)


class ProjectProgressIn(Schema):
    reported_on = day_field(required=True)
    percent = whole(min=0, max=100, required=True)
    text = SafeText(TEXT_MAX, multiline=True, required=True)


class ProjectCompletionIn(Schema):
    spent = fields.List(fields.Nested(BudgetLineIn), required=True, validate=validate.Length(max=50),
                        metadata={"description": "what the project spent; the rest returns to the fund"})
    report = SafeText(TEXT_MAX, multiline=True, required=True)


class ProjectVolunteersIn(Schema):
    residents = fields.List(whole(), required=True, validate=validate.Length(min=1, max=DEED_RESIDENTS_MAX))
    quantity = whole(max=bounds.QUANTITY_MAX, load_default=1)
    occurred_on = day_field(required=True)
    memo = note_field(MEMO_MAX)
    rule = text_field(40, load_default=None, allow_none=True,
                      metadata={"description": "default: the rule file's foundation.volunteer_rule"})


# --- wishes -----------------------------------------------------------------------------------------

class WishIn(Schema):
    resident = whole(required=True, metadata={"description": "whose wish it is"})
    title = text_field(100, required=True)
    description = SafeText(TEXT_MAX, multiline=True, required=True)
    estimated_value = _fen(load_default=None, allow_none=True, metadata={"description": "fen"})


class WishReasonIn(Schema):
    reason = note_field(MEMO_MAX)


class WishDonorIn(Schema):
    resident = whole(load_default=None, allow_none=True,
                     metadata={"description": "a resident donor; else kind, name and phone"})
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(("person", "unit")))
    name = SafeText(100, allow_blank=True, load_default=None, allow_none=True)
    phone = _optional(validate=PHONE)

    @validates_schema
    def _who(self, data, **kw):
        if data.get("resident"):
            return
        if not data.get("kind"):
            raise SchemaError(_("非本村居民须注明 person 或 unit"), "kind")
        if not (data.get("name") or "").strip() or not data.get("phone"):
            raise SchemaError(_("非本村居民须填写姓名和电话"), "name")


class WishClaimIn(Schema):
    donors = fields.List(fields.Nested(WishDonorIn), required=True, validate=validate.Length(min=1, max=20))
    deadline = day_field(load_default=None, allow_none=True,
                           metadata={"description": "default: today + foundation.claim_days"})


class WishGiftIn(Schema):
    donor = whole(required=True)
    value = _fen(required=True, metadata={"description": "stated value in fen"})


class WishDeliverIn(Schema):
    gifts = fields.List(fields.Nested(WishGiftIn), required=True, validate=validate.Length(min=1, max=20))
    delivered_on = day_field(required=True)


class WishConfirmIn(Schema):
    thanks = SafeText(MEMO_MAX, multiline=True, required=True,
                      metadata={"description": "the resident's thank-you note"})


class WishDonorOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    resident = fields.Integer(attribute="resident_id", allow_none=True)
    name = fields.String()
    phone = fields.String(allow_none=True)
    value = fields.Integer(allow_none=True)


class WishClaimOut(Schema):
    id = fields.Integer()
    status = fields.String()
    deadline = fields.Date()
    claimed_by = fields.String()
    claimed_at = fields.DateTime()
    delivered_on = fields.Date(allow_none=True)
    donors = fields.List(fields.Nested(WishDonorOut))


class WishOut(Schema):
    id = fields.Integer()
    resident = fields.Integer(attribute="resident_id")
    title = fields.String()
    description = fields.String()
    estimated_value = fields.Integer(allow_none=True)
    state = fields.String(metadata={"enum": list(wf.WISH_STATES)})
    collected_by = fields.String()
    collected_at = fields.DateTime()
    verified_by = fields.String(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    thanks = fields.String(allow_none=True)
    fulfilled_on = fields.Date(allow_none=True)
    claim = fields.Nested(WishClaimOut, allow_none=True)


class ExpiredWishesOut(Schema):
    wishes = fields.List(fields.Integer(), metadata={"description": "wishes put back on the wall"})


def _page(item: type[Schema], name: str) -> type[Schema]:
    return type(name, (Schema,), {"items": fields.List(fields.Nested(item)),
                                  "next_cursor": fields.String(allow_none=True)})


ApplicationPage = _page(ApplicationOut, "ApplicationPage")
WishPage = _page(WishOut, "WishPage")
ApplicantList = _page(ApplicantOut, "ApplicantList")
