"""A closed patrol is closed, through the real app: a point after ``EndPatrol`` is refused and
the patrol's figures, its replay, the month's coverage and the GeoJSON export stay as they were."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests.conftest import CountyFixture
from tests.patrol.helpers import start_patrol_over_http

Client = AsyncTestClient[Litestar]
API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180


def _point(t: datetime, north_m: float) -> dict[str, Any]:
    return {"id": str(uuid7()), "t": t.isoformat(), "lon": 112.1,
            "lat": 28.5 + north_m / M_PER_DEG_LAT, "accuracyM": 5.0}  # fmt: skip


async def test_a_point_after_end_patrol_is_refused_and_changes_no_figure(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    me, cap = county.headers(Role.INSPECTOR), county.headers(Role.CAPTAIN)
    pid, start = await start_patrol_over_http(client, county)
    # 21 fixes 30 s and ~32 m apart: 637 m in 10 minutes
    walk = [_point(start + timedelta(seconds=30 * i), 637.0 * i / 20) for i in range(21)]
    sent = await client.post(f"{API}/patrols/{pid}/track", json={"points": walk}, headers=me)
    assert sent.status_code == 200 and sent.json()["stored"] == 21, sent.text
    end = start + timedelta(minutes=15)
    ended = await client.post(f"{API}/patrols/{pid}/end", json={"endedAt": end.isoformat()},
                              headers=me)  # fmt: skip
    assert ended.status_code == 200, ended.text
    assert round(ended.json()["distanceM"]) == 637

    async def figures() -> list[Any]:
        patrol = (await client.get(f"{API}/patrols/{pid}", headers=cap)).json()
        track = (await client.get(f"{API}/patrols/{pid}/track", headers=cap)).json()
        month = f"{start.astimezone(TZ):%Y-%m}"
        cov = (await client.get(f"{API}/coverage", params={"month": month}, headers=cap)).json()
        day = start.astimezone(TZ).date()
        export = await client.get(
            f"{API}/exports/tracks.geojson",
            params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
            headers=cap,
        )
        assert export.status_code == 200, export.text
        [feature] = [f for f in export.json()["features"] if f["properties"]["patrol_id"] == pid]
        return [
            {k: patrol[k] for k in ("distanceM", "durationS", "lastFixAt", "pointCount",
                                     "endedAt", "usedPointCount")},
            track["features"][0],
            (cov["patrols"], cov["distanceKm"], cov["hours"]),
            feature,
        ]  # fmt: skip

    before = await figures()
    assert before[0]["lastFixAt"] == walk[-1]["t"].replace("+00:00", "Z")
    assert before[2] == (1, 0.637, 0.25)
    # four minutes after the end, 767 m further on; and a fix from within the patrol
    late = _point(end + timedelta(minutes=4), 1404.0)
    backlog = _point(start + timedelta(minutes=12), 650.0)
    resp = await client.post(
        f"{API}/patrols/{pid}/track", json={"points": [late, backlog, walk[3]]}, headers=me
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["stored"], body["duplicates"], body["pointCount"]) == (0, 1, 21)
    assert [(r["id"], r["reason"]) for r in body["rejected"]] == [
        (late["id"], "after_end"),
        (backlog["id"], "patrol_ended"),
    ]
    assert await figures() == before
