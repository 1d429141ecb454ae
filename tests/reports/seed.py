"""Records of every kind the statistics count, spread over 2025 and 2026 at known times.

:func:`seed` writes, for the world's county, with times drawn from ``random.Random(seed)``
between 1 January 2025 and 15 November 2026 (before :data:`tests.clock.NOW`): patrols (some
too short to count, some at night) with target visits, findings, monthly plans, tip-offs
(some duplicates, some handled with a stop order), five-to-one checks, petitions, satellite
tasks with results, cases with their status history, penalty decisions and execution records,
and referrals. Straight into the tables, so that each record's time is the one chosen; the
tests count them again in SQL. No case is left open before its decision (those are suspended):
the penalty procedure's sweep reads every county's open cases, and the procedure's tests
expect it to find only theirs late.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.models import Case, CaseEvent, Referral
from evidence.cases.petition_models import Petition
from evidence.cases.procedure_models import CasePenalty, CaseStep
from evidence.cases.tip_off_models import TipOff
from infra.ids import uuid7
from infra.scope import COUNTY_TZ, Role
from patrol.field_models import (
    DutyCheck,
    Finding,
    MonthlyPlan,
    PatrolSession,
    PatrolTarget,
    TargetVisit,
)
from tests.satellite_figures import seed as sat
from tests.worlds import World

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 11, 15, tzinfo=UTC)
CHANNELS = ("phone_12336", "letter", "wechat", "leadership")
CLUES = ("land_illegal_occupation", "land_farmland_destruction", "mineral_illegal_mining")
TIP_STATUSES = ("received", "accepted", "handled", "closed")
BUILD = ("levelled", "partly_built", "fully_built", "other")
LAND = ("permanent_basic_farmland", "cultivated", "unused", None)
FORMS = ("letter", "visit", "phone", "online")
CATEGORIES = ("suggestion", "complaint_accusation", "appeal_request")
CHECKS = ("still_closed", "still_closed", "signs_of_reopening", "active_mining")


def _at(rnd: random.Random) -> datetime:
    span = (END - START).total_seconds()
    return START + timedelta(seconds=rnd.uniform(0, span))


def _day(at: datetime) -> date:
    return at.astimezone(COUNTY_TZ).date()


async def seed(  # noqa: C901, PLR0912 - one record kind after another
    session: AsyncSession, w: World, *, seed: int = 7, scale: int = 1
) -> None:
    """The records of the module docstring (``scale`` times as many); flushed."""
    rnd = random.Random(seed)
    cid = w.county_id
    inspector = w.county.users[Role.INSPECTOR].id
    captain = w.county.users[Role.CAPTAIN].id
    lon, lat = 112.05, 28.5  # in the world's west township and area
    where = from_shape(Point(lon, lat), srid=4326)

    targets = []
    for i in range(3):
        t = PatrolTarget(county_id=cid, area_id=w.area.id, kind="point", name=f"目标{i}",
                         geom=where, visit_radius_m=100.0)  # fmt: skip
        session.add(t)
        targets.append(t)
    await session.flush()

    sessions = []
    for _ in range(120 * scale):
        at = _at(rnd)
        duration = rnd.choice((300.0, 1800.0, 3600.0, 7200.0))
        s = PatrolSession(
            id=uuid7(), county_id=cid, area_id=w.area.id, inspector_id=inspector,
            started_at=at, ended_at=at + timedelta(seconds=duration), duration_s=duration,
            moving_s=duration, distance_m=rnd.uniform(500, 12000), is_night=rnd.random() < 0.2,
            has_violation=False, summary_stale=False,
        )  # fmt: skip
        session.add(s)
        sessions.append(s)
    await session.flush()
    for s in sessions:
        for t in rnd.sample(targets, rnd.randint(0, 2)):
            visit = TargetVisit(county_id=cid, session_id=s.id, target_id=t.id, source="track",
                                first_at=s.started_at, min_distance_m=10.0)  # fmt: skip
            session.add(visit)
    for s in rnd.sample(sessions, min(len(sessions), 40 * scale)):
        session.add(
            Finding(
                id=uuid7(), county_id=cid, session_id=s.id, reported_by=inspector,
                found_at=s.started_at + timedelta(minutes=10), project_name="违法建房",
                construction_status=rnd.choice(BUILD),
                occupied_area_m2=rnd.choice((None, 200.0, 666.67, 1500.0)),
                geom=where, township_id=rnd.choice((w.township.id, None)),
                land_class=rnd.choice(LAND),
            )
        )  # fmt: skip
    month = date(2025, 1, 1)
    while month <= date(2026, 11, 1):
        session.add(MonthlyPlan(county_id=cid, area_id=w.area.id, month=month,
                                quota=rnd.randint(4, 8), min_per_week=1))  # fmt: skip
        month = (month + timedelta(days=32)).replace(day=1)

    first_clue = None
    for i in range(60 * scale):
        at = _at(rnd)
        handled = rnd.random() < 0.4
        clue = TipOff(
            id=uuid7(), county_id=cid, receipt_no=f"12336-T-{i:05d}-{uuid7().hex[-6:]}",
            channel=rnd.choice(CHANNELS), received_at=at, facts="群众举报",
            clue_type=rnd.choice(CLUES), status=rnd.choice(TIP_STATUSES),
            registered_by=captain, decide_due_at=at + timedelta(days=1),
            verify_due_at=at + timedelta(days=10), verify_due_on=_day(at) + timedelta(days=10),
            feedback_due_at=at + timedelta(days=15),
            decided_at=at + timedelta(hours=rnd.choice((2, 30))),
            township_id=rnd.choice((w.township.id, None)), area_id=w.area.id,
            handling="stop_order" if handled else rnd.choice((None, "no_violation")),
            handled_at=at + timedelta(days=rnd.randint(1, 20)) if handled else None,
            handled_by=captain if handled else None,
            duplicate_of=first_clue if (first_clue is not None and rnd.random() < 0.1) else None,
        )  # fmt: skip
        session.add(clue)
        await session.flush()
        first_clue = first_clue or clue.id

    for _ in range(80 * scale):
        at = _at(rnd)
        session.add(
            DutyCheck(id=uuid7(), county_id=cid, site_id=uuid.UUID(int=1),
                      member_id=uuid.UUID(int=2), recorded_by=inspector, checked_at=at,
                      status=rnd.choice(CHECKS),
                      is_night=rnd.random() < 0.3)
        )  # fmt: skip

    for i in range(40 * scale):
        at = _at(rnd)
        day = _day(at)
        session.add(
            Petition(
                id=uuid7(), county_id=cid, reg_no=f"XF-{i:05d}-{uuid7().hex[-6:]}",
                form=rnd.choice(FORMS), category=rnd.choice(CATEGORIES),
                status=rnd.choice(("registered", "accepted", "replied")), received_at=at,
                received_on=day, subject="反映问题", content="反映违法占地", people_count=1,
                group_petition=rnd.random() < 0.1, registered_by=captain, petitioner_name="张三",
                decision_due_on=day + timedelta(days=15),
                township_id=rnd.choice((w.township.id, None)),
            )
        )  # fmt: skip

    b = await sat.batch(session, cid, captain)
    for i in range(50 * scale):
        at = _at(rnd)
        status = rnd.choice(("verified", "passed", "submitted", "sent_back"))
        task = await sat.task(session, b, f"S{i:05d}", status=status, township_id=w.township.id,
                              area_id=w.area.id, inspector_id=inspector)  # fmt: skip
        outcome = rnd.choice(("legal", "not_new", "illegal"))
        await sat.result(session, task, inspector, outcome, verified_at=at,
                         areas={"cultivated": rnd.uniform(100, 900),
                                "permanent_basic_farmland": rnd.choice((0.0, 300.0)),
                                "unused": 200.0})  # fmt: skip

    for i in range(30 * scale):
        at = _at(rnd)
        case = Case(
            id=uuid7(), county_id=cid, case_no=f"案-{i:05d}-{uuid7().hex[-4:]}", cause="非法占地",
            violation_kind=rnd.choice(("land_occupation", "illegal_mining")), status="clue",
            status_changed_at=at, source_kind="other", location=where, opened_by=captain,
            area_total_m2=rnd.choice((0.0, 666.67, 2000.0)), created_at=at, updated_at=at,
        )  # fmt: skip
        session.add(case)
        await session.flush()
        session.add(CaseEvent(county_id=cid, case_id=case.id, kind="opened", at=at,
                              actor_id=captain, details={}))  # fmt: skip
        moves = ["filed", "investigating"]
        if rnd.random() < 0.5:
            moves += ["decided", "executing"]
            if rnd.random() < 0.5:
                moves.append("closed")
        else:  # no case is left where the procedure's sweep (all counties) would find it late
            moves.append("suspended")
        when, prev = at, "clue"
        for to in moves:
            when += timedelta(days=rnd.randint(1, 40))
            session.add(CaseEvent(county_id=cid, case_id=case.id, kind="status", at=when,
                                  actor_id=captain, details={"from": prev, "to": to}))  # fmt: skip
            prev = to
        case.status, case.status_changed_at = prev, when
        if "decided" in moves:  # a penalty decided, then paid, demolished or restored
            fine = Decimal(rnd.choice((5000, 20000, 120000)))
            session.add(CasePenalty(
                county_id=cid, case_id=case.id, fines=[{"amount_yuan": str(fine)}],
                fine_total_yuan=fine, updated_by=captain,
                measures=[{"kind": "demolish"}] if rnd.random() < 0.5 else [],
            ))  # fmt: skip
            decided = at + timedelta(days=20)
            steps = [("decision", "decision", decided, {"option": "penalty"})]
            steps.append(("execution", "execution", decided + timedelta(days=rnd.randint(5, 60)),
                          {"paid_yuan": str(fine), "demolished_m2": rnd.choice((0, 300.0)),
                           "farmland_restored_m2": rnd.choice((0, 666.67))}))  # fmt: skip
            if prev == "executing" and rnd.random() < 0.6:
                steps.append(("court_enforcement", "execution", decided + timedelta(days=70), {}))
            for seq, (kind, stage, step_at, details) in enumerate(steps, 1):
                session.add(CaseStep(county_id=cid, case_id=case.id, seq=seq, kind=kind,
                                     stage=stage, at=step_at, recorded_by=captain,
                                     details=details))  # fmt: skip
        if rnd.random() < 0.4:
            reported = at + timedelta(days=rnd.randint(1, 30))
            transferred = reported + timedelta(hours=rnd.choice((10, 100)))
            filed = rnd.random() < 0.6
            session.add(
                Referral(
                    id=uuid7(), county_id=cid, case_id=case.id,
                    status="police_filed" if filed else "transferred",
                    team_ids=[captain, inspector],
                    report="调查报告", reported_by=captain, reported_at=reported,
                    decision_due_at=reported + timedelta(days=3),
                    transfer_due_at=reported + timedelta(hours=72), transferred_at=transferred,
                    police_decision="filed" if filed else None,
                    police_decided_at=transferred + timedelta(days=2) if filed else None,
                )
            )  # fmt: skip
    await session.flush()
