"""Pull: the changes a phone needs since its cursor, a page at a time.

See the package docstring for the design. One page runs in one ``REPEATABLE READ``
transaction, so the page, its versions and the snapshot it records agree.

**Keyset paging.** A collection is compared with the manifest once per pass: when its
difference does not fit in the page, the whole difference is kept in ``sync_outbox`` by
record id and the page's cursor names the last id sent (:class:`sync.cursor.Resume`). The
next page reads on from that id through the outbox's primary key, so every page costs the
same however far into the pull it is. The kept difference stays right while nothing the
collection is made of has changed since the acknowledged page: the change feed says so (as
it does for the collections a pull skips), and when it did, or the local day turned, or the
cursor names no position in that collection, the collection is compared afresh and its
outbox replaced. Only the acknowledgement of the page that ends a pass drops its outbox rows
(a pass given up for a fresh comparison has its rows replaced by that comparison), so a page
whose answer was lost can be computed again from the same rows.

**What a page sent.** Rows a page sent from the outbox are not written again: the stream
names the id range of the outbox the page sent (``pending_outbox_*``), and the
acknowledgement copies that range into the manifest with one ``INSERT ... SELECT``. Only
the rest (collections that fitted in the page, and deletions) is copied to ``sync_pending``.
The first page of a new stream goes straight into the manifest (see :meth:`_store_pending`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.ids import uuid7
from infra.scope import MANAGERS, Principal
from patrol.config import PatrolConfig
from sync._db import driver
from sync.collections import ALL_MASK, COLLECTIONS, TIME_WINDOW_MASK, mask_of_tables
from sync.cursor import Cursor, CursorCodec, Resume
from sync.errors import CursorStaleError, SyncBusyError
from sync.records import JsonRecords

__all__ = ["FEED_RETENTION", "Page", "PullService", "prune_sync_state"]

log = structlog.get_logger(__name__)

#: How long change-feed rows are kept; an older base snapshot means a full comparison.
FEED_RETENTION = timedelta(days=14)
DEFAULT_LIMIT = 2000
# lock_not_available (NOWAIT), serialization_failure (row changed after our snapshot)
_BUSY_STATES = {"55P03", "40001"}
MAX_LIMIT = 10_000
PATROL_WINDOW_DAYS = 30
FINDING_WINDOW_DAYS = 90

_STREAM_SQL = """
SELECT id, user_id, acked_seq, issued_seq, pending_seq, pending_snapshot, pending_dirty,
       pending_scope_day, base_snapshot, base_at, dirty, scope_day, pending_outbox_coll,
       pending_outbox_after, pending_outbox_upto
FROM sync_streams WHERE id = $1 FOR UPDATE NOWAIT
"""
_APPLY_PENDING = (
    """
INSERT INTO sync_manifest (stream_id, collection, record_id, version)
SELECT stream_id, collection, record_id, version FROM sync_pending
WHERE stream_id = $1 AND version IS NOT NULL
ON CONFLICT (stream_id, collection, record_id) DO UPDATE SET version = excluded.version
""",
    """
DELETE FROM sync_manifest m USING sync_pending p
WHERE p.stream_id = $1 AND p.version IS NULL
  AND m.stream_id = $1 AND m.collection = p.collection AND m.record_id = p.record_id
""",
)
# the upserts a page sent from a range of the outbox (its deletions are in sync_pending)
_APPLY_OUTBOX = """
INSERT INTO sync_manifest (stream_id, collection, record_id, version)
SELECT stream_id, collection, record_id, version FROM sync_outbox
WHERE stream_id = $1 AND collection = $2 AND record_id > $3 AND record_id <= $4
  AND version IS NOT NULL
ON CONFLICT (stream_id, collection, record_id) DO UPDATE SET version = excluded.version
"""
_DROP_PENDING = "DELETE FROM sync_pending WHERE stream_id = $1"
# the outbox rows of a pass the acknowledged page finished (one collection: an equality on the
# key's prefix, which no statistics turn into a scan of the stream's whole outbox, as
# ``collection = ANY(...)`` did on every page)
_TRIM_OUTBOX = "DELETE FROM sync_outbox WHERE stream_id = $1 AND collection = $2"
_CHANGED_TABLES = """
SELECT DISTINCT tbl FROM sync_changes
WHERE county_id = $1
  AND xid >= pg_snapshot_xmin($2::text::pg_snapshot)::text::bigint
  AND NOT pg_visible_in_snapshot(xid::text::xid8, $2::text::pg_snapshot)
