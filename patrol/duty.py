"""Five-to-one (五包一) duty checks at closed mine sites, overdue checks, rebound alerts.

The sites and their rosters (five people, each with a duty cycle) belong to ``geofence``;
this module reads them through the small :class:`DutyRoster` port, so it neither waits for
nor depends on how they are stored. :class:`StaticDutyRoster` serves tests and the demo.

A check reporting ``signs_of_reopening`` or ``active_mining`` raises an alert in the
captains' feed (once per check) and asks the roster owner to mark the site for review.

Alerts resolve themselves when their cause ends (the table in :mod:`patrol.alerts`): a
member's check newer than their last known one resolves their ``duty_overdue`` alerts and a
check of a site resolves its earlier ``site_rebound_review`` alerts, at once; the worker's
:meth:`DutyService.resolve_ended_alerts` resolves what ends elsewhere (a member no longer
overdue or off the roster, a site the register shows cleared or retired).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.models import MineSite
from geofence.models import RosterMember as GeoRosterMember
from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import Principal, scoped
from patrol._access import MANAGERS, aware, require_manager
from patrol.alerts import raise_alert, resolve_alerts
from patrol.config import PatrolConfig
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    NotRosterMemberError,
    SiteNotFoundError,
)
from patrol.field_models import DutyCheck, PatrolAlert
from patrol.models import User
from patrol.site_review import STATUS_RANK, mark_site_for_review

__all__ = [
    "CHECK_STATUSES",
    "DUTY_ROLES",
    "DutyCheckInput",
    "DutyCompliance",
    "DutyRoster",
    "DutyService",
    "GeofenceDutyRoster",
    "MemberDuty",
    "RosterMember",
    "SiteDuty",
    "StaticDutyRoster",
]

STATUS_PERIOD = timedelta(days=30)
"""The period duty status covers when none is asked for."""

log = structlog.get_logger(__name__)

DUTY_ROLES = (
    "township_leader",
    "safety_officer",
    "village_liaison_cadre",
    "land_resources_staff",
    "village_cadre",
)
CHECK_STATUSES = ("still_closed", "signs_of_reopening", "active_mining")


@dataclass(frozen=True, slots=True, kw_only=True)
class DutyCheckInput:
    """A roster member's check of a closed site (:meth:`DutyService.record_check`);
    ``status`` one of :data:`CHECK_STATUSES`, ``is_night`` ``None``: from the time."""

    check_id: uuid.UUID
    site_id: uuid.UUID
    checked_at: datetime
    status: str
    member_id: uuid.UUID | None = None
    is_night: bool | None = None
    note: str = ""
    evidence_ids: tuple[uuid.UUID, ...] = ()


_ALERTING = {"signs_of_reopening": "site_reopening", "active_mining": "site_active_mining"}
_OVERDUE = "duty_overdue"
_REVIEW = "site_rebound_review"


@dataclass(frozen=True, slots=True)
class RosterMember:
    """One of a site's five responsible people; ``user_id`` is ``None`` for an outside contact."""

    member_id: uuid.UUID
    site_id: uuid.UUID
    role: str
    cycle_days: float
    name: str = ""
    user_id: uuid.UUID | None = None
    site_name: str = ""


