"""Contract areas (片区): geometry, grade, townships and villages, leader, members, targets."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import InvalidInputError
from infra.geometry import check_lon_lat, parse_geometry
from infra.scope import Principal, scoped
from patrol._access import load_area, load_readable_area, require_manager
from patrol.config import PatrolConfig
from patrol.errors import DuplicateCodeError, InvalidPatrolInputError, TargetNotFoundError
from patrol.field_models import AreaMember, ContractArea, MonthlyPlan, PatrolTarget
from patrol.models import Township, User, Village
from patrol.policy import AREA_READ, TARGET_READ, read_clause

__all__ = [
    "TARGET_KINDS",
    "AreaService",
    "AreaView",
    "TargetView",
    "nearest_area_of",
    "parse_area_geometry",
]

_P = ParamSpec("_P")

TARGET_KINDS = ("mine_site", "change_polygon", "tip_off", "custom")
_GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
    }
)


def parse_area_geometry(obj: Any, *, field: str = "geometry") -> BaseGeometry:
    """A GeoJSON polygon, line or point (WGS84) as a valid Shapely geometry, or a 422."""
    return parse_geometry(obj, field=field, types=_GEOMETRY_TYPES)


async def nearest_area_of(
    session: AsyncSession, principal: Principal, inspector_id: uuid.UUID, point_wkt: str
) -> uuid.UUID | None:
    """The active area of the caller's county that ``inspector_id`` leads or belongs to,
    nearest the WGS84 point ``point_wkt`` (ties by code); None when he is on none. Where work
    sent to an inspector by name (a clue, a satellite polygon) goes in his plans."""
    here = func.ST_GeomFromText(point_wkt, 4326)
    member = select(AreaMember.area_id).where(AreaMember.user_id == inspector_id)
    area_id: uuid.UUID | None = await session.scalar(
        scoped(select(ContractArea.id), ContractArea, principal)
        .where(
            ContractArea.active,
            or_(ContractArea.leader_id == inspector_id, ContractArea.id.in_(member)),
        )
        .order_by(func.ST_Distance(ContractArea.geom, here), ContractArea.code)
        .limit(1)
    )
    return area_id


@dataclass(frozen=True, slots=True)
class AreaView:
    """An area as the API shows it: GeoJSON geometry (WGS84), its members besides the leader."""

    id: uuid.UUID
    code: str
    name: str
    grade: int
    geometry: dict[str, Any]
    leader_id: uuid.UUID
    member_ids: list[uuid.UUID]
    township_ids: list[uuid.UUID]
    village_ids: list[uuid.UUID]
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TargetView:
    """A target with its position as lon/lat."""

    id: uuid.UUID
    area_id: uuid.UUID
    kind: str
    name: str
    lon: float
    lat: float
    visit_radius_m: float
    ref_id: uuid.UUID | None
    active: bool
    due_on: date | None = None

    @classmethod
    def of(cls, target: PatrolTarget, lon: float, lat: float) -> TargetView:
        return cls(
            id=target.id,
            area_id=target.area_id,
            kind=target.kind,
            name=target.name,
            lon=lon,
            lat=lat,
            visit_radius_m=target.visit_radius_m,
            ref_id=target.ref_id,
            active=target.active,
            due_on=target.due_on,
        )


def _viewed(
    method: Callable[Concatenate[AreaService, Principal, _P], Awaitable[ContractArea]],
) -> Callable[Concatenate[AreaService, Principal, _P], Awaitable[AreaView]]:
    """``method`` answering with the area's :class:`AreaView` instead of the row."""

    async def viewed(
        self: AreaService, principal: Principal, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> AreaView:
        area = await method(self, principal, *args, **kwargs)
        return (await self.area_views(principal, [area]))[0]

    viewed.__doc__ = f"{method.__doc__ or ''} As an :class:`AreaView`."
    return viewed


class AreaService:
    """Captains and admins shape areas; everyone in the county can read them."""

    def __init__(self, db: AsyncSession, *, config: PatrolConfig | None = None) -> None:
        self.db = db
        self.config = config or PatrolConfig()

    async def create_area(
        self,
        principal: Principal,
        *,
        code: str,
        name: str,
        grade: int,
        geometry: dict[str, Any],
        leader_id: uuid.UUID,
        member_ids: Sequence[uuid.UUID] = (),
        township_ids: Sequence[uuid.UUID] = (),
        village_ids: Sequence[uuid.UUID] = (),
    ) -> ContractArea:
        """Create a contract area with its leader and members (captain or admin)."""
        require_manager(principal, "change contract areas")
        _check_grade(grade)
        geom = parse_area_geometry(geometry)
        stmt = scoped(select(ContractArea.id), ContractArea, principal).where(
            ContractArea.code == code
        )
        if (await self.db.execute(stmt)).first() is not None:
            raise DuplicateCodeError(f"an area with code {code!r} exists", field="code")
        await self._check_people(principal, [leader_id, *member_ids])
        await self._check_places(principal, township_ids, village_ids)
        area = ContractArea(
            county_id=principal.county_id,
            code=code,
            name=name,
            grade=grade,
            geom=from_shape(geom, srid=4326),
            leader_id=leader_id,
            township_ids=list(township_ids),
            village_ids=list(village_ids),
            active=True,
        )
        self.db.add(area)
        await self.db.flush()
        await self._set_members(principal, area, member_ids)
        return area

    async def update_area(
        self,
        principal: Principal,
        area_id: uuid.UUID,
        *,
        name: str | None = None,
        grade: int | None = None,
        geometry: dict[str, Any] | None = None,
        leader_id: uuid.UUID | None = None,
        member_ids: Sequence[uuid.UUID] | None = None,
        township_ids: Sequence[uuid.UUID] | None = None,
        village_ids: Sequence[uuid.UUID] | None = None,
        active: bool | None = None,
    ) -> ContractArea:
        """Change an area; ``None`` leaves a field as it is, ``member_ids`` replaces the team."""
        require_manager(principal, "change contract areas")
        area = await load_area(self.db, principal, area_id)
        if name is not None:
            area.name = name
        if grade is not None:
            _check_grade(grade)
            area.grade = grade
        if geometry is not None:
            area.geom = from_shape(parse_area_geometry(geometry), srid=4326)
        if leader_id is not None:
            await self._check_people(principal, [leader_id])
            area.leader_id = leader_id
        if township_ids is not None or village_ids is not None:
            await self._check_places(principal, township_ids or (), village_ids or ())
            if township_ids is not None:
                area.township_ids = list(township_ids)
            if village_ids is not None:
                area.village_ids = list(village_ids)
        if active is not None:
            area.active = active
        if member_ids is not None:
            await self._check_people(principal, member_ids)
            await self._set_members(principal, area, member_ids)
        await self.db.flush()
        return area

    async def get_area(self, principal: Principal, area_id: uuid.UUID) -> ContractArea:
        """An area the caller may read (:data:`patrol.policy.AREA_READ`)."""
        return await load_readable_area(self.db, principal, area_id)

    async def list_areas(
        self, principal: Principal, *, mine_only: bool = False, include_inactive: bool = False
    ) -> Sequence[ContractArea]:
        """Areas of the county the caller may read (:data:`patrol.policy.AREA_READ`);
        ``mine_only``: those the caller leads or belongs to (for managers too)."""
        stmt = (
            scoped(select(ContractArea), ContractArea, principal)
            .where(read_clause(AREA_READ, ContractArea.__tablename__, principal))
            .order_by(ContractArea.code)
        )
        if not include_inactive:
            stmt = stmt.where(ContractArea.active)
        if mine_only:
            member = select(AreaMember.area_id).where(AreaMember.user_id == principal.user_id)
            stmt = stmt.where(
                (ContractArea.leader_id == principal.user_id) | ContractArea.id.in_(member)
            )
        return (await self.db.execute(stmt)).scalars().all()

    async def list_members(self, principal: Principal, area_id: uuid.UUID) -> list[uuid.UUID]:
        area = await load_readable_area(self.db, principal, area_id)
        stmt = select(AreaMember.user_id).where(AreaMember.area_id == area.id)
        return sorted((await self.db.execute(stmt)).scalars().all())

    async def member_ids_of(
        self, principal: Principal, area_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Members (not the leader) of each of ``area_ids`` in the caller's county, in one
        query."""
        out: dict[uuid.UUID, list[uuid.UUID]] = {a: [] for a in area_ids}
        if not area_ids:
            return out
        stmt = (
            scoped(select(AreaMember.area_id, AreaMember.user_id), AreaMember, principal)
            .where(AreaMember.area_id.in_(list(area_ids)))
            .order_by(AreaMember.user_id)
        )
        for area_id, user_id in (await self.db.execute(stmt)).all():
            out[area_id].append(user_id)
        return out

    # -- views (what the API shows) -----------------------------------------------------------
    async def area_views(
        self, principal: Principal, areas: Sequence[ContractArea]
    ) -> list[AreaView]:
        """``areas`` with their GeoJSON geometry and members (one query for all)."""
        members = await self.member_ids_of(principal, [a.id for a in areas])
        return [
            AreaView(
                id=a.id,
                code=a.code,
                name=a.name,
                grade=a.grade,
                geometry=dict(mapping(_shape(a.geom))),
                leader_id=a.leader_id,
                member_ids=members.get(a.id, []),
                township_ids=list(a.township_ids or []),
                village_ids=list(a.village_ids or []),
                active=a.active,
                created_at=a.created_at,
                updated_at=a.updated_at,
            )
            for a in areas
        ]

    async def list_area_views(
        self, principal: Principal, *, mine_only: bool = False, include_inactive: bool = False
    ) -> list[AreaView]:
        """:meth:`list_areas` as :class:`AreaView` s."""
        rows = await self.list_areas(
            principal, mine_only=mine_only, include_inactive=include_inactive
        )
        return await self.area_views(principal, rows)

    create_area_view = _viewed(create_area)
    update_area_view = _viewed(update_area)
    get_area_view = _viewed(get_area)

    async def add_target_view(
        self,
        principal: Principal,
        area_id: uuid.UUID,
        *,
        kind: str,
        name: str,
        lon: float,
        lat: float,
        visit_radius_m: float | None = None,
        ref_id: uuid.UUID | None = None,
        due_on: date | None = None,
    ) -> TargetView:
        """:meth:`add_target` as a :class:`TargetView` (its position as stored)."""
        target = await self.add_target(
            principal,
            area_id,
            kind=kind,
            name=name,
            lon=lon,
            lat=lat,
            visit_radius_m=visit_radius_m,
            ref_id=ref_id,
            due_on=due_on,
        )
        point = _shape(target.geom)
        return TargetView.of(target, float(point.x), float(point.y))

    async def list_target_views(self, principal: Principal, area_id: uuid.UUID) -> list[TargetView]:
        """Active targets of an area the caller may read, by name."""
        return [TargetView.of(t, x, y) for t, x, y in await self.list_targets(principal, area_id)]

    async def add_target(
        self,
        principal: Principal,
        area_id: uuid.UUID,
        *,
        kind: str,
        name: str,
        lon: float,
        lat: float,
        visit_radius_m: float | None = None,
        ref_id: uuid.UUID | None = None,
        target_id: uuid.UUID | None = None,
        due_on: date | None = None,
    ) -> PatrolTarget:
        """Add a target a patrol of this area should reach within ``visit_radius_m``;
        ``due_on``: the county-local day by which it should be verified
        (:mod:`patrol.verification`), shown in plans (overdue after it) and on phones."""
        require_manager(principal, "change patrol targets")
        area = await load_area(self.db, principal, area_id)
        if kind not in TARGET_KINDS:
            raise InvalidPatrolInputError(
                f"kind must be one of {', '.join(TARGET_KINDS)}",
                code=codes.INVALID_TARGET_KIND,
                field="kind",
            )
        check_lon_lat(lon, lat)
        radius = self.config.default_visit_radius_m if visit_radius_m is None else visit_radius_m
        if not (math.isfinite(radius) and 0 < radius <= 10_000):
            raise InvalidPatrolInputError(
                "visit radius must be in (0, 10000] m",
                code=codes.INVALID_RADIUS,
                field="visit_radius_m",
            )
        target = PatrolTarget(
            county_id=principal.county_id,
            area_id=area.id,
            kind=kind,
            name=name,
            geom=from_shape(Point(lon, lat), srid=4326),
            visit_radius_m=radius,
            ref_id=ref_id,
            active=True,
            due_on=due_on,
        )
        if target_id is not None:
            target.id = target_id
        self.db.add(target)
        await self.db.flush()
        if due_on is not None:
            await self._into_plans(area.id, target.id, due_on)
        return target

    async def _into_plans(self, area_id: uuid.UUID, target_id: uuid.UUID, due_on: date) -> None:
        """Work with a due date reaches the plans it falls in: the area's stored plans from
        this month to the due month list the target (REST plans and the phones' plan records
        both read that list; a month without a stored plan lists every target anyway)."""
        today = utcnow().astimezone(self.config.tz).date().replace(day=1)
        last = max(today, due_on.replace(day=1))
        await self.db.execute(
            update(MonthlyPlan)
            .where(
                MonthlyPlan.area_id == area_id,
                MonthlyPlan.month >= today,
                MonthlyPlan.month <= last,
                not_(MonthlyPlan.target_ids.any_() == target_id),
            )
            .values(target_ids=func.array_append(MonthlyPlan.target_ids, target_id))
        )

    async def list_targets(
        self,
        principal: Principal,
        area_id: uuid.UUID | None = None,
        *,
        readable_only: bool = True,
    ) -> list[tuple[PatrolTarget, float, float]]:
        """Active targets (of one area, or the county) with their lon/lat; those the caller
        may read (:data:`patrol.policy.TARGET_READ`) unless the caller's right to them was
        established otherwise (``readable_only=False``: a plan's reader sees its targets)."""
        stmt = (
            scoped(
                select(PatrolTarget, func.ST_X(PatrolTarget.geom), func.ST_Y(PatrolTarget.geom)),
                PatrolTarget,
                principal,
            )
            .where(PatrolTarget.active)
            .order_by(PatrolTarget.name, PatrolTarget.id)
        )
        if readable_only:
            stmt = stmt.where(read_clause(TARGET_READ, PatrolTarget.__tablename__, principal))
        if area_id is not None:
            if readable_only:
                await load_readable_area(self.db, principal, area_id)
            else:
                await load_area(self.db, principal, area_id)
            stmt = stmt.where(PatrolTarget.area_id == area_id)
        return [(t, float(x), float(y)) for t, x, y in (await self.db.execute(stmt)).all()]

    async def deactivate_target(self, principal: Principal, target_id: uuid.UUID) -> None:
        require_manager(principal, "change patrol targets")
        stmt = scoped(select(PatrolTarget), PatrolTarget, principal).where(
            PatrolTarget.id == target_id
        )
        target = (await self.db.execute(stmt)).scalar_one_or_none()
        if target is None:
            raise TargetNotFoundError("target not found", target_id=str(target_id))
        target.active = False
        await self.db.flush()

    # -- helpers -----------------------------------------------------------------------------
    async def _check_people(self, principal: Principal, ids: Sequence[uuid.UUID]) -> None:
        wanted = set(ids)
        if not wanted:
            return
        stmt = scoped(select(User.id), User, principal).where(User.id.in_(wanted))
        found = set((await self.db.execute(stmt)).scalars().all())
        if missing := wanted - found:
            raise InvalidInputError(
                "unknown users for this county",
                code=codes.UNKNOWN_USER,
                user_ids=sorted(str(m) for m in missing),
            )

    async def _check_places(
        self, principal: Principal, townships: Sequence[uuid.UUID], villages: Sequence[uuid.UUID]
    ) -> None:
        for model, ids, code in (
            (Township, townships, codes.UNKNOWN_TOWNSHIP),
            (Village, villages, codes.UNKNOWN_VILLAGE),
        ):
            wanted = set(ids)
            if not wanted:
                continue
            stmt = scoped(select(model.id), model, principal).where(model.id.in_(wanted))
            if missing := wanted - set((await self.db.execute(stmt)).scalars().all()):
                raise InvalidInputError(
                    "unknown places for this county",
                    code=code,
                    ids=sorted(str(m) for m in missing),
                )

    async def _set_members(
        self, principal: Principal, area: ContractArea, member_ids: Sequence[uuid.UUID]
    ) -> None:
        await self.db.execute(delete(AreaMember).where(AreaMember.area_id == area.id))
        for user_id in dict.fromkeys(member_ids):
            self.db.add(AreaMember(county_id=principal.county_id, area_id=area.id, user_id=user_id))
        await self.db.flush()


def _shape(geom: Any) -> Any:
    return to_shape(geom)


def _check_grade(grade: int) -> None:
    if grade not in (1, 2, 3):
        raise InvalidPatrolInputError(
            "grade must be 1, 2 or 3", code=codes.INVALID_GRADE, field="grade"
        )
