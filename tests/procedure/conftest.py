"""Fixtures for the administrative penalty procedure: the app with its clock pinned
(``app.state.clock``), a county, and a small client that walks a case through its steps.

Every step goes over HTTP with the app's clock set to the step's moment, so each deadline is
tested at its exact edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

API = "/api/v1"
LON, LAT = 112.1, 28.5  # the middle of the test county
CHINA = clock.CHINA


def china(*args: int) -> datetime:
    """A moment given in China's time, as aware UTC."""
    return datetime(*args, tzinfo=CHINA).astimezone(UTC)  # type: ignore[misc]


def wire(moment: datetime) -> str:
    """A time as the API writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def square(lon: float, lat: float, half: float = 0.0003) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
        [lon - half, lat + half], [lon - half, lat - half],
    ]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


class Clock:
    """The app's clock for a test (``app.state.clock``)."""

    def __init__(self) -> None:
        self.now = clock.NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fixed(app: Litestar) -> Iterator[Clock]:
    pinned = Clock()
    app.state.clock = pinned
    yield pinned
    del app.state.clock


@dataclass
class Flow:
    """One county's case work over HTTP, with the app's clock."""

    client: AsyncTestClient[Litestar]
    county: CountyFixture
    clock: Clock

    async def call(
        self,
        method: str,
        path: str,
        role: Role = Role.CAPTAIN,
        body: Any = None,
        *,
        expect: int | tuple[int, ...] = (200, 201),
    ) -> Any:
        resp = await self.client.request(
            method, f"{API}{path}", json=body, headers=self.county.headers(role)
        )
        wanted = (expect,) if isinstance(expect, int) else expect
        assert resp.status_code in wanted, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    async def open_case(self, **extra: Any) -> str:
        """A case the captain opened, the inspector its lead and the joint-team member on its
        team; a surveyed 66 m square (about 4,400 m²) unless ``extra`` says otherwise."""
        body = {
            "cause": "未经批准占用耕地建设厂房",
            "violationKind": "land_occupation",
            "lon": LON,
            "lat": LAT,
            "surveyedGeometry": square(LON, LAT),
            **extra,
        }
        case = await self.call("POST", "/cases", body=body)
        team = [
            {"userId": str(self.county.users[Role.INSPECTOR].id), "roleInTeam": "lead"},
            {"userId": str(self.county.users[Role.JOINT_TEAM].id), "roleInTeam": "joint"},
        ]
        await self.call("PUT", f"/cases/{case['id']}/team", body={"members": team})
        return str(case["id"])

    async def step(
        self,
        case_id: str,
        kind: str,
        when: datetime,
        role: Role = Role.CAPTAIN,
        *,
        expect: int | tuple[int, ...] = 201,
        **body: Any,
    ) -> Any:
        """Record ``kind`` with the app's clock at ``when`` (the step's time)."""
        self.clock.now = when
        return await self.call(
            "POST", f"/cases/{case_id}/steps", role, {"kind": kind, **body}, expect=expect
        )

    async def procedure(self, case_id: str, role: Role = Role.CAPTAIN) -> Any:
        return await self.call("GET", f"/cases/{case_id}/procedure", role)

    async def deadline(self, case_id: str, step: str) -> dict[str, Any]:
        proc = await self.procedure(case_id)
        found: dict[str, Any] = next(d for d in proc["deadlines"] if d["step"] == step)
        return found

    async def penalty(self, case_id: str, body: Any, role: Role = Role.CAPTAIN, **kw: Any) -> Any:
        return await self.call("PUT", f"/cases/{case_id}/penalty", role, body, **kw)


@pytest.fixture
async def flow(client: AsyncTestClient[Litestar], make_county: Any, fixed: Clock) -> Flow:
    county: CountyFixture = await make_county()
    return Flow(client, county, fixed)
