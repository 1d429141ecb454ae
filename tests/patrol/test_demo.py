"""The demo month: four areas, quotas met and missed, tracks, overdue checks, one rebound."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.scope import Principal, Role
from patrol.alerts import AlertService
from patrol.coverage import CoverageService
from patrol.demo_patrols import seed_demo_patrols
from patrol.duty import DutyService, StaticDutyRoster
from patrol.models import County, Township, User


async def test_demo_month(db: AsyncSession) -> None:
    code = uuid.uuid4().hex[:12]
    county = County(
        admin_code=code,
        name="demo",
        province_code="43",
        boundary=from_shape(MultiPolygon([box(112.0, 28.4, 112.4, 28.8)]), srid=4326),
    )
    db.add(county)
    await db.flush()
    towns = [
        Township(
            county_id=county.id,
            code=f"{code[:8]}{i:02d}",
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
    users = [
        User(
            county_id=county.id,
            username=f"{code}-{r.value}",
            display_name=r.value,
            role=r.value,
            password_hash="x",
            active=True,
        )
        for r in Role
    ]
    db.add_all(users)
    await db.flush()
    began = time.perf_counter()
    demo = await seed_demo_patrols(db, county.id, towns, users)
    elapsed = time.perf_counter() - began
    await db.commit()
    assert elapsed < 30
    assert len(demo.areas) == 4 and demo.patrols == 22 and demo.points > 1000
    assert isinstance(demo.roster, StaticDutyRoster)
    captain = next(u for u in users if u.role == "captain")
    boss = Principal(captain.id, county.id, Role.CAPTAIN, captain.username)
    cov = await CoverageService(db, roster=demo.roster).get_coverage(boss, demo.month)
    assert [a.quota_met for a in cov.areas] == [True, True, False, False]
    assert sum(a.patrols for a in cov.areas) == 22
    assert all(a.distance_km > 0 for a in cov.areas)
    assert any(a.targets_visited for a in cov.areas)
    assert cov.duty is not None and cov.duty.members == 15
    status = await DutyService(db, demo.roster).get_duty_status(
        boss, start=utcnow() - timedelta(days=7), end=utcnow()
    )
    overdue = sum(s.overdue_count for s in status)
    assert 3 <= overdue <= 5
    assert [s.last_status for s in status].count("signs_of_reopening") == 1
    feed = await AlertService(db).list_alerts(boss)
    assert [a.kind for a in feed] == ["site_reopening"]
    again = await seed_demo_patrols(db, county.id, towns, users)
    assert not again.created and len(again.areas) == 4
