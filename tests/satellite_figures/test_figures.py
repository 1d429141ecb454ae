"""GetSatelliteFigures: every figure from seeded rows, counted by hand, on a fixed clock.

The batch (``conftest.py``; township A code 001, township B code 002, two polygons in no
township)::

    A1 unassigned   due today                       (the due day itself: not overdue)
    A2 assigned     due yesterday                   overdue
    A3 verified     legal    2000 m²: cultivated 600, basic farmland 400, approved 1000
    A4 passed       illegal  3000 m²: cultivated 1000, basic farmland 500, unused 1500
    A5 sent_back    illegal   999 m² (sent back: not counted), due yesterday  overdue
    B1 submitted    not new  1500 m²: cultivated 1500
    B2 verified     illegal  1200 m²: basic farmland 1200 (became a case)
    N1 assigned     due in 5 days
    N2 sent_back    due today, no result
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.satellite_figures import SatelliteFiguresService
from evidence.custody import CustodyLog
from geofence.overlay import to_mu
from infra.scope import Role
from infra.settings import SatelliteSettings
from tests import clock
from tests.conftest import CountyFixture
from tests.satellite_figures import seed
from tests.satellite_figures.conftest import Scenario

API = "/api/v1"
Client = AsyncTestClient[Litestar]
YESTERDAY = clock.TODAY - timedelta(days=1)


def _row(figures: dict[str, Any], code: str | None) -> dict[str, Any]:
    if code == "total":
        return dict(figures["total"])
    [row] = [r for r in figures["townships"] if (r["townshipCode"] or None) == code]
    return dict(row)


def _mu(m2: float) -> float:
    return to_mu(m2, 4)


async def test_figures_per_township_and_total(
    client: Client, scenario: Scenario, fixed_clock: None
) -> None:
    h = scenario.county.headers(Role.CAPTAIN)
    resp = await client.get(f"{API}/satellite/batches/{scenario.b.batch.id}/figures", headers=h)
    assert resp.status_code == 200, resp.text
    f = resp.json()
    assert f["batchName"] == "2026年第3季度卫片" and f["asOf"] == clock.TODAY.isoformat()
    assert f["ratioThreshold"] == 0.15
    # townships by code, then the polygons in no township
    assert [(r["townshipCode"], r["name"]) for r in f["townships"]] == [
        ("001", "甲镇"), ("002", "乙乡"), ("", ""),
    ]  # fmt: skip
    a, b, none, total = _row(f, "001"), _row(f, "002"), _row(f, None), _row(f, "total")
    assert a["townshipId"] == str(scenario.town_a.id) and none["townshipId"] is None
    assert total["total"] is True and total["townshipId"] is None

    assert (a["polygons"], a["verified"], a["overdue"]) == (5, 2, 2)
    assert a["byStatus"] == {
        "unassigned": 1, "assigned": 1, "verified": 1, "sent_back": 1, "passed": 1,
        "submitted": 0,
    }  # fmt: skip
    assert a["polygonAreaMu"] == _mu(900 + 1000 + 2100 + 3100 + 1000)
    assert (a["legal"], a["legalAreaMu"]) == (1, _mu(2000))
    assert (a["notNew"], a["notNewAreaMu"]) == (0, 0.0)
    assert (a["illegal"], a["illegalAreaMu"]) == (1, _mu(3000))  # A5 was sent back
    assert a["illegalCultivatedMu"] == _mu(1000 + 500)
    assert a["illegalBasicFarmlandMu"] == _mu(500)
    assert a["legalCultivatedMu"] == _mu(600 + 400)
    assert a["newConstructionMu"] == _mu(2000 + 3000)
    assert a["cultivatedRatio"] == pytest.approx(1500 / 2500)
    assert a["overThreshold"] is True

    assert (b["polygons"], b["verified"], b["overdue"]) == (2, 2, 0)
    assert (b["notNew"], b["notNewAreaMu"], b["illegal"]) == (1, _mu(1500), 1)
    assert b["illegalCultivatedMu"] == b["illegalBasicFarmlandMu"] == _mu(1200)
    assert b["newConstructionMu"] == _mu(1200)  # not-new construction is not new land
    assert b["cultivatedRatio"] == pytest.approx(1.0)

    assert (none["polygons"], none["verified"], none["overdue"]) == (2, 0, 0)
    assert none["cultivatedRatio"] is None and none["overThreshold"] is False

    assert (total["polygons"], total["verified"], total["overdue"]) == (9, 4, 2)
    assert sum(total["byStatus"].values()) == 9 and total["byStatus"]["sent_back"] == 2
    assert (total["legal"], total["notNew"], total["illegal"]) == (1, 1, 2)
    assert total["illegalAreaMu"] == _mu(3000 + 1200)
    assert total["illegalCultivatedMu"] == _mu(1500 + 1200)
    assert total["illegalBasicFarmlandMu"] == _mu(500 + 1200)
    assert total["newConstructionMu"] == _mu(2000 + 3000 + 1200)
    assert total["cultivatedRatio"] == pytest.approx(2700 / 3700)
    assert total["overThreshold"] is True


async def test_overdue_turns_at_the_county_midnight(db: AsyncSession, scenario: Scenario) -> None:
    """A1 and N2 are due today: not overdue until China's day after (16:00 UTC)."""
    captain = scenario.county.principal(Role.CAPTAIN)
    last_minute = datetime(2026, 11, 18, 15, 59, tzinfo=UTC)  # 23:59 in China
    for at, want in ((clock.NOW, 2), (last_minute, 2), (last_minute + timedelta(minutes=1), 4)):
        service = SatelliteFiguresService(
            db, SatelliteSettings(), CustodyLog(), clock=lambda at=at: at
        )
        figures = await service.figures(captain, scenario.b.batch.id)
        assert figures.total.overdue == want, at
    a = next(r for r in figures.townships if r.township_code == "001")
    assert a.overdue == 3  # A1 now too


