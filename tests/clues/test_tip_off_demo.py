"""The demo tip-offs: every state, a duplicate pair, a refusal, a case, one overdue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.tip_off_demo import seed_demo_tip_offs
from evidence.cases.tip_offs import TipOffService
from evidence.custody import CustodyLog
from infra.scope import Role
from infra.settings import TipOffSettings
from patrol import AreaService
from tests.conftest import CountyFixture


async def test_demo_tip_offs(
    db: AsyncSession, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    ring = [[112.09, 28.49], [112.11, 28.49], [112.11, 28.51], [112.09, 28.51], [112.09, 28.49]]
    await AreaService(db).create_area(
        county.principal(Role.CAPTAIN), code="D1", name="示范片区", grade=1,
        geometry={"type": "Polygon", "coordinates": [ring]},
        leader_id=county.users[Role.INSPECTOR].id,
    )  # fmt: skip
    custody = CustodyLog(b"demo")
    ids = await seed_demo_tip_offs(db, county.id, custody)
    await db.commit()
    assert len(ids) == 25
    desk = county.principal(Role.CLUE_DESK)
    service = TipOffService(db, TipOffSettings(), custody)
    views = await service.list_tip_offs(desk, limit=100)
    states = Counter(v.status for v in views)
    assert set(states) == {
        "received", "accepted", "refused", "transferred", "verifying", "verified", "handled",
        "closed",
    }  # fmt: skip
    assert len([v for v in views if v.duplicate_of is not None]) == 1
    assert len([v for v in views if v.case_id is not None]) == 1
    assert len([v for v in views if v.overdue]) == 1
    assert len({v.channel for v in views}) == 9
    assert await seed_demo_tip_offs(db, county.id, custody) == []  # once
