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
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.adapters import visible_evidence_ids
from evidence.annotations import update_evidence_annotation
from evidence.cases.satellite_tasks import SatelliteTaskService
from evidence.custody import CustodyLog
from infra import error_codes as codes
from infra.db import database_unavailable, utcnow
from infra.errors import DomainError
from infra.scope import Principal
from patrol.config import PatrolConfig
from patrol.duty import DutyService, GeofenceDutyRoster
from patrol.errors import InvalidPatrolInputError, PatrolAlreadyEndedError
from patrol.field_models import PatrolSession
from patrol.finding_checks import FindingScreener
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from patrol.verification import VerificationService
from sync._db import driver
from sync.errors import BatchTooLargeError
from sync.ops import (
    EndPatrol,
    Operation,
    RecordDutyCheck,
    RecordFinding,
    RecordSatelliteResult,
    RecordTargetVerification,
    SignIn,
    StartPatrol,
    TrackPoints,
    Undecodable,
    UpdateEvidence,
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
    "SignInOutcome",
]

log = structlog.get_logger(__name__)

MAX_OPS = 500
#: Operations dated further back than this are refused (a phone whose clock was reset).
MAX_OP_AGE = timedelta(days=30)

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('sync-push:' || :u, 0))"
_STORED = text(
    "SELECT op_id, op_hash, receipt FROM sync_receipts WHERE user_id = :u AND op_id = ANY(:ids)"
)
_INSERT = """
INSERT INTO sync_receipts (user_id, op_id, county_id, op_hash, receipt, created_at)
SELECT $1, r.op, $2, r.h, r.body::jsonb, $3
FROM unnest($4::uuid[], $5::bytea[], $6::text[]) AS r(op, h, body)
ON CONFLICT DO NOTHING
"""
_LOCK_PATROL = "SELECT id FROM patrol_sessions WHERE id = $1 AND county_id = $2 FOR UPDATE"
_POINTS_STORED = "SELECT id FROM patrol_track_points WHERE session_id = $1 AND id = ANY($2::uuid[])"
#: Operations that share a savepoint at most (a failure reruns the ones before it).
_GROUP_MAX = 50
#: Sign-ins or findings of one patrol stored with one call at most.
_BULK_MAX = 200
# the parameters of _EXISTING_SQL
_EXISTING = ("patrol", "sign_in", "finding", "duty_check", "verification")
_EXISTING_SQL = """
SELECT 'patrol', id FROM patrol_sessions WHERE id = ANY($1::uuid[])
UNION ALL SELECT 'sign_in', id FROM patrol_sign_ins WHERE id = ANY($2::uuid[])
UNION ALL SELECT 'finding', id FROM patrol_findings WHERE id = ANY($3::uuid[])
UNION ALL SELECT 'duty_check', id FROM patrol_duty_checks WHERE id = ANY($4::uuid[])
UNION ALL SELECT 'verification', id FROM patrol_target_verifications WHERE id = ANY($5::uuid[])
"""


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


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """What a sign-in reached (see :meth:`patrol.sessions.PatrolService.sign_in_many`)."""

    targets_reached: list[uuid.UUID] = field(default_factory=list)
    nearest_target_id: uuid.UUID | None = None
    nearest_target_m: float | None = None
    far_from_targets: bool = False


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
    sign_in: SignInOutcome | None = None
    #: the facts the catalogue's text for ``code`` names (``infra.messages``)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PushResult:
    receipts: list[Receipt]
    server_time: datetime
    clock_skew_s: float | None


@dataclass(slots=True)
class _Batch:
    """The state of one push: stored receipts, answers so far, receipts to store."""

    principal: Principal
    now: datetime
    slots: list[Receipt | None]
    stored: dict[uuid.UUID, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)
    to_store: list[tuple[uuid.UUID, bytes, str]] = field(default_factory=list)
    run: list[tuple[int, Operation, bytes]] = field(default_factory=list)
    run_ids: set[uuid.UUID] = field(default_factory=set)

    def keep(self, index: int, op: Operation, digest: bytes, receipt: Receipt) -> None:
        """Answer ``op``; remember the receipt for replays unless the phone should retry."""
        self.slots[index] = receipt
        if receipt.retryable:
            return
        body = msgspec.json.encode(receipt, enc_hook=_jsonable)  # "index" is set on reading
        self.stored[op.op_id] = (digest, msgspec.json.decode(body))
        self.to_store.append((op.op_id, digest, body.decode()))


