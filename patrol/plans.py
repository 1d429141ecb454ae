"""Frequency rules as data, and monthly plans per contract area (``GetMyPlan``).

A requirement for an area and month comes from, in order: the stored monthly plan; the most
specific frequency rule in season (area rule, then grade rule, then county rule; ties by
priority); the built-in default of :class:`patrol.config.PatrolConfig` (4 a month, 1 a week).
Weekly minimums are checked per Monday-first week with the rule in season on that Monday.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import Principal, scoped
from patrol._access import MANAGERS, load_area, require_manager
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    NotAreaMemberError,
    RuleNotFoundError,
)
from patrol.field_models import (
    AreaMember,
    ContractArea,
    FrequencyRule,
    MonthlyPlan,
    PatrolTarget,
    PlanInspector,
)
from patrol.policy import AREA_READ, PLAN_READ, may_read, read_clause
from patrol.verification import VerificationService

__all__ = [
    "PlanService",
    "PlanTarget",
    "PlanView",
    "Requirement",
    "first_of_month",
    "month_of",
    "resolve_requirement",
    "rule_applies",
]


@dataclass(frozen=True, slots=True)
class Requirement:
    """Minimum patrols; ``source`` is ``plan``, ``rule`` or ``default``."""

    min_per_month: int
    min_per_week: int
    min_night_per_month: int = 0
    min_night_per_week: int = 0
    source: str = "default"
    rule_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PlanTarget:
    id: uuid.UUID
    kind: str
    name: str
    lon: float
    lat: float
    visit_radius_m: float
    ref_id: uuid.UUID | None
    due_on: date | None = None
    #: due before today (county-local) and without a verification result yet
    overdue: bool = False


@dataclass(slots=True)
class PlanView:
    """An area's plan for a month; ``plan_id`` is ``None`` when derived from the rules only."""

    plan_id: uuid.UUID | None
    area_id: uuid.UUID
    area_code: str
    area_name: str
    grade: int
    month: date
    requirement: Requirement
    targets: list[PlanTarget] = field(default_factory=list)
    inspector_ids: list[uuid.UUID] = field(default_factory=list)
    note: str = ""


def first_of_month(month: date) -> date:
    return month.replace(day=1)


def month_of(value: str | None, config: PatrolConfig) -> date:
    """``YYYY-MM`` as the first of the month; none means this month in the county."""
    if value is None:
        return utcnow().astimezone(config.tz).date().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise InvalidPatrolInputError(
            "month must look like 2026-11", code=codes.INVALID_MONTH, field="month"
        ) from None


def _mmdd(day: date) -> int:
    return day.month * 100 + day.day


def rule_applies(rule: FrequencyRule, day: date) -> bool:
    """Is ``day`` inside the rule's season (inclusive; a season may wrap over New Year)?"""
    if rule.season_start is None or rule.season_end is None:
        return True
    md = _mmdd(day)
    if rule.season_start <= rule.season_end:
        return rule.season_start <= md <= rule.season_end
    return md >= rule.season_start or md <= rule.season_end


def resolve_requirement(
    rules: Sequence[FrequencyRule], area: ContractArea, day: date, config: PatrolConfig
) -> Requirement:
    """The rule in force for ``area`` on ``day`` (most specific, then highest priority)."""
    best: tuple[int, int, FrequencyRule] | None = None
    for rule in rules:
        if rule.area_id is not None and rule.area_id != area.id:
            continue
        if rule.grade is not None and rule.grade != area.grade:
            continue
        if not rule_applies(rule, day):
            continue
        specificity = 2 if rule.area_id is not None else 1 if rule.grade is not None else 0
        key = (specificity, rule.priority, rule)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return Requirement(config.default_min_per_month, config.default_min_per_week)
    rule = best[2]
    return Requirement(
        rule.min_per_month,
        rule.min_per_week,
        rule.min_night_per_month,
        rule.min_night_per_week,
        source="rule",
        rule_id=rule.id,
    )


def _check_season(value: int | None, name: str) -> None:
    if value is None:
        return
    month, day = divmod(value, 100)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise InvalidPatrolInputError(
            f"{name} must be a month-day like 0401", code=codes.INVALID_RULE, field=name
        )


