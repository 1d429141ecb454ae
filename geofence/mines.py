"""Closed-mine sites (and removed dredging boats) and their five-to-one rosters (五包一).

The register keeps stable site ids. Every change to a site (create, update, status, retire,
import) writes a new ``mine_sites`` layer version and one revision row per changed site, so
the register as it stood at any version can be read back
(:func:`geofence.layers.read_layer_features`).
Roster changes do not make a version: checks read rosters live.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.enums import ClosureMethod, DutyPeriod, LayerKind, MineStatus, RosterRole, SiteKind
from geofence.errors import (
    DuplicateSiteCodeError,
    InvalidGeometryError,
    InvalidRosterError,
    MineSiteNotFoundError,
)
from geofence.geometry import require_valid_polygon
from geofence.layers import new_layer_version
from geofence.models import MineSite, MineSiteRevision, RosterMember
from geofence.policy import SITE_READ, read_clause
from infra.db import utcnow
from infra.scope import MANAGERS, Principal, require_role, scoped

__all__ = [
    "MineSiteInfo",
    "RosterEntry",
    "RosterMemberInput",
    "RosterReport",
    "SiteInput",
    "change_site_status",
    "create_mine_site",
    "get_mine_site",
    "list_mine_sites",
    "load_rosters",
    "remove_roster_member",
    "retire_mine_site",
    "roster_report",
    "set_roster_member",
    "set_site_status",
    "update_mine_site",
]

#: Who may change the register and its rosters (reads are open to every role of the county).
SITE_MANAGERS = MANAGERS
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")
_REVISED = (
    "code", "site_kind", "name", "mineral", "closed_on", "closure_method", "status",
    "status_reason", "signboard", "signboard_text", "retired",
)  # fmt: skip
#: The longest reason a status change may give.
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One responsible person: a user (``user_id``) or an external contact (name, phone)."""

    role: RosterRole
    user_id: uuid.UUID | None
    contact_name: str
    contact_phone: str
    duty_period: DutyPeriod
    duty_checks: int

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "user_id": str(self.user_id) if self.user_id else None,
            "contact_name": self.contact_name,
            "contact_phone": self.contact_phone,
            "duty_period": self.duty_period.value,
            "duty_checks": self.duty_checks,
        }


@dataclass(frozen=True, slots=True)
class MineSiteInfo:
    id: uuid.UUID
    code: str
    site_kind: SiteKind
    name: str
    mineral: str
    closed_on: date | None
    closure_method: ClosureMethod
    status: MineStatus
    signboard: bool
    signboard_text: str
    geometry: shapely.Geometry
    layer_version_id: uuid.UUID
    roster: tuple[RosterEntry, ...]
    #: why the status was set by hand ("" when a check, an import or an edit set it)
    status_reason: str = ""
    status_changed_at: datetime | None = None

    @property
    def missing_roles(self) -> tuple[RosterRole, ...]:
        """Roles of the five-to-one roster nobody holds yet (in the roster form's order)."""
        held = {m.role for m in self.roster}
        return tuple(r for r in RosterRole if r not in held)

    @property
    def roster_complete(self) -> bool:
        return not self.missing_roles


@dataclass(frozen=True, slots=True)
class SiteInput:
    """A site to create or the full new state of one to update (geometry in WGS84)."""

    code: str
    name: str
    geometry: shapely.Geometry
    site_kind: str = SiteKind.MINE.value
    mineral: str = ""
    closed_on: date | None = None
    closure_method: str = ClosureMethod.SEALED.value
    status: str = MineStatus.CLOSED.value
    signboard: bool = False
    signboard_text: str = ""


@dataclass(frozen=True, slots=True)
class RosterMemberInput:
    """Who holds ``role``: give ``user_id``, or ``contact_name`` and ``contact_phone``.

    ``duty_period``/``duty_checks`` default to the role's usual cycle (village cadre daily,
    station officers and staff weekly, township leader monthly).
    """

    role: str
    user_id: uuid.UUID | None = None
    contact_name: str = ""
    contact_phone: str = ""
    duty_period: str | None = None
    duty_checks: int | None = None


@dataclass(frozen=True, slots=True)
class RosterReport:
    total_sites: int
    complete: int
    incomplete: tuple[MineSiteInfo, ...] = field(default=())


def _enum(enum_type: Any, value: str, field_name: str) -> Any:
    try:
        return enum_type(value)
    except ValueError as exc:
        allowed = ", ".join(e.value for e in enum_type)
        msg = f"{field_name} must be one of {allowed}, got {str(value)[:40]!r}"
        raise InvalidRosterError(msg, field=field_name) from exc


