"""The evidence service: upload sessions, verified intake, reading and custody.

Usage (one request = one session = one transaction, committed by the caller)::

    service = EvidenceService(session, store, settings.evidence, checker)
    ticket = await service.create_upload(principal, new_upload)   # presigned PUT / parts
    ticket = await service.get_upload(principal, evidence_id)      # resume: parts received
    evidence = await service.complete_upload(principal, evidence_id)
    await session.commit()

Every upload call is idempotent on the phone's evidence id. ``complete_upload`` reads the
object back from storage (streamed, bounded memory), checks size and SHA-256, sniffs the real
type, extracts metadata, cross-checks position and time, runs the location check, stores the
evidence with its custody entry and queues its derivatives. Any 422 leaves the upload open
and nothing stored; the phone may send the file again.

County isolation: every lookup goes through :func:`infra.scope.scoped`; another county's
upload or evidence does not exist for the caller (404). Within a county, who sees which
evidence and what it may reference is :mod:`evidence.access`: captains and admins all;
everyone else their own uploads, the evidence of patrols they lead or accompany and of cases
they may see. The case, patrol, finding and mine site an upload names must be ones the
caller may attach evidence to, else 422 ``reference_not_found`` (the same answer for an id
of another county, out of scope, or of nothing). An evidence id already used by anyone
else, in any county, is 409 ``evidence_id_conflict`` with one answer for all of them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import functools
import json
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog
from geoalchemy2 import WKTElement
from sqlalchemy import (
    Float,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from evidence.access import caller_of, evidence_visible, linked_to, reference_allowed
from evidence.custody import APPEND_VALUES, CustodyAction, CustodyLog, PendingEntry
from evidence.derivatives import derivatives_job
from evidence.errors import (
    DerivativeNotFoundError,
    EvidenceIdConflictError,
    EvidenceNotFoundError,
    InvalidUploadError,
    NotUploadOwnerError,
    ReferenceNotFoundError,
    UploadAbortedError,
    UploadAlreadyAcceptedError,
    UploadIncompleteError,
    UploadNotFoundError,
)
from evidence.media import MediaType, declared_media_type
from evidence.metadata import DEFAULT_MAX_PIXELS
from evidence.models import CustodyEntry, Evidence, Upload
from evidence.ports import AcceptanceListener, LocationChecker, PatrolContext
from evidence.readback import Inspection, inspect_object
from evidence.trust import DeviceFix, TrustResult, assess
from evidence.uploads import (
    MULTIPART_THRESHOLD_BYTES,
    NewUpload,
    PartRequest,
    UploadTicket,
    default_part_size,
    part_count,
    validate_new_upload,
)
from infra import error_codes as codes
from infra.db import DatabaseUnavailableError, driver_of, utcnow
from infra.objectstore import (
    MultipartNotFoundError,
    ObjectNotFoundError,
    ObjectStore,
    PartInfo,
    PresignedRequest,
)
from infra.scope import Principal, Role, require_role, scoped
from infra.settings import EvidenceSettings
from infra.tasks import DEFER_KEYS, defer_job_sql
from patrol.field_models import ContractArea
from patrol.models import County

__all__ = [
    "INTAKE_CONCURRENCY",
    "EvidenceFilter",
    "EvidencePage",
    "EvidenceService",
    "IntakeTally",
    "original_key",
]

log = structlog.get_logger(__name__)

_TRACK_WINDOW_S = 300.0
_MAX_PAGE = 200
_REFERENCES = (  # (kind, attribute of NewUpload, field as the contract names it)
    ("case", "case_id", "case_id"),
    ("tip_off", "tip_off_id", "tip_off_id"),
    ("patrol", "patrol_session_id", "patrol_id"),
    ("finding", "finding_id", "finding_id"),
    ("mine_site", "mine_site_id", "mine_site_id"),
)
_ID_TAKEN = "this evidence id cannot be used; mint a new one"


INTAKE_CONCURRENCY = min(32, (os.cpu_count() or 1) + 4)
"""Verifications at once per process: the size of the read-back thread pool they run in (the
size of Python's default pool)."""
READBACK_NICE = 10
"""How much lower the read-back threads' CPU priority is than the rest of the process (Linux
``nice``). Under a burst of completes the machine's cores are all busy; at equal priority the
event loop's thread waited for a core as long as it ran (0.55–0.73 s of 1.5 s for 100 photos),
and every request's next step waited with it, the completes' own database steps first."""
_readback: tuple[int, ThreadPoolExecutor] | None = None
_T = TypeVar("_T")


def _lower_priority() -> None:
    """A read-back thread's initializer: ``nice`` it by :data:`READBACK_NICE` (where the
    system has no per-thread priority, it runs at the process's)."""
    with contextlib.suppress(OSError, AttributeError):
        thread = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + READBACK_NICE))


def _readback_pool() -> ThreadPoolExecutor:
    """The process's read-back threads (made again in a forked child, which has none)."""
    global _readback  # noqa: PLW0603 - one pool per process
    if _readback is None or _readback[0] != os.getpid():
        pool = ThreadPoolExecutor(
            INTAKE_CONCURRENCY, thread_name_prefix="evidence-readback", initializer=_lower_priority
        )
        _readback = (os.getpid(), pool)
    return _readback[1]


