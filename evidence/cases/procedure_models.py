"""The administrative penalty procedure's tables and closed vocabularies.

* ``case_steps`` — what was done in a case's procedure, in order (``seq`` per case): the step
  kind, its stage, when it happened (``at``, the officer's time of the act), who recorded it
  and when, the kind's details (JSON, as the step's input said them), and the document the
  step produced (``document_id``: empty until documents are generated).
* ``case_penalties`` — the penalty content of a case (one row per case): parties, violations
  with their legal basis, measures, fines with the range the law allowed and who chose the
  amount; ``hearing_triggered`` and ``major`` as computed when it was last written.

``cases.major`` (a flag on the case) is kept equal to the penalty's ``major``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, CountyOwned, UuidPk, utcnow

__all__ = [
    "CasePenalty",
    "CaseStep",
    "DecisionOption",
    "MeasureKind",
    "PauseReason",
    "ServiceMethod",
    "Stage",
    "StepKind",
]


class Stage(enum.StrEnum):
    """Where a case is in the procedure (``GetCaseProcedure``'s ``stage``)."""

    CLUE = "clue"  # 线索
    FILING = "filing"  # 立案
    INVESTIGATION = "investigation"  # 调查取证
    REVIEW = "review"  # 审理: 法制审核, 集体讨论
    NOTICE = "notice"  # 告知 (with 陈述申辩 and 听证)
    DECISION = "decision"  # 决定
    SERVICE = "service"  # 送达
    EXECUTION = "execution"  # 执行
    CLOSING = "closing"  # 结案
    SIDE = "side"  # 中止、终止、撤案、延期、期限中止: beside the main line


class StepKind(enum.StrEnum):
    CLUE = "clue"  # 线索核查: the check that found it (the filing deadline's start)
    FILING = "filing"  # 立案 (approved by a captain or admin)
    INVESTIGATION = "investigation"  # 调查取证 (one record per act: inspection, inquiry ...)
    LEGAL_REVIEW = "legal_review"  # 法制审核
    COLLECTIVE_DISCUSSION = "collective_discussion"  # 集体讨论
    NOTICE = "notice"  # 行政处罚告知 (and 听证告知 when the penalty gives the right)
    STATEMENT = "statement"  # 陈述申辩 received (or waived)
    HEARING_REQUESTED = "hearing_requested"  # 听证申请
    HEARING_NOTIFIED = "hearing_notified"  # 听证通知 (≥ 7 days before the hearing)
    HEARING_HELD = "hearing_held"  # 举行听证
    DECISION = "decision"  # 作出决定 (one of DecisionOption)
    SERVICE = "service"  # 送达
    EXECUTION = "execution"  # 执行 (one record per act: payment, demolition ...)
    COURT_ENFORCEMENT = "court_enforcement"  # 申请人民法院强制执行
    CLOSING = "closing"  # 结案
    CLOCK_PAUSE = "clock_pause"  # the 90 days stop counting (PauseReason)
    CLOCK_RESUME = "clock_resume"
    SUSPEND = "suspend"  # 中止
    RESUME = "resume"
    TERMINATE = "terminate"  # 终止
    WITHDRAW = "withdraw"  # 撤销立案
    EXTENSION_REQUEST = "extension_request"  # 延期申请
    EXTENSION_APPROVAL = "extension_approval"  # 延期审批 (approved or refused)


class DecisionOption(enum.StrEnum):
    PENALTY = "penalty"  # 给予行政处罚
    NO_PENALTY_MINOR = "no_penalty_minor"  # 违法行为轻微，不予处罚
    NO_PENALTY_FIRST_MINOR = "no_penalty_first_minor"  # 初次违法、危害后果轻微并及时改正
    FACTS_NOT_ESTABLISHED = "facts_not_established"  # 违法事实不能成立
    TRANSFER = "transfer"  # 移送 (党纪、政务处分或刑事责任)


class PauseReason(enum.StrEnum):
    """Intervals the 90 days do not count (行政处罚法 Art. 60 and the ministry's rules)."""

    APPRAISAL = "appraisal"  # 鉴定、检测、评估
    HEARING = "hearing"  # 听证
    PUBLIC_NOTICE = "public_notice"  # 公告
    MAIL = "mail"  # 邮寄在途
    POLICE_PROCURATOR = "police_procurator"  # 等待公安机关、检察机关
    OTHER = "other"


class ServiceMethod(enum.StrEnum):
    DIRECT = "direct"  # 直接送达 (on the spot: the party present)
    LEFT_AT_RESIDENCE = "left_at_residence"  # 留置送达
    MAIL = "mail"  # 邮寄送达
    ENTRUSTED = "entrusted"  # 委托送达
    ELECTRONIC = "electronic"  # 电子送达 (with the party's consent)
    PUBLIC_NOTICE = "public_notice"  # 公告送达


class MeasureKind(enum.StrEnum):
    RETURN_LAND = "return_land"  # 责令退还非法占用的土地
    DEMOLISH = "demolish"  # 限期拆除
    CONFISCATE_BUILDINGS = "confiscate_buildings"  # 没收建筑物和其他设施
    CONFISCATE_GAINS = "confiscate_gains"  # 没收违法所得
    CONFISCATE_ORE = "confiscate_ore"  # 没收采出的矿产品
    RESTORE_FARMLAND = "restore_farmland"  # 恢复土地原状 / 限期复垦
    SUSPEND_PRODUCTION = "suspend_production"  # 责令停产停业
    REVOKE_LICENCE = "revoke_licence"  # 吊销许可证照


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class CaseStep(UuidPk, CountyOwned, Base):
    __tablename__ = "case_steps"
    __table_args__ = (
        CheckConstraint(_in("kind", StepKind), name="kind"),
        CheckConstraint(_in("stage", Stage), name="stage"),
        Index("uq_case_steps_case_seq", "case_id", "seq", unique=True),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    stage: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # the document the step produced (立案审批表, 告知书, 决定书, 送达回证 ...), once generated
    document_id: Mapped[uuid.UUID | None]


class CasePenalty(CountyOwned, Base):
    __tablename__ = "case_penalties"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    violations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    measures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    fines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    fine_total_yuan: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal(0))
    hearing_triggered: Mapped[bool] = mapped_column(Boolean, default=False)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