def _site_geometry(geom: shapely.Geometry | None, site_kind: SiteKind) -> shapely.Geometry:
    if isinstance(geom, shapely.Point) and not geom.is_empty:
        x, y = geom.x, geom.y
        if not (np.isfinite([x, y]).all() and -180 <= x <= 180 and -90 <= y <= 90):
            msg = "point must have finite lon in [-180, 180] and lat in [-90, 90]"
            raise InvalidGeometryError(msg, field="geometry", reason="out_of_range")
        return shapely.force_2d(geom)
    if site_kind is SiteKind.DREDGING_BOAT:
        msg = "a dredging-boat site is a point"
        raise InvalidGeometryError(msg, field="geometry", reason="wrong_type")
    return require_valid_polygon(geom, field="geometry")


def _normalise_site(data: SiteInput) -> dict[str, Any]:
    kind = SiteKind(_enum(SiteKind, data.site_kind, "site_kind"))
    code = data.code.strip()
    if not code or len(code) > 64:
        raise InvalidRosterError("code must be 1-64 characters", field="code")
    if not data.name.strip() or len(data.name) > 100:
        raise InvalidRosterError("name must be 1-100 characters", field="name")
    return {
        "code": code,
        "site_kind": kind.value,
        "name": data.name.strip(),
        "mineral": data.mineral[:50],
        "closed_on": data.closed_on,
        "closure_method": _enum(ClosureMethod, data.closure_method, "closure_method").value,
        "status": _enum(MineStatus, data.status, "status").value,
        "signboard": bool(data.signboard),
        "signboard_text": data.signboard_text,
        "geometry": _site_geometry(data.geometry, kind),
    }


