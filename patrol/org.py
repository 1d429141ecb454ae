"""Townships and villages of a county (the administrative frame for areas and sign-ins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from geoalchemy2.shape import from_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.errors import ConflictError, NotFoundError
from infra.geometry import parse_polygonal
from infra.scope import Principal, Role, require_role, scoped
from patrol.models import County, Township, Village

__all__ = ["OrgService"]


class OrgService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_county(self, principal: Principal) -> County:
        county = await self.session.get(County, principal.county_id)
        if county is None:  # pragma: no cover - a user always belongs to a county
            raise NotFoundError("county not found", code="county_not_found")
        return county

    # -- townships ---------------------------------------------------------------------------
    async def list_townships(self, principal: Principal) -> Sequence[Township]:
        stmt = scoped(select(Township), Township, principal).order_by(Township.code)
        return (await self.session.execute(stmt)).scalars().all()

    async def get_township(self, principal: Principal, township_id: uuid.UUID) -> Township:
        stmt = scoped(select(Township), Township, principal).where(Township.id == township_id)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("township not found", code="township_not_found")
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
            raise NotFoundError("village not found", code="village_not_found")
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
            raise ConflictError(f"code {code} is already used", code="code_taken", field="code")
