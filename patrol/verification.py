"""Verifying a target in the field: what an inspector found there, returned to its record.

A captain's action puts a target (:class:`~patrol.field_models.PatrolTarget`: a closed-mine
site, a change polygon, a tip-off, a point) in an inspector's contract area; it reaches the
plan and the phone by sync. On site the inspector signs in, records findings and evidence,
and records the verification result (``RecordTargetVerification``; offline, the push
operation ``recordTargetVerification``): ``found``, ``not_found`` or ``already_handled``.

* The id is the phone's: the same result again answers what is stored, another result under
  the same id is ``id_reused``.
* Who: the crew of the patrol it was verified on; with no patrol, the leader or a member of
  the target's area. The target must be active and of the caller's county; named findings
  must be of that patrol, named evidence visible to the caller (a port, :data:`EvidenceLookup`,
  injected by the composition root: evidence sits above this package). Without named
  findings, the patrol's findings within the target's visit radius are attached.
* A target has one current result: the one verified last (by ``verified_at``; a tie goes to
  the one received last). A result that arrives after a later one (a phone that was offline
  longer) is kept as history, superseded at once. The history stays.
* A result on a patrol counts as a visit of the target (``patrol_target_visits``, source
  ``verified``), at the distance of the nearest attached finding, or the visit radius when
  none was measured.
* The package that owns the record behind the target (tip-offs, change polygons) registers a
  listener per target kind (:func:`register_verification_listener`); each listener is called
  in the same transaction, once, when a result becomes the target's current one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import NotFoundError
from infra.scope import Principal, scoped
from patrol._access import (
    aware,
    ensure_patrol_writer,
    is_area_member,
    load_area,
    load_patrol,
)
from patrol.areas import TARGET_KINDS
from patrol.config import PatrolConfig
from patrol.errors import (
    FindingNotFoundError,
    IdReusedError,
    InvalidPatrolInputError,
    NotAreaMemberError,
    TargetNotFoundError,
)
from patrol.field_models import Finding, PatrolSession, PatrolTarget, TargetVerification
from patrol.policy import TARGET_READ, may_read
from patrol.tracks import haversine_m

__all__ = [
    "OUTCOMES",
    "VISIT_SOURCE",
    "EvidenceLookup",
    "TargetVerificationInput",
    "VerificationListener",
    "VerificationResult",
    "VerificationService",
    "VerificationView",
    "register_verification_listener",
]

log = structlog.get_logger(__name__)

OUTCOMES = ("found", "not_found", "already_handled")
#: ``patrol_target_visits.source`` of a visit made by verifying the target.
VISIT_SOURCE = "verified"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """A verification result as the listeners of its target's kind get it."""

    county_id: uuid.UUID
    target_id: uuid.UUID
    target_kind: str
    ref_id: uuid.UUID | None
    inspector_id: uuid.UUID
    session_id: uuid.UUID | None
    outcome: str  # "found" | "not_found" | "already_handled"
    note: str
    finding_ids: tuple[uuid.UUID, ...]
    evidence_ids: tuple[uuid.UUID, ...]
    verified_at: datetime


VerificationListener = Callable[[AsyncSession, VerificationResult], Awaitable[None]]
"""Told, in the same transaction, of a result that became its target's current one."""

EvidenceLookup = Callable[[AsyncSession, Principal, Sequence[uuid.UUID]], Awaitable[set[uuid.UUID]]]
"""Which of the evidence ids the caller may read (in the caller's county)."""

_LISTENERS: dict[str, list[VerificationListener]] = {}


