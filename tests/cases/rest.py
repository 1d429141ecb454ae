"""A small REST helper for the case and referral tests: one county, its captain and squad."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.scope import Role
from tests.cases.conftest import LAT, LON
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"
MATERIALS = [
    {"kind": "referral_letter", "title": "涉嫌犯罪案件移送书", "reference": "移字〔2026〕9号"},
    {"kind": "investigation_report", "title": "涉嫌犯罪案件情况的调查报告"},
    {"kind": "items_list", "title": "涉案物品清单"},
]


@dataclass
class Rest:
    client: Client
    county: CountyFixture

    async def call(
        self, method: str, role: Role, path: str, body: Any = None, *, expect: int = 200
    ) -> Any:
        resp = await self.client.request(
            method, API + path, json=body, headers=self.county.headers(role)
        )
        assert resp.status_code == expect, resp.text
        return resp.json()

    async def post(self, role: Role, path: str, body: Any = None, *, expect: int = 200) -> Any:
        return await self.call("POST", role, path, body, expect=expect)

    async def get(self, role: Role, path: str, *, expect: int = 200) -> Any:
        return await self.call("GET", role, path, expect=expect)

    async def flagged_case(self, *, statuses: tuple[str, ...] = ()) -> str:
        """A case the captain opened, moved through ``statuses`` and flagged; its id."""
        body = {"cause": "非法占用基本农田", "violationKind": "land_occupation"}
        case = await self.post(Role.CAPTAIN, "/cases", {**body, "lon": LON, "lat": LAT}, expect=201)
        for status in statuses:
            move = {"status": status, "reason": "依程序"}
            await self.post(Role.CAPTAIN, f"/cases/{case['id']}/status", move)
        flag = {"caseId": case["id"], "reason": "占用基本农田超过5亩"}
        await self.post(Role.CAPTAIN, "/referral-flags", flag, expect=201)
        return str(case["id"])

    async def refer(self, case_id: str, at: datetime) -> dict[str, Any]:
        """The squad's referral with the squad officer and the captain as the team."""
        team = [str(self.county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
        body = {"teamIds": team, "report": "经核实，涉嫌非法占用农用地罪", "at": at.isoformat()}
        answer: dict[str, Any] = await self.post(
            Role.SECURITY_SQUAD, f"/cases/{case_id}/referrals", body, expect=201
        )
        return answer

    async def step(
        self, referral_id: str, step: str, at: datetime, *, role: Role = Role.SECURITY_SQUAD,
        expect: int = 200, **body: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """Record ``step`` (the path after ``/referrals/{id}/``) at ``at``."""
        answer: dict[str, Any] = await self.post(
            role, f"/referrals/{referral_id}/{step}", {**body, "at": at.isoformat()}, expect=expect
        )
        return answer

    async def case_as(self, role: Role, case_id: str) -> dict[str, Any]:
        case: dict[str, Any] = await self.get(role, f"/cases/{case_id}")
        return case


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)