"""
_SAVE_STREAM = """
UPDATE sync_streams SET acked_seq = $2, issued_seq = $3, pending_seq = $4,
    pending_snapshot = $5, pending_dirty = $6, pending_scope_day = $7, base_snapshot = $8,
    base_at = $9, dirty = $10, scope_day = $11, last_pull_at = $12, pending_outbox_coll = $13,
    pending_outbox_after = $14, pending_outbox_upto = $15
WHERE id = $1
"""
_NEW_STREAM = """
INSERT INTO sync_streams (id, county_id, user_id, created_at, last_pull_at, acked_seq,
    issued_seq, pending_dirty, dirty)
VALUES ($1, $2, $3, $4, $4, 0, 0, 0, $5)
"""


@dataclass(slots=True)
class Page:
    """One answer to a pull: records per collection name (features as :class:`JsonRecords`),
    deletions, the next cursor."""

    cursor: str
    has_more: bool
    reset: bool
    server_time: datetime
    upserts: dict[str, list[Any] | JsonRecords] = field(default_factory=dict)
    deletes: dict[str, list[uuid.UUID]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(map(len, self.upserts.values())) + sum(map(len, self.deletes.values()))


@dataclass(slots=True)
class _Stream:
    id: uuid.UUID
    acked_seq: int = 0
    issued_seq: int = 0
    pending_seq: int | None = None
    pending_snapshot: str | None = None
    pending_dirty: int = 0
    pending_scope_day: str | None = None
    base_snapshot: str | None = None
    base_at: datetime | None = None
    dirty: int = ALL_MASK
    scope_day: str | None = None
    pending_outbox_coll: list[int] | None = None
    pending_outbox_after: list[uuid.UUID] | None = None
    pending_outbox_upto: list[uuid.UUID] | None = None

    def save_args(self, now: datetime) -> tuple[Any, ...]:
        return (
            self.id,
            self.acked_seq,
            self.issued_seq,
            self.pending_seq,
            self.pending_snapshot,
            self.pending_dirty,
            self.pending_scope_day,
            self.base_snapshot,
            self.base_at,
            self.dirty,
            self.scope_day,
            now,
            self.pending_outbox_coll,
            self.pending_outbox_after,
            self.pending_outbox_upto,
        )

    def outbox_ranges(self) -> list[tuple[int, uuid.UUID, uuid.UUID]]:
        return list(
            zip(
                self.pending_outbox_coll or (),
                self.pending_outbox_after or (),
                self.pending_outbox_upto or (),
                strict=True,
            )
        )

    def keep_pending(self, ranges: list[tuple[int, uuid.UUID, uuid.UUID]] | None) -> None:
        colls, afters, uptos = zip(*ranges, strict=True) if ranges else (None, None, None)
        self.pending_outbox_coll = None if colls is None else list(colls)
        self.pending_outbox_after = None if afters is None else list(afters)
        self.pending_outbox_upto = None if uptos is None else list(uptos)


@dataclass(slots=True)
class _Sent:
    """What a page sent, to keep until it is acknowledged: ``rows`` (collection, id,
    version or ``None`` for a deletion) to copy, and the upserts it sent from the outbox as
    ranges (collection, after, up to)."""

    stopped: Resume | None = None
    rows: list[tuple[int, uuid.UUID, int | None]] = field(default_factory=list)
    ranges: list[tuple[int, uuid.UUID, uuid.UUID]] = field(default_factory=list)


_NIL = uuid.UUID(int=0)  # before every record id


def _month_before(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


class PullService:
    def __init__(
        self,
        db: AsyncSession,
        codec: CursorCodec,
        *,
        config: PatrolConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the time the pull's local day and windows count from (tests fix it)."""
        self.db = db
        self.codec = codec
        self.config = config or PatrolConfig()
        self.clock = clock

    async def pull(
        self, principal: Principal, *, cursor: str | None, limit: int = DEFAULT_LIMIT
    ) -> Page:
        """The next page of changes for the caller (``SyncPull``).

        Without a cursor a new stream starts and the page says ``reset``: the phone drops
        what it holds and takes everything. Presenting the cursor of the last page
        acknowledges it; presenting the previous one again (the answer was lost) sends the
        page again, computed afresh. Anything older is ``cursor_stale``.
        """
        limit = max(1, min(limit, MAX_LIMIT))
        parsed = None if cursor is None else self.codec.decode(cursor, user_id=principal.user_id)
        await self.db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        snapshot = str(await self.db.scalar(text("SELECT pg_current_snapshot()::text")))
        conn = await driver(self.db)
        now = self.clock()
        try:
            if parsed is None:
                stream = _Stream(id=uuid7())
                await conn.execute(
                    _NEW_STREAM, stream.id, principal.county_id, principal.user_id, now, ALL_MASK
                )
            else:
                stream = await self._acknowledge(conn, principal, parsed, now)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) not in _BUSY_STATES:
                raise
            raise SyncBusyError(
                "another pull of this stream is running; retry shortly", retry_after_s=1
            ) from exc
        today = now.astimezone(self.config.tz).date()
        dirty, fresh = await self._dirty(conn, principal, stream, today, now)
        page = Page(
            cursor=self.codec.encode(Cursor(stream.id, principal.user_id, stream.acked_seq)),
            has_more=False,
            reset=parsed is None,
            server_time=now,
        )
        sent = _Sent()
        if dirty:
            at = None if parsed is None or parsed.resume is None else parsed.resume
            if at is not None and fresh & (1 << at.collection):
                at = None  # written since: that collection is compared afresh
            sent = await self._fill(
                conn, principal, stream, page, dirty=dirty, limit=limit, today=today, at=at
            )
        if page.count:
            stream.issued_seq += 1
            stream.pending_seq = stream.issued_seq
            stream.pending_snapshot = snapshot
            stream.pending_scope_day = today.isoformat()
            page.cursor = self.codec.encode(
                Cursor(stream.id, principal.user_id, stream.pending_seq, sent.stopped)
            )
            await self._store_pending(conn, stream, sent, new_stream=parsed is None)
        else:  # nothing to send: what the phone holds is the scope as of this snapshot
            stream.pending_seq = None
            stream.base_snapshot, stream.base_at = snapshot, now
            stream.dirty, stream.scope_day = 0, today.isoformat()
        await conn.execute(_SAVE_STREAM, *stream.save_args(now))
        log.info(
            "sync.pulled",
            county=str(principal.county_id),
            stream=str(stream.id),
            records=page.count,
            has_more=page.has_more,
        )
        return page

    async def _acknowledge(
        self, conn: Any, principal: Principal, cursor: Cursor, now: datetime
    ) -> _Stream:
        row = await conn.fetchrow(_STREAM_SQL, cursor.stream_id)
        if row is None or row["user_id"] != principal.user_id:
            raise CursorStaleError(
                "this sync stream is gone; pull without a cursor", field="cursor"
            )
        stream = _Stream(**{k: row[k] for k in row.keys() if k != "user_id"})  # noqa: SIM118
        if stream.pending_seq is not None and cursor.seq == stream.pending_seq:
            for sql in _APPLY_PENDING:
                await conn.execute(sql, stream.id)
            keep = None if cursor.resume is None else cursor.resume.collection
            for coll, after, upto in stream.outbox_ranges():
                await conn.execute(_APPLY_OUTBOX, stream.id, coll, after, upto)
                if coll != keep:  # its pass ended with this page
                    await conn.execute(_TRIM_OUTBOX, stream.id, coll)
            stream.acked_seq = cursor.seq
            stream.base_snapshot, stream.base_at = stream.pending_snapshot, now
            stream.dirty, stream.scope_day = stream.pending_dirty, stream.pending_scope_day
        elif cursor.seq != stream.acked_seq:
            raise CursorStaleError(
                "this cursor was superseded; pull without a cursor and replace local data",
                field="cursor",
            )
        if stream.pending_seq is not None:
            await conn.execute(_DROP_PENDING, stream.id)
            stream.pending_seq = None
            stream.keep_pending(None)
        return stream

    async def _dirty(
        self, conn: Any, principal: Principal, stream: _Stream, today: date, now: datetime
    ) -> tuple[int, int]:
        """The collections to compare, and those of them written (or moved by the calendar)
        since the acknowledged page."""
        if (
            stream.base_snapshot is None
            or stream.base_at is None
            or stream.base_at < now - FEED_RETENTION
        ):
            return ALL_MASK, ALL_MASK
        rows = await conn.fetch(_CHANGED_TABLES, principal.county_id, stream.base_snapshot)
        fresh = mask_of_tables([r[0] for r in rows])
        if stream.scope_day != today.isoformat():
            fresh |= TIME_WINDOW_MASK
        return stream.dirty | fresh, fresh

    async def _fill(
        self,
        conn: Any,
        principal: Principal,
        stream: _Stream,
        page: Page,
        *,
        dirty: int,
        limit: int,
        today: date,
        at: Resume | None,
    ) -> _Sent:
        """Fill ``page`` from the ``dirty`` collections in order, reading on from ``at`` in
        its collection; what it sent and where it stops inside a collection, if it does."""
        midnight = datetime.combine(today, datetime.min.time(), tzinfo=self.config.tz)
        params = (
            principal.county_id,
            principal.user_id,
            principal.role in MANAGERS,
            _month_before(today),
            midnight - timedelta(days=PATROL_WINDOW_DAYS),
            midnight - timedelta(days=FINDING_WINDOW_DAYS),
        )
        left = limit
        remaining = 0
        sent = _Sent()
        for coll in COLLECTIONS:
            if not dirty & coll.mask:
                continue
            if left <= 0:
                remaining |= coll.mask
                continue
            if at is not None and at.collection == coll.bit:
                after = at.after
                rows = await coll.read_on(conn, stream.id, after, left)
            else:
                after = _NIL
                rows = await coll.diff(conn, params, stream.id, left)
            # rows from the outbox: read on from it, or a difference kept there whole
            kept = after != _NIL or len(rows) > left
            if len(rows) > left:
                remaining |= coll.mask
                rows = rows[:left]
                sent.stopped = Resume(coll.bit, rows[-1][0])
            left -= len(rows)
            versions = {rid: v for rid, v in rows if v is not None}
            deletes = [rid for rid, v in rows if v is None]
            if deletes:
                page.deletes[coll.name] = deletes
            if versions:
                records = await coll.fetch(conn, versions, principal.county_id, principal.user_id)
                page.upserts[coll.name] = records
            if kept and rows:
                sent.ranges.append((coll.bit, after, rows[-1][0]))
            sent.rows.extend((coll.bit, rid, v) for rid, v in rows if not kept or v is None)
        page.has_more = remaining != 0
        stream.pending_dirty = remaining
        return sent

    async def _store_pending(
        self, conn: Any, stream: _Stream, sent: _Sent, *, new_stream: bool
    ) -> None:
        """Keep what the page sent until its cursor comes back: rows in ``sync_pending``,
        outbox ranges on the stream. The first page of a new stream goes straight into the
        manifest: no phone holds an earlier cursor of that stream (one that lost the answer
        starts another stream), so there is nothing it could be sent again against, and
        acknowledging it then moves no rows."""
        # deletions never come on a new stream (its manifest is empty); if they did, the
        # page would simply be kept like any other
        direct = new_stream and all(v is not None for _, _, v in sent.rows)
        if sent.rows:
            await conn.copy_records_to_table(
                "sync_manifest" if direct else "sync_pending",
                records=[(stream.id, *row) for row in sent.rows],
                columns=("stream_id", "collection", "record_id", "version"),
            )
        if direct:
            for coll, after, upto in sent.ranges:
                await conn.execute(_APPLY_OUTBOX, stream.id, coll, after, upto)
            stream.keep_pending(None)
        else:
            stream.keep_pending(sent.ranges)


async def prune_sync_state(db: AsyncSession, *, now: datetime | None = None) -> dict[str, int]:
    """Worker job: drop old change-feed rows, streams unused for 90 days, old receipts."""
    at = now or utcnow()
    out: dict[str, int] = {}
    for name, sql, cutoff in (
        ("changes", "DELETE FROM sync_changes WHERE noted_at < :t",
         at - FEED_RETENTION - timedelta(days=1)),
        ("streams", "DELETE FROM sync_streams WHERE last_pull_at < :t", at - timedelta(days=90)),
        ("receipts", "DELETE FROM sync_receipts WHERE created_at < :t", at - timedelta(days=90)),
    ):  # fmt: skip
        result: Any = await db.execute(text(sql), {"t": cutoff})
        out[name] = int(result.rowcount or 0)
    return out
