"""The chain-of-custody log: append-only and hash-chained, one chain per county.

Each entry's ``entry_hash`` covers its county, sequence number, subject, action, actor, time,
details and the previous entry's hash, so changing or removing any entry breaks every later
link. With a key (``EvidenceSettings.package_signing_key``) the hash is an HMAC-SHA-256, so
someone who can write the table but does not hold the key cannot forge a consistent chain;
without a key it is plain SHA-256 (detects accidents and careless edits only).

Appends take a per-county transaction-scoped advisory lock, so sequence numbers have no gaps
and concurrent requests of one county queue for the moment of the append only. The lock, the
read of the head and, when this process guessed the head right, the INSERT are one statement
(``evidence_custody_append``, a VOLATILE function, so the read after the wait sees the entry
the previous holder committed): the lock is then held for the commit's round trip only. A
database trigger (migration ``0004_evidence``) refuses UPDATE and DELETE on the table.

Removing entries from the *end* of a chain is only detectable against a head recorded
elsewhere: :func:`chain_head` gives the (seq, hash) to anchor in exports and reports.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.models import CustodyEntry
from infra.db import utcnow
from infra.ids import uuid7

__all__ = [
    "APPEND_ROW",
    "APPEND_VALUES",
    "GENESIS_HASH",
    "ChainProblem",
    "ChainReport",
    "CustodyAction",
    "CustodyLog",
    "PendingEntry",
    "chain_head",
    "entry_digest",
]

GENESIS_HASH = "0" * 64
_APPEND_ARGS = ("lock", "id", "county", "seq", "subject", "action", "actor", "at")
_MAX_PROBLEMS = 100


class CustodyAction(enum.StrEnum):
    ACCEPTED = "accepted"  # created from a verified upload (hash, size, key, flags)
    VIEWED = "viewed"  # an original was opened inline
    DOWNLOADED = "downloaded"  # an original was handed out for download
    EXPORTED = "exported"  # part of an export / referral package
    FLAGGED = "flagged"  # a flag was set after intake
    DERIVATIVE_CREATED = "derivative_created"
    # a petitioner's identity was read (subject: the petition; no identity in the details)
    PETITIONER_VIEWED = "petitioner_viewed"
    REPORTER_VIEWED = "reporter_viewed"  # a tip-off's reporter identity was read (subject: clue)
    # an admin reopened a submitted satellite task (subject: the task; details: the reason)
    SATELLITE_REOPENED = "satellite_reopened"
    # a case document was generated (subject: the document; details: its SHA-256, number)
    DOCUMENT_GENERATED = "document_generated"
    # a signed/stamped scan was attached to a case document (subject: the document)
    DOCUMENT_SCAN_ATTACHED = "document_scan_attached"
    # the procuratorate read a referred case, its steps or procedure, a referral, a list of
    # them or the package (subject: the case or referral read, none for a list; details:
    # the operation, the reader's username and the ids read)
    PROCURATORATE_VIEWED = "procuratorate_viewed"


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_digest(
    key: bytes,
    *,
    county_id: uuid.UUID,
    seq: int,
    subject_id: uuid.UUID | None,
    action: str,
    actor_id: uuid.UUID | None,
    at: datetime,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The hash of one entry (HMAC-SHA-256 with ``key``, SHA-256 without)."""
    payload = _canonical(
        {
            "county_id": str(county_id),
            "seq": seq,
            "subject_id": str(subject_id) if subject_id else None,
            "action": action,
            "actor_id": str(actor_id) if actor_id else None,
            "at": at.astimezone(UTC).isoformat(),
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


def _digest_of(entry: CustodyEntry, key: bytes) -> str:
    return entry_digest(
        key,
        county_id=entry.county_id,
        seq=entry.seq,
        subject_id=entry.subject_id,
        action=entry.action,
        actor_id=entry.actor_id,
        at=entry.at,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )


def _lock_id(county_id: uuid.UUID) -> int:
    digest = hashlib.sha256(b"evidence_custody:" + county_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    problem: str  # "altered" | "broken_link" | "missing_entries" | "bad_start"


@dataclass(frozen=True, slots=True)
class ChainReport:
    county_id: uuid.UUID
    entries: int
    head_seq: int
    head_hash: str
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def chain_head(session: AsyncSession, county_id: uuid.UUID) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the newest entry; ``(0, GENESIS_HASH)`` for an empty chain."""
    row = (
        await session.execute(
            select(CustodyEntry.seq, CustodyEntry.entry_hash)
            .where(CustodyEntry.county_id == county_id)
            .order_by(CustodyEntry.seq.desc())
            .limit(1)
        )
    ).first()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


APPEND_ROW = func.evidence_custody_append(
    *(bindparam(f"c_{name}") for name in _APPEND_ARGS[:8]),
    bindparam("c_details", type_=JSONB),
    bindparam("c_prev"),
    bindparam("c_hash"),
).table_valued("head_seq", "head_hash", "appended")
"""``evidence_custody_append`` as a row source (``head_seq``, ``head_hash``, ``appended``),
its values those of :attr:`PendingEntry.params`: a caller with writes of its own puts them
in the same statement (see :meth:`CustodyLog.prepare`)."""
_APPEND = select(APPEND_ROW.c.head_seq, APPEND_ROW.c.head_hash, APPEND_ROW.c.appended)
"""Built once: a statement built per append (eleven bound values) cost more of the event
loop's time than the rest of the append."""

APPEND_VALUES = tuple(f"c_{name}" for name in (*_APPEND_ARGS, "details", "prev", "hash"))
"""The names of :attr:`PendingEntry.params` in the order of ``evidence_custody_append``'s
arguments, for a statement sent straight to the driver (``c_details`` then goes as JSON
text: :meth:`PendingEntry.driver_values`)."""

_heads: dict[uuid.UUID, tuple[int, str]] = {}
"""Per county, the last entry this process wrote or is writing: the next append's guess of
the chain's head. A wrong guess (another process appended, a transaction rolled back) costs
one statement more, never a wrong link: the database checks it under the county's lock."""


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry :meth:`CustodyLog.prepare` made: ``params`` are the values of
    :data:`APPEND_ROW`; ``guessed`` the ``(seq, entry_hash)`` it was hashed on, if any."""

    entry: CustodyEntry
    guessed: tuple[int, str] | None
    params: dict[str, Any]

    def driver_values(self) -> list[Any]:
        """:attr:`params` in the order of :data:`APPEND_VALUES`, the details as JSON text."""
        values = [self.params[name] for name in APPEND_VALUES]
        values[APPEND_VALUES.index("c_details")] = _canonical(self.params["c_details"]).decode()
        return values


class CustodyLog:
    """Appends to and verifies the per-county chains. ``key`` must be the same for both."""

    def __init__(self, key: bytes = b"") -> None:
        self._key = key

    async def append(
        self,
        session: AsyncSession,
        *,
        county_id: uuid.UUID,
        action: CustodyAction | str,
        subject_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> CustodyEntry:
        """Add one entry in the caller's transaction (which must commit for it to count).

        The entry is hashed on this process's guess of the county's head (the entry it wrote
        last) and handed to ``evidence_custody_append`` (migration ``0031_custody_append``),
        which waits for the county's turn and writes it if the guess is the head: the turn is
        then held for the commit's round trip only. Otherwise the function answers the head,
        the turn held, and the entry is hashed on that head and written here.
        """
        pending = self.prepare(
            county_id=county_id,
            action=action,
            subject_id=subject_id,
            actor_id=actor_id,
            details=details,
            at=at,
        )
        row = (await session.execute(_APPEND, pending.params)).one()
        return await self.settle(session, pending, row)

    def prepare(
        self,
        *,
        county_id: uuid.UUID,
        action: CustodyAction | str,
        subject_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> PendingEntry:
        """The first half of :meth:`append`: the entry, hashed on this process's guess of the
        head, and the values of :data:`APPEND_ROW`. The caller selects from ``APPEND_ROW``
        (with writes of its own in the same statement, if it likes) and hands the row to
        :meth:`settle`."""
        when = (at or utcnow()).astimezone(UTC)
        body = dict(details or {})
        _canonical(body)  # refuses NaN and non-JSON values before anything is stored
        entry = CustodyEntry(
            id=uuid7(),
            county_id=county_id,
            subject_id=subject_id,
            action=str(action),
            actor_id=actor_id,
            at=when,
            details=body,
        )
        guess = _heads.get(county_id)
        guessed: tuple[int, str] | None = None
        if guess is not None:
            guessed = self._link(entry, *guess)
            _heads[county_id] = guessed  # the next append of this process follows this one
        params = {
            "c_lock": _lock_id(county_id),
            "c_id": entry.id,
            "c_county": county_id,
            "c_seq": guessed[0] if guessed else None,
            "c_subject": subject_id,
            "c_action": entry.action,
            "c_actor": actor_id,
            "c_at": when,
            "c_details": body,
            "c_prev": guess[1] if guess else None,
            "c_hash": guessed[1] if guessed else None,
        }
        return PendingEntry(entry, guessed, params)

    async def settle(self, session: AsyncSession, pending: PendingEntry, row: Any) -> CustodyEntry:
        """The second half of :meth:`append`, given the row ``APPEND_ROW`` answered: done when
        the guess was the head; else the entry is hashed on the head answered (the county's
        turn is held) and written here."""
        entry = pending.entry
        if row.appended:
            return entry
        linked = self._link(entry, int(row.head_seq), str(row.head_hash))
        if _heads.get(entry.county_id) == pending.guessed:  # no later append of ours followed
            _heads[entry.county_id] = linked
        session.add(entry)
        await session.flush()
        return entry

    def relink(self, pending: PendingEntry, head_seq: int, head_hash: str) -> PendingEntry:
        """``pending`` hashed again on the head ``(head_seq, head_hash)`` an append answered
        when its guess was not the head: for a caller that sends its statement again rather
        than write the entry apart (:meth:`settle`)."""
        entry = pending.entry
        linked = self._link(entry, head_seq, head_hash)
        if _heads.get(entry.county_id) == pending.guessed:  # no later append of ours followed
            _heads[entry.county_id] = linked
        params = {**pending.params, "c_seq": linked[0], "c_prev": head_hash, "c_hash": linked[1]}
        return PendingEntry(entry, linked, params)

    def _link(self, entry: CustodyEntry, head_seq: int, head_hash: str) -> tuple[int, str]:
        """Put ``entry`` after the head ``(head_seq, head_hash)``; its ``(seq, entry_hash)``."""
        entry.seq = head_seq + 1
        entry.prev_hash = head_hash
        entry.entry_hash = _digest_of(entry, self._key)
        return entry.seq, entry.entry_hash

    async def verify(self, session: AsyncSession, county_id: uuid.UUID) -> ChainReport:
        """Walk the county's chain from the start; report altered, missing or relinked entries."""
        problems: list[ChainProblem] = []
        expected_seq = 1
        prev_hash = GENESIS_HASH
        count = 0
        stmt = (
            select(CustodyEntry)
            .where(CustodyEntry.county_id == county_id)
            .order_by(CustodyEntry.seq)
            .execution_options(yield_per=1000)
        )
        async for entry in await session.stream_scalars(stmt):
            count += 1
            if entry.seq != expected_seq:
                kind = "bad_start" if count == 1 else "missing_entries"
                problems.append(ChainProblem(entry.seq, kind))
            if entry.prev_hash != prev_hash:
                problems.append(ChainProblem(entry.seq, "broken_link"))
            if not hmac.compare_digest(_digest_of(entry, self._key), entry.entry_hash):
                problems.append(ChainProblem(entry.seq, "altered"))
            expected_seq = entry.seq + 1
            prev_hash = entry.entry_hash
            if len(problems) >= _MAX_PROBLEMS:
                break
        return ChainReport(
            county_id=county_id,
            entries=count,
            head_seq=expected_seq - 1,
            head_hash=prev_hash,
            problems=problems,
        )

    async def entries_for(
        self, session: AsyncSession, county_id: uuid.UUID, subject_id: uuid.UUID
    ) -> list[CustodyEntry]:
        """The custody history of one evidence, oldest first."""
        stmt = (
            select(CustodyEntry)
            .where(CustodyEntry.county_id == county_id, CustodyEntry.subject_id == subject_id)
            .order_by(CustodyEntry.seq)
        )
        return list((await session.scalars(stmt)).all())
