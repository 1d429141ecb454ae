"""Tip-off rules: working days, receipt numbers, duplicates, every transition and refusal,
the reporter's protection, the verification listener, overdue alerts and the figures.

The service runs on the pinned clock (:data:`tests.clock.NOW`, Wednesday 18 November 2026,
10:00 in China) against the real PostGIS.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.calendar import (
    WorkCalendar,
    add_working_days,
    due_at,
    put_calendar_day,
)
from evidence.cases.models import Case
from evidence.cases.tip_offs import (
    ReporterInput,
    TipOffInput,
    TipOffService,
    normalise_party,
    on_tip_off_verified,
    raise_overdue_alerts,
)
from evidence.custody import CustodyLog
from evidence.models import CustodyEntry
from infra.errors import DomainError
from infra.scope import Principal, Role
from infra.settings import TipOffDeadlines, TipOffSettings
from patrol import AreaService
from patrol.field_models import PatrolAlert, PatrolTarget
from tests import clock
from tests.conftest import CountyFixture

LON, LAT = 112.1, 28.5
CHINA = clock.CHINA
KEY = b"tip-off-test-custody-key"


def _china(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=CHINA)


def _service(
    session: AsyncSession,
    *,
    now: datetime = clock.NOW,
    settings: TipOffSettings | None = None,
) -> TipOffService:
    return TipOffService(session, settings or TipOffSettings(), CustodyLog(KEY), clock=lambda: now)


def _input(**kw: Any) -> TipOffInput:
    values: dict[str, Any] = {
        "channel": "phone_12336",
        "received_at": clock.NOW - timedelta(hours=1),
        "facts": "村东头有人挖耕地建房",
        "clue_type": "land_illegal_occupation",
        "location_text": "东村村东",
        "lon": LON,
        "lat": LAT,
        "reported_party": "张三",
        "reporter": ReporterInput("李四", "13800000000", "430000199001011234", "东村1号"),
    }
    values.update(kw)
    return TipOffInput(**values)


async def _expect_code(code: str, call: Awaitable[Any]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value


@pytest.fixture
async def county(make_county: Callable[..., Awaitable[CountyFixture]]) -> CountyFixture:
    return await make_county()


# -- working days --------------------------------------------------------------------------------
def test_working_days_skip_weekends() -> None:
    cal = WorkCalendar()
    friday = date(2026, 11, 20)
    assert add_working_days(friday, 1, cal) == date(2026, 11, 23)  # Monday
    assert add_working_days(date(2026, 11, 18), 1, cal) == date(2026, 11, 19)
    assert add_working_days(date(2026, 11, 18), 10, cal) == date(2026, 12, 2)
    # received on a Saturday: the first working day after it is Monday
    assert add_working_days(date(2026, 11, 21), 1, cal) == date(2026, 11, 23)


def test_working_days_skip_holidays_and_count_make_up_days() -> None:
    holiday = date(2026, 11, 23)  # a Monday off
    make_up = date(2026, 11, 22)  # the Sunday before, worked
    cal = WorkCalendar(holidays=frozenset({holiday}), workdays=frozenset({make_up}))
    friday = date(2026, 11, 20)
    assert add_working_days(friday, 1, cal) == make_up
    assert add_working_days(friday, 2, cal) == date(2026, 11, 24)
    assert not cal.is_working_day(holiday)
    assert cal.is_working_day(make_up)
    assert not cal.is_working_day(date(2026, 11, 21))
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(friday, 0, cal)


def test_due_at_is_the_midnight_closing_the_last_working_day() -> None:
    cal = WorkCalendar(holidays=frozenset({date(2026, 11, 23)}))
    # received Friday 23:59 China: the day counted is Friday; Monday is off: due end of Tuesday
    received = _china(2026, 11, 20, 23, 59)
    assert due_at(received, 1, cal) == _china(2026, 11, 25).astimezone(UTC)
    # received Saturday 00:00 China: the same deadline
    assert due_at(_china(2026, 11, 21), 1, cal) == _china(2026, 11, 25).astimezone(UTC)


def test_deadline_settings_per_province() -> None:
    settings = TipOffSettings(deadlines={"44": TipOffDeadlines(1, 7, 12)})
    assert settings.for_province("44").verify_days == 7
    assert settings.for_province("43") == TipOffDeadlines(1, 10, 15)


def test_party_normalisation() -> None:
    assert normalise_party(" 张 三（个人）") == normalise_party("张三(个人)")
    assert normalise_party("ＡＢＣ 公司") == "abc公司"
    assert normalise_party("") == ""


# -- intake, receipt numbers ---------------------------------------------------------------------
async def test_intake_acknowledges_with_a_receipt_number_and_deadlines(
    county: CountyFixture, db: AsyncSession
) -> None:
    desk = county.principal(Role.CLUE_DESK)
    view = await _service(db).open_tip_off(desk, _input())
    await db.commit()
    code = county.county.admin_code
    assert view.receipt_no == f"12336-{code}-20261118-0001"
    assert view.status == "received"
    assert view.anonymous is False
    # received Wednesday 09:00: decide by the end of Thursday, verify in 10, feed back in 15
    assert [s.step for s in view.steps] == ["decide", "feedback"]
    assert view.steps[0].due_at == _china(2026, 11, 20).astimezone(UTC)
    assert view.steps[1].due_at == _china(2026, 12, 10).astimezone(UTC)
    assert view.verify_due_on == date(2026, 12, 2)
    assert [e.kind for e in view.events] == ["registered"]
    second = await _service(db).open_tip_off(desk, _input(reported_party="王五"))
    assert second.receipt_no.endswith("-0002")
    tomorrow = await _service(db, now=clock.NOW + timedelta(days=1)).open_tip_off(
        desk, _input(reported_party="赵六")
    )
    assert tomorrow.receipt_no == f"12336-{code}-20261119-0001"


async def test_receipt_numbers_have_no_gaps_under_concurrency(
    county: CountyFixture, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    desk = county.principal(Role.CLUE_DESK)

    async def one(n: int) -> str:
        async with session_factory() as session:
            view = await _service(session).open_tip_off(desk, _input(reported_party=f"甲{n}"))
            await session.commit()
            return view.receipt_no

    async def rolled_back() -> None:
        async with session_factory() as session:
            await _service(session).open_tip_off(desk, _input(reported_party="乙"))
            await session.rollback()

    await rolled_back()  # a number given back
    numbers = await asyncio.gather(*(one(n) for n in range(12)))
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert seqs == list(range(1, 13))
    assert all(re.fullmatch(r"12336-[^-]+-20261118-\d{4}", n) for n in numbers)


async def test_gcj02_position_is_stored_as_wgs84(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    view = await _service(db).open_tip_off(desk, _input(crs="gcj02"))
    assert view.crs == "gcj02"
    assert view.lon is not None and view.lat is not None
    assert abs(view.lon - LON) > 1e-4  # moved by the GCJ-02 offset (hundreds of metres)
    assert abs(view.lon - LON) < 0.01
    square = {
        "type": "Polygon",
        "coordinates": [
            [[LON, LAT], [LON + 0.001, LAT], [LON + 0.001, LAT + 0.001], [LON, LAT + 0.001],
             [LON, LAT]]
        ],
    }  # fmt: skip
    polygon = await _service(db).open_tip_off(
        desk, _input(lon=None, lat=None, polygon=square, reported_party="丙")
    )
    assert polygon.geometry is not None and polygon.geometry["type"] == "MultiPolygon"
    assert polygon.lon is not None  # the polygon's representative point


async def test_intake_refusals(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    await _expect_code("invalid_tip_off", svc.open_tip_off(desk, _input(channel="pigeon")))
    await _expect_code("invalid_tip_off", svc.open_tip_off(desk, _input(clue_type="x")))
    await _expect_code("invalid_tip_off", svc.open_tip_off(desk, _input(facts="  ")))
    await _expect_code("invalid_tip_off", svc.open_tip_off(desk, _input(lat=None)))
    naive = datetime(2026, 11, 18, 8, 0)  # noqa: DTZ001 - the naive time refused
    await _expect_code("invalid_time", svc.open_tip_off(desk, _input(received_at=naive)))
    future = clock.NOW + timedelta(hours=1)
    await _expect_code("invalid_time", svc.open_tip_off(desk, _input(received_at=future)))
    await _expect_code(
        "unknown_evidence", svc.open_tip_off(desk, _input(evidence_ids=[uuid.uuid4()]))
    )
    await _expect_code(
        "township_not_found", svc.open_tip_off(desk, _input(township_id=uuid.uuid4()))
    )
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        await _expect_code("role_not_allowed", svc.open_tip_off(county.principal(role), _input()))


async def test_anonymous_tip_off(county: CountyFixture, db: AsyncSession) -> None:
    view = await _service(db).open_tip_off(county.principal(Role.CLUE_DESK), _input(reporter=None))
    assert view.anonymous is True
    reporter = await _service(db).get_reporter(county.principal(Role.CAPTAIN), view.id)
    assert reporter.anonymous is True
    assert (reporter.name, reporter.phone, reporter.id_no, reporter.address) == ("", "", "", "")


# -- duplicates ----------------------------------------------------------------------------------
async def _offset(db: AsyncSession, metres: float) -> tuple[float, float]:
    """The point ``metres`` north-east of (LON, LAT), geodesically."""
    row = (
        await db.execute(
            text(
                "SELECT ST_X(p::geometry), ST_Y(p::geometry) FROM (SELECT ST_Project("
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :d, radians(45)) p) q"
            ),
            {"lon": LON, "lat": LAT, "d": metres},
        )
    ).one()
    return float(row[0]), float(row[1])


@pytest.mark.parametrize(
    ("metres", "duplicate"), [(150.0, True), (199.9, True), (200.1, False), (400.0, False)]
)
async def test_duplicate_radius(
    county: CountyFixture, db: AsyncSession, metres: float, duplicate: bool
) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    first = await svc.open_tip_off(desk, _input(reported_party="张三"))
    lon, lat = await _offset(db, metres)
    # the same party, written differently
    again = await svc.open_tip_off(desk, _input(lon=lon, lat=lat, reported_party=" 张 三 "))
    assert again.duplicate_of == (first.id if duplicate else None)
    other = await svc.open_tip_off(desk, _input(lon=lon, lat=lat, reported_party="王五"))
    assert other.duplicate_of is None
    if duplicate:
        assert again.events[0].details["duplicate_of"] == str(first.id)
        # a third repeat links to the first of the chain
        third = await svc.open_tip_off(desk, _input(lon=lon, lat=lat, reported_party="张三"))
        assert third.duplicate_of == first.id


async def test_a_closed_tip_off_is_not_repeated(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    first = await svc.open_tip_off(desk, _input())
    await svc.decide(desk, first.id, decision="transfer", transfer_to="县林业局")
    await svc.feedback(desk, first.id, channel="phone", content="已转送县林业局")
    again = await svc.open_tip_off(desk, _input())
    assert again.duplicate_of is None


# -- the flow ------------------------------------------------------------------------------------
async def _area(county: CountyFixture, db: AsyncSession, *, lon: float = LON) -> uuid.UUID:
    half = 0.01
    ring = [[lon - half, LAT - half], [lon + half, LAT - half], [lon + half, LAT + half],
            [lon - half, LAT + half], [lon - half, LAT - half]]  # fmt: skip
    area = await AreaService(db).create_area(
        county.principal(Role.CAPTAIN),
        code=f"A{uuid.uuid4().hex[:6]}",
        name="东片",
        grade=1,
        geometry={"type": "Polygon", "coordinates": [ring]},
        leader_id=county.users[Role.INSPECTOR].id,
    )
    return area.id


@dataclass(frozen=True, slots=True)
class StandInResult:
    """Stands in for ``patrol.verification.VerificationResult`` (built on another branch)."""

    county_id: uuid.UUID
    target_id: uuid.UUID
    target_kind: str
    ref_id: uuid.UUID | None
    inspector_id: uuid.UUID
    session_id: uuid.UUID | None
    outcome: str
    note: str
    finding_ids: tuple[uuid.UUID, ...]
    evidence_ids: tuple[uuid.UUID, ...]
    verified_at: datetime


def _result(county: CountyFixture, view: Any, outcome: str = "found") -> StandInResult:
    return StandInResult(
        county_id=county.id,
        target_id=view.target_id,
        target_kind="tip_off",
        ref_id=view.id,
        inspector_id=county.users[Role.INSPECTOR].id,
        session_id=None,
        outcome=outcome,
        note="现场已动工",
        finding_ids=(),
        evidence_ids=(),
        verified_at=clock.NOW,
    )


async def test_accept_verify_handle_feed_back(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    area_id = await _area(county, db)
    svc = _service(db)
    view = await svc.open_tip_off(desk, _input())
    await _expect_code("tip_off_wrong_status", svc.assign_verification(desk, view.id))
    await _expect_code("tip_off_wrong_status", svc.handle(desk, view.id, handling="stop_order"))
    await _expect_code(
        "tip_off_wrong_status", svc.feedback(desk, view.id, channel="phone", content="x")
    )
    view = await svc.decide(desk, view.id, decision="accept")
    assert view.status == "accepted"
    assert [s.step for s in view.steps] == ["decide", "verify", "handle", "feedback"]
    await _expect_code("tip_off_wrong_status", svc.decide(desk, view.id, decision="accept"))
    view = await svc.assign_verification(desk, view.id)
    assert view.status == "verifying" and view.area_id == area_id
    target = await db.get(PatrolTarget, view.target_id)
    assert target is not None
    assert target.kind == "tip_off" and target.ref_id == view.id
    assert target.name == f"{view.receipt_no} 违法占地"
    await on_tip_off_verified(db, _result(county, view))
    view = await svc.get_tip_off(desk, view.id)
    assert view.status == "verified"
    assert view.verification_outcome == "found"
    assert view.verified_by == county.users[Role.INSPECTOR].id
    await _expect_code("invalid_tip_off", svc.handle(desk, view.id, handling="case_opened"))
    view = await svc.handle(desk, view.id, handling="stop_order", note="已下达责令停止通知书")
    assert view.status == "handled"
    view = await svc.feedback(desk, view.id, channel="phone", content="已责令停止")
    assert view.status == "closed"
    assert [e.kind for e in view.events] == [
        "registered",
        "decided",
        "verification_assigned",
        "verified",
        "handled",
        "fed_back",
    ]
    assert all(not s.late and not s.overdue for s in view.steps)
    assert view.overdue is False


async def test_refusal_needs_an_exclusion_reason(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    view = await svc.open_tip_off(desk, _input())
    await _expect_code("refusal_reason_required", svc.decide(desk, view.id, decision="refuse"))
    await _expect_code(
        "invalid_tip_off", svc.decide(desk, view.id, decision="refuse", refusal_reason="boring")
    )
    await _expect_code("transfer_to_required", svc.decide(desk, view.id, decision="transfer"))
    for reason in (
        "review_litigation_arbitration",
        "official_discipline",
        "ownership_compensation",
        "state_secrets",
    ):
        other = await svc.open_tip_off(desk, _input(reported_party=reason))
        refused = await svc.decide(desk, other.id, decision="refuse", refusal_reason=reason)
        assert (refused.status, refused.refusal_reason) == ("refused", reason)
        closed = await svc.feedback(desk, other.id, channel="letter", content="不予受理")
        assert closed.status == "closed"
    moved = await svc.decide(desk, view.id, decision="transfer", transfer_to="县纪委")
    assert (moved.status, moved.transfer_to) == ("transferred", "县纪委")


async def test_verification_needs_a_place(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    nowhere = await svc.open_tip_off(desk, _input(lon=None, lat=None))
    await svc.decide(desk, nowhere.id, decision="accept")
    await _expect_code("tip_off_not_located", svc.assign_verification(desk, nowhere.id))
    outside = await svc.open_tip_off(desk, _input(reported_party="无片区"))
    await svc.decide(desk, outside.id, decision="accept")
    await _expect_code("no_area_for_tip_off", svc.assign_verification(desk, outside.id))
    # an area named explicitly takes it
    far = await _area(county, db, lon=LON + 0.05)
    view = await svc.assign_verification(desk, outside.id, area_id=far)
    assert view.area_id == far
    located = await svc.open_tip_off(desk, _input(reported_party="另一处"))
    await svc.decide(desk, located.id, decision="accept")
    await _expect_code(
        "area_not_found", svc.assign_verification(desk, located.id, area_id=uuid.uuid4())
    )


async def test_case_from_a_tip_off(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    await _area(county, db)
    svc = _service(db)
    view = await svc.open_tip_off(desk, _input())
    await svc.decide(desk, view.id, decision="accept")
    view = await svc.assign_verification(desk, view.id)
    await _expect_code(
        "tip_off_wrong_status", svc.open_case(desk, view.id, violation_kind="land_occupation")
    )
    await on_tip_off_verified(db, _result(county, view))
    view = await svc.open_case(desk, view.id, violation_kind="land_occupation")
    assert view.status == "handled" and view.handling == "case_opened"
    case = await db.get(Case, view.case_id)
    assert case is not None
    assert (case.source_kind, case.source_id) == ("tip_off", view.id)
    assert case.parties[0]["name"] == "张三"
    assert view.receipt_no in case.cause


async def test_listener_ignores_unknown_and_finished_tip_offs(
    county: CountyFixture, db: AsyncSession
) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    view = await svc.open_tip_off(desk, _input())
    stray = _result(county, view)
    await on_tip_off_verified(db, stray)  # still received: not verifiable
    assert (await svc.get_tip_off(desk, view.id)).status == "received"
    other_county = StandInResult(**{**_as_dict(stray), "county_id": uuid.uuid4()})
    await on_tip_off_verified(db, other_county)
    await on_tip_off_verified(db, StandInResult(**{**_as_dict(stray), "ref_id": None}))
    assert (await svc.get_tip_off(desk, view.id)).verified_at is None


def _as_dict(r: StandInResult) -> dict[str, Any]:
    return {name: getattr(r, name) for name in r.__slots__}


# -- the reporter --------------------------------------------------------------------------------
async def test_reporter_is_read_by_desk_and_captain_only_and_logged(
    county: CountyFixture, db: AsyncSession
) -> None:
    svc = _service(db)
    view = await svc.open_tip_off(county.principal(Role.CLUE_DESK), _input())
    text_of_view = repr(view)
    for secret in ("李四", "13800000000", "430000199001011234", "东村1号"):
        assert secret not in text_of_view
    for role in (Role.CLUE_DESK, Role.CAPTAIN):
        reporter = await svc.get_reporter(county.principal(role), view.id)
        assert (reporter.name, reporter.phone) == ("李四", "13800000000")
    for role in (Role.ADMIN, Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        await _expect_code("role_not_allowed", svc.get_reporter(county.principal(role), view.id))
    entries = (
        await db.scalars(
            select(CustodyEntry)
            .where(CustodyEntry.subject_id == view.id)
            .order_by(CustodyEntry.seq)
        )
    ).all()
    assert [e.action for e in entries] == ["reporter_viewed", "reporter_viewed"]
    assert [e.actor_id for e in entries] == [
        county.users[Role.CLUE_DESK].id,
        county.users[Role.CAPTAIN].id,
    ]
    for entry in entries:  # the reporter's identity is read, never copied into the log
        for secret in ("李四", "13800000000", "430000199001011234", "东村1号"):
            assert secret not in repr(entry.details)
    await _expect_code(
        "tip_off_not_found", svc.get_reporter(county.principal(Role.CAPTAIN), uuid.uuid4())
    )


# -- deadlines, overdue, alerts ------------------------------------------------------------------
async def test_overdue_steps_raise_alerts_resolved_when_done(
    county: CountyFixture, db: AsyncSession
) -> None:
    desk = county.principal(Role.CLUE_DESK)
    view = await _service(db).open_tip_off(desk, _input())
    due = view.steps[0].due_at
    assert due is not None
    just_before = _service(db, now=due - timedelta(microseconds=1))
    at_due = _service(db, now=due)
    assert not (await just_before.get_tip_off(desk, view.id)).overdue
    late_view = await at_due.get_tip_off(desk, view.id)
    assert late_view.overdue and late_view.steps[0].overdue
    listed = await at_due.list_tip_offs(desk, overdue=True)
    assert view.id in {v.id for v in listed}
    assert view.id not in {v.id for v in await at_due.list_tip_offs(desk, overdue=False)}
    assert await raise_overdue_alerts(db, due) >= 1
    assert await raise_overdue_alerts(db, due) == 0  # once per clue and step
    key = f"tip_off_overdue:{view.id}:decide"
    alert = await db.scalar(select(PatrolAlert).where(PatrolAlert.dedupe_key == key))
    assert alert is not None
    assert alert.kind == "tip_off_overdue"
    assert view.receipt_no in alert.message
    decided = await at_due.decide(desk, view.id, decision="accept")
    assert decided.steps[0].late is True
    await db.refresh(alert)
    assert alert.resolution == "tip_off_step_done"


async def test_deadlines_follow_the_calendar(county: CountyFixture, db: AsyncSession) -> None:
    admin = county.principal(Role.ADMIN)
    await put_calendar_day(db, admin, date(2026, 11, 19), "holiday", "测试假日")
    await _expect_code(
        "invalid_calendar_day", put_calendar_day(db, admin, date(2026, 11, 21), "holiday")
    )
    await _expect_code(
        "invalid_calendar_day", put_calendar_day(db, admin, date(2026, 11, 20), "workday")
    )
    await _expect_code(
        "role_not_allowed",
        put_calendar_day(db, county.principal(Role.CAPTAIN), date(2026, 11, 19), "holiday"),
    )
    view = await _service(db).open_tip_off(county.principal(Role.CLUE_DESK), _input())
    # received Wednesday; Thursday is a holiday: the decision is due by the end of Friday
    assert view.steps[0].due_at == _china(2026, 11, 21).astimezone(UTC)


# -- figures -------------------------------------------------------------------------------------
async def test_figures_count_duplicates_once(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    first = await svc.open_tip_off(desk, _input())
    await svc.open_tip_off(desk, _input(channel="letter"))  # a repeat of the first
    await svc.open_tip_off(
        desk, _input(reported_party="另一人", clue_type="mineral_illegal_mining")
    )
    await svc.decide(desk, first.id, decision="accept")
    month = await svc.figures(desk, period="month", day=date(2026, 11, 5))
    assert (month.date_from, month.date_to) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (month.total, month.duplicates) == (2, 1)
    assert month.by_channel == {"phone_12336": 2}
    assert month.by_clue_type == {"land_illegal_occupation": 1, "mineral_illegal_mining": 1}
    assert month.by_status == {"accepted": 1, "received": 1}
    assert (month.on_time, month.late) == (2, 0)
    assert sum(t.count for t in month.by_township) == 2
    week = await svc.figures(desk, period="week", day=date(2026, 11, 18))
    assert (week.date_from, week.date_to) == (date(2026, 11, 16), date(2026, 11, 22))
    quarter = await svc.figures(desk, period="quarter", day=date(2026, 11, 18))
    assert (quarter.date_from, quarter.date_to) == (date(2026, 10, 1), date(2026, 12, 31))
    year = await svc.figures(desk, period="year", day=date(2026, 11, 18))
    assert (year.date_from, year.total) == (date(2026, 1, 1), 2)
    span = await svc.figures(desk, date_from=date(2026, 11, 19), date_to=date(2026, 11, 30))
    assert span.total == 0
    later = await _service(db, now=clock.NOW + timedelta(days=30)).figures(
        desk, period="month", day=date(2026, 11, 5)
    )
    assert (later.on_time, later.late) == (0, 2)
    await _expect_code("invalid_figures_period", svc.figures(desk, period="month"))
    await _expect_code(
        "invalid_figures_period",
        svc.figures(desk, date_from=date(2026, 11, 2), date_to=date(2026, 11, 1)),
    )
    await _expect_code(
        "invalid_figures_period", svc.figures(desk, period="decade", day=clock.TODAY)
    )


async def test_list_filters(county: CountyFixture, db: AsyncSession) -> None:
    desk = county.principal(Role.CLUE_DESK)
    svc = _service(db)
    a = await svc.open_tip_off(desk, _input())
    b = await svc.open_tip_off(desk, _input(channel="letter", reported_party="乙方"))
    ids = lambda views: [v.id for v in views]  # noqa: E731
    assert ids(await svc.list_tip_offs(desk)) == [b.id, a.id]
    assert ids(await svc.list_tip_offs(desk, channel=["letter"])) == [b.id]
    assert ids(await svc.list_tip_offs(desk, status=["accepted"])) == []
    assert ids(await svc.list_tip_offs(desk, duplicates=True)) == []
    since = clock.NOW - timedelta(minutes=30)
    assert ids(await svc.list_tip_offs(desk, received_from=since)) == []
    assert len(await svc.list_tip_offs(desk, received_to=since)) == 2
    count = await db.scalar(select(func.count()).select_from(PatrolTarget))
    assert count is not None
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        await _expect_code("role_not_allowed", svc.list_tip_offs(county.principal(role)))
        await _expect_code("role_not_allowed", svc.get_tip_off(county.principal(role), a.id))


def _principal(county: CountyFixture, role: Role) -> Principal:
    return county.principal(role)


# -- evidence ------------------------------------------------------------------------------------
async def test_tip_off_evidence_reference_and_visibility(
    county: CountyFixture,
    db: AsyncSession,
    store: Any,
    make_county: Callable[..., Awaitable[CountyFixture]],
) -> None:
    from evidence.access import (  # noqa: PLC0415
        caller_of,
        evidence_visible,
        reference_allowed,
    )
    from evidence.models import Evidence, Upload  # noqa: PLC0415
    from tests.cases.conftest import add_evidence  # noqa: PLC0415

    desk = county.principal(Role.CLUE_DESK)
    inspector = county.principal(Role.INSPECTOR)
    photo = await add_evidence(db, store, inspector, b"\xff\xd8 a photo \xff\xd9")

    async def visible(who: Principal) -> bool:
        stmt = (
            select(Evidence.id)
            .join(Upload, Upload.id == Evidence.id)
            .where(Evidence.id == photo, evidence_visible(caller_of(who)))
        )
        return await db.scalar(stmt) is not None

    assert not await visible(desk)  # the inspector's photo, of no clue
    view = await _service(db).open_tip_off(desk, _input(evidence_ids=[photo]))
    assert view.evidence_ids == (photo,)
    assert await visible(desk)  # now the evidence of a clue
    for role, allowed in (
        (Role.CLUE_DESK, True), (Role.CAPTAIN, True), (Role.ADMIN, True),
        (Role.INSPECTOR, False), (Role.JOINT_TEAM, False), (Role.SECURITY_SQUAD, False),
    ):  # fmt: skip
        got = await reference_allowed(db, county.principal(role), "tip_off", view.id)
        assert got is allowed, role
    other = await make_county()
    assert not await reference_allowed(db, other.principal(Role.CLUE_DESK), "tip_off", view.id)


async def test_a_case_names_an_existing_tip_off(county: CountyFixture, db: AsyncSession) -> None:
    from evidence.cases.cases import CaseInput, open_case  # noqa: PLC0415

    captain = county.principal(Role.CAPTAIN)
    data = CaseInput(
        cause="举报线索", violation_kind="land_occupation", lon=LON, lat=LAT,
        source_kind="tip_off", source_id=uuid.uuid4(),
    )  # fmt: skip
    await _expect_code("case_source_not_found", open_case(db, captain, data))
    clue = await _service(db).open_tip_off(county.principal(Role.CLUE_DESK), _input())
    case = await open_case(db, captain, CaseInput(**{**_fields(data), "source_id": clue.id}))
    assert (case.source_kind, case.source_id) == ("tip_off", clue.id)


def _fields(data: Any) -> dict[str, Any]:
    return {name: getattr(data, name) for name in data.__slots__}