def _check_counts(**counts: int | None) -> None:
    for name, value in counts.items():
        if value is not None and not 0 <= value <= 100:
            raise InvalidPatrolInputError(
                f"{name} must be between 0 and 100", code=codes.INVALID_RULE, field=name
            )


class PlanService:
    """Rules and plans: captains and admins write, everyone in the county reads."""

    def __init__(
        self,
        db: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the server's time, whose county-local day tells which targets are
        overdue (tests fix it)."""
        self.db = db
        self.config = config or PatrolConfig()
        self.clock = clock

    # -- rules -------------------------------------------------------------------------------
    async def set_frequency_rule(
        self,
        principal: Principal,
        *,
        name: str,
        rule_id: uuid.UUID | None = None,
        area_id: uuid.UUID | None = None,
        grade: int | None = None,
        season_start: int | None = None,
        season_end: int | None = None,
        min_per_month: int = 4,
        min_per_week: int = 1,
        min_night_per_month: int = 0,
        min_night_per_week: int = 0,
        priority: int = 0,
    ) -> FrequencyRule:
        """Create a rule, or replace rule ``rule_id``. Seasons are month-days (``0401``)."""
        require_manager(principal, "change frequency rules")
        if (season_start is None) != (season_end is None):
            raise InvalidPatrolInputError(
                "a season needs both a start and an end",
                code=codes.INVALID_RULE,
                field="season_end",
            )
        _check_season(season_start, "season_start")
        _check_season(season_end, "season_end")
        _check_counts(
            min_per_month=min_per_month,
            min_per_week=min_per_week,
            min_night_per_month=min_night_per_month,
            min_night_per_week=min_night_per_week,
        )
        if grade is not None and grade not in (1, 2, 3):
            raise InvalidPatrolInputError(
                "grade must be 1, 2 or 3", code=codes.INVALID_RULE, field="grade"
            )
        if area_id is not None:
            await load_area(self.db, principal, area_id)
        rule: FrequencyRule | None = None
        if rule_id is not None:
            stmt = scoped(select(FrequencyRule), FrequencyRule, principal).where(
                FrequencyRule.id == rule_id
            )
            rule = (await self.db.execute(stmt)).scalar_one_or_none()
        if rule is None:
            if rule_id is not None and await self.db.get(FrequencyRule, rule_id) is not None:
                raise IdReusedError("this rule id is already used", rule_id=str(rule_id))
            rule = FrequencyRule(county_id=principal.county_id)
            if rule_id is not None:
                rule.id = rule_id
            self.db.add(rule)
        rule.name, rule.area_id, rule.grade = name, area_id, grade
        rule.season_start, rule.season_end = season_start, season_end
        rule.min_per_month, rule.min_per_week = min_per_month, min_per_week
        rule.min_night_per_month, rule.min_night_per_week = min_night_per_month, min_night_per_week
        rule.priority = priority
        await self.db.flush()
        return rule

    async def list_rules(self, principal: Principal) -> Sequence[FrequencyRule]:
        stmt = scoped(select(FrequencyRule), FrequencyRule, principal).order_by(
            FrequencyRule.name, FrequencyRule.id
        )
        return (await self.db.execute(stmt)).scalars().all()

    async def delete_rule(self, principal: Principal, rule_id: uuid.UUID) -> None:
        """Delete a rule; an unknown id (or another county's) is ``rule_not_found``."""
        require_manager(principal, "change frequency rules")
        result = await self.db.execute(
            delete(FrequencyRule)
            .where(FrequencyRule.id == rule_id, FrequencyRule.county_id == principal.county_id)
            .returning(FrequencyRule.id)
        )
        if result.scalar_one_or_none() is None:
            raise RuleNotFoundError("frequency rule not found", rule_id=str(rule_id))

    async def requirement_for(
        self, principal: Principal, area_id: uuid.UUID, day: date
    ) -> Requirement:
        """The rule in force for an area on a day (ignoring any stored plan)."""
        area = await load_area(self.db, principal, area_id)
        return resolve_requirement(await self.list_rules(principal), area, day, self.config)

    # -- plans -------------------------------------------------------------------------------
    async def upsert_plan(
        self,
        principal: Principal,
        area_id: uuid.UUID,
        month: date,
        *,
        quota: int | None = None,
        min_per_week: int | None = None,
        min_night: int | None = None,
        min_night_per_week: int | None = None,
        target_ids: Sequence[uuid.UUID] | None = None,
        inspector_ids: Sequence[uuid.UUID] | None = None,
        note: str | None = None,
    ) -> PlanView:
        """Create or edit the plan of an area for a month (captain or admin).

        Missing numbers come from the rule in force on the 1st; a new plan lists every
        active target of the area and its leader and members unless told otherwise.
        """
        require_manager(principal, "edit patrol plans")
        _check_counts(
            quota=quota,
            min_per_week=min_per_week,
            min_night=min_night,
            min_night_per_week=min_night_per_week,
        )
        month = first_of_month(month)
        area = await load_area(self.db, principal, area_id)
        plan = await self._plan_row(principal, area.id, month)
        if plan is None:
            req = resolve_requirement(await self.list_rules(principal), area, month, self.config)
            plan = MonthlyPlan(
                county_id=principal.county_id,
                area_id=area.id,
                month=month,
                quota=req.min_per_month,
                min_per_week=req.min_per_week,
                min_night=req.min_night_per_month,
                min_night_per_week=req.min_night_per_week,
                target_ids=await self._area_target_ids(area.id),
                note="",
            )
            self.db.add(plan)
            await self.db.flush()
            if inspector_ids is None:
                inspector_ids = await self._area_people(area)
        await self._apply(
            principal,
            plan,
            area,
            quota=quota,
            min_per_week=min_per_week,
            min_night=min_night,
            min_night_per_week=min_night_per_week,
            target_ids=target_ids,
            inspector_ids=inspector_ids,
            note=note,
        )
        return await self._view(principal, area, month, plan)

    async def _apply(
        self,
        principal: Principal,
        plan: MonthlyPlan,
        area: ContractArea,
        *,
        quota: int | None,
        min_per_week: int | None,
        min_night: int | None,
        min_night_per_week: int | None,
        target_ids: Sequence[uuid.UUID] | None,
        inspector_ids: Sequence[uuid.UUID] | None,
        note: str | None,
    ) -> None:
        if quota is not None:
            plan.quota = quota
        if min_per_week is not None:
            plan.min_per_week = min_per_week
        if min_night is not None:
            plan.min_night = min_night
        if min_night_per_week is not None:
            plan.min_night_per_week = min_night_per_week
        if note is not None:
            plan.note = note
        if target_ids is not None:
            known = set(await self._area_target_ids(area.id))
            if unknown := [t for t in target_ids if t not in known]:
                raise InvalidPatrolInputError(
                    "targets must be active targets of the area",
                    code=codes.UNKNOWN_TARGET,
                    target_ids=[str(t) for t in unknown],
                )
            plan.target_ids = list(dict.fromkeys(target_ids))
        plan.updated_by = principal.user_id
        if inspector_ids is not None:
            await AreaService(self.db, config=self.config)._check_people(principal, inspector_ids)
            await self.db.execute(delete(PlanInspector).where(PlanInspector.plan_id == plan.id))
            for user_id in dict.fromkeys(inspector_ids):
                self.db.add(
                    PlanInspector(county_id=principal.county_id, plan_id=plan.id, user_id=user_id)
                )
        await self.db.flush()

    async def get_plan(self, principal: Principal, area_id: uuid.UUID, month: date) -> PlanView:
        """The plan of an area for a month; derived from the rules when none is stored.
        Read by who reads the area, or the stored plan (:data:`patrol.policy.PLAN_READ`)."""
        area = await load_area(self.db, principal, area_id)
        month = first_of_month(month)
        row = await self._plan_row(principal, area.id, month)
        rule, record = (AREA_READ, area.id) if row is None else (PLAN_READ, row.id)
        if not await may_read(self.db, principal, rule, record):
            raise NotAreaMemberError(
                "you are not the leader or a member of this contract area", area_id=str(area.id)
            )
        return await self._view(principal, area, month, row)

    async def list_plans(self, principal: Principal, month: date) -> list[PlanView]:
        """Every active area's plan for a month (stored or derived), of the areas and plans
        the caller may read: captains and admins every area, others as :meth:`get_my_plan`."""
        month = first_of_month(month)
        if not principal.has_role(*MANAGERS):
            return await self.get_my_plan(principal, month)
        areas = await AreaService(self.db, config=self.config).list_areas(principal)
        return [
            await self._view(principal, a, month, await self._plan_row(principal, a.id, month))
            for a in areas
        ]

    async def get_my_plan(self, principal: Principal, month: date) -> list[PlanView]:
        """The caller's plans for a month (``GetMyPlan``): areas they lead, belong to, or are
        assigned to by a plan. Captains and admins get every area."""
        month = first_of_month(month)
        if principal.has_role(*MANAGERS):
            return await self.list_plans(principal, month)
        assigned = select(MonthlyPlan.area_id).where(
            MonthlyPlan.month == month,
            read_clause(PLAN_READ, MonthlyPlan.__tablename__, principal),
        )
        stmt = (
            scoped(select(ContractArea), ContractArea, principal)
            .where(
                ContractArea.active,
                or_(
                    read_clause(AREA_READ, ContractArea.__tablename__, principal),
                    ContractArea.id.in_(assigned),
                ),
            )
            .order_by(ContractArea.code)
        )
        areas = (await self.db.execute(stmt)).scalars().all()
        return [
            await self._view(principal, a, month, await self._plan_row(principal, a.id, month))
            for a in areas
        ]

    # -- helpers -----------------------------------------------------------------------------
    async def _plan_row(
        self, principal: Principal, area_id: uuid.UUID, month: date
    ) -> MonthlyPlan | None:
        stmt = scoped(select(MonthlyPlan), MonthlyPlan, principal).where(
            MonthlyPlan.area_id == area_id, MonthlyPlan.month == month
        )
        return (await self.db.execute(stmt)).scalar_one_or_none()

    async def _area_target_ids(self, area_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = (
            select(PatrolTarget.id)
            .where(PatrolTarget.area_id == area_id, PatrolTarget.active)
            .order_by(PatrolTarget.name, PatrolTarget.id)
        )
        return list((await self.db.execute(stmt)).scalars().all())

    async def _area_people(self, area: ContractArea) -> list[uuid.UUID]:
        stmt = select(AreaMember.user_id).where(AreaMember.area_id == area.id)
        members = sorted((await self.db.execute(stmt)).scalars().all())
        return [area.leader_id, *[m for m in members if m != area.leader_id]]

    async def _view(
        self, principal: Principal, area: ContractArea, month: date, plan: MonthlyPlan | None
    ) -> PlanView:
        targets = await AreaService(self.db, config=self.config).list_targets(
            principal, area.id, readable_only=False
        )
        due = [t.id for t, _, _ in targets if t.due_on is not None]
        verified = await VerificationService(self.db, config=self.config).current_target_ids(
            principal, due
        )
        today = self.clock().astimezone(self.config.tz).date()

        def _plan_target(t: PatrolTarget, lon: float, lat: float) -> PlanTarget:
            overdue = t.due_on is not None and t.due_on < today and t.id not in verified
            return PlanTarget(
                t.id, t.kind, t.name, lon, lat, t.visit_radius_m, t.ref_id, t.due_on, overdue
            )

        if plan is None:
            req = resolve_requirement(await self.list_rules(principal), area, month, self.config)
            return PlanView(
                plan_id=None,
                area_id=area.id,
                area_code=area.code,
                area_name=area.name,
                grade=area.grade,
                month=month,
                requirement=req,
                targets=[_plan_target(t, x, y) for t, x, y in targets],
                inspector_ids=await self._area_people(area),
            )
        wanted = set(plan.target_ids)
        stmt = select(PlanInspector.user_id).where(PlanInspector.plan_id == plan.id)
        inspectors = sorted((await self.db.execute(stmt)).scalars().all())
        return PlanView(
            plan_id=plan.id,
            area_id=area.id,
            area_code=area.code,
            area_name=area.name,
            grade=area.grade,
            month=month,
            requirement=Requirement(
                plan.quota,
                plan.min_per_week,
                plan.min_night,
                plan.min_night_per_week,
                source="plan",
            ),
            targets=[_plan_target(t, x, y) for t, x, y in targets if t.id in wanted],
            inspector_ids=inspectors,
            note=plan.note,
        )
