"""Contract areas and their targets.

Captains and admins shape areas (geometry, grade, leader, members, places) and the targets a
patrol should reach; everyone reads the areas the read rule gives them. Inspectors record what
they found at a target (``RecordTargetVerification``), which returns to the target's record.
"""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.controllers.field_inputs import verification_input
from api.deps import Areas, Caller, Verifications
from api.mapping import to_wire, to_wire_list
from mobile_contract.v1 import patrol as c

__all__ = ["AreaController"]


class AreaController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/areas", operation_id="ListAreas", summary="Contract areas of the county")
    async def list_areas(
        self,
        areas: Areas,
        principal: Caller,
        mine_only: FromQuery[bool] = False,
        include_inactive: FromQuery[bool] = False,
    ) -> list[c.Area]:
        """By code: captains and admins every area, others the areas they lead or belong
        to; ``mine_only`` keeps the areas the caller leads or belongs to."""
        views = await areas.list_area_views(
            principal, mine_only=mine_only, include_inactive=include_inactive
        )
        return to_wire_list(c.Area, views)

    @post("/areas", operation_id="CreateArea", summary="Create a contract area (captain, admin)")
    async def create_area(
        self, data: JSONBody[c.AreaCreate], areas: Areas, principal: Caller
    ) -> c.Area:
        """A polygon, line or point in WGS84 with grade, leader, members and places."""
        view = await areas.create_area_view(
            principal,
            code=data.code,
            name=data.name,
            grade=data.grade,
            geometry=data.geometry,
            leader_id=data.leader_id,
            member_ids=data.member_ids,
            township_ids=data.township_ids,
            village_ids=data.village_ids,
        )
        return to_wire(c.Area, view)

    @get("/areas/{area_id:uuid}", operation_id="GetArea", summary="One contract area")
    async def get_area(
        self, area_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> c.Area:
        """An area of the caller's county with its members."""
        return to_wire(c.Area, await areas.get_area_view(principal, area_id))

    @patch(
        "/areas/{area_id:uuid}",
        operation_id="UpdateArea",
        summary="Change a contract area (captain, admin)",
    )
    async def update_area(
        self,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[c.AreaUpdate],
        areas: Areas,
        principal: Caller,
    ) -> c.Area:
        """Fields left out stay; ``memberIds`` replaces the team; ``active: false`` retires."""
        view = await areas.update_area_view(
            principal,
            area_id,
            name=data.name,
            grade=data.grade,
            geometry=data.geometry,
            leader_id=data.leader_id,
            member_ids=data.member_ids,
            township_ids=data.township_ids,
            village_ids=data.village_ids,
            active=data.active,
        )
        return to_wire(c.Area, view)

    @post(
        "/areas/{area_id:uuid}/targets",
        operation_id="AddTarget",
        summary="Add a target to an area (captain, admin)",
    )
    async def add_target(
        self,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[c.TargetCreate],
        areas: Areas,
        principal: Caller,
    ) -> c.Target:
        """A closed site, change polygon, tip-off or custom point, visited within a radius."""
        view = await areas.add_target_view(
            principal,
            area_id,
            kind=data.kind.value,
            name=data.name,
            lon=data.lon,
            lat=data.lat,
            visit_radius_m=data.visit_radius_m,
            ref_id=data.ref_id,
            due_on=data.due_on,
        )
        return to_wire(c.Target, view)

    @get(
        "/areas/{area_id:uuid}/targets",
        operation_id="ListTargets",
        summary="Active targets of an area",
    )
    async def list_targets(
        self, area_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> list[c.Target]:
        """By name."""
        return to_wire_list(c.Target, await areas.list_target_views(principal, area_id))

    @delete(
        "/targets/{target_id:uuid}",
        operation_id="DeactivateTarget",
        status_code=HTTP_204_NO_CONTENT,
        summary="Retire a target (captain, admin)",
    )
    async def deactivate_target(
        self, target_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> None:
        """The target leaves plans and coverage; past visits stay recorded."""
        await areas.deactivate_target(principal, target_id)

    @put(
        "/targets/{target_id:uuid}/verifications/{verification_id:uuid}",
        operation_id="RecordTargetVerification",
        summary="Record what was found at a target (the patrol's crew)",
    )
    async def record_target_verification(
        self,
        target_id: FromPath[uuid.UUID],
        verification_id: FromPath[uuid.UUID],
        data: JSONBody[c.TargetVerificationCreate],
        verifications: Verifications,
        principal: Caller,
    ) -> c.TargetVerification:
        """Idempotent by the phone's id; the latest result becomes the target's current one
        and is passed on to the record behind the target."""
        view = await verifications.record(
            principal, verification_input(target_id, verification_id, data)
        )
        return to_wire(c.TargetVerification, view)

    @get(
        "/targets/{target_id:uuid}/verifications",
        operation_id="ListTargetVerifications",
        summary="Verification results of a target",
    )
    async def list_target_verifications(
        self, target_id: FromPath[uuid.UUID], verifications: Verifications, principal: Caller
    ) -> list[c.TargetVerification]:
        """Newest first, the current one marked; captains, admins, the area's leader and
        members."""
        views = await verifications.list_verifications(principal, target_id)
        return to_wire_list(c.TargetVerification, views)
