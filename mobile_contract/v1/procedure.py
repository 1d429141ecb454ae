"""The administrative penalty procedure of a case: its steps, deadlines and penalty content.

``RecordCaseStep`` takes one step as a body tagged by ``kind`` (each kind with its own
members); a step without ``at`` happened now. Money is yuan as a decimal string, areas m².
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.cases import CaseStatusName, PartyKindName

__all__ = [
    "ArticleCodeName",
    "CaseProcedure",
    "CaseStep",
    "CaseStepCreate",
    "CaseStepKindName",
    "ClockPauseStep",
    "ClockResumeStep",
    "ClosingStep",
    "ClueStep",
    "CollectiveDiscussionStep",
    "CourtEnforcementStep",
    "Deadline",
    "DeadlineKindName",
    "DecisionOptionName",
    "DecisionStep",
    "ExecutionStep",
    "ExtensionApprovalStep",
    "ExtensionRequestStep",
    "FilingStep",
    "HearingHeldStep",
    "HearingNotifiedStep",
    "HearingRequestedStep",
    "InvestigationStep",
    "LegalReviewStep",
    "MeasureKindName",
    "NoticeStep",
    "PauseReasonName",
    "Penalty",
    "PenaltyFine",
    "PenaltyFineInput",
    "PenaltyMeasure",
    "PenaltyMeasureInput",
    "PenaltyParty",
    "PenaltyPartyInput",
    "PenaltyPut",
    "PenaltyViolation",
    "PenaltyViolationInput",
    "ResumeStep",
    "ServiceMethodName",
    "ServiceStep",
    "StageName",
    "StatementStep",
    "SuspendStep",
    "TerminateStep",
    "WithdrawStep",
]

Money = Annotated[Decimal, msgspec.Meta(description="yuan, a decimal string such as 150000.00")]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Name = Annotated[str, msgspec.Meta(max_length=50)]
Area = Annotated[float, msgspec.Meta(ge=0.0, le=1e10, description="m²")]


class CaseStepKindName(enum.StrEnum):
    CLUE = "clue"  # 线索核查: the check that found it
    FILING = "filing"  # 立案
    INVESTIGATION = "investigation"  # 调查取证
    LEGAL_REVIEW = "legal_review"  # 法制审核
    COLLECTIVE_DISCUSSION = "collective_discussion"  # 集体讨论
    NOTICE = "notice"  # 行政处罚告知
    STATEMENT = "statement"  # 陈述申辩
    HEARING_REQUESTED = "hearing_requested"  # 听证申请
    HEARING_NOTIFIED = "hearing_notified"  # 听证通知
    HEARING_HELD = "hearing_held"  # 举行听证
    DECISION = "decision"  # 处罚决定
    SERVICE = "service"  # 送达
    EXECUTION = "execution"  # 执行
    COURT_ENFORCEMENT = "court_enforcement"  # 申请法院强制执行
    CLOSING = "closing"  # 结案
    CLOCK_PAUSE = "clock_pause"  # 期限中止计算
    CLOCK_RESUME = "clock_resume"
    SUSPEND = "suspend"  # 中止
    RESUME = "resume"
    TERMINATE = "terminate"  # 终止
    WITHDRAW = "withdraw"  # 撤销立案
    EXTENSION_REQUEST = "extension_request"  # 延期申请
    EXTENSION_APPROVAL = "extension_approval"  # 延期审批


class StageName(enum.StrEnum):
    CLUE = "clue"
    FILING = "filing"
    INVESTIGATION = "investigation"
    REVIEW = "review"
    NOTICE = "notice"
    DECISION = "decision"
    SERVICE = "service"
    EXECUTION = "execution"
    CLOSING = "closing"
    SIDE = "side"


class DecisionOptionName(enum.StrEnum):
    PENALTY = "penalty"
    NO_PENALTY_MINOR = "no_penalty_minor"
    NO_PENALTY_FIRST_MINOR = "no_penalty_first_minor"
    FACTS_NOT_ESTABLISHED = "facts_not_established"
    TRANSFER = "transfer"


class PauseReasonName(enum.StrEnum):
    APPRAISAL = "appraisal"
    HEARING = "hearing"
    PUBLIC_NOTICE = "public_notice"
    MAIL = "mail"
    POLICE_PROCURATOR = "police_procurator"
    OTHER = "other"


class ServiceMethodName(enum.StrEnum):
    DIRECT = "direct"
    LEFT_AT_RESIDENCE = "left_at_residence"  # 留置送达
    MAIL = "mail"
    ENTRUSTED = "entrusted"
    ELECTRONIC = "electronic"
    PUBLIC_NOTICE = "public_notice"  # 公告送达


class MeasureKindName(enum.StrEnum):
    RETURN_LAND = "return_land"
    DEMOLISH = "demolish"
    CONFISCATE_BUILDINGS = "confiscate_buildings"
    CONFISCATE_GAINS = "confiscate_gains"
    CONFISCATE_ORE = "confiscate_ore"
    RESTORE_FARMLAND = "restore_farmland"
    SUSPEND_PRODUCTION = "suspend_production"
    REVOKE_LICENCE = "revoke_licence"


class ArticleCodeName(enum.StrEnum):
    """The articles decisions cite (``GetCaseProcedure`` names law, article and title)."""

    LAL_74 = "lal_74"  # 土地管理法第七十四条 非法转让
    LAL_75 = "lal_75"  # 土地管理法第七十五条 破坏耕地
    LAL_77 = "lal_77"  # 土地管理法第七十七条 非法占地
    LAL_83 = "lal_83"  # 土地管理法第八十三条 限期拆除
    LALR_54 = "lalr_54"  # 实施条例第五十四条 违法所得 10%–50%
    LALR_55 = "lalr_55"  # 实施条例第五十五条 耕地开垦费 5–10 倍
    LALR_57 = "lalr_57"  # 实施条例第五十七条 每平方米 100–1000 元
    MRL_64 = "mrl_64"  # 矿产资源法（2024）第六十四条


class DeadlineKindName(enum.StrEnum):
    DUTY = "duty"  # the officers act by ``dueAt``
    PARTY = "party"  # the party's window closes at ``dueAt``
    WAITING = "waiting"  # the step may not come before ``dueAt``


# -- steps (the body of RecordCaseStep, tagged by ``kind``) ---------------------------------------
class _Step(msgspec.Struct, kw_only=True, rename="camel", tag_field="kind"):
    at: datetime | None = None
    note: Text = ""


class ClueStep(_Step, tag="clue"):
    """The check that found the case (its time starts the filing deadline)."""


class FilingStep(_Step, tag="filing"):
    approval_no: Annotated[str, msgspec.Meta(max_length=60)] = ""


class InvestigationStep(_Step, tag="investigation"):
    summary: Text = ""
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)] = []


class LegalReviewStep(_Step, tag="legal_review"):
    opinion: Text = ""
    passed: bool = True


class CollectiveDiscussionStep(_Step, tag="collective_discussion"):
    conclusion: Text = ""
    participants: Annotated[list[Name], msgspec.Meta(max_length=50)] = []


class NoticeStep(_Step, tag="notice"):
    """The notice of the intended penalty (with the hearing right when it triggers one)."""


class StatementStep(_Step, tag="statement"):
    summary: Text = ""
    waived: bool = False


class HearingRequestedStep(_Step, tag="hearing_requested"):
    pass


class HearingNotifiedStep(_Step, tag="hearing_notified"):
    hearing_on: date
    place: Short = ""


class HearingHeldStep(_Step, tag="hearing_held"):
    summary: Text = ""


class DecisionStep(_Step, tag="decision"):
    option: DecisionOptionName
    decision_no: Annotated[str, msgspec.Meta(max_length=60)] = ""
    transfer_to: Short = ""


class ServiceStep(_Step, tag="service"):
    method: ServiceMethodName
    party_present: bool = True


class ExecutionStep(_Step, tag="execution"):
    paid_yuan: Money | None = None
    paid_on: date | None = None
    demolished_m2: Area | None = None
    land_returned: bool = False
    right_holder_confirmed: bool = False
    farmland_restored_m2: Area | None = None


class CourtEnforcementStep(_Step, tag="court_enforcement"):
    court: Short = ""
    ruling: Text = ""


class ClosingStep(_Step, tag="closing"):
    summary: Text = ""


class ClockPauseStep(_Step, tag="clock_pause"):
    reason_kind: PauseReasonName
    reason: Text = ""


class ClockResumeStep(_Step, tag="clock_resume"):
    pass


class SuspendStep(_Step, tag="suspend"):
    reason: Text = ""


class ResumeStep(_Step, tag="resume"):
    pass


class TerminateStep(_Step, tag="terminate"):
    reason: Text = ""


class WithdrawStep(_Step, tag="withdraw"):
    reason: Text = ""


class ExtensionRequestStep(_Step, tag="extension_request"):
    days: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    reason: Text = ""


class ExtensionApprovalStep(_Step, tag="extension_approval"):
    approved: bool = True
    days: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


CaseStepCreate = (
    ClueStep
    | FilingStep
    | InvestigationStep
    | LegalReviewStep
    | CollectiveDiscussionStep
    | NoticeStep
    | StatementStep
    | HearingRequestedStep
    | HearingNotifiedStep
    | HearingHeldStep
    | DecisionStep
    | ServiceStep
    | ExecutionStep
    | CourtEnforcementStep
    | ClosingStep
    | ClockPauseStep
    | ClockResumeStep
    | SuspendStep
    | ResumeStep
    | TerminateStep
    | WithdrawStep
    | ExtensionRequestStep
    | ExtensionApprovalStep
)


class CaseStep(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    case_id: uuid.UUID
    seq: int
    kind: CaseStepKindName
    stage: StageName
    at: datetime
    recorded_by: uuid.UUID
    recorded_at: datetime
    details: dict[str, Any] = {}
    document_id: uuid.UUID | None = None


# -- penalty -------------------------------------------------------------------------------------
class PenaltyPartyInput(msgspec.Struct, kw_only=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: PartyKindName = PartyKindName.PERSON
    id_no: Annotated[
        str,
        msgspec.Meta(
            max_length=18,
            description="a person's ID number or an organisation's unified social credit code",
        ),
    ] = ""
    address: Short = ""
    representative: Annotated[str, msgspec.Meta(max_length=100)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""


class PenaltyViolationInput(msgspec.Struct, kw_only=True, rename="camel"):
    article: ArticleCodeName
    facts: Text = ""


class PenaltyMeasureInput(msgspec.Struct, kw_only=True, rename="camel"):
    kind: MeasureKindName
    deadline_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    area_m2: Area | None = None
    amount_yuan: Money | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class PenaltyFineInput(msgspec.Struct, kw_only=True, rename="camel"):
    article: ArticleCodeName
    amount_yuan: Money
    basis_yuan: Money | None = None  # the reclamation fee of a lalr_55 fine


class PenaltyPut(msgspec.Struct, kw_only=True, rename="camel"):
    parties: Annotated[list[PenaltyPartyInput], msgspec.Meta(max_length=50)] = []
    violations: Annotated[list[PenaltyViolationInput], msgspec.Meta(max_length=50)] = []
    measures: Annotated[list[PenaltyMeasureInput], msgspec.Meta(max_length=50)] = []
    fines: Annotated[list[PenaltyFineInput], msgspec.Meta(max_length=20)] = []


class PenaltyParty(msgspec.Struct, kw_only=True, rename="camel"):
    name: str
    kind: PartyKindName
    id_no: str  # all but the last four characters masked for joint-team members
    address: str = ""
    representative: str = ""
    phone: str = ""
    id_masked: bool = False


class PenaltyViolation(msgspec.Struct, kw_only=True, rename="camel"):
    article: ArticleCodeName
    law: str
    article_no: str
    title: str
    facts: str = ""


class PenaltyMeasure(msgspec.Struct, kw_only=True, rename="camel"):
    kind: MeasureKindName
    deadline_days: int | None = None
    area_m2: float | None = None
    amount_yuan: Money | None = None
    note: str = ""


class PenaltyFine(msgspec.Struct, kw_only=True, rename="camel"):
    article: ArticleCodeName
    basis: str  # area_m2, ore_value_yuan, illegal_gain_yuan, reclamation_fee_yuan
    basis_value: Decimal
    min_yuan: Money
    max_yuan: Money
    amount_yuan: Money
    chosen_by: uuid.UUID
    chosen_at: datetime


class Penalty(msgspec.Struct, kw_only=True, rename="camel"):
    case_id: uuid.UUID
    parties: list[PenaltyParty]
    violations: list[PenaltyViolation]
    measures: list[PenaltyMeasure]
    fines: list[PenaltyFine]
    fine_total_yuan: Money
    hearing_triggered: bool
    major: bool
    updated_by: uuid.UUID
    updated_at: datetime


# -- the procedure -------------------------------------------------------------------------------
class Deadline(msgspec.Struct, kw_only=True, rename="camel"):
    step: str  # filing, decision, statement, hearing_requested, service, court_enforcement
    kind: DeadlineKindName
    basis: str
    starts_at: datetime | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None
    late: bool = False
    overdue: bool = False
    days_allowed: int | None = None
    days_counted: float | None = None
    days_paused: float | None = None


class CaseProcedure(msgspec.Struct, kw_only=True, rename="camel"):
    case_id: uuid.UUID
    case_no: str
    status: CaseStatusName
    stage: StageName
    major: bool
    decision_option: DecisionOptionName | None = None
    paused_for: PauseReasonName | None = None
    deadlines: list[Deadline] = []
    next_steps: list[CaseStepKindName] = []
    penalty: Penalty | None = None
    steps: int = 0