def register_verification_listener(kind: str, listener: VerificationListener) -> None:
    """Call ``listener`` for results of targets of ``kind`` (one of
    :data:`patrol.areas.TARGET_KINDS`). Registering the same listener again does nothing.
    Call at import time of the package that owns the records of that kind."""
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target kind {kind!r}")
    listeners = _LISTENERS.setdefault(kind, [])
    if listener not in listeners:
        listeners.append(listener)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetVerificationInput:
    """One verification result (:meth:`VerificationService.record`): REST and sync alike.

    ``finding_ids`` empty: the patrol's findings within the target's visit radius."""

    target_id: uuid.UUID
    verification_id: uuid.UUID
    outcome: str
    verified_at: datetime
    patrol_id: uuid.UUID | None = None
    note: str = ""
    finding_ids: tuple[uuid.UUID, ...] = ()
    evidence_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class VerificationView:
    """A stored verification result; ``current``: the target's result now."""

    id: uuid.UUID
    target_id: uuid.UUID
    target_kind: str
    ref_id: uuid.UUID | None
    patrol_id: uuid.UUID | None
    inspector_id: uuid.UUID
    outcome: str
    note: str
    finding_ids: list[uuid.UUID]
    evidence_ids: list[uuid.UUID]
    verified_at: datetime
    received_at: datetime
    current: bool
    superseded_by: uuid.UUID | None

    @classmethod
    def of(cls, row: TargetVerification, target: PatrolTarget) -> VerificationView:
        return cls(
            id=row.id,
            target_id=row.target_id,
            target_kind=target.kind,
            ref_id=target.ref_id,
            patrol_id=row.session_id,
            inspector_id=row.inspector_id,
            outcome=row.outcome,
            note=row.note,
            finding_ids=list(row.finding_ids or []),
            evidence_ids=list(row.evidence_ids or []),
            verified_at=row.verified_at,
            received_at=row.received_at,
            current=row.superseded_at is None,
            superseded_by=row.superseded_by,
        )