class _Outcome(Exception):  # noqa: N818 - a non-error result that must roll back its savepoint
    def __init__(self, receipt: Receipt) -> None:
        super().__init__(receipt.status)
        self.receipt = receipt


#: Fields added to an operation after phones started sending it: left out of its hash when
#: unset, so an operation stored before they existed still replays as itself.
_ADDED_FIELDS = ("outline",)


def _op_hash(op: Operation) -> bytes:
    """The stored fingerprint of ``op``: its type name and its fields as JSON. An operation
    that carries a domain input is hashed flat (op id, then the input's fields), as it was
    written before it carried one: receipts stored then stay valid (pinned by
    ``tests/sync/test_push_replay_stable.py``)."""
    data = msgspec.to_builtins(op)
    inner = data.pop("input", None)
    if isinstance(inner, dict):
        data.update(inner)
    for name in _ADDED_FIELDS:
        if name in data and data[name] is None:
            del data[name]
    return hashlib.sha256(type(op).__name__.encode() + msgspec.json.encode(data)).digest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _receipt_from_json(index: int, data: dict[str, Any]) -> Receipt:
    return msgspec.convert({**data, "index": index}, Receipt, strict=False)


def _server_now() -> datetime:
    return utcnow()


class PushService:
    def __init__(
        self,
        db: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        custody: CustodyLog | None = None,
        screener: FindingScreener | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``custody``: the evidence custody log (keyed like the evidence service's); without
        it evidence caption/metadata updates are answered ``op_not_supported``. ``screener``:
        the referral screening of findings, as for :class:`~patrol.sessions.PatrolService`.
        ``clock``: the server's time (receipts, the age limit of operations); the app's own
        clock when it has one."""
        self.db = db
        self._clock = clock or _server_now
        self.custody = custody
        self.config = config or PatrolConfig()
        self.patrols = PatrolService(db, config=self.config, screener=screener)
        self.tracks = TrackService(db, config=self.config)
        self.duty = DutyService(db, GeofenceDutyRoster(), config=self.config)
        self.verifications = VerificationService(
            db, config=self.config, evidence=visible_evidence_ids
        )
        self.satellite = SatelliteTaskService(db, custody, verifications=self.verifications)
        self._known: set[tuple[str, uuid.UUID]] = set()

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
        now = self._clock()
        await self.db.execute(text(_LOCK), {"u": str(principal.user_id)})
        batch = _Batch(principal, now, [None] * len(ops))
        ids = [op.op_id for op in ops if op.op_id is not None]
        if ids:
            rows = await self.db.execute(_STORED, {"u": principal.user_id, "ids": ids})
            batch.stored = {r[0]: (bytes(r[1]), r[2]) for r in rows}
        self._known = await _existing_records(self.db, ops)
        for index, op in enumerate(ops):
            if isinstance(op, Undecodable):
                batch.slots[index] = Receipt(
                    index, op.op_id, "rejected", code=op.code, reason=op.reason, params=op.params
                )
                continue
            digest = _op_hash(op)
            if op.op_id in batch.run_ids:
                await self._flush_run(batch)  # the op id again in one batch: a replay
            if op.op_id in batch.stored:
                batch.slots[index] = _replayed(index, op.op_id, digest, batch.stored[op.op_id])
                continue
            if not _joins(batch.run, op):
                await self._flush_run(batch)
            batch.run.append((index, op, digest))
            batch.run_ids.add(op.op_id)
        await self._flush_run(batch)
        if batch.to_store:
            await self.db.flush()
            conn = await driver(self.db)
            columns = [list(c) for c in zip(*batch.to_store, strict=True)]
            await conn.execute(_INSERT, principal.user_id, principal.county_id, now, *columns)
        receipts = [r for r in batch.slots if r is not None]
        skew = None if device_time is None else (now - device_time).total_seconds()
        log.info(
            "sync.pushed",
            county=str(principal.county_id),
            ops=len(ops),
            applied=sum(r.status == "applied" for r in receipts),
            rejected=sum(r.status == "rejected" for r in receipts),
        )
        return PushResult(receipts=receipts, server_time=now, clock_skew_s=skew)

    async def _flush_run(self, batch: _Batch) -> None:
        if not batch.run:
            return
        first = batch.run[0][1]
        if isinstance(first, TrackPoints):
            points = [(index, op) for index, op, _ in batch.run if isinstance(op, TrackPoints)]
            receipts = await self._points_run(batch.principal, points, batch.now)
        elif isinstance(first, SignIn | RecordFinding):
            run = [(index, op) for index, op, _ in batch.run]
            receipts = await self._bulk_run(batch.principal, run, batch.now)
        else:
            run = [(index, op) for index, op, _ in batch.run]
            receipts = await self._group_run(batch.principal, run, batch.now)
        for (index, op, digest), receipt in zip(batch.run, receipts, strict=True):
            batch.keep(index, op, digest, receipt)
        batch.run.clear()
        batch.run_ids.clear()

    async def _group_run(
        self, principal: Principal, run: list[tuple[int, Operation]], now: datetime
    ) -> list[Receipt]:
        """Run operations in one savepoint while they succeed (each savepoint is two round
        trips and a subtransaction); when one fails, the ones before it run again together
        and the failing one on its own, in its own savepoint, as usual."""
        out: list[Receipt] = []
        while run:
            known = set(self._known)
            done: list[Receipt] = []
            try:
                async with self.db.begin_nested():
                    for index, op in run:
                        self._check_age(op, now)
                        receipt = await self._apply(principal, index, op)
                        if receipt.status not in {"applied", "duplicate"}:
                            raise _Outcome(receipt)
                        done.append(receipt)
            except Exception:  # the failing operation runs again on its own, below
                self._rolled_back(known)
                failed = len(done)
                if failed > 0:
                    out.extend(await self._group_run(principal, run[:failed], now))
                index, op = run[failed]
                out.append(await self._run(principal, index, op, now))
                run = run[failed + 1 :]
                continue
            out.extend(done)
            break
        return out

    def _rolled_back(self, known: set[tuple[str, uuid.UUID]]) -> None:
        """After a savepoint rolled back: the records known before it, and no loaded row
        keeps a value the rollback undid (a patrol ended in the savepoint would otherwise
        look ended to the operation run again, which then stores nothing)."""
        self._known = known
        self.db.expire_all()

    async def _bulk_run(
        self, principal: Principal, run: list[tuple[int, Operation]], now: datetime
    ) -> list[Receipt]:
        """Sign-ins, or findings, of one patrol stored with one call; when any of them is
        refused they run again one by one (each then answers for itself)."""
        if len(run) > 1:
            known = set(self._known)
            try:
                async with self.db.begin_nested():
                    for _, op in run:
                        self._check_age(op, now)
                    return await self._bulk_apply(principal, run)
            except DomainError:
                pass
            except Exception as exc:  # run one by one below, which reports it per operation
                log.warning("sync.bulk_failed", op=type(run[0][1]).__name__,
                            error=type(exc).__name__)  # fmt: skip
            self._rolled_back(known)
        return await self._group_run(principal, run, now)

    async def _bulk_apply(
        self, principal: Principal, run: list[tuple[int, Operation]]
    ) -> list[Receipt]:
        """Store a run of sign-ins, or of findings, of one patrol with one patrol call (a run
        of one is an operation on its own)."""
        signs = [(i, op) for i, op in run if isinstance(op, SignIn)]
        if signs:
            stored = await self.patrols.sign_in_many(principal, [op.input for _, op in signs])
            receipts = [
                self._stored(i, op.op_id, "sign_in", op.input.sign_in_id) for i, op in signs
            ]
            for receipt, (row, _) in zip(receipts, stored, strict=True):
                receipt.sign_in = SignInOutcome(
                    list(row.reached_target_ids or []),
                    row.nearest_target_id,
                    row.nearest_target_m,
                    row.far_from_targets,
                )
            return receipts
        finds = [(i, op.op_id, op.input) for i, op in run if isinstance(op, RecordFinding)]
        await self.patrols.record_findings(principal, [item for _, _, item in finds])
        versions = await self.patrols.finding_versions(
            principal, [item.finding_id for _, _, item in finds]
        )
        return [
            self._stored(i, op_id, "finding", item.finding_id, versions[item.finding_id])
            for i, op_id, item in finds
        ]

    def _stored(
        self,
        index: int,
        op_id: uuid.UUID,
        kind: str,
        record_id: uuid.UUID,
        version: int | None = None,
    ) -> Receipt:
        """The receipt of a record now stored: ``duplicate`` when it was stored before."""
        existed = (kind, record_id) in self._known
        self._known.add((kind, record_id))
        return _done(index, op_id, record_id, duplicate=existed, version=version)

    async def _points_run(
        self, principal: Principal, run: list[tuple[int, TrackPoints]], now: datetime
    ) -> list[Receipt]:
        """Receipts of consecutive point batches of one patrol, stored in as few calls as
        the batch limit allows; on any error each operation runs again on its own."""
        out: list[Receipt] = []
        limit = self.config.max_points_per_batch
        chunk: list[tuple[int, TrackPoints]] = []
        size = 0
        for item in [*run, None]:
            if chunk and (item is None or size + len(item[1].input.points) > limit):
                out.extend(await self._points_chunk(principal, chunk, now))
                chunk, size = [], 0
            if item is not None:
                chunk.append(item)
                size += len(item[1].input.points)
        return out

    async def _points_chunk(
        self, principal: Principal, chunk: list[tuple[int, TrackPoints]], now: datetime
    ) -> list[Receipt]:
        if len(chunk) > 1:
            try:
                async with self.db.begin_nested():
                    return await self._points_merged(principal, chunk)
            except (_Outcome, DomainError):
                pass  # e.g. not this caller's patrol: each operation answers on its own
            except Exception as exc:  # run one by one below, which reports it per operation
                log.warning("sync.points_merge_failed", error=type(exc).__name__)
        return [await self._run(principal, index, op, now) for index, op in chunk]

    async def _points_merged(
        self, principal: Principal, chunk: list[tuple[int, TrackPoints]]
    ) -> list[Receipt]:
        patrol_id = chunk[0][1].input.patrol_id
        conn = await driver(self.db)
        if await conn.fetchval(_LOCK_PATROL, patrol_id, principal.county_id) is None:
            raise _Outcome(Receipt(0, None, "rejected"))
        points = [p for _, op in chunk for p in op.input.points]
        ids = [p.id for p in points]
        if len(set(ids)) != len(ids):
            # a point id twice: which copy a rejection is about cannot be told apart
            raise _Outcome(Receipt(0, None, "rejected"))
        known = {r[0] for r in await conn.fetch(_POINTS_STORED, patrol_id, ids)}
        result = await self.tracks.append_track_points(principal, patrol_id, points)
        rejected = iter(result.rejected)  # in the order of the points, ids unique
        pending = next(rejected, None)
        out: list[Receipt] = []
        for index, op in chunk:
            items: list[RejectedItem] = []
            new = 0
            for p in op.input.points:
                if pending is not None and pending.id == p.id:
                    items.append(RejectedItem(pending.id, pending.reason, pending.detail))
                    pending = next(rejected, None)
                elif p.id not in known:
                    known.add(p.id)
                    new += 1
            out.append(_points_receipt(index, op, items, stored=new))
        return out

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
                        params=_params(exc.extra),
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
                params=_params(exc.extra),
            )
        except Exception as exc:  # a bug or a database error: report it, let the phone retry
            if database_unavailable(exc) is not None:
                raise  # the database is down: the whole push answers 503, nothing is kept
            log.exception("sync.op_failed", op=type(op).__name__, error=type(exc).__name__)
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=_record_of(op),
                code=codes.INTERNAL_ERROR,
                retryable=True,
                reason="the operation failed on the server; send it again later",
            )

    def _check_age(self, op: Operation, now: datetime) -> None:
        at = _time_of(op)
        if at is None:
            return
        if at.tzinfo is None:
            raise InvalidPatrolInputError(
                "times must carry a time zone offset", code=codes.INVALID_TIME
            )
        if at < now - MAX_OP_AGE:
            raise InvalidPatrolInputError(
                f"time {at.isoformat()} is more than {MAX_OP_AGE.days} days ago; "
                "check the phone's clock",
                code=codes.IMPLAUSIBLE_TIME,
            )

    async def _apply(self, principal: Principal, index: int, op: Operation) -> Receipt:  # noqa: PLR0911 - one branch per op type
        if isinstance(op, StartPatrol):
            await self.patrols.start(principal, op.input)
            return self._stored(index, op.op_id, "patrol", op.input.patrol_id)
        if isinstance(op, EndPatrol):
            return await self._end(principal, index, op)
        if isinstance(op, TrackPoints):
            return await self._points(principal, index, op)
        if isinstance(op, SignIn | RecordFinding):
            return (await self._bulk_apply(principal, [(index, op)]))[0]
        if isinstance(op, UpdateFinding):
            return await self._update_finding(principal, index, op)
        if isinstance(op, RecordDutyCheck):
            await self.duty.record_check(principal, op.input)
            return self._stored(index, op.op_id, "duty_check", op.input.check_id)
        if isinstance(op, RecordTargetVerification):
            await self.verifications.record(principal, op.input)
            return self._stored(index, op.op_id, "verification", op.input.verification_id)
        if isinstance(op, RecordSatelliteResult):
            _, replayed = await self.satellite.record_result(principal, op.input)
            return _done(index, op.op_id, op.input.result_id, duplicate=replayed)
        return await self._update_evidence(principal, index, op)

    async def _end(self, principal: Principal, index: int, op: EndPatrol) -> Receipt:
        item = op.input
        current = await self.db.get(PatrolSession, item.patrol_id)
        duplicate = (
            current is not None
            and current.ended_at is not None
            and current.end_reason != "auto_closed"
            and current.ended_at == item.ended_at
        )
        await self.patrols.end(principal, item)
        return _done(index, op.op_id, item.patrol_id, duplicate=duplicate)

    async def _points(self, principal: Principal, index: int, op: TrackPoints) -> Receipt:
        result = await self.tracks.append(principal, op.input)
        items = [RejectedItem(r.id, r.reason, r.detail) for r in result.rejected]
        return _points_receipt(index, op, items, stored=result.stored)

    async def _update_finding(self, principal: Principal, index: int, op: UpdateFinding) -> Receipt:
        result = await self.patrols.update_finding(principal, op.input)
        return _edited(
            index, op.op_id, result.finding_id, what="finding", status=result.status,
            version=result.version, server_values=result.server_values,
        )  # fmt: skip

    async def _update_evidence(
        self, principal: Principal, index: int, op: UpdateEvidence
    ) -> Receipt:
        if self.custody is None:
            return Receipt(
                index,
                op.op_id,
                "rejected",
                record_id=op.evidence_id,
                code=codes.OP_NOT_SUPPORTED,
                reason="evidence caption/metadata updates are not available on this server",
            )
        changes = op.changes
        result = await update_evidence_annotation(
            self.db,
            principal,
            op.evidence_id,
            base_version=op.base_version,
            caption=changes.caption,
            proves=changes.proves,
            view_type=changes.view_type,
            base=None if op.base is None else op.base.given(),
            custody=self.custody,
        )
        return _edited(
            index, op.op_id, result.evidence_id, what="evidence", status=result.status,
            version=result.version, server_values=result.server_values,
        )  # fmt: skip


async def _existing_records(
    db: AsyncSession, ops: Sequence[Operation | Undecodable]
) -> set[tuple[str, uuid.UUID]]:
    """Which records the batch creates exist already (one query instead of one per op)."""
    wanted: dict[str, list[uuid.UUID]] = {kind: [] for kind in _EXISTING}
    for op in ops:
        if isinstance(op, StartPatrol):
            wanted["patrol"].append(op.input.patrol_id)
        elif isinstance(op, SignIn):
            wanted["sign_in"].append(op.input.sign_in_id)
        elif isinstance(op, RecordFinding):
            wanted["finding"].append(op.input.finding_id)
        elif isinstance(op, RecordDutyCheck):
            wanted["duty_check"].append(op.input.check_id)
        elif isinstance(op, RecordTargetVerification):
            wanted["verification"].append(op.input.verification_id)
    if not any(wanted.values()):
        return set()
    conn = await driver(db)
    rows = await conn.fetch(_EXISTING_SQL, *(wanted[kind] for kind in _EXISTING))
    return {(r[0], r[1]) for r in rows}


def _bulk_key(op: Operation) -> tuple[type, uuid.UUID] | None:
    if isinstance(op, TrackPoints | SignIn | RecordFinding):
        return type(op), op.input.patrol_id
    return None


def _joins(run: list[tuple[int, Operation, bytes]], op: Operation) -> bool:
    """Whether ``op`` may run with the operations queued before it: point batches,
    sign-ins and findings of one patrol are stored together (each kind with one call),
    other operations share a savepoint."""
    if not run:
        return True
    key, first_key = _bulk_key(op), _bulk_key(run[0][1])
    if key is not None or first_key is not None:
        return key == first_key and (isinstance(op, TrackPoints) or len(run) < _BULK_MAX)
    return len(run) < _GROUP_MAX


def _points_receipt(
    index: int, op: TrackPoints, items: list[RejectedItem], *, stored: int
) -> Receipt:
    points, patrol_id = op.input.points, op.input.patrol_id
    if points and len(items) == len(points):
        return Receipt(
            index,
            op.op_id,
            "rejected",
            record_id=patrol_id,
            code=codes.POINTS_REJECTED,
            reason="every point was rejected",
            rejected_items=items,
        )
    status = "duplicate" if stored == 0 and points else "applied"
    return Receipt(index, op.op_id, status, record_id=patrol_id, rejected_items=items)


def _replayed(
    index: int, op_id: uuid.UUID, digest: bytes, stored: tuple[bytes, dict[str, Any]]
) -> Receipt:
    old_hash, data = stored
    if old_hash == digest:
        return _receipt_from_json(index, data)
    return Receipt(
        index,
        op_id,
        "rejected",
        code=codes.OP_ID_REUSED,
        reason="this op id was used for another operation",
    )


def _version_conflict(
    index: int,
    op_id: uuid.UUID,
    record_id: uuid.UUID,
    *,
    what: str,
    version: int,
    server_values: dict[str, Any],
) -> Receipt:
    """The record moved on and ``server_values`` (the clashing fields) differ from the edit."""
    return Receipt(
        index,
        op_id,
        "conflict",
        record_id=record_id,
        version=version,
        code=codes.VERSION_CONFLICT,
        reason=f"the {what} was changed on the server since your copy",
        conflict=Conflict(
            version, list(server_values), {k: _jsonable(v) for k, v in server_values.items()}
        ),
    )


def _edited(
    index: int,
    op_id: uuid.UUID,
    record_id: uuid.UUID,
    *,
    what: str,
    status: str,
    version: int,
    server_values: dict[str, Any],
) -> Receipt:
    """The receipt of an edit answered ``applied``, ``unchanged`` or ``conflict``."""
    if status == "conflict":
        return _version_conflict(
            index, op_id, record_id, what=what, version=version, server_values=server_values
        )
    return _done(index, op_id, record_id, duplicate=status == "unchanged", version=version)


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


def _params(extra: dict[str, Any]) -> dict[str, Any]:
    """An error's plain facts (text and numbers), kept with its receipt for the message."""
    return {k: v for k, v in extra.items() if isinstance(v, str | int | float | bool)}


def _record_of(op: Operation) -> uuid.UUID | None:
    fields = getattr(op, "input", op)
    names = (
        "result_id",
        "verification_id",
        "finding_id",
        "sign_in_id",
        "check_id",
        "evidence_id",
        "patrol_id",
    )
    for name in names:
        value = getattr(fields, name, None)
        if isinstance(value, uuid.UUID):
            return value
    return None


def _time_of(op: Operation) -> datetime | None:
    fields = getattr(op, "input", op)
    for name in ("started_at", "ended_at", "at", "found_at", "checked_at", "verified_at"):
        value = getattr(fields, name, None)
        if isinstance(value, datetime):
            return value
    return None