class DutyRoster(Protocol):
    """Where sites and rosters come from (implemented over geofence's tables by the app)."""

    async def members(
        self,
        db: AsyncSession,
        county_id: uuid.UUID,
        *,
        site_ids: Collection[uuid.UUID] | None = None,
    ) -> Sequence[RosterMember]:
        """Roster members of the county's active closed sites (or of ``site_ids``)."""
        ...

    async def mark_for_review(
        self,
        db: AsyncSession,
        principal: Principal,
        site_id: uuid.UUID,
        *,
        status: str,
        check_id: uuid.UUID,
    ) -> None:
        """A check by ``principal`` reported ``status`` at the site: flag it for review."""
        ...

    async def settled_sites(
        self, db: AsyncSession, county_id: uuid.UUID, site_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Of ``site_ids``, those whose rebound is settled, with why: ``site_cleared`` (no
        longer flagged: back to closed or remediated) or ``site_retired``. Sites the roster
        does not know are left out."""
        ...


@dataclass
class StaticDutyRoster:
    """An in-memory roster; remembers which sites were marked for review."""

    county_id: uuid.UUID
    roster: list[RosterMember] = field(default_factory=list)
    flagged: dict[uuid.UUID, str] = field(default_factory=dict)

    async def members(
        self,
        db: AsyncSession,  # noqa: ARG002 - the port's shape
        county_id: uuid.UUID,
        *,
        site_ids: Collection[uuid.UUID] | None = None,
    ) -> Sequence[RosterMember]:
        if county_id != self.county_id:
            return []
        return [m for m in self.roster if site_ids is None or m.site_id in site_ids]

    async def mark_for_review(
        self,
        db: AsyncSession,  # noqa: ARG002 - the port's shape
        principal: Principal,
        site_id: uuid.UUID,
        *,
        status: str,
        check_id: uuid.UUID,  # noqa: ARG002 - the port's shape
    ) -> None:
        if principal.county_id == self.county_id:
            self.flagged[site_id] = status

    def clear(self, site_id: uuid.UUID) -> None:
        """A captain cleared the site's flag."""
        self.flagged.pop(site_id, None)

    async def settled_sites(
        self,
        db: AsyncSession,  # noqa: ARG002 - the port's shape
        county_id: uuid.UUID,
        site_ids: Collection[uuid.UUID],
    ) -> dict[uuid.UUID, str]:
        if county_id != self.county_id:
            return {}
        known = {m.site_id for m in self.roster}
        return {s: "site_cleared" for s in site_ids if s in known and s not in self.flagged}


_PERIOD_DAYS = {"daily": 1.0, "weekly": 7.0, "monthly": 30.0}
# what a check reports -> the register status it moves a site to (never back down)
_SITE_STATUS = {"signs_of_reopening": "signs_of_reopening", "active_mining": "reopened"}


class GeofenceDutyRoster:
    """The roster kept by :mod:`geofence.mines` (sites on the register, not retired).

    A member's cycle is their duty period divided by the checks asked per period (weekly
    twice: every 3.5 days). Marking for review moves the site's register status up to
    ``signs_of_reopening`` or ``reopened`` (never down; a captain clears it there).
    """

    async def members(
        self,
        db: AsyncSession,
        county_id: uuid.UUID,
        *,
        site_ids: Collection[uuid.UUID] | None = None,
    ) -> Sequence[RosterMember]:
        stmt = (
            select(GeoRosterMember, MineSite.name, User.display_name)
            .join(MineSite, MineSite.id == GeoRosterMember.site_id)
            .outerjoin(User, User.id == GeoRosterMember.user_id)
            .where(
                GeoRosterMember.county_id == county_id,
                MineSite.county_id == county_id,
                MineSite.retired.is_(False),
            )
            .order_by(MineSite.name, GeoRosterMember.site_id, GeoRosterMember.role)
        )
        if site_ids is not None:
            stmt = stmt.where(GeoRosterMember.site_id.in_(list(site_ids)))
        return [
            RosterMember(
                member_id=row.id,
                site_id=row.site_id,
                role=row.role,
                cycle_days=_PERIOD_DAYS.get(row.duty_period, 30.0) / max(1, row.duty_checks),
                name=user_name or row.contact_name,
                user_id=row.user_id,
                site_name=site_name,
            )
            for row, site_name, user_name in (await db.execute(stmt)).all()
        ]

    async def mark_for_review(
        self,
        db: AsyncSession,
        principal: Principal,
        site_id: uuid.UUID,
        *,
        status: str,
        check_id: uuid.UUID,  # noqa: ARG002 - the port's shape
    ) -> None:
        target = _SITE_STATUS.get(status)
        if target is not None:
            await mark_site_for_review(db, principal, site_id, status=target)

    async def settled_sites(
        self, db: AsyncSession, county_id: uuid.UUID, site_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Retired sites, and sites whose register status is back to a closed one (a captain
        lowered it). Ids the register does not hold are left alone (not its sites)."""
        wanted = set(site_ids)
        if not wanted:
            return {}
        stmt = select(MineSite.id, MineSite.status, MineSite.retired).where(
            MineSite.county_id == county_id, MineSite.id.in_(list(wanted))
        )
        found = {row.id: row for row in (await db.execute(stmt)).all()}
        out: dict[uuid.UUID, str] = {}
        for site_id in wanted:
            row = found.get(site_id)
            if row is None:
                continue
            if row.retired:
                out[site_id] = "site_retired"
            elif STATUS_RANK.get(str(row.status), 0) == 0:
                out[site_id] = "site_cleared"
        return out


@dataclass(frozen=True, slots=True)
class MemberDuty:
    member: RosterMember
    last_check_at: datetime | None
    due_at: datetime | None
    overdue: bool
    checks_in_period: int
    required_in_period: int


@dataclass(frozen=True, slots=True)
class SiteDuty:
    site_id: uuid.UUID
    site_name: str
    members: list[MemberDuty]
    last_status: str | None
    last_status_at: datetime | None

    @property
    def overdue_count(self) -> int:
        return sum(1 for m in self.members if m.overdue)


@dataclass(frozen=True, slots=True)
class DutyCompliance:
    """Members whose checks in the period met their cycle, over all members.

    A member is compliant when they did the checks the period asks (one per full cycle
    elapsed) *and* are not overdue at the report's as-of time (the end of the period, or now
    while it runs): a member who checked often early on but is overdue now is not compliant,
    nor is one never checked (overdue from the start) in a period shorter than a cycle.
    """

    sites: int
    members: int
    members_compliant: int
    members_overdue: int
    sites_flagged: int

    @property
    def ratio(self) -> float:
        return 1.0 if self.members == 0 else round(self.members_compliant / self.members, 4)


class DutyService:
    def __init__(
        self,
        db: AsyncSession,
        roster: DutyRoster,
        *,
        config: PatrolConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the server's time, which a check's time may run ahead of by at most
        ``future_tolerance_s`` (tests fix it)."""
        self.db = db
        self.roster = roster
        self.config = config or PatrolConfig()
        self.clock = clock

    async def record_check(self, principal: Principal, item: DutyCheckInput) -> DutyCheck:
        """:meth:`record_duty_check` of one :class:`DutyCheckInput` (REST and sync)."""
        return await self.record_duty_check(
            principal, item.check_id, site_id=item.site_id, checked_at=item.checked_at,
            status=item.status, member_id=item.member_id, is_night=item.is_night,
            note=item.note, evidence_ids=item.evidence_ids,
        )  # fmt: skip

    async def record_duty_check(
        self,
        principal: Principal,
        check_id: uuid.UUID,
        *,
        site_id: uuid.UUID,
        checked_at: datetime,
        status: str,
        member_id: uuid.UUID | None = None,
        is_night: bool | None = None,
        note: str = "",
        evidence_ids: Sequence[uuid.UUID] = (),
    ) -> DutyCheck:
        """Record a roster member's check of a closed site (``RecordDutyCheck``).

        The caller checks as their own roster entry at that site; captains and admins may
        record for any member (``member_id``). Replays return the stored check.
        """
        checked_at = aware(checked_at, "checked_at")
        if checked_at > self.clock() + timedelta(seconds=self.config.future_tolerance_s):
            raise InvalidPatrolInputError(
                "checked_at is in the future", code=codes.INVALID_TIME, field="checked_at"
            )
        if status not in CHECK_STATUSES:
            raise InvalidPatrolInputError(
                f"status must be one of {', '.join(CHECK_STATUSES)}",
                code=codes.INVALID_STATUS,
                field="status",
            )
        existing = await self.db.get(DutyCheck, check_id)
        if existing is not None:
            if existing.county_id != principal.county_id or existing.site_id != site_id:
                raise IdReusedError("this check id is already used", check_id=str(check_id))
            return existing
        member = await self._member(principal, site_id, member_id)
        if is_night is None:
            hour = checked_at.astimezone(self.config.tz).hour
            is_night = hour >= self.config.night_start_hour or hour < self.config.night_end_hour
        check = DutyCheck(
            id=check_id,
            county_id=principal.county_id,
            site_id=site_id,
            member_id=member.member_id,
            recorded_by=principal.user_id,
            checked_at=checked_at,
            status=status,
            is_night=is_night,
            note=note,
            evidence_ids=list(evidence_ids),
        )
        self.db.add(check)
        await self.db.flush()
        await self._checked_in(principal.county_id, check)
        if status in _ALERTING:
            await self._rebound(principal, check, member)
        return check

    async def _checked_in(self, county_id: uuid.UUID, check: DutyCheck) -> None:
        """A new check ends what it answers: the member's overdue alerts when it is newer
        than their last known check (an older check arriving late changes nothing), and the
        rebound reviews of the site raised at or before it."""
        before = await self.db.scalar(
            select(func.max(DutyCheck.checked_at)).where(
                DutyCheck.county_id == county_id,
                DutyCheck.member_id == check.member_id,
                DutyCheck.id != check.id,
            )
        )
        if before is None or check.checked_at > before:
            await resolve_alerts(
                self.db,
                county_id=county_id,
                where=(PatrolAlert.kind == _OVERDUE) & (PatrolAlert.member_id == check.member_id),
                resolution="member_checked_in",
                at=check.checked_at,
            )
        await resolve_alerts(
            self.db,
            county_id=county_id,
            where=(PatrolAlert.kind == _REVIEW)
            & (PatrolAlert.site_id == check.site_id)
            & (PatrolAlert.raised_at <= check.checked_at),
            resolution="site_checked",
            at=check.checked_at,
        )

    async def _member(
        self, principal: Principal, site_id: uuid.UUID, member_id: uuid.UUID | None
    ) -> RosterMember:
        roster = await self.roster.members(self.db, principal.county_id, site_ids={site_id})
        if not roster:
            raise SiteNotFoundError("no roster for this site", site_id=str(site_id))
        manager = principal.has_role(*MANAGERS)
        for m in roster:
            if member_id is not None and m.member_id != member_id:
                continue
            if m.user_id == principal.user_id or (manager and member_id is not None):
                return m
        raise NotRosterMemberError(
            "you are not on this site's five-to-one roster", site_id=str(site_id)
        )

    async def _rebound(self, principal: Principal, check: DutyCheck, member: RosterMember) -> None:
        kind = _ALERTING[check.status]
        label = member.site_name or str(check.site_id)
        await raise_alert(
            self.db,
            county_id=principal.county_id,
            kind=kind,
            severity="high",
            dedupe_key=f"duty-check:{check.id}",
            params={"site": label, "role": member.role, "status": check.status},
            site_id=check.site_id,
            duty_check_id=check.id,
            raised_at=check.checked_at,
        )
        await self.roster.mark_for_review(
            self.db, principal, check.site_id, status=check.status, check_id=check.id
        )
        log.warning(
            "patrol.site_rebound",
            county=str(principal.county_id),
            site_id=str(check.site_id),
            status=check.status,
        )

    async def list_checks(
        self,
        principal: Principal,
        *,
        site_id: uuid.UUID | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> Sequence[DutyCheck]:
        stmt = scoped(select(DutyCheck), DutyCheck, principal)
        if not principal.has_role(*MANAGERS):
            stmt = stmt.where(DutyCheck.recorded_by == principal.user_id)
        if site_id is not None:
            stmt = stmt.where(DutyCheck.site_id == site_id)
        if since is not None:
            stmt = stmt.where(DutyCheck.checked_at >= aware(since, "since"))
        stmt = stmt.order_by(DutyCheck.checked_at.desc()).limit(max(1, min(limit, 1000)))
        return (await self.db.execute(stmt)).scalars().all()

    async def get_duty_status(
        self,
        principal: Principal,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        site_ids: Collection[uuid.UUID] | None = None,
        now: datetime | None = None,
    ) -> list[SiteDuty]:
        """Per site and member over ``[start, end)`` (by default the 30 days up to now): last
        check, due time, overdue (as of ``end`` or now, whichever is earlier; never checked
        counts as overdue), checks done, and checks required (one per full duty cycle elapsed
        in the period)."""
        require_manager(principal, "review five-to-one duty")
        until = self.clock() if end is None else aware(end, "end")
        since = until - STATUS_PERIOD if start is None else aware(start, "start")
        return await self._status(principal.county_id, since, until, site_ids, now=now)

    async def _status(
        self,
        county_id: uuid.UUID,
        start: datetime,
        end: datetime,
        site_ids: Collection[uuid.UUID] | None,
        *,
        now: datetime | None = None,
    ) -> list[SiteDuty]:
        roster = await self.roster.members(self.db, county_id, site_ids=site_ids)
        if not roster:
            return []
        as_of = min(end, now or utcnow())
        members = {m.member_id for m in roster}
        sites = {m.site_id for m in roster}
        last_q = (
            select(DutyCheck.member_id, func.max(DutyCheck.checked_at))
            .where(
                DutyCheck.county_id == county_id,
                DutyCheck.member_id.in_(members),
                DutyCheck.checked_at < as_of,
            )
            .group_by(DutyCheck.member_id)
        )
        last = dict((await self.db.execute(last_q)).all())
        count_q = (
            select(DutyCheck.member_id, func.count())
            .where(
                DutyCheck.county_id == county_id,
                DutyCheck.member_id.in_(members),
                DutyCheck.checked_at >= start,
                DutyCheck.checked_at < end,
            )
            .group_by(DutyCheck.member_id)
        )
        counts = dict((await self.db.execute(count_q)).all())
        status_q = (
            select(DutyCheck.site_id, DutyCheck.status, DutyCheck.checked_at)
            .where(DutyCheck.county_id == county_id, DutyCheck.site_id.in_(sites))
            .ext(distinct_on(DutyCheck.site_id))
            .order_by(DutyCheck.site_id, DutyCheck.checked_at.desc())
        )
        latest = {s: (st, at) for s, st, at in (await self.db.execute(status_q)).all()}
        elapsed_days = max(0.0, (as_of - start).total_seconds() / 86400)
        by_site: dict[uuid.UUID, list[MemberDuty]] = {}
        names: dict[uuid.UUID, str] = {}
        for m in roster:
            last_at = last.get(m.member_id)
            due = None if last_at is None else last_at + timedelta(days=m.cycle_days)
            required = math.floor(elapsed_days / m.cycle_days + 1e-9) if m.cycle_days > 0 else 0
            by_site.setdefault(m.site_id, []).append(
                MemberDuty(
                    member=m,
                    last_check_at=last_at,
                    due_at=due,
                    overdue=due is None or due < as_of,
                    checks_in_period=int(counts.get(m.member_id, 0)),
                    required_in_period=required,
                )
            )
            names.setdefault(m.site_id, m.site_name)
        return [
            SiteDuty(
                site_id=s,
                site_name=names[s],
                members=ms,
                last_status=latest.get(s, (None, None))[0],
                last_status_at=latest.get(s, (None, None))[1],
            )
            for s, ms in sorted(by_site.items(), key=lambda kv: (names[kv[0]], str(kv[0])))
        ]

    async def compliance(
        self,
        county_id: uuid.UUID,
        start: datetime,
        end: datetime,
        site_ids: Collection[uuid.UUID] | None = None,
        *,
        now: datetime | None = None,
    ) -> DutyCompliance:
        """Totals of :meth:`get_duty_status` for coverage reports (see
        :class:`DutyCompliance` for who counts as compliant)."""
        status = await self._status(county_id, start, end, site_ids, now=now)
        members = [m for s in status for m in s.members]
        return DutyCompliance(
            sites=len(status),
            members=len(members),
            members_compliant=sum(
                1 for m in members if not m.overdue and m.checks_in_period >= m.required_in_period
            ),
            members_overdue=sum(1 for m in members if m.overdue),
            sites_flagged=sum(1 for s in status if s.last_status in _ALERTING),
        )

    async def raise_overdue_alerts(
        self, county_id: uuid.UUID, *, now: datetime | None = None
    ) -> int:
        """Worker job: one alert per member and missed due time (idempotent). Returns how many
        alerts were added."""
        as_of = now or utcnow()
        added = 0
        for site in await self._status(
            county_id, as_of - timedelta(days=1), as_of, None, now=as_of
        ):
            for m in site.members:
                if not m.overdue:
                    continue
                due = "never" if m.due_at is None else m.due_at.date().isoformat()
                label = site.site_name or str(site.site_id)
                added += await raise_alert(
                    self.db,
                    county_id=county_id,
                    kind="duty_overdue",
                    severity="normal",
                    dedupe_key=f"duty-overdue:{m.member.member_id}:{due}",
                    params={
                        "site": label,
                        "role": m.member.role,
                        "name": m.member.name,
                        "cycle_days": f"{m.member.cycle_days:g}",
                    },
                    site_id=site.site_id,
                    member_id=m.member.member_id,
                    raised_at=as_of,
                )
        return added

    async def resolve_ended_alerts(
        self, county_id: uuid.UUID, *, now: datetime | None = None
    ) -> int:
        """Worker job: resolve the open alerts whose cause ended elsewhere than in a check
        (the table in :mod:`patrol.alerts`). Returns how many were resolved."""
        as_of = now or utcnow()
        open_ = (
            await self.db.execute(
                select(PatrolAlert.kind, PatrolAlert.member_id, PatrolAlert.site_id).where(
                    PatrolAlert.county_id == county_id,
                    PatrolAlert.resolved_at.is_(None),
                    PatrolAlert.kind.in_([_OVERDUE, _REVIEW, *_ALERTING.values()]),
                )
            )
        ).all()
        if not open_:
            return 0
        resolved = 0
        members = {m for kind, m, _ in open_ if kind == _OVERDUE and m is not None}
        if members:
            resolved += await self._resolve_overdue(county_id, members, as_of)
        sites = {s for kind, _, s in open_ if kind != _OVERDUE and s is not None}
        settled = await self.roster.settled_sites(self.db, county_id, sites) if sites else {}
        for site_id, why in settled.items():
            kinds = [*_ALERTING.values(), *([_REVIEW] if why == "site_retired" else [])]
            resolved += await resolve_alerts(
                self.db,
                county_id=county_id,
                where=(PatrolAlert.site_id == site_id) & PatrolAlert.kind.in_(kinds),
                resolution=why,
                at=as_of,
            )
        return resolved

    async def _resolve_overdue(
        self, county_id: uuid.UUID, members: set[uuid.UUID], as_of: datetime
    ) -> int:
        status = await self._status(county_id, as_of - timedelta(days=1), as_of, None, now=as_of)
        on_roster = {m.member.member_id: m.overdue for s in status for m in s.members}
        resolved = 0
        for resolution, ids in (
            ("no_longer_overdue", [m for m in members if on_roster.get(m) is False]),
            ("member_off_roster", [m for m in members if m not in on_roster]),
        ):
            if ids:
                resolved += await resolve_alerts(
                    self.db,
                    county_id=county_id,
                    where=(PatrolAlert.kind == _OVERDUE) & PatrolAlert.member_id.in_(ids),
                    resolution=resolution,
                    at=as_of,
                )
        return resolved
