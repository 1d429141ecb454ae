"""County administration: users, townships and villages (admins; reads for the county), the
county's settings in force (captains and admins), and counties themselves (platform admins
only)."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2.shape import to_shape
from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK
from shapely.geometry import mapping

from api.controllers.layers import MAX_LAYER_UPLOAD_BYTES
from api.deps import Accounts, Caller, Db, Org, Settings_
from api.mapping import to_wire
from infra.scope import Role
from mobile_contract.v1 import admin as c
from patrol import models as m
from patrol.county_settings import CountySettingsView, county_settings
from patrol.org import create_county, list_counties
from patrol.policy import Colleague, get_colleague, list_colleagues

__all__ = [
    "CountyController",
    "CountySettingsController",
    "TownshipController",
    "UserController",
    "VillageController",
]


def _geojson(geom: Any) -> dict[str, Any]:
    return dict(mapping(to_shape(geom)))


def _user(u: m.User) -> c.User:
    return to_wire(c.User, u)


def _colleague(colleague: Colleague) -> c.User:
    """A user as the directory shows them: the phone only where the policy allows."""
    return to_wire(c.User, colleague.user, phone=colleague.phone)


def _county(county: m.County) -> c.County:
    return to_wire(c.County, county, code=county.admin_code)


def _settings(v: CountySettingsView) -> c.CountySettings:
    d, p, s, r = v.tip_offs, v.procedure, v.satellite, v.reports
    return c.CountySettings(
        county_id=v.county_id,
        county_name=v.county_name,
        province_code=v.province_code,
        tip_offs=c.TipOffDeadlineSettings(
            decide_working_days=d.decide_days,
            verify_working_days=d.verify_days,
            feedback_working_days=d.feedback_days,
            duplicate_radius_m=v.duplicate_radius_m,
        ),
        procedure=to_wire(c.ProcedureFigures, p),
        satellite=to_wire(c.SatelliteSchedule, s),
        reports=to_wire(c.ReportSchedule, r, joint_meeting_members=list(r.joint_meeting_members)),
        layer_imports=c.LayerImportLimits(
            background_job_bytes=v.layer_import_job_bytes, max_upload_bytes=v.max_layer_upload_bytes
        ),
    )


def _township(t: m.Township) -> c.Township:
    return to_wire(c.Township, t, geometry=_geojson(t.geom))


def _village(v: m.Village) -> c.Village:
    return to_wire(c.Village, v, geometry=_geojson(v.geom))


class UserController(Controller):
    path = "/admin/users"
    tags = ["admin"]  # noqa: RUF012

    @get("", operation_id="ListUsers", summary="Users of the county the caller works with")
    async def list_users(
        self, db: Db, principal: Caller, role: FromQuery[c.RoleName | None] = None
    ) -> list[c.User]:
        """Captains and admins: every account of the county. Others: their colleagues (area
        teams, patrol crews); phone numbers only of those they share a patrol with."""
        rows = await list_colleagues(db, principal, role=Role(role) if role else None)
        return [_colleague(u) for u in rows]

    @post("", operation_id="CreateUser", summary="Create a user (admin)")
    async def create_user(
        self, data: JSONBody[c.UserCreate], accounts: Accounts, principal: Caller
    ) -> c.User:
        """A new account in the admin's county."""
        user = await accounts.create_user(
            principal,
            username=data.username,
            display_name=data.display_name,
            role=Role(data.role),
            password=data.password,
            phone=data.phone,
        )
        return _user(user)

    @get("/{user_id:uuid}", operation_id="GetUser", summary="One user")
    async def get_user(self, user_id: FromPath[uuid.UUID], db: Db, principal: Caller) -> c.User:
        """A user the caller may see (as in ``ListUsers``); others do not exist (404)."""
        return _colleague(await get_colleague(db, principal, user_id))

    @patch("/{user_id:uuid}", operation_id="UpdateUser", summary="Change or disable a user (admin)")
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[c.UserUpdate],
        accounts: Accounts,
        principal: Caller,
    ) -> c.User:
        """Disabling a user ends their access, refresh and device tokens at once; a role change
        ends their access and refresh tokens (device tokens go on, with the new role)."""
        user = await accounts.update_user(
            principal,
            user_id,
            display_name=data.display_name,
            role=Role(data.role) if data.role else None,
            phone=data.phone,
            active=data.active,
        )
        return _user(user)

    @post(
        "/{user_id:uuid}/password",
        operation_id="ResetPassword",
        status_code=HTTP_200_OK,
        summary="Set a new password (admin)",
    )
    async def reset_password(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[c.PasswordReset],
        accounts: Accounts,
        principal: Caller,
    ) -> c.User:
        """Sets the password and ends the user's access, refresh and device tokens at once."""
        return _user(await accounts.reset_password(principal, user_id, data.password))


