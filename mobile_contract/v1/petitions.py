"""Petitions (信访): registration, the handling steps with their statutory dates, figures.

Dates of steps (``dueOn``) are the county's calendar days: a step is on time on any instant
of its due date. Times of steps are aware (with an offset); a step sent without ``at``
happened now. No answer but ``GetPetitioner`` carries the petitioner's identity.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "Petition",
    "PetitionAssignment",
    "PetitionCategoryName",
    "PetitionCreate",
    "PetitionDecision",
    "PetitionDeliveryName",
    "PetitionEvent",
    "PetitionExtension",
    "PetitionFigures",
    "PetitionFormName",
    "PetitionPage",
    "PetitionPeriodName",
    "PetitionReply",
    "PetitionReview",
    "PetitionReviewAnswer",
    "PetitionReviewRequest",
    "PetitionStatusName",
    "PetitionStep",
    "PetitionStepName",
    "Petitioner",
    "PetitionerIdentity",
    "ReviewLevelName",
    "TownshipCount",
]

Text = Annotated[str, msgspec.Meta(max_length=4000)]
Required = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]


class PetitionFormName(enum.StrEnum):
    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    PHONE = "phone"  # 电话
    ONLINE = "online"  # 网上信访


class PetitionCategoryName(enum.StrEnum):
    SUGGESTION = "suggestion"  # 建议意见
    COMPLAINT_ACCUSATION = "complaint_accusation"  # 检举控告: also opens a clue
    APPEAL_REQUEST = "appeal_request"  # 申诉求决


class PetitionStatusName(enum.StrEnum):
    REGISTERED = "registered"
    NOT_ACCEPTED = "not_accepted"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    REPLIED = "replied"
    REVIEW_REQUESTED = "review_requested"
    REVIEWED = "reviewed"
    RE_REVIEW_REQUESTED = "re_review_requested"
    RE_REVIEWED = "re_reviewed"


class PetitionStepName(enum.StrEnum):
    DECISION = "decision"  # 15 days of receipt
    REPLY = "reply"  # 60 days of acceptance (+ one extension of up to 30)
    REVIEW_REQUEST = "review_request"  # the petitioner's, within 30 days of the reply
    REVIEW_ANSWER = "review_answer"  # 30 days of the request
    RE_REVIEW_REQUEST = "re_review_request"  # within 30 days of the review answer
    RE_REVIEW_ANSWER = "re_review_answer"  # 30 days of the request; final


class ReviewLevelName(enum.StrEnum):
    REVIEW = "review"  # 复查
    RE_REVIEW = "re_review"  # 复核


class PetitionDeliveryName(enum.StrEnum):
    IN_PERSON = "in_person"
    MAIL = "mail"
    ONLINE = "online"
    PHONE = "phone"
    OTHER = "other"


class PetitionPeriodName(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Petitioner(msgspec.Struct, kw_only=True, rename="camel"):
    """Who brought the petition (for a group, the representative); read back only through
    ``GetPetitioner``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    id_no: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""


class PetitionCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A petition as received; ``peopleCount`` of 5 or more makes it a group petition."""

    form: PetitionFormName
    category: PetitionCategoryName
    received_at: datetime
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    petitioner: Petitioner
    people_count: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1
    township_id: uuid.UUID | None = None


class PetitionDecision(msgspec.Struct, kw_only=True, rename="camel"):
    """Accept or not (a refusal needs its ``reason``); ``notice``: how the petitioner was
    told."""

    accept: bool
    reason: Text = ""
    notice: ShortText = ""
    at: datetime | None = None


class PetitionAssignment(msgspec.Struct, kw_only=True, rename="camel"):
    """The bureau head's instruction (批示) to the handling office (a brigade room, or a
    township land office with its ``townshipId``)."""

    office: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    instruction: Required
    township_id: uuid.UUID | None = None
    at: datetime | None = None


class PetitionExtension(msgspec.Struct, kw_only=True, rename="camel"):
    """Once, by 1 to 30 days (more: 422 ``petition_extension_too_long``), with the reason
    told to the petitioner."""

    days: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    reason: Required
    notice: ShortText = ""
    at: datetime | None = None


class PetitionReply(msgspec.Struct, kw_only=True, rename="camel"):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    delivery: PetitionDeliveryName
    at: datetime | None = None


class PetitionReviewRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """Review after the reply, re-review after the review answer, each within 30 days."""

    level: ReviewLevelName
    reason: Text = ""
    at: datetime | None = None


class PetitionReviewAnswer(msgspec.Struct, kw_only=True, rename="camel"):
    level: ReviewLevelName
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    delivery: PetitionDeliveryName = PetitionDeliveryName.MAIL
    at: datetime | None = None


class PetitionStep(msgspec.Struct, kw_only=True, rename="camel"):
    """A step with its statutory date: ``late``, done after it; ``overdue``, not done and
    the date has passed (the petitioner's requests are never overdue)."""

    step: PetitionStepName
    due_on: date
    done_at: datetime | None = None
    late: bool
    overdue: bool


class PetitionReview(msgspec.Struct, kw_only=True, rename="camel"):
    level: ReviewLevelName
    request_due_on: date
    requested_at: datetime
    requested_by: uuid.UUID
    reason: str
    answer_due_on: date
    answer: str
    delivery: PetitionDeliveryName | None = None
    answered_at: datetime | None = None
    answered_by: uuid.UUID | None = None


class PetitionEvent(msgspec.Struct, kw_only=True, rename="camel"):
    """Who did what, when (never the petitioner's identity)."""

    kind: str
    at: datetime
    actor_id: uuid.UUID | None = None
    details: dict[str, Any]


class Petition(msgspec.Struct, kw_only=True, rename="camel"):
    """One petition without its petitioner; ``nextStep``/``nextDueOn`` name what it waits
    for (``overdue``: past its date now); ``events`` come with ``GetPetition`` only."""

    id: uuid.UUID
    reg_no: str
    form: PetitionFormName
    category: PetitionCategoryName
    status: PetitionStatusName
    received_at: datetime
    received_on: date
    subject: str
    content: str
    people_count: int
    group_petition: bool
    township_id: uuid.UUID | None = None
    clue_id: uuid.UUID | None = None
    registered_by: uuid.UUID
    registered_at: datetime
    decision_due_on: date
    accepted: bool | None = None
    decision_reason: str
    decision_notice: str
    decided_at: datetime | None = None
    decided_by: uuid.UUID | None = None
    office: str
    office_township_id: uuid.UUID | None = None
    instruction: str
    assigned_at: datetime | None = None
    assigned_by: uuid.UUID | None = None
    reply_due_on: date | None = None
    extension_days: int | None = None
    extension_reason: str
    extension_notice: str
    extended_at: datetime | None = None
    extended_by: uuid.UUID | None = None
    reply_content: str
    reply_delivery: PetitionDeliveryName | None = None
    replied_at: datetime | None = None
    replied_by: uuid.UUID | None = None
    next_step: PetitionStepName | None = None
    next_due_on: date | None = None
    overdue: bool
    late: bool
    reviews: list[PetitionReview] = msgspec.field(default_factory=list)
    steps: list[PetitionStep] = msgspec.field(default_factory=list)
    events: list[PetitionEvent] = msgspec.field(default_factory=list)


class PetitionPage(msgspec.Struct, kw_only=True, rename="camel"):
    """A page of petitions, newest receipt first; ``hasMore``: ask for ``page + 1``."""

    items: list[Petition]
    page: int
    page_size: int
    has_more: bool


class PetitionerIdentity(msgspec.Struct, kw_only=True, rename="camel"):
    """The petitioner (clue desk and captains); each read is in the custody chain."""

    petition_id: uuid.UUID
    reg_no: str
    name: str
    phone: str
    id_no: str
    address: str


class TownshipCount(msgspec.Struct, kw_only=True, rename="camel"):
    township_id: uuid.UUID | None = None  # none: no township named
    count: int


class PetitionFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """Petitions received in the period (county dates, inclusive); ``onTime``/``late``:
    petitions with every step on time so far, and those with a step late or overdue."""

    received_from: date
    received_to: date
    total: int
    by_form: dict[str, int]
    by_category: dict[str, int]
    by_status: dict[str, int]
    by_township: list[TownshipCount]
    group_petitions: int
    on_time: int
    late: int
