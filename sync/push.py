"""Push: a batch of operations, one receipt each, safe to replay.

* Each operation runs in its own savepoint: a rejected one is rolled back alone.
* Receipts are stored by (user, client op id) with a hash of the operation; the same op id
  again gets the stored receipt (a replayed batch gets the same receipts), the same op id
  with other content is rejected as ``op_id_reused``. Receipts for operations that could
  not be read, or that failed for an unexpected reason (``retryable``), are not stored, so
  a retry runs them again.
* Pushes of one user are serialised (a phone that timed out and retries while the first
  attempt still runs waits for it, then gets its receipts).
* ``applied``: done now; ``duplicate``: its effect was already stored (the record ids are
  the phone's, so e.g. a patrol started twice is one patrol); ``conflict``: the server's
  record moved on (``server_version``, the conflicting ``fields`` and their server values);
  ``rejected``: ``code`` and ``reason``.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.errors import DomainError
from infra.scope import Principal, Role
from patrol.config import PatrolConfig
from patrol.duty import DutyService, GeofenceDutyRoster
from patrol.errors import (
    InvalidPatrolInputError,
    NotPatrolOwnerError,
    PatrolAlreadyEndedError,
)
from patrol.field_models import DutyCheck, Finding, PatrolSession
from patrol.field_models import SignIn as SignInRow
from patrol.sessions import CONSTRUCTION_STATUSES, PatrolService
from patrol.tracks import TrackService
from sync.errors import BatchTooLargeError
from sync.ops import (
    EndPatrol,
    Operation,
    RecordDutyCheck,
    RecordFinding,
    SignIn,
    StartPatrol,
    TrackPoints,
    Undecodable,
    UpdateFinding,
)

__all__ = [
    "MAX_OPS",
    "MAX_OP_AGE",
    "Conflict",
    "PushResult",
    "PushService",
    "Receipt",
    "RejectedItem",
]

log = structlog.get_logger(__name__)

MAX_OPS = 500
#: Operations dated further back than this are refused (a phone whose clock was reset).
MAX_OP_AGE = timedelta(days=30)

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('sync-push:' || :u, 0))"
_STORED = text(
    "SELECT op_id, op_hash, receipt FROM sync_receipts WHERE user_id = :u AND op_id = ANY(:ids)"
)
_INSERT = text(
    "INSERT INTO sync_receipts (user_id, op_id, county_id, op_hash, receipt, created_at) "
    "VALUES (:u, :op, :c, :h, CAST(:r AS jsonb), :t) ON CONFLICT DO NOTHING"
)
_XMIN = text("SELECT xmin::text::bigint FROM patrol_findings WHERE id = :id")
_XMIN_LOCK = text(
    "SELECT xmin::text::bigint FROM patrol_findings WHERE id = :id AND county_id = :c FOR UPDATE"
)
_MANAGERS = (Role.CAPTAIN, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Conflict:
    server_version: int
    fields: list[str]
    server_values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RejectedItem:
    id: uuid.UUID
    code: str
    reason: str


@dataclass(slots=True)
class Receipt:
    index: int
    op_id: uuid.UUID | None
    status: str
    record_id: uuid.UUID | None = None
    version: int | None = None
    code: str | None = None
    reason: str | None = None
    retryable: bool = False
    conflict: Conflict | None = None
    rejected_items: list[RejectedItem] = field(default_factory=list)


@dataclass(slots=True)
class PushResult:
    receipts: list[Receipt]
    server_time: datetime
    clock_skew_s: float | None


class _Outcome(Exception):  # noqa: N818 - a non-error result that must roll back its savepoint
    def __init__(self, receipt: Receipt) -> None:
        super().__init__(receipt.status)
        self.receipt = receipt


def _op_hash(op: Operation) -> bytes:
    return hashlib.sha256(type(op).__name__.encode() + msgspec.json.encode(op)).digest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _receipt_from_json(index: int, data: dict[str, Any]) -> Receipt:
    return msgspec.convert({**data, "index": index}, Receipt, strict=False)


class PushService:
    def __init__(self, db: AsyncSession, *, config: PatrolConfig | None = None) -> None:
        self.db = db
        self.config = config or PatrolConfig()
        self.patrols = PatrolService(db, config=self.config)
        self.tracks = TrackService(db, config=self.config)
        self.duty = DutyService(db, GeofenceDutyRoster(), config=self.config)

    async def push(
        self,
        principal: Principal,
        ops: Sequence[Operation | Undecodable],
        *,
        device_time: datetime | None = None,
    ) -> PushResult:
        """Apply a batch of operations in order (``SyncPush``); one receipt per operation."""
        if len(ops) > MAX_OPS:
            raise BatchTooLargeError(
                f"at most {MAX_OPS} operations per push; split the batch",
                limit=MAX_OPS,
                field="ops",
            )
        now = utcnow()
        await self.db.execute(text(_LOCK), {"u": str(principal.user_id)})
        ids = [op.op_id for op in ops if op.op_id is not None]
        stored: dict[uuid.UUID, tuple[bytes, dict[str, Any]]] = {}
        if ids:
            rows = await self.db.execute(_STORED, {"u": principal.user_id, "ids": ids})
            stored = {r[0]: (bytes(r[1]), r[2]) for r in rows}
        receipts: list[Receipt] = []
        to_store: list[dict[str, Any]] = []
        for index, op in enumerate(ops):
            if isinstance(op, Undecodable):
                receipts.append(
                    Receipt(index, op.op_id, "rejected", code=op.code, reason=op.reason)
                )
                continue
            digest = _op_hash(op)
            if op.op_id in stored:
                old_hash, data = stored[op.op_id]
                if old_hash == digest:
                    receipts.append(_receipt_from_json(index, data))
                else:
                    receipts.append(
                        Receipt(
                            index,
                            op.op_id,
                            "rejected",
                            code="op_id_reused",
                            reason="this op id was used for another operation",
                        )
                    )
                continue
            receipt = await self._run(principal, index, op, now)
            receipts.append(receipt)
            if not receipt.retryable:
                data = asdict(receipt)
                del data["index"]
                stored[op.op_id] = (digest, data)
                to_store.append(
                    {
                        "u": principal.user_id,
                        "op": op.op_id,
                        "c": principal.county_id,
                        "h": digest,
                        "r": msgspec.json.encode(data, enc_hook=_jsonable).decode(),
                        "t": now,
                    }
                )
        if to_store:
            await self.db.execute(_INSERT, to_store)
        skew = None if device_time is None else (now - device_time).total_seconds()
        log.info(
            "sync.pushed",
            county=str(principal.county_id),
            ops=len(ops),
            applied=sum(r.status == "applied" for r in receipts),
            rejected=sum(r.status == "rejected" for r in receipts),
        )
        return PushResult(receipts=receipts, server_time=now, clock_skew_s=skew)

    async def _run(self, principal: Principal, index: int, op: Operation, now: datetime) -> Receipt:
        try:
            self._check_age(op, now)
            async with self.db.begin_nested():
                try:
                    receipt = await self._apply(principal, index, op)
                except PatrolAlreadyEndedError as exc:
                    receipt = Receipt(
                        index,
                        op.op_id,
                        "conflict",
                        record_id=_record_of(op),
                        code=exc.code,
                        reason=exc.detail,
                        conflict=Conflict(0, ["ended_at"], {"ended_at": exc.extra.get("ended_at")}),
                    )
                if receipt.status == "conflict":
                    raise _Outcome(receipt)
                return receipt
        except _Outcome as outcome:
            return outcome.receipt
        except DomainError as exc:
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=_record_of(op),
                code=exc.code,
                reason=exc.detail,
            )
        except Exception as exc:  # a bug or a database error: report it, let the phone retry
            log.exception("sync.op_failed", op=type(op).__name__, error=type(exc).__name__)
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=_record_of(op),
                code="internal_error",
                retryable=True,
                reason="the operation failed on the server; send it again later",
            )

    def _check_age(self, op: Operation, now: datetime) -> None:
        at = _time_of(op)
        if at is None:
            return
        if at.tzinfo is None:
            raise InvalidPatrolInputError(
                "times must carry a time zone offset", code="invalid_time"
            )
        if at < now - MAX_OP_AGE:
            raise InvalidPatrolInputError(
                f"time {at.isoformat()} is more than {MAX_OP_AGE.days} days ago; "
                "check the phone's clock",
                code="implausible_time",
            )

    async def _apply(self, principal: Principal, index: int, op: Operation) -> Receipt:  # noqa: PLR0911 - one branch per op type
        if isinstance(op, StartPatrol):
            existed = await self.db.get(PatrolSession, op.patrol_id) is not None
            await self.patrols.start_patrol(
                principal,
                op.patrol_id,
                area_id=op.area_id,
                started_at=op.started_at,
                companion_ids=op.companion_ids,
                note=op.note,
            )
            return _done(index, op.op_id, op.patrol_id, duplicate=existed)
        if isinstance(op, EndPatrol):
            return await self._end(principal, index, op)
        if isinstance(op, TrackPoints):
            return await self._points(principal, index, op)
        if isinstance(op, SignIn):
            existed = await self.db.get(SignInRow, op.sign_in_id) is not None
            await self.patrols.sign_in(
                principal,
                op.patrol_id,
                op.sign_in_id,
                at=op.at,
                method=op.method,
                lon=op.lon,
                lat=op.lat,
                accuracy_m=op.accuracy_m,
                reason_code=op.reason_code,
                village_id=op.village_id,
                address=op.address,
            )
            return _done(index, op.op_id, op.sign_in_id, duplicate=existed)
        if isinstance(op, RecordFinding):
            existed = await self.db.get(Finding, op.finding_id) is not None
            await self.patrols.record_finding(
                principal,
                op.patrol_id,
                op.finding_id,
                found_at=op.found_at,
                project_name=op.project_name,
                construction_status=op.construction_status,
                lon=op.lon,
                lat=op.lat,
                accuracy_m=op.accuracy_m,
                builder=op.builder,
                construction_started_on=op.construction_started_on,
                occupied_area_m2=op.occupied_area_m2,
                township_id=op.township_id,
                village_id=op.village_id,
                note=op.note,
            )
            version = await self.db.scalar(_XMIN, {"id": op.finding_id})
            return _done(index, op.op_id, op.finding_id, duplicate=existed, version=version)
        if isinstance(op, UpdateFinding):
            return await self._update_finding(principal, index, op)
        if isinstance(op, RecordDutyCheck):
            existed = await self.db.get(DutyCheck, op.check_id) is not None
            await self.duty.record_duty_check(
                principal,
                op.check_id,
                site_id=op.site_id,
                checked_at=op.checked_at,
                status=op.status,
                member_id=op.member_id,
                is_night=op.is_night,
                note=op.note,
                evidence_ids=op.evidence_ids,
            )
            return _done(index, op.op_id, op.check_id, duplicate=existed)
        return Receipt(
            index,
            op.op_id,
            "rejected",
            record_id=op.evidence_id,
            code="op_not_supported",
            reason="evidence caption/metadata updates are not available on this server yet",
        )

    async def _end(self, principal: Principal, index: int, op: EndPatrol) -> Receipt:
        current = await self.db.get(PatrolSession, op.patrol_id)
        duplicate = (
            current is not None
            and current.ended_at is not None
            and current.end_reason != "auto_closed"
            and current.ended_at == op.ended_at
        )
        await self.patrols.end_patrol(principal, op.patrol_id, ended_at=op.ended_at, note=op.note)
        return _done(index, op.op_id, op.patrol_id, duplicate=duplicate)

    async def _points(self, principal: Principal, index: int, op: TrackPoints) -> Receipt:
        result = await self.tracks.append_track_points(principal, op.patrol_id, op.points)
        items = [RejectedItem(r.id, r.reason, r.detail) for r in result.rejected]
        if op.points and len(result.rejected) == len(op.points):
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=op.patrol_id,
                code="points_rejected",
                reason="every point was rejected",
                rejected_items=items,
            )
        status = "duplicate" if result.stored == 0 and op.points else "applied"
        return Receipt(index, op.op_id, status, record_id=op.patrol_id, rejected_items=items)

    async def _update_finding(self, principal: Principal, index: int, op: UpdateFinding) -> Receipt:
        version = await self.db.scalar(_XMIN_LOCK, {"id": op.finding_id, "c": principal.county_id})
        row = (
            None
            if version is None
            else await self.db.get(Finding, op.finding_id, populate_existing=True)
        )
        if row is None or version is None:
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=op.finding_id,
                code="finding_not_found",
                reason="finding not found",
            )
        await self._ensure_finding_editor(principal, row)
        new = op.changes.given()
        _validate_finding_changes(new)
        current = {k: getattr(row, k) for k in new}
        if version != op.base_version:
            base = op.base.given() if op.base is not None else {}
            clashing = [
                k for k in new if current[k] != new[k] and (k not in base or current[k] != base[k])
            ]
            if clashing:
                return Receipt(
                    index,
                    op.op_id,
                    "conflict",
                    record_id=row.id,
                    version=version,
                    code="version_conflict",
                    reason="the finding was changed on the server since your copy",
                    conflict=Conflict(
                        version, clashing, {k: _jsonable(current[k]) for k in clashing}
                    ),
                )
        if all(current[k] == v for k, v in new.items()):
            return _done(index, op.op_id, row.id, duplicate=True, version=version)
        for key, value in new.items():
            setattr(row, key, value)
        await self.db.flush()
        new_version = await self.db.scalar(_XMIN, {"id": row.id})
        return _done(index, op.op_id, row.id, version=new_version)

    async def _ensure_finding_editor(self, principal: Principal, row: Finding) -> None:
        if principal.has_role(*_MANAGERS) or row.reported_by == principal.user_id:
            return
        patrol = await self.db.get(PatrolSession, row.session_id)
        if patrol is not None and (
            patrol.inspector_id == principal.user_id
            or principal.user_id in (patrol.companion_ids or [])
        ):
            return
        raise NotPatrolOwnerError(
            "only the patrol's crew and captains may edit this finding", code="not_finding_editor"
        )


def _validate_finding_changes(new: dict[str, Any]) -> None:
    status = new.get("construction_status")
    if status is not None and status not in CONSTRUCTION_STATUSES:
        raise InvalidPatrolInputError(
            f"construction_status must be one of {', '.join(CONSTRUCTION_STATUSES)}",
            code="invalid_status",
            field="construction_status",
        )
    area = new.get("occupied_area_m2")
    if area is not None and not (math.isfinite(area) and area >= 0):
        raise InvalidPatrolInputError("occupied area must be ≥ 0", field="occupied_area_m2")
    name = new.get("project_name")
    if name is not None and not 0 < len(name.strip()) <= 200:
        raise InvalidPatrolInputError("project name must be 1-200 characters", field="project_name")


def _done(
    index: int,
    op_id: uuid.UUID,
    record_id: uuid.UUID,
    *,
    duplicate: bool = False,
    version: int | None = None,
) -> Receipt:
    return Receipt(
        index, op_id, "duplicate" if duplicate else "applied", record_id=record_id, version=version
    )


def _record_of(op: Operation) -> uuid.UUID | None:
    for name in ("finding_id", "sign_in_id", "check_id", "evidence_id", "patrol_id"):
        value = getattr(op, name, None)
        if isinstance(value, uuid.UUID):
            return value
    return None


def _time_of(op: Operation) -> datetime | None:
    for name in ("started_at", "ended_at", "at", "found_at", "checked_at"):
        value = getattr(op, name, None)
        if isinstance(value, datetime):
            return value
    return None
