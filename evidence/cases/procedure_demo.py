"""The demo county's cases at several stages of the penalty procedure.

On top of :mod:`evidence.cases.demo` (the referred case is already there, following the
police):

1. the farmland case (示范-001): filed, investigated, a fine of 150 yuan/m² and an order to
   return the land (a hearing right, so a major case), reviewed, notified; the party asked
   for a hearing, held ten days ago (the hearing's interval does not count): the decision
   is next;
2. the mining case (示范-002): filed, investigated, twenty days of appraisal not counted, and
   a 30-day extension approved;
3. a new case (示范-004) found by a check three weeks ago and never filed: its filing is
   overdue (the captains' ``case_step_overdue`` alert comes from the periodic check).

Times are relative to ``now``. Idempotent: a second call finds steps on the farmland case
and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, Party, open_case
from evidence.cases.demo import DEMO_CASE_NOS
from evidence.cases.models import Case
from evidence.cases.penalties import FineInput, MeasureInput, PartyInput, PenaltyInput
from evidence.cases.penalties import ViolationInput as Violation
from evidence.cases.procedure import ProcedureService, StepInput, count_steps
from infra.scope import Principal, Role
from infra.settings import ProcedureSettings
from patrol.accounts import principal_of
from patrol.models import User

__all__ = ["OVERDUE_CASE_NO", "seed_demo_procedure"]

OVERDUE_CASE_NO = "示范-004"


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
    session: AsyncSession, county_id: uuid.UUID, settings: ProcedureSettings, *, now: datetime
) -> list[uuid.UUID]:
    """Walk the demo cases through their steps (after :func:`seed_demo_cases`); flushes, the
    caller commits. Returns the ids of the cases it touched."""
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
    return [farmland, mining, overdue.id]
