"""Frequency rules and monthly plans.

Captains and admins set the rules (per area, per grade, for the county; seasonal) and edit an
area's plan for a month; leaders, members and a plan's inspectors read theirs (``GetMyPlan``).
Months are ``YYYY-MM`` in the county's time zone, this month when left out.
"""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.deps import PATROL_CONFIG, Caller, Plans
from api.mapping import to_wire
from mobile_contract.v1 import patrol as c
from patrol.field_models import FrequencyRule
from patrol.plans import PlanView, month_of

__all__ = ["PlanController"]


def _mmdd(value: str | None) -> int | None:
    """``MM-DD`` (the wire's season day) as the stored ``MMDD``."""
    return None if value is None else int(value.replace("-", ""))


def _day(value: int | None) -> str | None:
    """A stored ``MMDD`` as the wire's ``MM-DD``."""
    return None if value is None else f"{value // 100:02d}-{value % 100:02d}"


def _rule(r: FrequencyRule) -> c.FrequencyRule:
    return to_wire(
        c.FrequencyRule, r, season_start=_day(r.season_start), season_end=_day(r.season_end)
    )


def _plan(v: PlanView) -> c.Plan:
    return to_wire(c.Plan, v, month=f"{v.month:%Y-%m}")


class PlanController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/frequency-rules", operation_id="ListFrequencyRules", summary="Patrol frequency rules")
    async def list_rules(self, plans: Plans, principal: Caller) -> list[c.FrequencyRule]:
        """Every rule of the county by name."""
        return [_rule(r) for r in await plans.list_rules(principal)]

    @put(
        "/frequency-rules/{rule_id:uuid}",
        operation_id="SetFrequencyRule",
        summary="Create or replace a frequency rule (captain, admin)",
    )
    async def set_rule(
        self,
        rule_id: FromPath[uuid.UUID],
        data: JSONBody[c.FrequencyRuleSet],
        plans: Plans,
        principal: Caller,
    ) -> c.FrequencyRule:
        """The most specific rule in season wins: area, then grade, then county."""
        rule = await plans.set_frequency_rule(
            principal,
            rule_id=rule_id,
            name=data.name,
            area_id=data.area_id,
            grade=data.grade,
            season_start=_mmdd(data.season_start),
            season_end=_mmdd(data.season_end),
            min_per_month=data.min_per_month,
            min_per_week=data.min_per_week,
            min_night_per_month=data.min_night_per_month,
            min_night_per_week=data.min_night_per_week,
            priority=data.priority,
        )
        return _rule(rule)

    @delete(
        "/frequency-rules/{rule_id:uuid}",
        operation_id="DeleteFrequencyRule",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a frequency rule (captain, admin)",
    )
    async def delete_rule(
        self, rule_id: FromPath[uuid.UUID], plans: Plans, principal: Caller
    ) -> None:
        """Stored plans keep their numbers."""
        await plans.delete_rule(principal, rule_id)

    @get("/plans", operation_id="ListPlans", summary="Every area's plan for a month")
    async def list_plans(
        self, plans: Plans, principal: Caller, month: FromQuery[str | None] = None
    ) -> list[c.Plan]:
        """Stored plans, or what the rules ask where none is stored (``month``: YYYY-MM).
        Captains and admins get every area; others the plans they may read (as GetMyPlan)."""
        views = await plans.list_plans(principal, month_of(month, PATROL_CONFIG))
        return [_plan(v) for v in views]

    @get("/plans/mine", operation_id="GetMyPlan", summary="The caller's plans for a month")
    async def get_my_plan(
        self, plans: Plans, principal: Caller, month: FromQuery[str | None] = None
    ) -> list[c.Plan]:
        """Areas the caller leads, belongs to, or is assigned to by a plan; this month by
        default."""
        views = await plans.get_my_plan(principal, month_of(month, PATROL_CONFIG))
        return [_plan(v) for v in views]

    @get(
        "/areas/{area_id:uuid}/plans/{month:str}",
        operation_id="GetPlan",
        summary="An area's plan for a month",
    )
    async def get_plan(
        self, area_id: FromPath[uuid.UUID], month: FromPath[str], plans: Plans, principal: Caller
    ) -> c.Plan:
        """``month`` is YYYY-MM; derived from the rules when none is stored. For the area's
        leader and members, the plan's inspectors, captains and admins."""
        return _plan(await plans.get_plan(principal, area_id, month_of(month, PATROL_CONFIG)))

    @put(
        "/areas/{area_id:uuid}/plans/{month:str}",
        operation_id="UpsertPlan",
        summary="Create or edit an area's plan for a month (captain, admin)",
    )
    async def upsert_plan(
        self,
        area_id: FromPath[uuid.UUID],
        month: FromPath[str],
        data: JSONBody[c.PlanUpdate],
        plans: Plans,
        principal: Caller,
    ) -> c.Plan:
        """A new plan takes the rule in force, every active target and the area's team."""
        view = await plans.upsert_plan(
            principal,
            area_id,
            month_of(month, PATROL_CONFIG),
            quota=data.quota,
            min_per_week=data.min_per_week,
            min_night=data.min_night,
            min_night_per_week=data.min_night_per_week,
            target_ids=data.target_ids,
            inspector_ids=data.inspector_ids,
            note=data.note,
        )
        return _plan(view)