async def write_sites(
    session: AsyncSession,
    county_id: uuid.UUID,
    sites: Sequence[dict[str, Any]],
    *,
    source_name: str = "",
    source_format: str = "",
    source_crs: str = "",
    created_by: uuid.UUID | None = None,
    note: str = "",
) -> tuple[uuid.UUID, list[MineSite]]:
    """Upsert normalised sites by ``code`` in one new ``mine_sites`` version (internal).

    A site whose status changes gets the time of the change and the ``status_reason`` its
    dict gives (none: the reason of the old status no longer holds and is cleared).
    """
    version = await new_layer_version(
        session, county_id, LayerKind.MINE_SITES, source_name=source_name,
        source_format=source_format, source_crs=source_crs, created_by=created_by, note=note,
    )  # fmt: skip
    codes = [s["code"] for s in sites]
    existing = {
        row.code: row
        for row in await session.scalars(
            select(MineSite).where(MineSite.county_id == county_id, MineSite.code.in_(codes))
        )
    }
    out: list[MineSite] = []
    now = utcnow()
    for site in sites:
        values = {k: v for k, v in site.items() if k != "geometry"}
        geom = func.ST_GeomFromWKB(shapely.to_wkb(site["geometry"]), 4326)
        row = existing.get(site["code"])
        if row is None or values.get("status", row.status) != row.status:
            values.setdefault("status_reason", "")
            values["status_changed_at"] = now
        if row is None:
            row = MineSite(county_id=county_id, layer_version_id=version.id, geom=geom, **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.geom = geom
            row.layer_version_id = version.id
        out.append(row)
    await session.flush()
    session.add_all(
        MineSiteRevision(
            county_id=county_id,
            site_id=row.id,
            layer_version_id=version.id,
            geom=func.ST_GeomFromWKB(shapely.to_wkb(site["geometry"]), 4326),
            **{k: site.get(k, getattr(row, k)) for k in _REVISED},
        )
        for row, site in zip(out, sites, strict=True)
    )
    version.read_count = version.stored_count = len(out)
    await session.flush()
    for row in out:
        await session.refresh(row)
    return version.id, out


async def load_rosters(
    session: AsyncSession, county_id: uuid.UUID, site_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[RosterEntry, ...]]:
    """Rosters of the given sites, each in the roster form's role order."""
    if not site_ids:
        return {}
    order = {r.value: i for i, r in enumerate(RosterRole)}
    rows = await session.scalars(
        select(RosterMember).where(
            RosterMember.county_id == county_id, RosterMember.site_id.in_(list(site_ids))
        )
    )
    found: dict[uuid.UUID, list[RosterMember]] = {}
    for m in rows:
        found.setdefault(m.site_id, []).append(m)
    return {
        sid: tuple(
            RosterEntry(
                role=RosterRole(m.role),
                user_id=m.user_id,
                contact_name=m.contact_name,
                contact_phone=m.contact_phone,
                duty_period=DutyPeriod(m.duty_period),
                duty_checks=m.duty_checks,
            )
            for m in sorted(members, key=lambda m: order[m.role])
        )
        for sid, members in found.items()
    }


async def _info(session: AsyncSession, rows: Sequence[MineSite]) -> list[MineSiteInfo]:
    if not rows:
        return []
    rosters = await load_rosters(session, rows[0].county_id, [r.id for r in rows])
    wkbs: dict[uuid.UUID, Any] = dict(
        (
            await session.execute(
                select(MineSite.id, func.ST_AsBinary(MineSite.geom)).where(
                    MineSite.id.in_([r.id for r in rows])
                )
            )
        ).all()
    )
    return [
        MineSiteInfo(
            id=r.id,
            code=r.code,
            site_kind=SiteKind(r.site_kind),
            name=r.name,
            mineral=r.mineral,
            closed_on=r.closed_on,
            closure_method=ClosureMethod(r.closure_method),
            status=MineStatus(r.status),
            signboard=r.signboard,
            signboard_text=r.signboard_text,
            geometry=shapely.from_wkb(bytes(wkbs[r.id])),
            layer_version_id=r.layer_version_id,
            roster=rosters.get(r.id, ()),
            status_reason=r.status_reason,
            status_changed_at=r.status_changed_at,
        )
        for r in rows
    ]


async def _site_row(session: AsyncSession, principal: Principal, site_id: uuid.UUID) -> MineSite:
    base: Any = select(MineSite)  # scoped() is typed for row tuples
    stmt = scoped(base, MineSite, principal).where(
        MineSite.id == site_id, MineSite.retired.is_(False)
    )
    row: MineSite | None = await session.scalar(stmt)
    if row is None:
        raise MineSiteNotFoundError("mine site not found", id=str(site_id))
    return row


async def get_mine_site(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID
) -> MineSiteInfo:
    """One site with its roster; another county's site is not found."""
    row = await _site_row(session, principal, site_id)
    if not await session.scalar(
        select(MineSite.id).where(
            MineSite.id == row.id, read_clause(SITE_READ, MineSite.__tablename__, principal)
        )
    ):
        raise MineSiteNotFoundError("mine site not found", id=str(site_id))
    return (await _info(session, [row]))[0]


async def list_mine_sites(
    session: AsyncSession,
    principal: Principal,
    *,
    site_kind: str | None = None,
    status: str | None = None,
    incomplete_only: bool = False,
) -> list[MineSiteInfo]:
    """Sites of the caller's county by code, optionally filtered; rosters included. Those
    the caller may read (:data:`geofence.policy.SITE_READ`)."""
    base: Any = select(MineSite)
    stmt = scoped(base, MineSite, principal).where(
        MineSite.retired.is_(False), read_clause(SITE_READ, MineSite.__tablename__, principal)
    )
    if site_kind is not None:
        stmt = stmt.where(MineSite.site_kind == _enum(SiteKind, site_kind, "site_kind").value)
    if status is not None:
        stmt = stmt.where(MineSite.status == _enum(MineStatus, status, "status").value)
    rows = list((await session.scalars(stmt.order_by(MineSite.code))).all())
    infos = await _info(session, rows)
    return [i for i in infos if not i.roster_complete] if incomplete_only else infos


async def create_mine_site(
    session: AsyncSession, principal: Principal, data: SiteInput
) -> MineSiteInfo:
    """Register a closed site; a code already used in the county is a conflict."""
    require_role(principal, *SITE_MANAGERS, action="register mine sites")
    values = _normalise_site(data)
    taken = await session.scalar(
        select(MineSite.id).where(
            MineSite.county_id == principal.county_id, MineSite.code == values["code"]
        )
    )
    if taken is not None:
        msg = f"site code {values['code']!r} is already registered"
        raise DuplicateSiteCodeError(msg, field="code")
    _, rows = await write_sites(
        session, principal.county_id, [values], created_by=principal.user_id
    )
    return (await _info(session, rows))[0]


async def update_mine_site(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID, data: SiteInput
) -> MineSiteInfo:
    """Replace a site's attributes and geometry (its code may not change to a used one)."""
    require_role(principal, *SITE_MANAGERS, action="change mine sites")
    row = await _site_row(session, principal, site_id)
    values = _normalise_site(data)
    if values["code"] != row.code:
        other = await session.scalar(
            select(MineSite.id).where(
                MineSite.county_id == principal.county_id, MineSite.code == values["code"]
            )
        )
        if other is not None:
            raise DuplicateSiteCodeError("site code already registered", field="code")
        row.code = values["code"]
    _, rows = await write_sites(
        session, principal.county_id, [values], created_by=principal.user_id
    )
    return (await _info(session, rows))[0]


async def _rewrite(
    session: AsyncSession, principal: Principal, row: MineSite, **changes: Any
) -> MineSite:
    wkb = await session.scalar(select(func.ST_AsBinary(MineSite.geom)).where(MineSite.id == row.id))
    values = {k: getattr(row, k) for k in _REVISED} | changes
    values["geometry"] = shapely.from_wkb(bytes(wkb or b""))
    _, rows = await write_sites(
        session, principal.county_id, [values], created_by=principal.user_id,
        note=", ".join(f"{k}={v}" for k, v in changes.items()),
    )  # fmt: skip
    return rows[0]


async def set_site_status(
    session: AsyncSession,
    principal: Principal,
    site_id: uuid.UUID,
    status: str,
    *,
    reason: str = "",
) -> MineSiteInfo:
    """Record a new status (closed / signs_of_reopening / reopened / remediated) and why.

    The same status again is no change, unless it comes with a new reason (the reason is
    then replaced; the time of the status stays).
    """
    row = await _site_row(session, principal, site_id)
    new = _enum(MineStatus, status, "status").value
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        msg = f"reason must be at most {MAX_REASON} characters"
        raise InvalidRosterError(msg, field="reason")
    if new != row.status or (reason and reason != row.status_reason):
        row = await _rewrite(session, principal, row, status=new, status_reason=reason)
    return (await _info(session, [row]))[0]


async def change_site_status(
    session: AsyncSession,
    principal: Principal,
    site_id: uuid.UUID,
    status: str,
    *,
    reason: str = "",
) -> MineSiteInfo:
    """A manager (admin or captain) records a new status by hand, with the reason.

    :func:`set_site_status` itself has no role rule: a duty check by any roster member moves
    a site to ``signs_of_reopening`` through it (see ``patrol.duty``).
    """
    require_role(principal, *SITE_MANAGERS, action="change a mine site's status")
    return await set_site_status(session, principal, site_id, status, reason=reason)


async def retire_mine_site(session: AsyncSession, principal: Principal, site_id: uuid.UUID) -> None:
    """Take a site off the register (its history and roster stay stored)."""
    require_role(principal, *SITE_MANAGERS, action="retire mine sites")
    row = await _site_row(session, principal, site_id)
    await _rewrite(session, principal, row, retired=True)


async def _check_user(session: AsyncSession, county_id: uuid.UUID, user_id: uuid.UUID) -> None:
    owner = await session.scalar(
        text("SELECT county_id FROM users WHERE id = :id"), {"id": user_id}
    )
    if owner != county_id:
        msg = "user_id does not name a user of this county"
        raise InvalidRosterError(msg, field="user_id")


async def set_roster_member(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID, member: RosterMemberInput
) -> MineSiteInfo:
    """Give ``member.role`` of the site's roster to a user or an external contact."""
    require_role(principal, *SITE_MANAGERS, action="manage five-to-one rosters")
    row = await _site_row(session, principal, site_id)
    role = RosterRole(_enum(RosterRole, member.role, "role"))
    name, phone = member.contact_name.strip(), member.contact_phone.strip()
    if member.user_id is not None:
        await _check_user(session, principal.county_id, member.user_id)
    elif not name or len(name) > 100:
        msg = "contact_name is required for an external contact"
        raise InvalidRosterError(msg, field="contact_name")
    if (phone and not _PHONE.match(phone)) or (member.user_id is None and not phone):
        raise InvalidRosterError("contact_phone must be a phone number", field="contact_phone")
    default_period, default_checks = role.default_duty
    period = _enum(DutyPeriod, member.duty_period or default_period.value, "duty_period").value
    checks = default_checks if member.duty_checks is None else member.duty_checks
    if not 1 <= checks <= 100:
        raise InvalidRosterError("duty_checks must be within [1, 100]", field="duty_checks")
    existing = await session.scalar(
        select(RosterMember).where(RosterMember.site_id == row.id, RosterMember.role == role.value)
    )
    if existing is None:
        existing = RosterMember(county_id=principal.county_id, site_id=row.id, role=role.value)
        session.add(existing)
    existing.user_id = member.user_id
    existing.contact_name = name
    existing.contact_phone = phone
    existing.duty_period = period
    existing.duty_checks = checks
    await session.flush()
    return (await _info(session, [row]))[0]


async def remove_roster_member(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID, role: str
) -> MineSiteInfo:
    """Vacate one role (the site then reports an incomplete roster)."""
    require_role(principal, *SITE_MANAGERS, action="manage five-to-one rosters")
    row = await _site_row(session, principal, site_id)
    value = _enum(RosterRole, role, "role").value
    member = await session.scalar(
        select(RosterMember).where(RosterMember.site_id == row.id, RosterMember.role == value)
    )
    if member is not None:
        await session.delete(member)
        await session.flush()
    return (await _info(session, [row]))[0]


async def roster_report(session: AsyncSession, principal: Principal) -> RosterReport:
    """How many sites have all five roles filled, and which do not (with missing roles)."""
    require_role(principal, *SITE_MANAGERS, action="review five-to-one rosters")
    sites = await list_mine_sites(session, principal)
    incomplete = tuple(s for s in sites if not s.roster_complete)
    return RosterReport(len(sites), len(sites) - len(incomplete), incomplete)
