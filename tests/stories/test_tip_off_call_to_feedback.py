"""A 12336 call, from the desk's phone to the reporter's answer, against the real app,
PostGIS and S3.

The desk takes a call on Friday 20 November 2026 at 17:30 (China); the county admin has
marked Monday the 23rd a holiday and Saturday the 28th a make-up working day. The clue is
acknowledged with a receipt number, decided just within its one working day (by the end of
Tuesday the 24th: the weekend and the holiday do not count), sent for field verification (a
target in the inspector's plan, named by receipt number and clue type only), verified just
within ten working days (the make-up Saturday counts: by the end of Friday 4 December),
handled with a stop order and fed back just within fifteen (by the end of Friday 11
December). A second clue decided at the exact due instant is late. The reporter's identity
is read by the desk and the captain only, each read in the custody chain, and appears in
no view the inspector gets: not the plan, not the sync pull.

The flow runs on the service with the pinned clock of each moment (a fixed clock); the
reads a phone or the desk's browser make go over HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.tip_offs import ReporterInput, TipOffInput, TipOffService, on_tip_off_verified
from evidence.custody import CustodyLog
from evidence.models import CustodyEntry
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]
API = "/api/v1"
LON, LAT = 112.1, 28.5
CHINA = clock.CHINA
REPORTER = ReporterInput("刘举报", "13712345678", "430100198001011111", "东风村三组8号")
SECRETS = (REPORTER.name, REPORTER.phone, REPORTER.id_no, REPORTER.address)
TINY = timedelta(microseconds=1)


def _china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA).astimezone(UTC)  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class Verified:
    """A field verification as the patrol side reports it (its phone path is wired in on
    another branch; here the listener is called directly)."""

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


async def _pull_text(client: Client, headers: dict[str, str]) -> str:
    """Every page a fresh phone of this user pulls, as one text."""
    pages, cursor = [], None
    for _ in range(50):
        body: dict[str, Any] = {"limit": 500} if cursor is None else {"cursor": cursor}
        resp = await client.post(f"{API}/sync/pull", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        pages.append(resp.text)
        cursor = resp.json()["cursor"]
        if not resp.json()["hasMore"]:
            return "\n".join(pages)
    raise AssertionError("the pull did not end")


async def test_a_12336_call_from_the_desk_to_the_reporters_answer(
    client: Client,
    make_county: Any,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    county: CountyFixture = await make_county()
    desk_p, captain_p = county.principal(Role.CLUE_DESK), county.principal(Role.CAPTAIN)
    admin = county.headers(Role.ADMIN)
    custody = CustodyLog(settings.evidence.package_signing_key.encode())

    async def at(moment: datetime) -> tuple[AsyncSession, TipOffService]:
        session = session_factory()
        return session, TipOffService(session, settings.tip_offs, custody, clock=lambda: moment)

    # the admin keeps the calendar: Monday the 23rd off, Saturday the 28th worked
    for day, kind in (("2026-11-23", "holiday"), ("2026-11-28", "workday")):
        resp = await client.post(
            f"{API}/work-calendar", json={"day": day, "kind": kind}, headers=admin
        )
        assert resp.status_code == 200, resp.text
    # the captain's contract area around the village, led by the inspector
    ring = [[LON - 0.02, LAT - 0.02], [LON + 0.02, LAT - 0.02], [LON + 0.02, LAT + 0.02],
            [LON - 0.02, LAT + 0.02], [LON - 0.02, LAT - 0.02]]  # fmt: skip
    area = await client.post(
        f"{API}/areas",
        json={"code": "X01", "name": "东风片区", "grade": 1,
              "geometry": {"type": "Polygon", "coordinates": [ring]},
              "leaderId": str(county.users[Role.INSPECTOR].id)},
        headers=county.headers(Role.CAPTAIN),
    )  # fmt: skip
    assert area.status_code == 201, area.text

    # Friday 17:30: the call comes in; the desk registers it at 17:35
    call = _china(2026, 11, 20, 17, 30)
    session, svc = await at(_china(2026, 11, 20, 17, 35))
    async with session:
        clue = await svc.open_tip_off(
            desk_p,
            TipOffInput(
                channel="phone_12336", received_at=call, facts="东风村有人推平耕地建厂房",
                clue_type="land_farmland_destruction", location_text="东风村三组北侧",
                lon=LON + 0.001, lat=LAT, reported_party="某建材厂", reporter=REPORTER,
            ),
        )  # fmt: skip
        late_clue = await svc.open_tip_off(
            desk_p,
            TipOffInput(
                channel="letter", received_at=call, facts="另一处挖塘", clue_type="land_other",
                lon=LON - 0.01, lat=LAT, reported_party="某养殖户",
            ),
        )  # fmt: skip
        await session.commit()
    assert clue.receipt_no == f"12336-{county.county.admin_code}-20261120-0001"
    assert late_clue.receipt_no.endswith("-0002")
    decide_due = _china(2026, 11, 25)  # the end of Tuesday: weekend and holiday skipped
    feedback_due = _china(2026, 12, 12)  # the end of Friday 11 December
    assert [(s.step, s.due_at) for s in clue.steps] == [
        ("decide", decide_due),
        ("feedback", feedback_due),
    ]
    assert clue.verify_due_on == date(2026, 12, 4)  # the make-up Saturday counted

    # decided in the last instant of Tuesday: on time; the other one at the due instant: late
    session, svc = await at(decide_due - TINY)
    async with session:
        clue = await svc.decide(desk_p, clue.id, decision="accept", note="属于受理范围")
        await session.commit()
    session, svc = await at(decide_due)
    async with session:
        late_clue = await svc.decide(desk_p, late_clue.id, decision="accept")
        await session.commit()
    assert clue.steps[0].late is False and clue.steps[0].done_at == decide_due - TINY
    assert late_clue.steps[0].late is True

    # the captain sends it out: a target in the area containing the clue, due with the verify
    session, svc = await at(_china(2026, 11, 25, 9, 0))
    async with session:
        clue = await svc.assign_verification(captain_p, clue.id)
        await session.commit()
    verify_step = next(s for s in clue.steps if s.step == "verify")
    assert verify_step.due_at == _china(2026, 12, 5)
    assert (clue.status, clue.area_id) == ("verifying", uuid.UUID(area.json()["id"]))

    # the inspector's plan shows the target, by receipt number and clue type only
    inspector = county.headers(Role.INSPECTOR)
    month = clock.this_month().strftime("%Y-%m")
    mine = await client.get(f"{API}/plans/mine", params={"month": month}, headers=inspector)
    plan = await client.get(f"{API}/areas/{area.json()['id']}/plans/{month}", headers=inspector)
    for resp in (mine, plan):
        assert resp.status_code == 200, resp.text
        assert f"{clue.receipt_no} 破坏耕地" in resp.text
        assert not [s for s in SECRETS if s in resp.text]
        assert "某建材厂" not in resp.text and "推平耕地" not in resp.text
    pulled = await _pull_text(client, inspector)
    assert not [s for s in SECRETS if s in pulled]

    # the verification comes back from the field on the last instant of Friday 4 December
    # (called directly here; the phone path is wired in on the verification branch)
    verified_at = _china(2026, 12, 5) - TINY
    async with session_factory() as session:
        await on_tip_off_verified(
            session,
            Verified(
                county_id=county.id, target_id=clue.target_id or uuid.uuid4(),
                target_kind="tip_off", ref_id=clue.id,
                inspector_id=county.users[Role.INSPECTOR].id, session_id=None,
                outcome="found", note="现场耕地已被推平约3亩", finding_ids=(), evidence_ids=(),
                verified_at=verified_at,
            ),
        )  # fmt: skip
        await session.commit()

    # handled with a stop order, fed back in the last instant of Friday 11 December
    session, svc = await at(_china(2026, 12, 7, 10, 0))
    async with session:
        clue = await svc.handle(desk_p, clue.id, handling="stop_order", note="已下达责令停止")
        await session.commit()
    session, svc = await at(feedback_due - TINY)
    async with session:
        clue = await svc.feedback(
            desk_p, clue.id, channel="phone", content="经核查属实，已责令停止违法行为"
        )
        await session.commit()
    assert clue.status == "closed"
    assert [(s.step, s.late) for s in clue.steps] == [
        ("decide", False),
        ("verify", False),
        ("handle", False),
        ("feedback", False),
    ]
    assert [e.kind for e in clue.events] == [
        "registered",
        "decided",
        "verification_assigned",
        "verified",
        "handled",
        "fed_back",
    ]

    # the reporter: the desk and the captain read it, nobody else; every read is logged
    path = f"{API}/tip-offs/{clue.id}/reporter"
    for role in (Role.CLUE_DESK, Role.CAPTAIN):
        resp = await client.get(path, headers=county.headers(role))
        assert resp.status_code == 200, resp.text
        assert resp.json()["phone"] == REPORTER.phone
    for role in (Role.ADMIN, Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        resp = await client.get(path, headers=county.headers(role))
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "role_not_allowed"
    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.subject_id == clue.id)
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("reporter_viewed", county.users[Role.CLUE_DESK].id),
        ("reporter_viewed", county.users[Role.CAPTAIN].id),
    ]
    assert not [s for s in SECRETS if s in repr([e.details for e in entries])]
    # the desk's own views never show it either
    for url in (f"{API}/tip-offs/{clue.id}", f"{API}/tip-offs"):
        resp = await client.get(url, headers=county.headers(Role.CLUE_DESK))
        assert resp.status_code == 200
        assert not [s for s in SECRETS if s in resp.text]