@pytest.mark.parametrize(
    ("threshold", "total_over", "a_over", "b_over"),
    [(0.75, False, False, True), (0.6, True, False, True), (2700 / 3700, False, False, True)],
)
async def test_the_threshold_is_strictly_above(
    db: AsyncSession, scenario: Scenario, threshold: float, total_over: bool, a_over: bool,
    b_over: bool,
) -> None:  # fmt: skip
    settings = replace(SatelliteSettings(), ratio_threshold=threshold)
    service = SatelliteFiguresService(db, settings, CustodyLog(), clock=lambda: clock.NOW)
    figures = await service.figures(scenario.county.principal(Role.ADMIN), scenario.b.batch.id)
    assert figures.ratio_threshold == threshold
    assert figures.total.over_threshold is total_over
    by_code = {r.township_code: r for r in figures.townships}
    assert (by_code["001"].over_threshold, by_code["002"].over_threshold) == (a_over, b_over)


async def test_an_empty_batch_has_a_zero_total(
    session_factory: async_sessionmaker[AsyncSession],
    make_county: Callable[..., Awaitable[CountyFixture]],
    client: Client,
) -> None:
    county = await make_county()
    async with session_factory() as session:
        b = await seed.batch(session, county.id, county.users[Role.CAPTAIN].id, name="空批次")
        await session.commit()
    resp = await client.get(
        f"{API}/satellite/batches/{b.batch.id}/figures", headers=county.headers(Role.ADMIN)
    )
    assert resp.status_code == 200, resp.text
    f = resp.json()
    assert f["townships"] == []
    assert f["total"]["polygons"] == 0 and f["total"]["cultivatedRatio"] is None
    assert f["total"]["overThreshold"] is False


async def test_who_reads_figures_and_exports(client: Client, scenario: Scenario) -> None:
    batch = scenario.b.batch.id
    paths = (f"/satellite/batches/{batch}/figures", f"/satellite/batches/{batch}/export")
    for path in paths:
        for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD, Role.CLUE_DESK):
            resp = await client.get(f"{API}{path}", headers=scenario.county.headers(role))
            assert resp.status_code == 403, (path, role, resp.text)
            assert resp.json()["code"] == "role_not_allowed"
            assert set(resp.json()["details"]["allowedRoles"]) == {"captain", "admin"}
        for role in (Role.CAPTAIN, Role.ADMIN):
            resp = await client.get(f"{API}{path}", headers=scenario.other.headers(role))
            assert resp.status_code == 404, resp.text
            assert resp.json()["code"] == "satellite_batch_not_found"
