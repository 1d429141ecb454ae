"""The batch of the satellite figures and export tests, seeded straight into the tables::

    A1 unassigned   due today                       (the due day itself: not overdue)
    A2 assigned     due yesterday                   overdue
    A3 verified     legal    2000 m²: cultivated 600, basic farmland 400, approved 1000
    A4 passed       illegal  3000 m²: cultivated 1000, basic farmland 500, unused 1500
    A5 sent_back    illegal   999 m² (sent back: not counted), due yesterday  overdue
    B1 submitted    not new  1500 m²: cultivated 1500
    B2 verified     illegal  1200 m²: basic farmland 1200
    N1 assigned     due in 5 days
    N2 sent_back    due today, no result

Township A (甲镇) has code 001, B (乙乡) 002; N1 and N2 lie in no township.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture
from tests.satellite_figures import seed

YESTERDAY = clock.TODAY - timedelta(days=1)


@dataclass
class Scenario:
    county: CountyFixture
    other: CountyFixture
    b: seed.Batch
    town_a: Any
    town_b: Any


async def build(session: AsyncSession, county: CountyFixture) -> tuple[seed.Batch, Any, Any]:
    """The batch of the module docstring."""
    me = county.users[Role.INSPECTOR].id
    boss = county.users[Role.CAPTAIN].id
    a = await seed.township(session, county.id, "001", "甲镇", 112.08, 28.5)
    bb = await seed.township(session, county.id, "002", "乙乡", 112.12, 28.5)
    b = await seed.batch(session, county.id, boss)
    await seed.task(session, b, "A1", status="unassigned", township_id=a.id, polygon_m2=900)
    await seed.task(session, b, "A2", status="assigned", township_id=a.id, due_on=YESTERDAY,
                    inspector_id=me)  # fmt: skip
    t = await seed.task(session, b, "A3", status="verified", township_id=a.id, polygon_m2=2100)
    await seed.result(
        session, t, me, "legal",
        areas={"cultivated": 600, "permanent_basic_farmland": 400, "construction_approved": 1000},
        proof_type="farmland_conversion", approval_no="湘政地〔2026〕12号",
        approval_body="湖南省人民政府", approval_date=clock.TODAY - timedelta(days=200),
        approval_area_m2=2500.0,
    )  # fmt: skip
    t = await seed.task(session, b, "A4", status="passed", township_id=a.id, polygon_m2=3100,
                        reviewed_by=boss, reviewed_at=clock.NOW - timedelta(days=1))  # fmt: skip
    await seed.result(
        session, t, me, "illegal",
        areas={"cultivated": 1000, "permanent_basic_farmland": 500, "unused": 1500},
        violator="某建材公司", violator_type="organisation", land_use="industrial",
        construction_status="fully_built", note="未批先建厂房",
    )  # fmt: skip
    t = await seed.task(session, b, "A5", status="sent_back", township_id=a.id,
                        due_on=YESTERDAY, review_note="照片不清，请补拍")  # fmt: skip
    await seed.result(session, t, me, "illegal", areas={"cultivated": 999})
    t = await seed.task(session, b, "B1", status="submitted", township_id=bb.id, polygon_m2=1600,
                        submitted_by=boss, submitted_at=clock.NOW - timedelta(hours=5))  # fmt: skip
    await seed.result(session, t, me, "not_new", areas={"cultivated": 1500},
                      not_new_kind="agricultural_facility")  # fmt: skip
    t = await seed.task(session, b, "B2", status="verified", township_id=bb.id, polygon_m2=1300)
    await seed.result(session, t, me, "illegal", areas={"permanent_basic_farmland": 1200},
                      violator="张某", violator_type="person", land_use="housing",
                      construction_status="partly_built")  # fmt: skip
    await seed.task(session, b, "N1", status="assigned", due_on=clock.TODAY + timedelta(days=5))
    await seed.task(session, b, "N2", status="sent_back", review_note="位置有误")
    return b, a, bb


@pytest.fixture
async def scenario(
    session_factory: async_sessionmaker[AsyncSession],
    make_county: Callable[..., Awaitable[CountyFixture]],
) -> Scenario:
    county = await make_county()
    other = await make_county(lon=113.0, lat=28.0)
    async with session_factory() as session:
        b, a, bb = await build(session, county)
        await session.commit()
    return Scenario(county, other, b, a, bb)


@pytest.fixture
def fixed_clock(app: Litestar) -> Iterator[None]:
    """The app's clock at the tests' NOW (10:00 in China on TODAY)."""
    app.state.clock = lambda: clock.NOW
    yield
    del app.state.clock
