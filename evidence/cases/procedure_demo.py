"""The demo county's cases at every stage of the penalty procedure, with their documents.

On top of :mod:`evidence.cases.demo` (the referred case is already there, following the
police; its 涉嫌犯罪案件移送书 is generated here):

1. the farmland case (示范-001): filed, investigated, a fine of 150 yuan/m² and an order to
   return the land (a hearing right, so a major case), reviewed, notified; the party asked
   for a hearing, held ten days ago (the hearing's interval does not count): the decision
   is next;
2. the mining case (示范-002): filed, investigated, twenty days of appraisal not counted, and
   a 30-day extension approved (stage ``investigation``);
3. a new case (示范-004) found by a check three weeks ago and never filed: its filing is
   overdue (the captains' ``case_step_overdue`` alert comes from the periodic check);
4. cases of illegal buildings on farmland that walk one script (clue, filing, inspection, a
   fine of 100 yuan/m² and a demolition order — a major case —, legal review, collective
   discussion, notice, statement, decision, service, the fine paid, the building
   demolished, closing), each stopping at its stage three days ago: 示范-005 filed,
   示范-006 in legal review, 示范-007 notified, 示范-008 decided, 示范-009 served,
   示范-010 executing (paid, not yet demolished) and 示范-011 closed, which has its
   documents: filing approval, inspection record, penalty notice, decision, service
   receipt and closing approval, each numbered, stored and in the custody chain.

So :data:`STAGE_CASES` names a case at each stage: clue, filing, investigation, review,
notice (with a hearing), decision, service, execution, closing.

Times are relative to ``now``. Idempotent: a second call finds steps on the farmland case
and changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, Party, open_case
from evidence.cases.demo import DEMO_CASE_NOS, demo_overlay, square_m
from evidence.cases.documents import DocumentInput, DocumentService, referral_letter
from evidence.cases.models import Case, Referral
from evidence.cases.penalties import FineInput, MeasureInput, PartyInput, PenaltyInput
from evidence.cases.penalties import ViolationInput as Violation
from evidence.cases.procedure import ProcedureService, StepInput, count_steps
from infra.objectstore import ObjectStore
from infra.scope import Principal, Role
from infra.settings import ProcedureSettings
from patrol.accounts import principal_of
from patrol.models import User

__all__ = [
    "CLOSED_CASE_DOCUMENTS",
    "CLOSED_CASE_NO",
    "OVERDUE_CASE_NO",
    "STAGE_CASES",
    "seed_demo_procedure",
]

OVERDUE_CASE_NO = "示范-004"
CLOSED_CASE_NO = "示范-011"


@dataclass(frozen=True, slots=True)
class _Act:
    """One act of the script: its day after the clue, the step (``penalty``: the penalty
    content entered) and the document generated for it."""

    day: int
    label: str
    step: dict[str, Any]
    document: str | None = None


_SCRIPT = (
    _Act(0, "clue", {"kind": "clue"}),
    _Act(2, "filing", {"kind": "filing"}, "filing_approval"),
    _Act(4, "investigation", {"kind": "investigation", "summary": "现场勘验、测量，制作笔录"},
         "inspection_record"),
    _Act(5, "penalty", {}),
    _Act(7, "legal_review", {"kind": "legal_review",
                             "opinion": "事实清楚，证据确凿，适用依据正确"}),
    _Act(8, "collective_discussion", {"kind": "collective_discussion",
                                      "conclusion": "同意拟处罚意见"}),
    _Act(10, "notice", {"kind": "notice"}, "penalty_notice"),
    _Act(12, "statement", {"kind": "statement", "waived": True}),
    _Act(20, "decision", {"kind": "decision", "option": "penalty"}, "decision"),
    _Act(22, "service", {"kind": "service", "method": "direct"}, "service_receipt"),
    _Act(30, "paid", {"kind": "execution"}),
    _Act(40, "demolished", {"kind": "execution"}),
    _Act(45, "closing", {"kind": "closing", "summary": "罚款已全额缴纳，违法建筑已自行拆除"},
         "closing_approval"),
)  # fmt: skip
# case number, the act it stops at, cause, party, offset from the farmland case (degrees)
_STAGED = (
    ("示范-005", "filing", "未经批准在一般耕地上建设养殖棚", "孙八", (0.006, 0.004)),
    ("示范-006", "legal_review", "未经批准占用耕地建设农家乐", "周九", (-0.006, 0.005)),
    ("示范-007", "notice", "未经批准占用耕地建设停车场", "吴十", (0.008, -0.006)),
    ("示范-008", "decision", "未经批准占用耕地建设砖厂", "郑十一", (-0.008, -0.004)),
    ("示范-009", "service", "未经批准占用耕地建设仓库", "冯十二", (0.004, 0.009)),
    ("示范-010", "paid", "未经批准占用耕地建设厂房", "陈十三", (-0.004, -0.009)),
    (CLOSED_CASE_NO, "closing", "未经批准占用耕地建设住宅出售", "褚十四", (0.011, 0.002)),
)
# the stage (``GetCaseProcedure``'s) each demo case is at
STAGE_CASES: dict[str, str] = {
    "clue": OVERDUE_CASE_NO,
    "filing": "示范-005",
    "investigation": DEMO_CASE_NOS[1],
    "review": "示范-006",
    "notice": DEMO_CASE_NOS[0],  # the hearing held; 示范-007 notified, its statement due
    "decision": "示范-008",
    "service": "示范-009",
    "execution": "示范-010",
    "closing": CLOSED_CASE_NO,
}
CLOSED_CASE_DOCUMENTS = tuple(a.document for a in _SCRIPT if a.document is not None)
_SIDE_M = 30.0  # each building's surveyed square (900 m²)


async def _captain(session: AsyncSession, county_id: uuid.UUID) -> Principal:
    user = await session.scalar(
        select(User)
        .where(User.county_id == county_id, User.role == Role.CAPTAIN.value, User.active)
        .order_by(User.created_at)
        .limit(1)
    )
    if user is None:
        msg = "the demo county has no active captain"
        raise LookupError(msg)
    return principal_of(user)


async def seed_demo_procedure(
    session: AsyncSession,
    county_id: uuid.UUID,
    settings: ProcedureSettings,
    *,
    now: datetime,
    store: ObjectStore,
    custody_key: str,
) -> list[uuid.UUID]:
    """Walk the demo cases through their steps (after :func:`seed_demo_cases`) and generate
    their documents into ``store`` (custody entries signed with ``custody_key``); flushes,
    the caller commits. Returns the ids of the cases it touched."""
    rows = (
        await session.execute(
            select(Case.case_no, Case.id).where(
                Case.county_id == county_id, Case.case_no.in_(DEMO_CASE_NOS[:2])
            )
        )
    ).all()
    cases = dict(rows)
    farmland, mining = cases.get(DEMO_CASE_NOS[0]), cases.get(DEMO_CASE_NOS[1])
    if farmland is None or mining is None or await count_steps(session, farmland):
        return []
    captain = await _captain(session, county_id)

    def at(days: float) -> datetime:
        return now - timedelta(days=days)

    async def walk(case_id: uuid.UUID, steps: list[StepInput]) -> None:
        for step in steps:
            moment = step.at or now
            service = ProcedureService(session, settings, clock=lambda: moment)  # noqa: B023
            await service.record_step(captain, case_id, step)

    await walk(
        farmland,
        [
            StepInput("clue", at=at(40)),
            StepInput("filing", at=at(38), approval_no="示范立审〔1〕号"),
            StepInput("investigation", at=at(36), summary="现场勘验、询问当事人，制作笔录"),
        ],
    )
    farm = await session.get(Case, farmland)
    assert farm is not None
    fine = (Decimal(str(farm.area_total_m2)) * 150).quantize(Decimal("0.01"))
    await ProcedureService(session, settings, clock=lambda: at(35)).put_penalty(
        captain,
        farmland,
        PenaltyInput(
            parties=[PartyInput("示范建材有限公司", kind="organisation", representative="赵六")],
            violations=[Violation("lal_77", "未经批准占用永久基本农田建设仓储厂房")],
            measures=[MeasureInput("return_land", deadline_days=15)],
            fines=[FineInput("lalr_57", fine)],
        ),
    )
    hearing_day = at(10)
    await walk(
        farmland,
        [
            StepInput("legal_review", at=at(33), opinion="事实清楚，证据确凿，适用依据正确"),
            StepInput("collective_discussion", at=at(32), conclusion="同意拟处罚意见"),
            StepInput("notice", at=at(30)),
            StepInput("hearing_requested", at=at(28)),
            StepInput(
                "hearing_notified",
                at=at(27),
                hearing_on=hearing_day.date(),
                place="县自然资源局听证室",
            ),
            StepInput("hearing_held", at=hearing_day, summary="当事人到场陈述，未提出新证据"),
        ],
    )
    await walk(
        mining,
        [
            StepInput("clue", at=at(60)),
            StepInput("filing", at=at(58)),
            StepInput("investigation", at=at(55), summary="夜间蹲守取证，扣押采砂船一艘"),
            StepInput("clock_pause", at=at(50), reason_kind="appraisal", reason="矿产品价值鉴定"),
            StepInput("clock_resume", at=at(30)),
            StepInput("extension_request", at=at(12), days=30, reason="案情复杂，需补充调查"),
            StepInput("extension_approval", at=at(11), days=30),
        ],
    )
    point = to_shape(farm.location)  # type: ignore[arg-type]
    overdue = await open_case(
        session,
        captain,
        CaseInput(
            case_no=OVERDUE_CASE_NO,
            cause="巡查发现村民在一般耕地上挖塘养鱼",
            violation_kind="land_occupation",
            lon=float(point.x) + 0.01,
            lat=float(point.y) - 0.005,
            parties=[Party("钱七")],
        ),
    )
    await walk(overdue.id, [StepInput("clue", at=at(21))])
    docs = _Documents(session, settings, store, custody_key, captain)
    staged = []
    for case_no, stop, cause, party, (dlon, dlat) in _STAGED:
        case = await open_case(
            session,
            captain,
            CaseInput(
                case_no=case_no,
                cause=cause,
                violation_kind="land_occupation",
                lon=float(point.x) + dlon,
                lat=float(point.y) + dlat,
                parties=[Party(party)],
                surveyed_geometry=square_m(float(point.x) + dlon, float(point.y) + dlat, _SIDE_M),
            ),
            overlay=demo_overlay,
        )
        await _walk_script(docs, case.id, stop, now)
        staged.append(case.id)
    await _referral_letter(session, county_id, captain, docs, now)
    return [farmland, mining, overdue.id, *staged]


@dataclass(frozen=True, slots=True)
class _Documents:
    session: AsyncSession
    settings: ProcedureSettings
    store: ObjectStore
    custody_key: str
    captain: Principal

    async def generate(
        self, case_id: uuid.UUID, kind: str, step_id: uuid.UUID, at: datetime
    ) -> None:
        service = DocumentService(
            self.session, self.store, custody_key=self.custody_key,
            procedure=self.settings, clock=lambda: at,
        )  # fmt: skip
        await service.generate(self.captain, case_id, DocumentInput(kind, step_id=step_id))


async def _walk_script(docs: _Documents, case_id: uuid.UUID, stop: str, now: datetime) -> None:
    """Walk :data:`_SCRIPT` up to the act ``stop`` (three days ago); the closed case gets
    the documents of its acts (half an hour after each)."""
    session, settings, captain = docs.session, docs.settings, docs.captain
    last = next(i for i, act in enumerate(_SCRIPT) if act.label == stop)
    start = now - timedelta(days=_SCRIPT[last].day + 3)
    case = await session.get(Case, case_id)
    assert case is not None
    area = Decimal(str(case.area_total_m2)).quantize(Decimal("0.01"))
    fine = (area * 100).quantize(Decimal("0.01"))
    for act in _SCRIPT[: last + 1]:
        moment = start + timedelta(days=act.day)
        service = ProcedureService(session, settings, clock=lambda: moment)  # noqa: B023
        if act.label == "penalty":
            await service.put_penalty(
                captain,
                case_id,
                PenaltyInput(
                    parties=[PartyInput(case.parties[0]["name"])],
                    violations=[Violation("lal_77", case.cause)],
                    measures=[MeasureInput("demolish", deadline_days=15)],
                    fines=[FineInput("lalr_57", fine)],
                ),
            )
            continue
        fields = dict(act.step)
        if act.label == "paid":
            fields |= {"paid_yuan": fine, "paid_on": moment.date()}
        elif act.label == "demolished":
            fields["demolished_m2"] = float(area)
        step = await service.record_step(captain, case_id, StepInput(at=moment, **fields))
        if act.document is not None and stop == "closing":
            await docs.generate(case_id, act.document, step.id, moment + timedelta(minutes=30))


async def _referral_letter(
    session: AsyncSession,
    county_id: uuid.UUID,
    captain: Principal,
    docs: _Documents,
    now: datetime,
) -> None:
    """The referred case's 涉嫌犯罪案件移送书 (the referral's letter, generated once)."""
    row = (
        await session.execute(
            select(Case, Referral)
            .join(Referral, Referral.case_id == Case.id)
            .where(Case.county_id == county_id, Case.case_no == DEMO_CASE_NOS[2])
            .order_by(Referral.created_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return
    case, referral = row
    await referral_letter(
        session, captain, case, referral, store=docs.store, custody_key=docs.custody_key,
        now=now, procedure=docs.settings,
    )  # fmt: skip
