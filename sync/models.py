"""Sync bookkeeping: change feed, pull streams with what each phone holds, push receipts.

* ``sync_changes`` — one row per (county, table, transaction) that wrote a tracked table,
  filled by statement-level triggers (migration ``0006_sync``). Only a hint of *where* to
  look: a pull recomputes the affected collections exactly.
* ``sync_streams`` — one per phone sync history (created by a pull without a cursor).
* ``sync_manifest`` — per stream, every record the phone has acknowledged: id and version.
* ``sync_pending`` — the page most recently sent to a stream, not yet acknowledged; the
  next cursor the phone presents acknowledges it (or, if it presents the older one, the
  page is thrown away and computed again). What the page sent from ``sync_outbox`` is not
  copied here: the stream names those id ranges (``pending_outbox_*``) instead.
* ``sync_outbox`` — per stream, the rest of a collection's difference that did not fit in
  a page, by record id: later pages read on from the id their cursor names (keyset paging).
* ``sync_receipts`` — the receipt of every pushed operation by (user, client op id).

The per-stream tables (manifest, pending, outbox) carry no foreign key to their stream: its
check ran for every row a page wrote. A trigger on ``sync_streams`` (migration
``0010_sync_pull_writes``) deletes their rows with the stream.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, utcnow

__all__ = [
    "SyncChange",
    "SyncManifestEntry",
    "SyncOutboxEntry",
    "SyncPendingEntry",
    "SyncReceipt",
    "SyncStream",
]


class SyncChange(Base):
    """A transaction wrote rows of ``tbl`` in a county (``xid`` is ``pg_current_xact_id()``)."""

    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_county_xid", "county_id", "xid"),)

    county_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tbl: Mapped[str] = mapped_column(Text, primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    noted_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncStream(Base):
    """One phone's pull history: what it acknowledged, what is pending, where the feed was."""

    __tablename__ = "sync_streams"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    county_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_pull_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the sequence number of the last page the phone acknowledged (0: none yet)
    acked_seq: Mapped[int] = mapped_column(Integer, default=0)
    # the highest sequence number handed out
    issued_seq: Mapped[int] = mapped_column(Integer, default=0)
    # the page in sync_pending (NULL: none) and the state it leads to once acknowledged
    pending_seq: Mapped[int | None] = mapped_column(Integer)
    pending_snapshot: Mapped[str | None] = mapped_column(Text)
    pending_dirty: Mapped[int] = mapped_column(Integer, default=0)
    pending_scope_day: Mapped[str | None] = mapped_column(Text)
    # the outbox rows the pending page sent, per range: the collection, the id after which
    # it starts (the nil id: from the first) and the last id it sent (upserts only: the
    # deletions of the page are in sync_pending)
    pending_outbox_coll: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))
    pending_outbox_after: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid(as_uuid=True)))
    pending_outbox_upto: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid(as_uuid=True)))
    # acknowledged state: the manifest equals the scope as of ``base_snapshot`` for every
    # collection not in the ``dirty`` bit mask (NULL snapshot: everything must be compared)
    base_snapshot: Mapped[str | None] = mapped_column(Text)
    base_at: Mapped[datetime | None]
    dirty: Mapped[int] = mapped_column(Integer, default=0)
    scope_day: Mapped[str | None] = mapped_column(Text)


class SyncManifestEntry(Base):
    __tablename__ = "sync_manifest"

    stream_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # see SyncStream
    collection: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class SyncPendingEntry(Base):
    """A record sent in the unacknowledged page; ``version`` NULL means sent as deleted."""

    __tablename__ = "sync_pending"

    stream_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # see SyncStream
    collection: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int | None] = mapped_column(BigInteger)


class SyncOutboxEntry(Base):
    """A record of a collection's difference still to send; ``version`` NULL: a deletion."""

    __tablename__ = "sync_outbox"

    stream_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # see SyncStream
    collection: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int | None] = mapped_column(BigInteger)


class SyncReceipt(Base):
    """The answer given to one pushed operation; a replay of the op id gets it again."""

    __tablename__ = "sync_receipts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    op_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    county_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), index=True
    )
    op_hash: Mapped[bytes] = mapped_column(LargeBinary)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