async def _in_readback(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """``asyncio.to_thread`` on the read-back pool: ``fn`` runs with the caller's context
    variables (the request's log context)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_readback_pool(), call)


_INTAKE_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(slots=True)
class IntakeTally:
    """What one service's completes did: evidence ``accepted`` (its stored bytes read back,
    ``verified_bytes`` in all, size and SHA-256 checked) and completes ``replayed`` (the
    upload was already evidence; nothing read again). The web layer reports them."""

    accepted: int = 0
    replayed: int = 0
    verified_bytes: int = 0


_IN_COUNTY = select(
    func.ST_Covers(
        County.boundary,
        func.ST_SetSRID(
            func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326
        ),
    )
).where(County.id == bindparam("county"))
"""Whether the county's boundary covers the evidence's position; built once (per intake, the
expression's construction cost more than the statement)."""


def _store_sql() -> tuple[str, tuple[str, ...]]:
    """The one statement that stores accepted evidence, sent straight to the driver, and the
    names of its values in order (``$1`` is the evidence's id).

    It locks the upload if it is still open at the attempt that was read back (a complete
    holds no lock while it reads the bytes: a complete, abort or new attempt that came
    between finds the upload changed, and nothing is written); then appends the custody
    entry (``evidence_custody_append``, which waits for the county's turn); and only when the
    entry was appended, in the same statement, inserts the evidence, marks the upload
    accepted and queues the derivatives job. So it writes all of that or nothing, in a
    transaction of its own or in the caller's. It answers no row when the upload changed, and
    ``appended`` false (with the head) when the entry's guess of the head was wrong.
    Values: every column of ``evidence`` as ``e_<column>`` (JSON columns as JSON text, the
    point as EWKT), the upload's ``u_attempt``, the entry's
    (:meth:`evidence.custody.PendingEntry.driver_values`) and the job's
    (:func:`evidence.derivatives.derivatives_job`)."""
    table = cast("Table", Evidence.__table__)
    names: list[str] = ["e_id", "u_attempt", *APPEND_VALUES]
    columns: list[str] = []
    values: list[str] = []
    for column in table.columns:
        name = f"e_{column.key}"
        if name not in names:
            names.append(name)
        slot = f"${names.index(name) + 1}"
        if isinstance(column.type, JSONB):
            slot = f"CAST({slot} AS jsonb)"
        elif column.key == "geom":
            slot = f"ST_GeomFromEWKT({slot})"
        columns.append(column.name)
        values.append(slot)
    job = defer_job_sql(len(names) + 1, when="entry.appended")
    names.extend(f"j_{key}" for key in DEFER_KEYS)
    append = ", ".join(f"${names.index(name) + 1}" for name in APPEND_VALUES)
    received = f"${names.index('e_received_at') + 1}"
    sql = f"""
    WITH target AS (
        SELECT id FROM evidence_uploads
        WHERE id = $1 AND status = 'open' AND attempt = $2
        FOR UPDATE
    ), entry AS (
        SELECT a.head_seq, a.head_hash, a.appended
        FROM target CROSS JOIN LATERAL evidence_custody_append({append}) AS a
    ), stored AS (
        INSERT INTO evidence ({", ".join(columns)})
        SELECT {", ".join(values)} FROM entry WHERE entry.appended
    ), marked AS (
        UPDATE evidence_uploads
        SET status = 'accepted', completed_at = {received}, updated_at = {received}
        WHERE id = $1 AND (SELECT entry.appended FROM entry)
    )
    SELECT entry.head_seq, entry.head_hash, entry.appended, ({job}) AS job FROM entry
    """  # noqa: S608 - names from the model, values bound
    return sql, tuple(names)


_STORE, _STORE_NAMES = _store_sql()
"""Built once. The upload's lock, its update, the evidence's INSERT, the custody entry and the
job in one round trip, and no transaction of its own to begin and commit: under a burst of
completes the four round trips through the session (BEGIN, the locking read, the store,
COMMIT) cost the event loop's thread 2.0 ms a photo."""
_STORE_VALUES = tuple(
    (f"e_{column.key}", Evidence.__mapper__.get_property_by_column(column).key)
    for column in Evidence.__table__.columns
)
_STORE_TRIES = 8
"""Appends whose guess of the custody head another process beat, before giving up (503)."""
_UPLOAD_ATTRS = tuple((prop.key, prop.columns[0].name) for prop in Upload.__mapper__.column_attrs)
_READ_UPLOAD = (
    f"SELECT {', '.join(name for _, name in _UPLOAD_ATTRS)} FROM evidence_uploads"  # noqa: S608
    " WHERE id = $1 AND county_id = $2"
)
"""A complete's read of its upload, sent straight to the driver (no lock: :data:`_STORE`
checks the upload again as it writes)."""


def _intake_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _INTAKE_SLOTS.get(loop)
    if slot is None:
        slot = _INTAKE_SLOTS[loop] = asyncio.Semaphore(INTAKE_CONCURRENCY)
    return slot


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[uuid.UUID, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _county_turn(county_id: uuid.UUID) -> asyncio.Lock:
    """Per county and event loop: held from hashing a custody entry on this process's guess
    of the head to the answer of the statement that appends it, so this process's appends
    reach the database in the order they were hashed. Sent at once, a later entry could take
    the county's turn first and find its guess wrong (a fifth of 100 concurrent completes
    did, each then sent again)."""
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    turn = turns.get(county_id)
    if turn is None:
        turn = turns[county_id] = asyncio.Lock()
    return turn


def _owned(upload: Upload | None, principal: Principal, evidence_id: uuid.UUID) -> Upload:
    """``upload`` if it is in the caller's county and theirs: 404 ``upload_not_found``
    otherwise, or 403 ``not_upload_owner`` for another's in the county."""
    if upload is None or upload.county_id != principal.county_id:
        msg = "no such upload"
        raise UploadNotFoundError(msg, evidence_id=str(evidence_id))
    if upload.uploader_id != principal.user_id:
        msg = "this upload belongs to someone else"
        raise NotUploadOwnerError(msg)
    return upload


def original_key(county_id: uuid.UUID, evidence_id: uuid.UUID, attempt: int) -> str:
    """Where the phone's bytes go: unique per attempt, under the protected ``originals/``."""
    return f"originals/{county_id}/{evidence_id}/a{attempt}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceFilter:
    """Filters of :meth:`EvidenceService.list_evidence` (all optional, combined with AND)."""

    patrol_session_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    mine_site_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    uploader_id: uuid.UUID | None = None
    kind: str | None = None
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    any_flags: Sequence[str] = ()
    flagged: bool | None = None  # with (True) or without (False) any trust flag
    within_wkt: str | None = None  # an area polygon (WGS84 WKT), e.g. a contract area
    area_id: uuid.UUID | None = None  # a contract area of the caller's county


@dataclass(frozen=True, slots=True)
class EvidencePage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[Evidence]
    next_cursor: str | None = None


@dataclass(slots=True)
class _Accepted:
    inspection: Inspection
    trust: TrustResult
    in_county: bool
    check: dict[str, Any] = field(default_factory=dict)


def _same_declaration(upload: Upload, new: NewUpload, media: MediaType) -> bool:
    return (
        upload.sha256 == new.sha256
        and upload.size_bytes == new.size_bytes
        and declared_media_type(upload.content_type) == media
        and upload.content_md5 == new.content_md5
        and (new.part_size is None or upload.part_size == new.part_size)
        and list(upload.part_md5s or []) == list(new.part_md5s or [])
    )


def _encode_cursor(captured_at: datetime, evidence_id: uuid.UUID) -> str:
    raw = f"{captured_at.isoformat()}|{evidence_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        when, ident = text.split("|", 1)
        return datetime.fromisoformat(when), uuid.UUID(ident)
    except (ValueError, UnicodeError) as exc:
        msg = "the cursor is not one this server issued"
        raise InvalidUploadError(msg, code=codes.INVALID_CURSOR) from exc


class EvidenceService:
    """Evidence intake and access for one request.

    ``checker`` answers the location check; ``patrol`` (optional) gives track and area of a
    linked patrol; ``listeners`` are told about each accepted evidence. ``spool_dir`` is
    where read-back copies are spooled (default: the system temp directory).
    """

    def __init__(
        self,
        session: AsyncSession,
        store: ObjectStore,
        settings: EvidenceSettings,
        checker: LocationChecker,
        *,
        patrol: PatrolContext | None = None,
        listeners: Sequence[AcceptanceListener] = (),
        spool_dir: Path | None = None,
        max_image_pixels: int = DEFAULT_MAX_PIXELS,
        multipart_threshold: int = MULTIPART_THRESHOLD_BYTES,
    ) -> None:
        self._session = session
        self._store = store
        self._settings = settings
        self._checker = checker
        self._patrol = patrol
        self._listeners = tuple(listeners)
        self._spool_dir = spool_dir
        self._max_pixels = max_image_pixels
        self._multipart_threshold = multipart_threshold
        self.custody = CustodyLog(settings.package_signing_key.encode())
        self.tally = IntakeTally()

    # -- uploads -----------------------------------------------------------------------------
    async def create_upload(self, principal: Principal, new: NewUpload) -> UploadTicket:
        """Start (or replay) an upload; answer the presigned PUT or the multipart plan.

        Same id, same declaration: the same upload with fresh URLs (or, when its bytes are
        all stored but were refused on complete, a new attempt: the phone sends them again).
        Same id, new declaration while still open (the phone fixed the file after a refused
        complete): a new attempt under a new object key.

        Errors: 422 ``invalid_*``, ``unsupported_media_type``, ``upload_too_large``,
        ``file_empty``, ``reference_not_found`` (a case, patrol, finding or mine site the
        caller may not attach evidence to, wherever it exists); 409 ``evidence_id_conflict``
        (the id is someone else's, here or in another county — one answer for all — or
        already accepted with other bytes), ``upload_aborted``.
        """
        media = validate_new_upload(new, self._settings)
        existing = await self._session.get(Upload, new.evidence_id, with_for_update=True)
        if existing is not None:
            if existing.county_id != principal.county_id or existing.uploader_id != (
                principal.user_id
            ):
                raise EvidenceIdConflictError(_ID_TAKEN)
            if existing.status == "aborted":
                msg = "this upload was aborted; start again with a new evidence id"
                raise UploadAbortedError(msg)
            if _same_declaration(existing, new, media):
                if existing.status == "open" and await self._stored_in_full(existing):
                    # Sent in full but not accepted: a complete was refused (hash, type...),
                    # so the phone is starting over; the refused bytes stay where they are.
                    await self._redeclare(existing, new, media)
                return await self._ticket(existing)
            if existing.status == "accepted":
                raise EvidenceIdConflictError(_ID_TAKEN)
            await self._check_references(principal, new)
            await self._redeclare(existing, new, media)
            return await self._ticket(existing)
        await self._check_references(principal, new)
        upload = Upload(
            id=new.evidence_id,
            county_id=principal.county_id,
            uploader_id=principal.user_id,
            status="open",
            **self._declaration(new, media, principal.county_id, 1),
        )
        if upload.part_size is not None:
            upload.multipart_upload_id = await self._store.create_multipart(
                upload.object_key, content_type=media.mime
            )
        self._session.add(upload)
        await self._session.flush()
        log.info(
            "evidence.upload_created",
            evidence_id=str(upload.id),
            county=str(upload.county_id),
            size=upload.size_bytes,
            multipart=upload.part_size is not None,
        )
        return await self._ticket(upload)

    async def get_upload(self, principal: Principal, evidence_id: uuid.UUID) -> UploadTicket:
        """The upload's state for resuming: parts received, fresh URLs for what is missing.

        When storage lost an unfinished multipart upload (rclone drops it after a part with
        a bad Content-MD5), a new one is started here and every part must be sent again.
        """
        upload = await self._own_upload(principal, evidence_id)
        return await self._ticket(upload)

    async def abort_upload(self, principal: Principal, evidence_id: uuid.UUID) -> UploadTicket:
        """Give up an open upload (idempotent). Bytes already stored are kept, never used.

        409 ``upload_already_accepted`` once it is evidence.
        """
        upload = await self._own_upload(principal, evidence_id)
        if upload.status == "accepted":
            msg = "this upload is already evidence and cannot be aborted"
            raise UploadAlreadyAcceptedError(msg)
        if upload.status == "open":
            if upload.multipart_upload_id:
                await self._store.abort_multipart(upload.object_key, upload.multipart_upload_id)
            upload.status = "aborted"
            upload.aborted_at = utcnow()
            await self._session.flush()
            log.info("evidence.upload_aborted", evidence_id=str(upload.id))
        return await self._ticket(upload)

    async def complete_upload(self, principal: Principal, evidence_id: uuid.UUID) -> Evidence:
        """Verify the stored bytes and accept them as evidence (idempotent).

        Errors: 404 ``upload_not_found``; 403 ``not_upload_owner``; 409 ``upload_aborted``,
        ``upload_incomplete`` (``missing_parts``); 422 ``evidence_size_mismatch``,
        ``evidence_hash_mismatch``, ``evidence_type_mismatch``, ``file_empty``,
        ``file_corrupt``, ``image_too_large``. On any of them nothing is stored.

        At most :data:`INTAKE_CONCURRENCY` verifications run at once per process; the others
        wait here before they touch the database, so a burst of completes queues instead of
        exhausting the connection pool while bytes are read back and checked.
        """
        async with _intake_slot():
            return await self._complete(principal, evidence_id)

    async def _complete(self, principal: Principal, evidence_id: uuid.UUID) -> Evidence:
        upload = await self._intake_upload(principal, evidence_id)
        if upload.status == "accepted":
            self.tally.replayed += 1
            return await self._evidence_row(upload.id)
        if upload.status == "aborted":
            msg = "this upload was aborted"
            raise UploadAbortedError(msg)
        assembled = await self._assemble(upload)
        received_at = utcnow()
        declared = declared_media_type(upload.content_type)
        try:
            inspection = await _in_readback(
                inspect_object,
                self._store,
                upload.object_key,
                declared_sha256=upload.sha256,
                declared_size=upload.size_bytes,
                declared=declared,
                max_pixels=self._max_pixels,
                spool_dir=self._spool_dir,
            )
        except ObjectNotFoundError:
            raise self._not_arrived(upload) from None
        accepted = await self._assess(upload, inspection, received_at)
        etag = assembled or inspection.etag
        evidence = self._evidence_from(upload, accepted, principal, etag, received_at)
        for listener in self._listeners:  # before the row is written: its flags go with it
            extra = await listener.evidence_accepted(self._session, evidence)
            if not set(extra) <= set(evidence.flags):
                evidence.flags = sorted({*evidence.flags, *extra})
        async with _county_turn(evidence.county_id):
            entry = self.custody.prepare(
                county_id=evidence.county_id,
                action=CustodyAction.ACCEPTED,
                subject_id=evidence.id,
                actor_id=principal.user_id,
                at=received_at,
                details={
                    "sha256": evidence.sha256,
                    "size_bytes": evidence.size_bytes,
                    "media_type": evidence.media_type,
                    "object_key": evidence.original_key,
                    "uploader_id": str(upload.uploader_id),
                    "captured_at": evidence.captured_at.isoformat(),
                    "position_source": evidence.position_source,
                    "flags": list(evidence.flags),
                },
            )
            stored = await self._store_accepted(upload, evidence, entry)
        if not stored:
            # a complete, abort or new attempt came while the bytes were read: answer as the
            # upload now stands (the evidence another complete stored, 409, or this again)
            self._session.expunge(upload)
            return await self._complete(principal, evidence_id)
        log.info(
            "evidence.accepted",
            evidence_id=str(evidence.id),
            county=str(evidence.county_id),
            kind=evidence.kind,
            size=evidence.size_bytes,
            flags=evidence.flags,
        )
        self.tally.accepted += 1
        self.tally.verified_bytes += evidence.size_bytes
        return evidence

    # -- reading -----------------------------------------------------------------------------
    async def get_evidence(self, principal: Principal, evidence_id: uuid.UUID) -> Evidence:
        """One evidence the caller may see (404 ``evidence_not_found`` otherwise)."""
        stmt = self._visible(select(Evidence), principal).where(Evidence.id == evidence_id)
        evidence: Evidence | None = (await self._session.scalars(stmt)).first()
        if evidence is None:
            msg = "no such evidence"
            raise EvidenceNotFoundError(msg, evidence_id=str(evidence_id))
        return evidence

    async def list_evidence(
        self,
        principal: Principal,
        filters: EvidenceFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EvidencePage:
        """Evidence the caller may see, newest capture first, filtered, keyset-paginated."""
        f = filters or EvidenceFilter()
        stmt = self._visible(select(Evidence), principal)
        conditions: list[Any] = []
        for column, value in (
            (Upload.patrol_session_id, f.patrol_session_id),
            (Upload.finding_id, f.finding_id),
            (Upload.mine_site_id, f.mine_site_id),
            (Upload.uploader_id, f.uploader_id),
            (Evidence.kind, f.kind),
        ):
            if value is not None:
                conditions.append(column == value)
        if f.case_id is not None:  # named on upload, or linked to the case since
            conditions.append(or_(Upload.case_id == f.case_id, linked_to("case", f.case_id)))
        if f.captured_from is not None:
            conditions.append(Evidence.captured_at >= f.captured_from)
        if f.captured_to is not None:
            conditions.append(Evidence.captured_at < f.captured_to)
        if f.any_flags:
            conditions.append(Evidence.flags.overlap(list(f.any_flags)))
        if f.flagged is not None:
            count = func.coalesce(func.cardinality(Evidence.flags), 0)
            conditions.append(count > 0 if f.flagged else count == 0)
        if f.within_wkt is not None:
            conditions.append(
                func.ST_Intersects(Evidence.geom, func.ST_GeomFromText(f.within_wkt, 4326))
            )
        if f.area_id is not None:
            area = (
                select(ContractArea.geom)
                .where(
                    ContractArea.id == f.area_id,
                    ContractArea.county_id == principal.county_id,
                )
                .scalar_subquery()
            )
            conditions.append(func.ST_Intersects(Evidence.geom, area))
        if cursor is not None:
            when, ident = _decode_cursor(cursor)
            conditions.append(
                or_(
                    Evidence.captured_at < when,
                    and_(Evidence.captured_at == when, Evidence.id < ident),
                )
            )
        size = max(1, min(limit, _MAX_PAGE))
        stmt = (
            stmt.where(*conditions)
            .order_by(Evidence.captured_at.desc(), Evidence.id.desc())
            .limit(size + 1)
        )
        rows = list((await self._session.scalars(stmt)).unique().all())
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = _encode_cursor(rows[-1].captured_at, rows[-1].id)
        return EvidencePage(items=rows, next_cursor=next_cursor)

    async def presign_original_download(
        self, principal: Principal, evidence_id: uuid.UUID, *, inline: bool = False
    ) -> PresignedRequest:
        """A short-lived GET for the original; the view/download goes into the custody log."""
        evidence = await self.get_evidence(principal, evidence_id)
        upload = evidence.upload
        name = (
            upload.file_name
            or f"{evidence.id}.{declared_media_type(evidence.media_type).extension}"
        )
        request = self._store.presign_get(
            evidence.original_key,
            filename=name,
            inline=inline,
            content_type=evidence.media_type,
        )
        await self.custody.append(
            self._session,
            county_id=evidence.county_id,
            action=CustodyAction.VIEWED if inline else CustodyAction.DOWNLOADED,
            subject_id=evidence.id,
            actor_id=principal.user_id,
            details={"role": str(principal.role), "expires_at": request.expires_at.isoformat()},
        )
        log.info(
            "evidence.original_presigned",
            evidence_id=str(evidence.id),
            user=str(principal.user_id),
            inline=inline,
        )
        return request

    async def presign_derivative(
        self, principal: Principal, evidence_id: uuid.UUID, kind: str
    ) -> PresignedRequest:
        """A short-lived GET for a derivative (``thumbnail``, ``share``, ``poster``,
        ``captioned``; a video's ``share`` copy is a video of its own type); 404
        ``derivative_not_found`` until the worker has made it."""
        evidence = await self.get_evidence(principal, evidence_id)
        for derivative in evidence.derivatives:
            if derivative.kind == kind:
                extension = derivative.object_key.rsplit(".", 1)[-1]  # jpg, or a video's own
                return self._store.presign_get(
                    derivative.object_key,
                    filename=f"{evidence.id}-{kind}.{extension}",
                    inline=True,
                    content_type=derivative.content_type,
                )
        msg = f"no {kind} for this evidence (yet)"
        raise DerivativeNotFoundError(msg, kind=kind)

    async def custody_history(
        self, principal: Principal, evidence_id: uuid.UUID
    ) -> list[CustodyEntry]:
        """The custody entries of one evidence, oldest first."""
        evidence = await self.get_evidence(principal, evidence_id)
        return await self.custody.entries_for(self._session, evidence.county_id, evidence.id)

    async def flag_evidence(
        self, principal: Principal, evidence_id: uuid.UUID, flag: str, *, note: str = ""
    ) -> Evidence:
        """Add a flag after intake (captains, admins, security squad); logged in custody."""
        require_role(
            principal, Role.CAPTAIN, Role.ADMIN, Role.SECURITY_SQUAD, action="flag evidence"
        )
        evidence = await self.get_evidence(principal, evidence_id)
        if flag not in evidence.flags:
            evidence.flags = sorted({*evidence.flags, flag})
            await self.custody.append(
                self._session,
                county_id=evidence.county_id,
                action=CustodyAction.FLAGGED,
                subject_id=evidence.id,
                actor_id=principal.user_id,
                details={"flag": flag, "note": note[:500]},
            )
            await self._session.flush()
        return evidence

    async def record_export(
        self,
        principal: Principal,
        evidence_ids: Sequence[uuid.UUID],
        *,
        package_id: uuid.UUID,
        purpose: str,
    ) -> None:
        """Log that these originals went into an export or referral package."""
        for evidence_id in evidence_ids:
            evidence = await self.get_evidence(principal, evidence_id)
            await self.custody.append(
                self._session,
                county_id=evidence.county_id,
                action=CustodyAction.EXPORTED,
                subject_id=evidence.id,
                actor_id=principal.user_id,
                details={"package_id": str(package_id), "purpose": purpose[:200]},
            )

    # -- internals: uploads ------------------------------------------------------------------
    def _declaration(
        self, new: NewUpload, media: MediaType, county_id: uuid.UUID, attempt: int
    ) -> dict[str, Any]:
        part_size = new.part_size
        if part_size is None and new.size_bytes > self._multipart_threshold:
            part_size = default_part_size(new.size_bytes)
        if part_size is None and new.content_md5 is None:
            msg = "content_md5 is required for a single upload"
            raise InvalidUploadError(msg, code=codes.INVALID_MD5, field="content_md5")
        fix = new.fix
        return {
            "attempt": attempt,
            "object_key": original_key(county_id, new.evidence_id, attempt),
            "kind": media.kind,
            "content_type": media.mime,
            "file_name": new.file_name,
            "size_bytes": new.size_bytes,
            "sha256": new.sha256,
            "content_md5": new.content_md5,
            "part_size": part_size,
            "part_md5s": list(new.part_md5s) if new.part_md5s is not None else None,
            "multipart_upload_id": None,
            "claimed_captured_at": new.claimed_captured_at,
            "device_lon": fix.lon,
            "device_lat": fix.lat,
            "device_accuracy_m": fix.accuracy_m,
            "device_crs": fix.crs,
            "device_fix_at": fix.at,
            "heading_deg": new.heading_deg,
            "patrol_session_id": new.patrol_session_id,
            "finding_id": new.finding_id,
            "mine_site_id": new.mine_site_id,
            "case_id": new.case_id,
            "tip_off_id": new.tip_off_id,
            "caption": new.caption,
            "proves": new.proves,
            "view_type": new.view_type,
        }

    async def _check_references(self, principal: Principal, new: NewUpload) -> None:
        """Every record the upload names must be one the caller may attach evidence to."""
        for kind, name, fieldname in _REFERENCES:
            record_id = getattr(new, name)
            if record_id is not None and not await reference_allowed(
                self._session, principal, kind, record_id
            ):
                what = kind.replace("_", " ")
                msg = f"{fieldname} does not name a {what} you may add evidence to"
                raise ReferenceNotFoundError(msg, field=fieldname)

    async def _redeclare(self, upload: Upload, new: NewUpload, media: MediaType) -> None:
        if upload.multipart_upload_id:
            await self._store.abort_multipart(upload.object_key, upload.multipart_upload_id)
        values = self._declaration(new, media, upload.county_id, upload.attempt + 1)
        for name, value in values.items():
            setattr(upload, name, value)
        if upload.part_size is not None:
            upload.multipart_upload_id = await self._store.create_multipart(
                upload.object_key, content_type=media.mime
            )
        await self._session.flush()
        log.info("evidence.upload_redeclared", evidence_id=str(upload.id), attempt=upload.attempt)

    async def _stored_in_full(self, upload: Upload) -> bool:
        if upload.part_size is not None and upload.multipart_upload_id is not None:
            try:
                await self._store.list_parts(upload.object_key, upload.multipart_upload_id)
            except MultipartNotFoundError:
                pass
            else:
                return False  # still collecting parts
        head = await self._store.head(upload.object_key)
        return head is not None and head.size == upload.size_bytes

    async def _own_upload(self, principal: Principal, evidence_id: uuid.UUID) -> Upload:
        """The caller's upload, locked for the rest of the transaction."""
        stmt = scoped(select(Upload), Upload, principal).where(Upload.id == evidence_id)
        upload = (await self._session.scalars(stmt.with_for_update())).first()
        return _owned(upload, principal, evidence_id)

    def _expected_parts(self, upload: Upload) -> list[tuple[int, int]]:
        assert upload.part_size is not None
        count = part_count(upload.size_bytes, upload.part_size)
        sizes = [upload.part_size] * count
        sizes[-1] = upload.size_bytes - upload.part_size * (count - 1)
        return list(enumerate(sizes, start=1))

    async def _ticket(self, upload: Upload) -> UploadTicket:
        base: dict[str, Any] = {
            "evidence_id": upload.id,
            "status": upload.status,
            "attempt": upload.attempt,
            "method": "single" if upload.part_size is None else "multipart",
            "size_bytes": upload.size_bytes,
            "part_size": upload.part_size,
            "part_count": 1
            if upload.part_size is None
            else part_count(upload.size_bytes, upload.part_size),
        }
        if upload.status != "open":
            return UploadTicket(**base, assembled=upload.status == "accepted")
        if upload.part_size is None:
            return await self._single_ticket(upload, base)
        return await self._multipart_ticket(upload, base)

    async def _single_ticket(self, upload: Upload, base: dict[str, Any]) -> UploadTicket:
        head = await self._store.head(upload.object_key)
        if head is not None and head.size == upload.size_bytes:
            return UploadTicket(**base, assembled=True)
        assert upload.content_md5 is not None
        request = self._store.presign_put(
            upload.object_key, content_md5=upload.content_md5, content_type=upload.content_type
        )
        return UploadTicket(**base, missing_parts=[1], requests=[PartRequest(None, request)])

    async def _multipart_ticket(self, upload: Upload, base: dict[str, Any]) -> UploadTicket:
        received: list[PartInfo] = []
        if upload.multipart_upload_id is not None:
            try:
                received = await self._store.list_parts(
                    upload.object_key, upload.multipart_upload_id
                )
            except MultipartNotFoundError:
                upload.multipart_upload_id = None
        if upload.multipart_upload_id is None:
            head = await self._store.head(upload.object_key)
            if head is not None and head.size == upload.size_bytes:
                return UploadTicket(**base, assembled=True)
            upload.multipart_upload_id = await self._store.create_multipart(
                upload.object_key, content_type=upload.content_type
            )
            await self._session.flush()
            log.info("evidence.multipart_restarted", evidence_id=str(upload.id))
        good = {
            p.part_number: p
            for p in received
            if (p.part_number, p.size) in set(self._expected_parts(upload))
        }
        missing = [n for n, _ in self._expected_parts(upload) if n not in good]
        md5s = upload.part_md5s
        requests = [
            PartRequest(
                n,
                self._store.presign_part(
                    upload.object_key,
                    upload.multipart_upload_id,
                    n,
                    content_md5=md5s[n - 1] if md5s else None,
                ),
            )
            for n in missing
        ]
        return UploadTicket(
            **base,
            parts_received=sorted(good.values(), key=lambda p: p.part_number),
            missing_parts=missing,
            requests=requests,
        )

    async def _assemble(self, upload: Upload) -> str | None:
        """Put a multipart upload's parts together and return the object's ETag; ``None``
        when there is nothing to put together (a single PUT, or parts already joined).

        Whether the object is there, and its size, the read-back tells: the store's answer to
        the GET carries both, so no HEAD goes before it (one request fewer; the embedded
        rclone store answered a HEAD of a 5 MiB photo in 9.7 ms, its GET in 16 ms)."""
        if upload.part_size is not None and upload.multipart_upload_id is not None:
            try:
                parts = await self._store.list_parts(upload.object_key, upload.multipart_upload_id)
            except MultipartNotFoundError:
                parts = None
            if parts is not None:
                expected = self._expected_parts(upload)
                have = {(p.part_number, p.size): p for p in parts}
                missing = [n for n, size in expected if (n, size) not in have]
                if missing:
                    msg = f"{len(missing)} part(s) still missing"
                    raise UploadIncompleteError(msg, missing_parts=missing[:1000])
                info = await self._store.complete_multipart(
                    upload.object_key,
                    upload.multipart_upload_id,
                    [have[item] for item in expected],
                )
                return info.etag
        return None

    def _not_arrived(self, upload: Upload) -> UploadIncompleteError:
        msg = "the file has not arrived in storage yet (get_upload says what to send)"
        missing = [n for n, _ in self._expected_parts(upload)] if upload.part_size else [1]
        return UploadIncompleteError(msg, missing_parts=missing[:1000])

    # -- internals: acceptance ---------------------------------------------------------------
    async def _store_accepted(
        self, upload: Upload, evidence: Evidence, entry: PendingEntry
    ) -> bool:
        """Write ``evidence``, mark ``upload`` accepted, append its custody ``entry`` and queue
        the derivatives in one statement (:data:`_STORE`), sent again on the head answered
        while the entry's guess of the custody head was wrong; then the session holds both
        as the database now does: the evidence persistent (later changes to it are flushed
        as updates) with its upload and (still empty) derivatives, so readers map it without
        lazy loads. ``False`` (and nothing written) when the upload is no longer open at the
        attempt that was read back."""
        values = {name: getattr(evidence, attr) for name, attr in _STORE_VALUES}
        for name in ("e_file_meta", "e_trust", "e_location_check"):
            values[name] = json.dumps(values[name], ensure_ascii=False)
        values["e_geom"] = f"SRID=4326;POINT({evidence.lon!r} {evidence.lat!r})"
        values["u_attempt"] = upload.attempt
        values.update({f"j_{key}": value for key, value in derivatives_job(evidence).items()})
        driver = await driver_of(self._session)
        for _ in range(_STORE_TRIES):
            values.update(zip(APPEND_VALUES, entry.driver_values(), strict=True))
            row = await driver.fetchrow(_STORE, *(values[name] for name in _STORE_NAMES))
            if row is None:
                return False
            if row["appended"]:
                break
            entry = self.custody.relink(entry, int(row["head_seq"]), str(row["head_hash"]))
        else:
            msg = "the custody log is busy; try again shortly"
            raise DatabaseUnavailableError(msg, reason="custody_busy")
        make_transient_to_detached(evidence)
        self._session.add(evidence)
        for name, value in (
            ("status", "accepted"),
            ("completed_at", evidence.received_at),
            ("updated_at", evidence.received_at),
        ):
            set_committed_value(upload, name, value)
        set_committed_value(evidence, "upload", upload)
        set_committed_value(evidence, "derivatives", [])
        return True

    async def _intake_upload(self, principal: Principal, evidence_id: uuid.UUID) -> Upload:
        """The upload a complete works on, read without a lock in one statement straight to
        the driver (:data:`_READ_UPLOAD`) and put in the session as loaded; one the session
        already holds is read again. 404 ``upload_not_found``, 403 ``not_upload_owner``."""
        held = self._session.identity_map.get(self._session.identity_key(Upload, evidence_id))
        if isinstance(held, Upload):
            await self._session.refresh(held)
            upload = held
        else:
            driver = await driver_of(self._session)
            row = await driver.fetchrow(_READ_UPLOAD, evidence_id, principal.county_id)
            if row is None:
                return _owned(None, principal, evidence_id)
            upload = Upload(**{attr: row[name] for attr, name in _UPLOAD_ATTRS})
            make_transient_to_detached(upload)
            self._session.add(upload)
        return _owned(upload, principal, evidence_id)

    def _device_fix(self, upload: Upload) -> DeviceFix:
        lon, lat = upload.device_lon, upload.device_lat
        if upload.device_crs == "gcj02":
            from geofence.gcj02 import gcj02_to_wgs84  # noqa: PLC0415

            lon, lat = gcj02_to_wgs84(lon, lat)
        return DeviceFix(
            lon=lon, lat=lat, accuracy_m=upload.device_accuracy_m, at=upload.device_fix_at
        )

    async def _assess(
        self, upload: Upload, inspection: Inspection, received_at: datetime
    ) -> _Accepted:
        device = self._device_fix(upload)
        claimed = upload.claimed_captured_at
        meta = inspection.meta
        result = assess(meta, device, claimed_at=claimed, received_at=received_at)
        if self._patrol is not None and upload.patrol_session_id is not None:
            # the patrol's own track near the moment and area around the position, then
            # the assessment again with them
            track = await self._patrol.track_fix_near(
                self._session,
                upload.county_id,
                upload.patrol_session_id,
                result.captured_at,
                window_s=_TRACK_WINDOW_S,
            )
            in_area = await self._patrol.in_patrol_area(
                self._session,
                upload.county_id,
                upload.patrol_session_id,
                lon=result.lon,
                lat=result.lat,
                accuracy_m=result.accuracy_m,
            )
            result = assess(
                meta,
                device,
                claimed_at=claimed,
                received_at=received_at,
                track=track,
                in_patrol_area=in_area,
            )
        in_county = await self._checker.in_county(
            self._session, upload.county_id, result.lon, result.lat
        )
        if in_county is None:  # the checker keeps no boundary: the database answers
            in_county = bool(
                await self._session.scalar(
                    _IN_COUNTY, {"lon": result.lon, "lat": result.lat, "county": upload.county_id}
                )
            )
        if not in_county:
            result.flags.append("outside_county")
        check = dict(
            await self._checker.check(
                self._session, upload.county_id, result.lon, result.lat, result.accuracy_m
            )
        )
        features = check.get("features") or []
        if upload.mine_site_id is not None or any(
            isinstance(f, dict) and f.get("mine_site_id") for f in features
        ):
            result.flags.append("at_mine_site")
        return _Accepted(inspection=inspection, trust=result, in_county=in_county, check=check)

    def _evidence_from(
        self,
        upload: Upload,
        accepted: _Accepted,
        principal: Principal,
        etag: str,
        received_at: datetime,
    ) -> Evidence:
        trust = accepted.trust
        inspection = accepted.inspection
        return Evidence(
            id=upload.id,
            county_id=upload.county_id,
            kind=inspection.media.kind,
            media_type=inspection.media.mime,
            size_bytes=inspection.size,
            sha256=inspection.sha256,
            original_key=upload.object_key,
            original_etag=etag[:80],
            captured_at=trust.captured_at,
            captured_at_source=trust.captured_at_source,
            received_at=received_at,
            geom=WKTElement(f"POINT({trust.lon!r} {trust.lat!r})", srid=4326),
            lon=trust.lon,
            lat=trust.lat,
            position_source=trust.position_source,
            position_accuracy_m=trust.accuracy_m,
            file_meta=inspection.meta.to_json(),
            trust={
                **trust.trust,
                "position_reason": trust.position_reason,
                "in_county": accepted.in_county,
                "device_fix": {
                    "lon": upload.device_lon,
                    "lat": upload.device_lat,
                    "crs": upload.device_crs,
                    "accuracy_m": upload.device_accuracy_m,
                },
            },
            flags=sorted(set(trust.flags)),
            location_check=accepted.check,
            accepted_by=principal.user_id,
            created_at=received_at,
        )

    async def _evidence_row(self, evidence_id: uuid.UUID) -> Evidence:
        evidence = await self._session.get(Evidence, evidence_id)
        if evidence is None:  # pragma: no cover - accepted uploads always have one
            msg = "no such evidence"
            raise EvidenceNotFoundError(msg)
        return evidence

    def _visible(self, stmt: Select[Any], principal: Principal) -> Select[Any]:
        """County scope, then :func:`evidence.access.evidence_visible`.

        ``Upload`` is joined, so callers may filter on its columns.
        """
        stmt = scoped(stmt.join(Upload, Upload.id == Evidence.id), Evidence, principal)
        return stmt.where(evidence_visible(caller_of(principal)))
