"""Five-to-one duty checks of closed mine sites.

Roster members record their checks (captains and admins may record for a member); signs of
reopening or active mining alert the captains. Captains and admins read who is overdue where.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, put
from litestar.params import FromPath, FromQuery, JSONBody

from api.controllers.field_inputs import duty_check_input
from api.controllers.patrol import Limit
from api.deps import Caller, Duty
from api.mapping import to_wire
from mobile_contract.v1 import patrol as c
from patrol.duty import SiteDuty
from patrol.field_models import DutyCheck

__all__ = ["DutyController"]


def _check(d: DutyCheck) -> c.DutyCheck:
    return to_wire(c.DutyCheck, d, evidence_ids=list(d.evidence_ids or []))


def _site_duty(s: SiteDuty) -> c.SiteDuty:
    """A site with each roster member's figures (the member's own fields beside them)."""
    members = [to_wire(c.MemberDuty, m, m.member) for m in s.members]
    return to_wire(c.SiteDuty, s, members=members)


class DutyController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @put(
        "/duty-checks/{check_id:uuid}",
        operation_id="RecordDutyCheck",
        summary="Record a five-to-one check of a closed site",
    )
    async def record_duty_check(
        self,
        check_id: FromPath[uuid.UUID],
        data: JSONBody[c.DutyCheckCreate],
        duty: Duty,
        principal: Caller,
    ) -> c.DutyCheck:
        """Signs of reopening or active mining alert the captains and flag the site."""
        check = await duty.record_check(principal, duty_check_input(check_id, data))
        return _check(check)

    @get("/duty-checks", operation_id="ListDutyChecks", summary="Five-to-one checks")
    async def list_duty_checks(
        self,
        duty: Duty,
        principal: Caller,
        site_id: FromQuery[uuid.UUID | None] = None,
        since: FromQuery[datetime | None] = None,
        limit: Limit = 200,
    ) -> list[c.DutyCheck]:
        """Newest first; inspectors see the checks they recorded."""
        rows = await duty.list_checks(principal, site_id=site_id, since=since, limit=limit)
        return [_check(d) for d in rows]

    @get(
        "/duty-status",
        operation_id="GetDutyStatus",
        summary="Who is overdue at which site (captain, admin)",
    )
    async def get_duty_status(
        self,
        duty: Duty,
        principal: Caller,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
        site_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[c.SiteDuty]:
        """Per site and member over ``[start, end)`` (the last 30 days by default)."""
        rows = await duty.get_duty_status(
            principal, start=start, end=end, site_ids=None if site_id is None else [site_id]
        )
        return [_site_duty(s) for s in rows]