class TownshipController(Controller):
    path = "/townships"
    tags = ["admin"]  # noqa: RUF012

    @get("", operation_id="ListTownships", summary="Townships of the county")
    async def list_townships(self, org: Org, principal: Caller) -> list[c.Township]:
        """Every township (and development park) of the caller's county."""
        return [_township(t) for t in await org.list_townships(principal)]

    @post("", operation_id="CreateTownship", summary="Add a township (admin)")
    async def create_township(
        self, data: JSONBody[c.TownshipCreate], org: Org, principal: Caller
    ) -> c.Township:
        """The boundary must be a valid Polygon or MultiPolygon in WGS84."""
        row = await org.create_township(
            principal, code=data.code, name=data.name, kind=data.kind, geometry=data.geometry
        )
        return _township(row)

    @get("/{township_id:uuid}", operation_id="GetTownship", summary="One township")
    async def get_township(
        self, township_id: FromPath[uuid.UUID], org: Org, principal: Caller
    ) -> c.Township:
        """A township of the caller's county."""
        return _township(await org.get_township(principal, township_id))

    @patch("/{township_id:uuid}", operation_id="UpdateTownship", summary="Change a township")
    async def update_township(
        self,
        township_id: FromPath[uuid.UUID],
        data: JSONBody[c.TownshipUpdate],
        org: Org,
        principal: Caller,
    ) -> c.Township:
        """Name, kind or boundary (admin)."""
        row = await org.update_township(
            principal, township_id, name=data.name, kind=data.kind, geometry=data.geometry
        )
        return _township(row)


class VillageController(Controller):
    path = "/villages"
    tags = ["admin"]  # noqa: RUF012

    @get("", operation_id="ListVillages", summary="Villages of the county")
    async def list_villages(
        self, org: Org, principal: Caller, township_id: FromQuery[uuid.UUID | None] = None
    ) -> list[c.Village]:
        """Every village of the caller's county, optionally of one township."""
        return [_village(v) for v in await org.list_villages(principal, township_id=township_id)]

    @post("", operation_id="CreateVillage", summary="Add a village (admin)")
    async def create_village(
        self, data: JSONBody[c.VillageCreate], org: Org, principal: Caller
    ) -> c.Village:
        """The village belongs to a township of the same county."""
        row = await org.create_village(
            principal,
            township_id=data.township_id,
            code=data.code,
            name=data.name,
            geometry=data.geometry,
        )
        return _village(row)

    @get("/{village_id:uuid}", operation_id="GetVillage", summary="One village")
    async def get_village(
        self, village_id: FromPath[uuid.UUID], org: Org, principal: Caller
    ) -> c.Village:
        """A village of the caller's county."""
        return _village(await org.get_village(principal, village_id))

    @patch("/{village_id:uuid}", operation_id="UpdateVillage", summary="Change a village")
    async def update_village(
        self,
        village_id: FromPath[uuid.UUID],
        data: JSONBody[c.VillageUpdate],
        org: Org,
        principal: Caller,
    ) -> c.Village:
        """Name or boundary (admin)."""
        row = await org.update_village(
            principal, village_id, name=data.name, geometry=data.geometry
        )
        return _village(row)


class CountySettingsController(Controller):
    path = "/county-settings"
    tags = ["admin"]  # noqa: RUF012

    @get("", operation_id="GetCountySettings", summary="Deadlines and thresholds in force")
    async def get_settings(
        self, db: Db, principal: Caller, settings: Settings_
    ) -> c.CountySettings:
        """Captains and admins: the working-day limits of 12336 clues (the county's province),
        the penalty procedure's figures, the satellite schedule and threshold, when reports
        are due, and the layer import limits. Read-only: they are the server's settings.
        Others: 403 ``role_not_allowed``."""
        view = await county_settings(
            db, principal, settings, max_layer_upload_bytes=MAX_LAYER_UPLOAD_BYTES
        )
        return _settings(view)


class CountyController(Controller):
    """Counties are tenants: only admins named in ``PATROL_PLATFORM_ADMINS`` reach these."""

    path = "/admin/counties"
    tags = ["admin"]  # noqa: RUF012

    @get("", operation_id="ListCounties", summary="Every county (platform admins)")
    async def list_counties(self, db: Db, principal: Caller, settings: Settings_) -> list[c.County]:
        """Every county on this server, by admin code."""
        rows = await list_counties(
            db, principal=principal, platform_admins=settings.auth.platform_admins
        )
        return [_county(row) for row in rows]

    @post("", operation_id="CreateCounty", summary="Create a county (platform admins)")
    async def create_county(
        self, data: JSONBody[c.CountyCreate], db: Db, principal: Caller, settings: Settings_
    ) -> c.County:
        """A new county with its boundary (a GeoJSON Polygon or MultiPolygon, WGS84 unless
        ``crs`` says otherwise); its first admin is then created with the ``patrol`` command.
        A code already used is 409 ``duplicate_county``."""
        row = await create_county(
            db,
            admin_code=data.code,
            name=data.name,
            province_code=data.province_code,
            boundary=data.boundary,
            crs=data.crs,
            principal=principal,
            platform_admins=settings.auth.platform_admins,
        )
        return _county(row)
