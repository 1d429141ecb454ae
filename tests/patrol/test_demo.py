"""The demo month: four areas, quotas met and missed, tracks, overdue checks, one rebound."""

from __future__ import annotations

from datetime import timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession

from infra.scope import Principal, Role
from patrol.alerts import AlertService
from patrol.coverage import CoverageService
from patrol.demo_patrols import seed_demo_patrols
from patrol.duty import DutyService, StaticDutyRoster
from patrol.models import Township
from tests import clock
from tests.conftest import add_county, add_user


async def test_demo_month(db: AsyncSession) -> None:
    county = await add_county(db, lon=112.2, lat=28.6, size=0.4)
    code = county.admin_code.lower()
    towns = [
        Township(
            county_id=county.id,
            code=f"{code[:7]}{i:02d}",
            name=f"town {i}",
            geom=from_shape(
                MultiPolygon(
                    [
                        box(
                            112.0 + 0.1 * (i % 4),
                            28.4 + 0.1 * (i // 4),
                            112.1 + 0.1 * (i % 4),
                            28.5 + 0.1 * (i // 4),
                        )
                    ]
                ),
                srid=4326,
            ),
        )
        for i in range(16)
    ]
    db.add_all(towns)
    users = [await add_user(db, county.id, role) for role in Role]
    # a month complete at the pinned time, whatever the day the suite runs
    demo = await seed_demo_patrols(db, county.id, towns, users, month=clock.LAST_MONTH)
    await db.commit()
    assert len(demo.areas) == 4 and demo.patrols == 22 and demo.points > 1000
    assert isinstance(demo.roster, StaticDutyRoster)
    captain = next(u for u in users if u.role == "captain")
    boss = Principal(captain.id, county.id, Role.CAPTAIN, captain.username)
    cov = await CoverageService(db, roster=demo.roster).get_coverage(
        boss, demo.month, now=clock.NOW
    )
    assert [a.quota_met for a in cov.areas] == [True, True, False, False]
    assert sum(a.patrols for a in cov.areas) == 22
    assert all(a.distance_km > 0 for a in cov.areas)
    assert any(a.targets_visited for a in cov.areas)
    assert cov.duty is not None and cov.duty.members == 15
    status = await DutyService(db, demo.roster).get_duty_status(
        boss, start=clock.now() - timedelta(days=7), end=clock.now()
    )
    overdue = sum(s.overdue_count for s in status)
    assert 3 <= overdue <= 5
    assert [s.last_status for s in status].count("signs_of_reopening") == 1
    feed = await AlertService(db).list_alerts(boss)
    assert [a.kind for a in feed] == ["site_reopening"]
    again = await seed_demo_patrols(db, county.id, towns, users, month=clock.LAST_MONTH)
    assert not again.created and len(again.areas) == 4
