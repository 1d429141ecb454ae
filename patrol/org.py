"""Counties, and the townships and villages of a county (the frame for areas and sign-ins).

A county is a tenant: :func:`create_county` is a platform operator's action (the ``patrol
counties`` command, or an operator named in ``PATROL_PLATFORM_ADMINS``), never a county
admin's. Townships and villages are changed by the county's own admins (:class:`OrgService`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, mapping
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.crs import parse_crs, to_wgs84
from infra import error_codes as codes
from infra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from infra.geometry import check_geojson_positions, parse_polygonal
from infra.scope import Principal, Role, require_role, scoped
from patrol.errors import DuplicateCountyError
from patrol.models import County, Township, Village

__all__ = [
    "OrgService",
    "boundary_geometry",
    "create_county",
    "list_counties",
    "require_platform_admin",
]

_ADMIN_CODE = re.compile(r"\d{6}(\d{3}|\d{6})?")


def _geometry_of(obj: Any) -> Any:
    """The one geometry of a GeoJSON geometry, Feature or FeatureCollection of one feature."""
    if isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or len(features) != 1:
            count = len(features) if isinstance(features, list) else 0
            raise InvalidInputError(
                f"边界文件须只含一个要素，实有 {count} 个",
                code=codes.INVALID_BOUNDARY, field="boundary", features=count,
            )  # fmt: skip
        obj = features[0]
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    return obj


def boundary_geometry(obj: Any, *, crs: str | None = None) -> MultiPolygon:
    """A county boundary from GeoJSON: a Polygon or MultiPolygon, bare or as a Feature or a
    FeatureCollection of one feature, in WGS84 unless ``crs`` names another system (the CRS
    names the layer import accepts: ``EPSG:NNNN``, ``cgcs2000``, ``gcj02``, ``bd09`` ...).

    Raises :class:`InvalidInputError` (``invalid_boundary``, ``invalid_geometry``,
    ``invalid_coordinates``) or ``unknown_crs``.
    """
    geometry = _geometry_of(obj)
    if crs is not None:
        source = parse_crs(crs)
        if not (source.crs is not None and source.name in {"EPSG:4326", "OGC:CRS84"}):
            if not isinstance(geometry, dict) or geometry.get("type") not in {
                "Polygon", "MultiPolygon",
            }:  # fmt: skip
                raise InvalidInputError(
                    "边界须为 Polygon 或 MultiPolygon",
                    code=codes.INVALID_GEOMETRY,
                    field="boundary",
                    reason="wrong_type",
                )
            check_geojson_positions(geometry, field="boundary")
            moved = to_wgs84(np.array([shapely.geometry.shape(geometry)], dtype=object), source)
            geometry = mapping(moved[0])
    return parse_polygonal(geometry, field="boundary")


def require_platform_admin(principal: Principal | None, platform_admins: Collection[str]) -> None:
    """Counties are tenants: only the platform's operators create or list them.

    ``principal`` is ``None`` for the operator's own tool (the ``patrol`` command, which runs
    with database access); a caller through the API must be an admin whose username is one of
    ``platform_admins`` (``PATROL_PLATFORM_ADMINS``), else ``not_platform_admin`` (403).
    """
    if principal is None:
        return
    if principal.role is not Role.ADMIN or principal.username not in platform_admins:
        raise PermissionDeniedError(
            "只有平台管理员（PATROL_PLATFORM_ADMINS 中的管理员）可以创建或列出县",
            code=codes.NOT_PLATFORM_ADMIN,
        )


async def create_county(
    session: AsyncSession,
    *,
    admin_code: str,
    name: str,
    boundary: Any,
    crs: str | None = None,
    province_code: str | None = None,
    principal: Principal | None = None,
    platform_admins: Collection[str] = (),
) -> County:
    """Create a county (a new tenant) with its boundary; flushes, never commits.

    ``boundary`` is GeoJSON as :func:`boundary_geometry` reads it (with ``crs``).
    ``admin_code`` is the 6-digit county code (9 or 12 digits are accepted for finer units
    run as their own tenant); ``province_code`` defaults to its first two digits. Raises
    :class:`DuplicateCountyError` when the code is taken; who may call it is
    :func:`require_platform_admin`'s rule.
    """
    require_platform_admin(principal, platform_admins)
    geometry = boundary_geometry(boundary, crs=crs)
    admin_code, name = admin_code.strip(), name.strip()
    if not _ADMIN_CODE.fullmatch(admin_code):
        raise InvalidInputError(
            f"行政区划代码须为 6、9 或 12 位数字，而非 {admin_code[:20]!r}",
            code=codes.INVALID_ADMIN_CODE, field="admin_code",
        )  # fmt: skip
    if not name or len(name) > 100:
        raise InvalidInputError("县名须为 1 到 100 个字符", code=codes.INVALID_NAME, field="name")
    province = province_code.strip() if province_code else admin_code[:2]
    if not re.fullmatch(r"\d{2}", province):
        raise InvalidInputError(
            "省级代码须为 2 位数字", code=codes.INVALID_PROVINCE_CODE, field="province_code"
        )
    taken = await session.scalar(select(County.id).where(County.admin_code == admin_code))
    if taken is not None:
        raise DuplicateCountyError(f"行政区划代码 {admin_code} 已有县", field="admin_code")
    county = County(
        admin_code=admin_code,
        name=name,
        province_code=province,
        boundary=from_shape(geometry, srid=4326),
    )
    try:
        async with session.begin_nested():
            session.add(county)
            await session.flush()
    except IntegrityError as exc:  # created by someone else since the check above
        raise DuplicateCountyError(f"行政区划代码 {admin_code} 已有县", field="admin_code") from exc
    return county


async def list_counties(
    session: AsyncSession,
    *,
    principal: Principal | None = None,
    platform_admins: Collection[str] = (),
) -> Sequence[County]:
    """Every county, by admin code (for the platform's operators)."""
    require_platform_admin(principal, platform_admins)
    return (await session.execute(select(County).order_by(County.admin_code))).scalars().all()


class OrgService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_county(self, principal: Principal) -> County:
        county = await self.session.get(County, principal.county_id)
        if county is None:  # pragma: no cover - a user always belongs to a county
            raise NotFoundError("county not found", code=codes.COUNTY_NOT_FOUND)
        return county

    # -- townships ---------------------------------------------------------------------------
    async def list_townships(self, principal: Principal) -> Sequence[Township]:
        stmt = scoped(select(Township), Township, principal).order_by(Township.code)
        return (await self.session.execute(stmt)).scalars().all()

    async def get_township(self, principal: Principal, township_id: uuid.UUID) -> Township:
        stmt = scoped(select(Township), Township, principal).where(Township.id == township_id)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("township not found", code=codes.TOWNSHIP_NOT_FOUND)
        return row

    async def create_township(
        self, principal: Principal, *, code: str, name: str, kind: str, geometry: dict[str, Any]
    ) -> Township:
        require_role(principal, Role.ADMIN, action="change townships and villages")
        geom = parse_polygonal(geometry)
        await self._unique_code(Township, principal, code)
        row = Township(
            county_id=principal.county_id,
            code=code,
            name=name,
            kind=kind,
            geom=from_shape(geom, srid=4326),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def update_township(
        self,
        principal: Principal,
        township_id: uuid.UUID,
        *,
        name: str | None = None,
        kind: str | None = None,
        geometry: dict[str, Any] | None = None,
    ) -> Township:
        require_role(principal, Role.ADMIN, action="change townships and villages")
        row = await self.get_township(principal, township_id)
        if geometry is not None:
            row.geom = from_shape(parse_polygonal(geometry), srid=4326)
        if name is not None:
            row.name = name
        if kind is not None:
            row.kind = kind
        await self.session.flush()
        return row

    # -- villages ----------------------------------------------------------------------------
    async def list_villages(
        self, principal: Principal, *, township_id: uuid.UUID | None = None
    ) -> Sequence[Village]:
        stmt = scoped(select(Village), Village, principal).order_by(Village.code)
        if township_id is not None:
            stmt = stmt.where(Village.township_id == township_id)
        return (await self.session.execute(stmt)).scalars().all()

    async def get_village(self, principal: Principal, village_id: uuid.UUID) -> Village:
        stmt = scoped(select(Village), Village, principal).where(Village.id == village_id)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("village not found", code=codes.VILLAGE_NOT_FOUND)
        return row

    async def create_village(
        self,
        principal: Principal,
        *,
        township_id: uuid.UUID,
        code: str,
        name: str,
        geometry: dict[str, Any],
    ) -> Village:
        require_role(principal, Role.ADMIN, action="change townships and villages")
        geom = parse_polygonal(geometry)
        township = await self.get_township(principal, township_id)
        await self._unique_code(Village, principal, code)
        row = Village(
            county_id=principal.county_id,
            township_id=township.id,
            code=code,
            name=name,
            geom=from_shape(geom, srid=4326),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def update_village(
        self,
        principal: Principal,
        village_id: uuid.UUID,
        *,
        name: str | None = None,
        geometry: dict[str, Any] | None = None,
    ) -> Village:
        require_role(principal, Role.ADMIN, action="change townships and villages")
        row = await self.get_village(principal, village_id)
        if geometry is not None:
            row.geom = from_shape(parse_polygonal(geometry), srid=4326)
        if name is not None:
            row.name = name
        await self.session.flush()
        return row

    async def _unique_code(
        self, model: type[Township] | type[Village], principal: Principal, code: str
    ) -> None:
        stmt = scoped(select(model.id), model, principal).where(model.code == code)
        if (await self.session.execute(stmt)).first() is not None:
            raise ConflictError(f"code {code} is already used", code=codes.CODE_TAKEN, field="code")
