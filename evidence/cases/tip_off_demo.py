"""Demo tip-offs for the demo county: what the clue desk and the captains should see.

Two dozen clues over every channel and clue type, in every state of the flow, each step
done within its deadline, except:

* one clue still waiting for its decision three working days on (overdue: in the desk's
  ``overdue`` list and, once the periodic task runs, in the captains' alerts);
* one repeat of an open clue 50 m away about the same party (``duplicateOf``, counted once);
* one refused (an ownership dispute), one transferred to the forestry bureau;
* one that became a case, with the two demo photos nearest to it as its evidence.

Field verifications are recorded as the patrol's verification result would record them.
Idempotent: a county that has tip-offs gets none added. The reporters are invented.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.tip_off_models import ClueType, TipOff, TipOffChannel
from evidence.cases.tip_offs import (
    ReporterInput,
    TipOffInput,
    TipOffService,
    TipOffView,
    on_tip_off_verified,
)
from evidence.custody import CustodyLog
from evidence.models import Evidence
from infra.db import utcnow
from infra.scope import Principal, Role
from infra.settings import TipOffSettings
from patrol.accounts import principal_of
from patrol.field_models import ContractArea
from patrol.models import User

__all__ = ["seed_demo_tip_offs"]

_PARTIES = ("某砂石厂", "某建材公司", "某养殖场", "某村民", "某采石场", "某物流园")
# the state each demo clue is left in, in order (received ones are recent but for one)
_STATES = (
    "closed", "handled", "verified", "verifying", "accepted", "received",
    "closed", "refused", "transferred", "closed", "handled", "verifying",
)  # fmt: skip
_COUNT = 24


@dataclass(frozen=True, slots=True)
class _Verification:
    """A field verification result as the patrol side reports it."""

    county_id: uuid.UUID
    target_id: uuid.UUID
    ref_id: uuid.UUID | None
    inspector_id: uuid.UUID
    verified_at: datetime
    outcome: str = "found"
    note: str = "现场核实属实"
    target_kind: str = "tip_off"
    session_id: uuid.UUID | None = None
    finding_ids: tuple[uuid.UUID, ...] = ()
    evidence_ids: tuple[uuid.UUID, ...] = ()


@dataclass
class _Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class _Run:
    service: TipOffService
    clock: _Clock
    desk: Principal
    inspector: Principal
    county_id: uuid.UUID


async def _advance(
    run: _Run,
    view: TipOffView,
    state: str,
    received: datetime,
    area_id: uuid.UUID,
    *,
    make_case: bool,
) -> bool:
    """Move a registered clue on to ``state``, each step in time; whether it made the case."""
    service, clock, desk = run.service, run.clock, run.desk
    clock.now = received + timedelta(hours=2)
    if state in ("refused", "transferred"):
        if state == "refused":
            await service.decide(
                desk, view.id, decision="refuse", refusal_reason="ownership_compensation"
            )
        else:
            await service.decide(desk, view.id, decision="transfer", transfer_to="县林业局")
        return False
    await service.decide(desk, view.id, decision="accept")
    if state == "accepted":
        return False
    clock.now = received + timedelta(hours=3)
    view = await service.assign_verification(desk, view.id, area_id=area_id)
    if state == "verifying":
        return False
    await on_tip_off_verified(
        service.session,
        _Verification(
            county_id=run.county_id,
            target_id=view.target_id or uuid.uuid4(),
            ref_id=view.id,
            inspector_id=run.inspector.user_id,
            verified_at=received + timedelta(days=1),
        ),
    )
    if state == "verified":
        return False
    clock.now = received + timedelta(days=2)
    if make_case:
        here = func.ST_SetSRID(func.ST_MakePoint(view.lon, view.lat), 4326)
        photos = (
            await service.session.scalars(
                select(Evidence.id)
                .where(Evidence.county_id == run.county_id)
                .order_by(func.ST_Distance(Evidence.geom, here), Evidence.id)
                .limit(2)
            )
        ).all()
        await service.open_case(
            desk, view.id, violation_kind="land_occupation", evidence_ids=photos
        )
    else:
        await service.handle(desk, view.id, handling="stop_order")
    if state == "closed":
        clock.now = received + timedelta(days=3)
        await service.feedback(desk, view.id, channel="phone", content="已电话答复处理结果")
    return make_case


async def _user(session: AsyncSession, county_id: uuid.UUID, role: Role) -> Principal | None:
    user = await session.scalar(
        select(User)
        .where(User.county_id == county_id, User.role == role.value, User.active)
        .order_by(User.created_at)
        .limit(1)
    )
    return None if user is None else principal_of(user)


async def seed_demo_tip_offs(
    session: AsyncSession, county_id: uuid.UUID, custody: CustodyLog
) -> list[uuid.UUID]:
    """Add the demo clues to ``county_id`` (flushes; the caller commits); their ids."""
    if await session.scalar(select(TipOff.id).where(TipOff.county_id == county_id).limit(1)):
        return []
    desk = await _user(session, county_id, Role.CLUE_DESK)
    inspector = await _user(session, county_id, Role.INSPECTOR)
    areas = (
        await session.execute(
            select(ContractArea.id, func.ST_PointOnSurface(ContractArea.geom))
            .where(ContractArea.county_id == county_id, ContractArea.active)
            .order_by(ContractArea.code)
        )
    ).all()
    if desk is None or inspector is None or not areas:
        return []
    clock = _Clock()
    service = TipOffService(session, TipOffSettings(), custody, clock=clock)
    real_now = utcnow()
    channels, types = list(TipOffChannel), list(ClueType)
    ids: list[uuid.UUID] = []
    case_made = False
    for i in range(_COUNT):
        state = _STATES[i % len(_STATES)]
        area_id, where = areas[i % len(areas)]
        point = to_shape(where)
        lon, lat = float(point.x) + (i % 5) * 0.0004, float(point.y) + (i % 3) * 0.0004
        # recent for early states, older for finished ones; clue 5 waits too long
        ages = {"received": 0.2, "accepted": 1.0, "refused": 2.0, "transferred": 2.0}
        ages |= {"verifying": 3.0, "verified": 5.0, "handled": 6.0}
        age_days = ages.get(state, 6.0 + (i % 7) * 4)
        if i == 5:
            age_days = 6.0
        received = real_now - timedelta(days=age_days, hours=i % 4)
        clock.now = received + timedelta(minutes=20)
        view = await service.open_tip_off(
            desk,
            TipOffInput(
                channel=channels[i % len(channels)].value,
                received_at=received,
                facts=f"群众反映{_PARTIES[i % len(_PARTIES)]}涉嫌违法用地或采矿（示范{i + 1}）",
                clue_type=types[i % len(types)].value,
                location_text=f"示范片区{i % len(areas) + 1}",
                lon=lon,
                lat=lat,
                reported_party=f"{_PARTIES[i % len(_PARTIES)]}{i + 1}",
                reporter=None
                if i % 4 == 3
                else ReporterInput(f"示范举报人{i + 1}", f"1380000{i:04d}", "", "示范村"),
            ),
        )
        ids.append(view.id)
        if i == 1:  # a letter this morning repeats this open clue, about 50 m away
            clock.now = real_now
            repeat = await service.open_tip_off(
                desk,
                TipOffInput(
                    channel=TipOffChannel.LETTER.value,
                    received_at=real_now - timedelta(hours=2),
                    facts="来信反映同一地块占地建房（示范重复）",
                    clue_type=view.clue_type,
                    lon=lon + 0.0004,
                    lat=lat + 0.0002,
                    reported_party=view.reported_party,
                ),
            )
            ids.append(repeat.id)
        if state != "received":
            case_made = (
                await _advance(
                    _Run(service, clock, desk, inspector, county_id),
                    view,
                    state,
                    received,
                    area_id,
                    make_case=not case_made,
                )
                or case_made
            )
    return ids
