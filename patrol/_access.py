"""Loading county-scoped rows and checking who may touch them (shared by the services)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVarTuple

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.scope import MANAGERS, Principal, require_role, scoped
from patrol.errors import (
    AreaNotFoundError,
    InvalidPatrolInputError,
    NotAreaMemberError,
    NotPatrolOwnerError,
)
from patrol.errors import PatrolNotFoundError as _PatrolNotFound
from patrol.field_models import AreaMember, ContractArea, PatrolSession
from patrol.policy import AREA_READ, PATROL_READ, may_read

__all__ = [
    "MANAGERS",
    "aware",
    "ensure_may_patrol",
    "ensure_patrol_reader",
    "ensure_patrol_writer",
    "is_area_member",
    "is_patrol_crew",
    "load_area",
    "load_patrol",
    "load_readable_area",
    "require_manager",
]

_Ts = TypeVarTuple("_Ts")


def require_manager(principal: Principal, action: str) -> None:
    require_role(principal, *MANAGERS, action=action)


def aware(value: datetime, field: str) -> datetime:
    """``value`` in UTC; naive times are refused (a phone must say its offset)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidPatrolInputError(
            f"{field} must carry a time zone offset", code=codes.INVALID_TIME, field=field
        )
    return value.astimezone(UTC)


async def load_area(db: AsyncSession, principal: Principal, area_id: uuid.UUID) -> ContractArea:
    stmt = scoped(select(ContractArea), ContractArea, principal).where(ContractArea.id == area_id)
    area = (await db.execute(stmt)).scalar_one_or_none()
    if area is None:
        raise AreaNotFoundError("contract area not found", area_id=str(area_id))
    return area


async def is_area_member(db: AsyncSession, area: ContractArea, user_id: uuid.UUID) -> bool:
    if area.leader_id == user_id:
        return True
    stmt = select(exists().where(AreaMember.area_id == area.id, AreaMember.user_id == user_id))
    return bool((await db.execute(stmt)).scalar())


async def ensure_may_patrol(db: AsyncSession, principal: Principal, area: ContractArea) -> None:
    """Leaders and members patrol their area; captains and admins any area of the county."""
    if principal.has_role(*MANAGERS):
        return
    if not await is_area_member(db, area, principal.user_id):
        raise NotAreaMemberError(
            "you are not the leader or a member of this contract area", area_id=str(area.id)
        )


async def load_patrol(
    db: AsyncSession, principal: Principal, patrol_id: uuid.UUID, *, for_update: bool = False
) -> PatrolSession:
    row: PatrolSession | None
    if for_update:
        stmt = scoped(select(PatrolSession), PatrolSession, principal).where(
            PatrolSession.id == patrol_id
        )
        row = (await db.execute(stmt.with_for_update())).scalar_one_or_none()
    else:
        # a patrol this session already holds costs no round trip (a batch of operations
        # on one patrol loads it once); the county check is the one scoped() makes
        row = await db.get(PatrolSession, patrol_id)
        if row is not None and row.county_id != principal.county_id:
            row = None
    if row is None:
        raise _PatrolNotFound("patrol not found", patrol_id=str(patrol_id))
    return row


def is_patrol_crew(principal: Principal, patrol: PatrolSession) -> bool:
    return principal.user_id == patrol.inspector_id or principal.user_id in (
        patrol.companion_ids or []
    )


def ensure_patrol_writer(principal: Principal, patrol: PatrolSession) -> None:
    if not is_patrol_crew(principal, patrol):
        raise NotPatrolOwnerError("this patrol belongs to someone else", patrol_id=str(patrol.id))


async def ensure_patrol_reader(
    db: AsyncSession, principal: Principal, patrol: PatrolSession
) -> None:
    """The patrol read rule of :mod:`patrol.policy` (crew, its area's leader, managers)."""
    if not await may_read(db, principal, PATROL_READ, patrol.id):
        raise NotPatrolOwnerError("this patrol belongs to someone else", patrol_id=str(patrol.id))


async def load_readable_area(
    db: AsyncSession, principal: Principal, area_id: uuid.UUID
) -> ContractArea:
    """An area the caller may read (:data:`patrol.policy.AREA_READ`): its leader and members,
    captains and admins; others are refused."""
    area = await load_area(db, principal, area_id)
    if not await may_read(db, principal, AREA_READ, area.id):
        raise NotAreaMemberError(
            "you are not the leader or a member of this contract area", area_id=str(area.id)
        )
    return area
