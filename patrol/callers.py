"""Who a token names, remembered for a moment.

Every authenticated request resolves its token to a live user (and device) with one
statement (:func:`patrol.accounts.resolve_principal`). A phone checking its position every
few seconds, or a console polling, asks that same question many times a second across a
brigade; the answer is kept here for at most ``ttl_s`` seconds (``PATROL_CALLER_CACHE_S``,
2 s by default; 0 turns the cache off), keyed by user, device and session epoch.

Revocation stays immediate in this process: every commit that changed a user or a device
(an ORM flush of either, or an UPDATE or DELETE statement on their tables through a session)
empties the cache when it commits. A change made by another process (the command line, a
second server) is seen within ``ttl_s``. A device's own expiry bounds how long it is kept.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from infra.scope import Principal
from patrol.models import DeviceToken, User

__all__ = ["CALLERS", "CallerCache", "CallerKey"]

#: user, device (device tokens), session epoch (access tokens)
CallerKey = tuple[uuid.UUID, uuid.UUID | None, int | None]

_CHANGED = "patrol.callers_changed"
_TABLES = frozenset({User.__tablename__, DeviceToken.__tablename__})


class CallerCache:
    """Live callers by :data:`CallerKey`, each until a monotonic deadline; bounded (LRU)."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CallerKey, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()
        #: moves on with every clear: an answer read from the database before a clear is
        #: not stored after it (it may be the old one)
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: CallerKey) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] <= now:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(
        self,
        key: CallerKey,
        principal: Principal,
        *,
        ttl_s: float,
        generation: int,
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Keep ``principal`` for ``ttl_s`` (never past ``expires_at``, the device's expiry
        as of ``now``), unless the cache was cleared since ``generation`` was read."""
        if ttl_s <= 0:
            return
        keep = ttl_s
        if expires_at is not None and now is not None:
            keep = min(keep, (expires_at - now).total_seconds())
            if keep <= 0:
                return
        with self._lock:
            if generation != self.generation:
                return
            self._entries[key] = (principal, time.monotonic() + keep)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache (the request path reads it; commits that change callers clear it).
CALLERS = CallerCache()


def _mark(session: Session) -> None:
    session.info[_CHANGED] = True


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, (User, DeviceToken)):
            _mark(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _TABLES:
        _mark(state.session)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        CALLERS.clear()
