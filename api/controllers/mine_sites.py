"""Closed-mine and dredging sites with their five-to-one rosters.

Reads are open to every role of the county, the register and its rosters are kept by
admins and captains (the domain enforces it). Every handler is one call of the geofence
service (:class:`~geofence.service.GeofenceService`) and a mapping.
"""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK
from shapely.geometry import mapping

import geofence as g
from api.deps import Caller, Geofence
from api.mapping import to_wire_list
from mobile_contract.v1 import geofence as c

__all__ = ["MineSiteController"]


# -- mapping -------------------------------------------------------------------------------


def _site(s: g.MineSiteInfo) -> c.MineSite:
    return c.MineSite(
        id=s.id,
        code=s.code,
        site_kind=c.SiteKindName(s.site_kind),
        name=s.name,
        mineral=s.mineral,
        closed_on=s.closed_on,
        closure_method=c.ClosureMethodName(s.closure_method),
        status=c.MineStatusName(s.status),
        signboard=s.signboard,
        signboard_text=s.signboard_text,
        geometry=dict(mapping(s.geometry)),
        layer_version_id=s.layer_version_id,
        roster=to_wire_list(c.RosterMember, s.roster),
        missing_roles=[c.RosterRoleName(r) for r in s.missing_roles],
        roster_complete=s.roster_complete,
        status_reason=s.status_reason,
        status_changed_at=s.status_changed_at,
    )


def _site_input(data: c.MineSiteCreate) -> g.SiteInput:
    return g.SiteInput(
        code=data.code,
        name=data.name,
        geometry=g.parse_geojson_geometry(data.geometry, field="geometry"),
        site_kind=data.site_kind.value,
        mineral=data.mineral,
        closed_on=data.closed_on,
        closure_method=data.closure_method.value,
        status=data.status.value,
        signboard=data.signboard,
        signboard_text=data.signboard_text,
    )


def _member_input(role: c.RosterRoleName, data: c.RosterMemberSet) -> g.RosterMemberInput:
    return g.RosterMemberInput(
        role=role.value,
        user_id=data.user_id,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        duty_period=data.duty_period.value if data.duty_period else None,
        duty_checks=data.duty_checks,
    )


# -- controllers -----------------------------------------------------------------------------


class MineSiteController(Controller):
    path = "/geofence"
    tags = ["geofence"]  # noqa: RUF012

    @get("/mine-sites", operation_id="ListMineSites", summary="Closed-mine and dredging sites")
    async def list_sites(
        self,
        geofence: Geofence,
        principal: Caller,
        site_kind: FromQuery[c.SiteKindName | None] = None,
        status: FromQuery[c.MineStatusName | None] = None,
        incomplete_only: FromQuery[bool] = False,
    ) -> list[c.MineSite]:
        """Sites by code with rosters; ``incomplete_only`` lists sites missing a roster role."""
        sites = await geofence.list_mine_sites(
            principal,
            site_kind=site_kind.value if site_kind else None,
            status=status.value if status else None,
            incomplete_only=incomplete_only,
        )
        return [_site(s) for s in sites]

    @post("/mine-sites", operation_id="CreateMineSite", summary="Register a site (admin, captain)")
    async def create_site(
        self, data: JSONBody[c.MineSiteCreate], geofence: Geofence, principal: Caller
    ) -> c.MineSite:
        """A closed mine (polygon or point) or a removed dredging boat (point)."""
        return _site(await geofence.create_mine_site(principal, _site_input(data)))

    @get("/mine-sites/{site_id:uuid}", operation_id="GetMineSite", summary="One site")
    async def get_site(
        self, site_id: FromPath[uuid.UUID], geofence: Geofence, principal: Caller
    ) -> c.MineSite:
        """A site of the caller's county with its five-to-one roster."""
        return _site(await geofence.get_mine_site(principal, site_id))

    @put(
        "/mine-sites/{site_id:uuid}",
        operation_id="UpdateMineSite",
        summary="Replace a site's attributes and geometry (admin, captain)",
    )
    async def update_site(
        self,
        site_id: FromPath[uuid.UUID],
        data: JSONBody[c.MineSiteCreate],
        geofence: Geofence,
        principal: Caller,
    ) -> c.MineSite:
        """The full new state; every change makes a new register version."""
        return _site(await geofence.update_mine_site(principal, site_id, _site_input(data)))

    @post(
        "/mine-sites/{site_id:uuid}/status",
        operation_id="SetMineSiteStatus",
        status_code=HTTP_200_OK,
        summary="Record a site's status (admin, captain)",
    )
    async def set_status(
        self,
        site_id: FromPath[uuid.UUID],
        data: JSONBody[c.MineSiteStatusChange],
        geofence: Geofence,
        principal: Caller,
    ) -> c.MineSite:
        """closed / signs_of_reopening / reopened / remediated, with the reason."""
        site = await geofence.change_site_status(
            principal, site_id, data.status.value, reason=data.reason
        )
        return _site(site)

    @put(
        "/mine-sites/{site_id:uuid}/roster/{role:str}",
        operation_id="SetRosterMember",
        summary="Give a five-to-one role to a user or contact (admin, captain)",
    )
    async def set_member(
        self,
        site_id: FromPath[uuid.UUID],
        role: FromPath[c.RosterRoleName],
        data: JSONBody[c.RosterMemberSet],
        geofence: Geofence,
        principal: Caller,
    ) -> c.MineSite:
        """A user of the county, or an external contact with name and phone."""
        member = _member_input(role, data)
        return _site(await geofence.set_roster_member(principal, site_id, member))

    @delete(
        "/mine-sites/{site_id:uuid}/roster/{role:str}",
        operation_id="RemoveRosterMember",
        status_code=HTTP_200_OK,
        summary="Vacate a five-to-one role (admin, captain)",
    )
    async def remove_member(
        self,
        site_id: FromPath[uuid.UUID],
        role: FromPath[c.RosterRoleName],
        geofence: Geofence,
        principal: Caller,
    ) -> c.MineSite:
        """The site then reports an incomplete roster."""
        return _site(await geofence.remove_roster_member(principal, site_id, role.value))

    @get("/roster-report", operation_id="GetRosterReport", summary="Five-to-one completeness")
    async def roster_report(self, geofence: Geofence, principal: Caller) -> c.RosterReport:
        """How many sites have all five roles held, and the sites that do not."""
        report = await geofence.roster_report(principal)
        return c.RosterReport(
            total_sites=report.total_sites,
            complete=report.complete,
            incomplete=[_site(s) for s in report.incomplete],
        )