class VerificationService:
    """Record and read the verification results of targets (county-scoped)."""

    def __init__(
        self,
        db: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        evidence: EvidenceLookup | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``evidence``: which evidence the caller may read (without it, a result naming
        evidence is refused: the rule is narrower, never wider). ``clock``: the server's
        time (tests fix it)."""
        self.db = db
        self.config = config or PatrolConfig()
        self.evidence = evidence
        self.clock = clock

    async def record(self, principal: Principal, item: TargetVerificationInput) -> VerificationView:
        """Record a verification result (``RecordTargetVerification``)."""
        return (await self.record_result(principal, item))[0]

    async def record_result(
        self, principal: Principal, item: TargetVerificationInput
    ) -> tuple[VerificationView, bool]:
        """:meth:`record`, and whether the result was stored before (a replay)."""
        if item.outcome not in OUTCOMES:
            raise InvalidPatrolInputError(
                f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome"
            )
        verified_at = aware(item.verified_at, "verified_at")
        if verified_at > self.clock() + timedelta(seconds=self.config.future_tolerance_s):
            raise InvalidPatrolInputError(
                "verified_at is more than 5 minutes in the future",
                code=codes.INVALID_TIME,
                field="verified_at",
            )
        finding_ids = list(dict.fromkeys(item.finding_ids))
        evidence_ids = list(dict.fromkeys(item.evidence_ids))
        stored = await self.db.get(TargetVerification, item.verification_id)
        if stored is not None:
            return await self._replay(principal, item, stored, finding_ids, evidence_ids), True
        target = await self._target(principal, item.target_id, for_update=True)
        # the same result sent twice at once: the second waited for the target's lock
        stored = await self.db.get(TargetVerification, item.verification_id)
        if stored is not None:
            return await self._replay(principal, item, stored, finding_ids, evidence_ids), True
        patrol = await self._check_caller(principal, target, item.patrol_id)
        if not target.active:
            raise InvalidPatrolInputError(
                "this target is no longer active",
                code=codes.TARGET_INACTIVE,
                target_id=str(target.id),
            )
        attached = await self._findings(principal, target, patrol, finding_ids)
        await self._check_evidence(principal, evidence_ids)
        now = self.clock()
        row = TargetVerification(
            id=item.verification_id,
            county_id=principal.county_id,
            target_id=target.id,
            session_id=None if patrol is None else patrol.id,
            inspector_id=principal.user_id,
            outcome=item.outcome,
            note=item.note,
            finding_ids=[f for f, _ in attached],
            findings_named=bool(finding_ids),
            evidence_ids=evidence_ids,
            verified_at=verified_at,
            received_at=now,
        )
        current = await self._current(target.id)
        becomes_current = current is None or verified_at >= current.verified_at
        if current is not None and becomes_current:
            current.superseded_at, current.superseded_by = now, row.id
            await self.db.flush()  # one current result per target (a unique index)
        elif current is not None:
            row.superseded_at, row.superseded_by = now, current.id
        self.db.add(row)
        await self.db.flush()
        if patrol is not None:
            distance = min((d for _, d in attached), default=target.visit_radius_m)
            await self.db.execute(
                _VISIT_SQL,
                {"s": patrol.id, "t": target.id, "src": VISIT_SOURCE, "at": verified_at,
                 "d": round(distance, 2), "c": principal.county_id},
            )  # fmt: skip
        if becomes_current:
            result = VerificationResult(
                county_id=principal.county_id,
                target_id=target.id,
                target_kind=target.kind,
                ref_id=target.ref_id,
                inspector_id=principal.user_id,
                session_id=row.session_id,
                outcome=row.outcome,
                note=row.note,
                finding_ids=tuple(row.finding_ids),
                evidence_ids=tuple(row.evidence_ids),
                verified_at=verified_at,
            )
            for listener in tuple(_LISTENERS.get(target.kind, ())):
                await listener(self.db, result)
        log.info(
            "patrol.target_verified",
            county=str(principal.county_id),
            target_id=str(target.id),
            outcome=item.outcome,
            current=becomes_current,
        )
        return VerificationView.of(row, target), False

    async def list_verifications(
        self, principal: Principal, target_id: uuid.UUID
    ) -> list[VerificationView]:
        """The results of a target, newest first (``ListTargetVerifications``): for captains
        and admins, and the leader and members of the target's area
        (:data:`patrol.policy.TARGET_READ`)."""
        target = await self._target(principal, target_id)
        if not await may_read(self.db, principal, TARGET_READ, target.id):
            raise NotAreaMemberError(
                "you are not the leader or a member of this contract area",
                area_id=str(target.area_id),
            )
        stmt = (
            select(TargetVerification)
            .where(TargetVerification.target_id == target.id)
            .order_by(
                TargetVerification.verified_at.desc(),
                TargetVerification.received_at.desc(),
                TargetVerification.id.desc(),
            )
        )
        rows = (await self.db.execute(stmt)).scalars().all()
        return [VerificationView.of(r, target) for r in rows]

    async def current_target_ids(
        self, principal: Principal, target_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of ``target_ids`` (of the caller's county) have a result (one query)."""
        if not target_ids:
            return set()
        stmt = scoped(select(TargetVerification.target_id), TargetVerification, principal).where(
            TargetVerification.target_id.in_(list(target_ids)),
            TargetVerification.superseded_at.is_(None),
        )
        return set((await self.db.execute(stmt)).scalars().all())

    # -- helpers -----------------------------------------------------------------------------
    async def _target(
        self, principal: Principal, target_id: uuid.UUID, *, for_update: bool = False
    ) -> PatrolTarget:
        stmt = scoped(select(PatrolTarget), PatrolTarget, principal).where(
            PatrolTarget.id == target_id
        )
        if for_update:  # results of one target are stored one after the other
            stmt = stmt.with_for_update()
        target = (await self.db.execute(stmt)).scalar_one_or_none()
        if target is None:
            raise TargetNotFoundError("target not found", target_id=str(target_id))
        return target

    async def _check_caller(
        self, principal: Principal, target: PatrolTarget, patrol_id: uuid.UUID | None
    ) -> PatrolSession | None:
        """The patrol, when named, with the caller on its crew; without a patrol, the caller
        leads or belongs to the target's area."""
        if patrol_id is not None:
            patrol = await load_patrol(self.db, principal, patrol_id)
            ensure_patrol_writer(principal, patrol)
            return patrol
        area = await load_area(self.db, principal, target.area_id)
        if not await is_area_member(self.db, area, principal.user_id):
            raise NotAreaMemberError(
                "you are not the leader or a member of this contract area", area_id=str(area.id)
            )
        return None

    async def _findings(
        self,
        principal: Principal,
        target: PatrolTarget,
        patrol: PatrolSession | None,
        named: list[uuid.UUID],
    ) -> list[tuple[uuid.UUID, float]]:
        """The findings attached, with their distance to the target: those named (of the
        patrol), or the patrol's within the visit radius, nearest first."""
        if patrol is None:
            if named:
                raise InvalidPatrolInputError(
                    "findings are attached with the patrol they were recorded on",
                    field="finding_ids",
                )
            return []
        stmt = select(Finding.id, func.ST_X(Finding.geom), func.ST_Y(Finding.geom)).where(
            Finding.session_id == patrol.id, Finding.county_id == principal.county_id
        )
        if named:
            stmt = stmt.where(Finding.id.in_(named))
        rows = (await self.db.execute(stmt)).all()
        tx, ty = await self._position(target)
        distance = {r[0]: round(haversine_m(tx, ty, float(r[1]), float(r[2])), 2) for r in rows}
        if named:
            if missing := [f for f in named if f not in distance]:
                raise FindingNotFoundError(
                    "finding not found on this patrol", finding_id=str(missing[0])
                )
            return [(f, distance[f]) for f in named]
        near = [(f, d) for f, d in distance.items() if d <= target.visit_radius_m]
        return sorted(near, key=lambda fd: (fd[1], fd[0]))

    async def _position(self, target: PatrolTarget) -> tuple[float, float]:
        stmt = select(func.ST_X(PatrolTarget.geom), func.ST_Y(PatrolTarget.geom)).where(
            PatrolTarget.id == target.id
        )
        x, y = (await self.db.execute(stmt)).one()
        return float(x), float(y)

    async def _check_evidence(self, principal: Principal, evidence_ids: list[uuid.UUID]) -> None:
        if not evidence_ids:
            return
        visible = (
            set()
            if self.evidence is None
            else await self.evidence(self.db, principal, evidence_ids)
        )
        if missing := [e for e in evidence_ids if e not in visible]:
            raise NotFoundError(
                "evidence not found", code=codes.EVIDENCE_NOT_FOUND, evidence_id=str(missing[0])
            )

    async def _current(self, target_id: uuid.UUID) -> TargetVerification | None:
        stmt = select(TargetVerification).where(
            TargetVerification.target_id == target_id, TargetVerification.superseded_at.is_(None)
        )
        return (await self.db.execute(stmt)).scalar_one_or_none()

    async def _replay(
        self,
        principal: Principal,
        item: TargetVerificationInput,
        row: TargetVerification,
        finding_ids: list[uuid.UUID],
        evidence_ids: list[uuid.UUID],
    ) -> VerificationView:
        """The stored result when ``item`` is the same one again; otherwise ``id_reused``."""
        same = (
            row.county_id == principal.county_id
            and row.inspector_id == principal.user_id
            and row.target_id == item.target_id
            and row.session_id == item.patrol_id
            and row.outcome == item.outcome
            and row.note == item.note
            and row.verified_at == aware(item.verified_at, "verified_at")
            and list(row.evidence_ids or []) == evidence_ids
            and (
                list(row.finding_ids or []) == finding_ids
                if row.findings_named
                else not finding_ids
            )
        )
        if not same:
            raise IdReusedError("this verification id is already used", id=str(row.id))
        target = await self._target(principal, row.target_id)
        return VerificationView.of(row, target)


_VISIT_SQL = text(
    "INSERT INTO patrol_target_visits "
    "(session_id, target_id, source, first_at, min_distance_m, county_id) "
    "VALUES (:s, :t, :src, :at, :d, :c) ON CONFLICT (session_id, target_id, "
    "source) DO UPDATE SET first_at = least(patrol_target_visits.first_at, "
    "excluded.first_at), min_distance_m = least("
    "patrol_target_visits.min_distance_m, excluded.min_distance_m)"
)
