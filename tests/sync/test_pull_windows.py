"""The pull's time windows at their edges, on a fixed clock: a phone gets the patrols started
in the last ``PATROL_WINDOW_DAYS`` (30) local days and the findings of the last
``FINDING_WINDOW_DAYS`` (90), counted from today's local midnight: a record at the window's
first instant is sent, one a microsecond older is not (an open patrol always is)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from patrol.sessions import PatrolService
from sync.cursor import CursorCodec
from sync.pull import FINDING_WINDOW_DAYS, PATROL_WINDOW_DAYS, PullService
from tests.sync.conftest import SyncWorld

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 15, 16, 20, tzinfo=TZ)
MIDNIGHT = datetime(2026, 4, 15, tzinfo=TZ)
US = timedelta(microseconds=1)


def _clock() -> datetime:
    return NOW


async def test_patrols_and_findings_at_the_window_edges(
    make_world: Any, db: AsyncSession, settings: Settings
) -> None:
    assert (PATROL_WINDOW_DAYS, FINDING_WINDOW_DAYS) == (30, 90)
    world: SyncWorld = await make_world(parcels=1)
    me = world.county.principal(Role.INSPECTOR)
    patrols = PatrolService(db, clock=_clock)
    patrol_from = MIDNIGHT - timedelta(days=30)
    finding_from = MIDNIGHT - timedelta(days=90)
    ids: dict[str, uuid.UUID] = {}
    for name, start, end in (
        ("patrol_at_edge", patrol_from, patrol_from + timedelta(hours=1)),
        ("patrol_before", patrol_from - US, patrol_from + timedelta(hours=1)),
        ("open_old", MIDNIGHT - timedelta(days=40), None),
        ("finding_patrol", finding_from - timedelta(hours=1), finding_from + timedelta(hours=1)),
    ):
        ids[name] = uuid7()
        await patrols.start_patrol(me, ids[name], area_id=world.area_id, started_at=start)
        if name == "finding_patrol":
            for fname, found in (
                ("finding_at_edge", finding_from),
                ("finding_before", finding_from - US),
            ):
                finding = await patrols.record_finding(
                    me, ids[name], uuid7(), found_at=found, project_name=fname,
                    construction_status="levelled", lon=112.06, lat=28.5, accuracy_m=5.0,
                )  # fmt: skip
                ids[fname] = finding.id
        if end is not None:
            await patrols.end_patrol(me, ids[name], ended_at=end)
    await db.commit()

    pull = PullService(db, CursorCodec(settings.auth.secret_key), clock=_clock)
    page = await pull.pull(me, cursor=None, limit=10_000)
    await db.commit()
    assert not page.has_more
    patrol_rows, finding_rows = page.upserts.get("patrols", []), page.upserts.get("findings", [])
    assert isinstance(patrol_rows, list) and isinstance(finding_rows, list)
    sent_patrols = {r.id for r in patrol_rows}
    sent_findings = {r.id for r in finding_rows}
    mine = {ids[n] for n in ("patrol_at_edge", "patrol_before", "open_old", "finding_patrol")}
    assert sent_patrols & mine == {ids["patrol_at_edge"], ids["open_old"]}
    assert sent_findings == {ids["finding_at_edge"]}
