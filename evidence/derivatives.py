"""Derivatives of accepted evidence, made off the request path by a PostgreSQL job queue.

Kinds: ``thumbnail`` (512 px, orientation applied), ``share`` (full size, every EXIF/XMP/GPS/
ICC block removed, HEIC included: re-encoded as a bare JPEG), ``poster`` (a video's first
frame, rotation applied) and ``captioned`` (longitude, latitude, accuracy, azimuth and local
time burnt into a copy). Originals are only read; every derivative is a new object under
``derived/`` with its own row and custody entry.

Queue: ``evidence_jobs`` rows are claimed with ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE
SKIP LOCKED)`` and a lease, so any number of workers (in-process or ``patrol worker``) share
one database; a crashed worker's job is taken again when its lease runs out. Failures retry
with exponential backoff, then stay ``failed`` with the error for an operator.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import structlog
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.custody import CustodyAction, CustodyLog
from evidence.media import MediaType, declared_media_type
from evidence.metadata import DEFAULT_MAX_PIXELS, open_image, parse_utc_offset
from evidence.models import Derivative, Evidence, EvidenceJob, Upload
from evidence.readback import spooled_object
from evidence.trust import ASSUMED_OFFSET
from infra.db import utcnow
from infra.ids import uuid7
from infra.objectstore import ObjectStore

__all__ = [
    "THUMBNAIL_PX",
    "CaptionFacts",
    "JobsRun",
    "Made",
    "caption_lines",
    "enqueue_derivatives",
    "make_derivatives",
    "run_pending_jobs",
]

log = structlog.get_logger(__name__)

THUMBNAIL_PX = 512
_CAPTIONED_MAX_PX = 4096
_JPEG_QUALITY = 85
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
PHOTO_KINDS = ("thumbnail", "share", "captioned")
VIDEO_KINDS = ("poster", "thumbnail", "captioned")


class OriginalChangedError(RuntimeError):
    """The stored original no longer has the SHA-256 recorded at acceptance."""


@dataclass(frozen=True, slots=True)
class CaptionFacts:
    lon: float
    lat: float
    accuracy_m: float
    azimuth_deg: float | None
    captured_at: datetime
    offset: timezone


@dataclass(frozen=True, slots=True)
class Made:
    kind: str
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class JobsRun:
    done: int = 0
    retried: int = 0
    failed: int = 0


# -- image work (blocking; runs in a worker thread) --------------------------------------------
def caption_lines(facts: CaptionFacts) -> list[str]:
    """The watermark text: position, accuracy, azimuth and local time (with its offset)."""
    ns = "N" if facts.lat >= 0 else "S"
    ew = "E" if facts.lon >= 0 else "W"
    azimuth = "n/a" if facts.azimuth_deg is None else f"{facts.azimuth_deg:.0f}°"
    local = facts.captured_at.astimezone(facts.offset)
    offset = local.strftime("%z")
    return [
        f"{ew} {abs(facts.lon):.6f}°  {ns} {abs(facts.lat):.6f}°  ±{facts.accuracy_m:.0f} m",
        f"Azimuth {azimuth}",
        f"{local:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}",
    ]


def _oriented(image: Image.Image, orientation: int | None) -> Image.Image:
    method = _TRANSPOSE.get(orientation or 1)
    return image.transpose(method) if method is not None else image


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in {"I", "F"}:
        return image.convert("L").convert("RGB")
    return image.convert("RGB")


def _jpeg(kind: str, image: Image.Image) -> Made:
    """A bare JPEG: no EXIF, XMP, ICC or comments (``info`` is emptied first)."""
    clean = _rgb(image)
    clean.info = {}
    buffer = io.BytesIO()
    clean.save(buffer, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    return Made(kind, buffer.getvalue(), "image/jpeg", clean.width, clean.height)


def _captioned(image: Image.Image, facts: CaptionFacts) -> Made:
    copy = _rgb(image).copy()
    copy.thumbnail((_CAPTIONED_MAX_PX, _CAPTIONED_MAX_PX))
    lines = caption_lines(facts)
    size = max(12, copy.width // 45)
    font = ImageFont.load_default(size=size)
    pad = size // 2
    line_height = size + pad // 2
    band = pad * 2 + line_height * len(lines)
    draw = ImageDraw.Draw(copy, "RGBA")
    draw.rectangle((0, copy.height - band, copy.width, copy.height), fill=(0, 0, 0, 150))
    for index, line in enumerate(lines):
        y = copy.height - band + pad + index * line_height
        draw.text((pad, y), line, font=font, fill=(255, 255, 255, 255))
    return _jpeg("captioned", copy)


def _thumbnail(image: Image.Image) -> Made:
    small = _rgb(image).copy()
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return _jpeg("thumbnail", small)


def _photo(
    fp: IO[bytes],
    media: MediaType,
    *,
    orientation: int | None,
    facts: CaptionFacts,
    kinds: set[str],
    max_pixels: int,
) -> list[Made]:
    made: list[Made] = []
    if "thumbnail" in kinds:
        with open_image(fp, media, max_pixels=max_pixels) as image:
            if media.family == "jpeg":
                image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            image.load()
            made.append(_thumbnail(_oriented(image, orientation)))
    if kinds & {"share", "captioned"}:
        with open_image(fp, media, max_pixels=max_pixels) as image:
            image.load()
            upright = _oriented(image, orientation)
            if "share" in kinds:
                made.append(_jpeg("share", upright))
            if "captioned" in kinds:
                made.append(_captioned(upright, facts))
    return made


def _video(path: str, facts: CaptionFacts, kinds: set[str]) -> list[Made]:
    import av  # noqa: PLC0415 - heavy import, only for videos

    with av.open(path, mode="r", metadata_errors="replace") as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        poster = frame.to_image()  # type: ignore[no-untyped-call]
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        poster = poster.rotate(rotation, expand=True)
    made: list[Made] = []
    if "poster" in kinds:
        made.append(_jpeg("poster", poster))
    if "thumbnail" in kinds:
        made.append(_thumbnail(poster))
    if "captioned" in kinds:
        made.append(_captioned(poster, facts))
    return made


def make_derivatives(
    store: ObjectStore,
    *,
    key: str,
    sha256: str,
    size: int,
    media: MediaType,
    orientation: int | None,
    facts: CaptionFacts,
    kinds: set[str],
    spool_dir: Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Made]:
    """Read the original (checking its SHA-256 again) and make the requested ``kinds``."""
    hasher = hashlib.sha256()
    with spooled_object(
        store,
        key,
        on_disk=media.kind == "video",
        spool_dir=spool_dir,
        limit=size,
        hasher=hasher,
    ) as (spool, stored_size, _head):
        if stored_size != size or hasher.hexdigest() != sha256:
            msg = f"original {key} no longer matches its recorded SHA-256"
            raise OriginalChangedError(msg)
        if media.kind == "video":
            return _video(spool.name, facts, kinds)
        return _photo(
            spool, media, orientation=orientation, facts=facts, kinds=kinds, max_pixels=max_pixels
        )


# -- queue ---------------------------------------------------------------------------------------
async def enqueue_derivatives(session: AsyncSession, evidence: Evidence) -> None:
    """Queue the derivatives job of ``evidence`` (in the caller's transaction; idempotent)."""
    await session.execute(
        insert(EvidenceJob)
        .values(
            id=uuid7(),
            county_id=evidence.county_id,
            evidence_id=evidence.id,
            kind="derivatives",
            status="queued",
            attempts=0,
            run_after=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["evidence_id", "kind"])
    )


@dataclass(frozen=True, slots=True)
class _Claimed:
    job_id: uuid.UUID
    evidence_id: uuid.UUID
    county_id: uuid.UUID
    attempts: int


async def _claim(
    session_factory: async_sessionmaker[AsyncSession], worker: str, lease_s: float
) -> _Claimed | None:
    now = func.now()
    pick = (
        select(EvidenceJob.id)
        .where(
            or_(
                and_(EvidenceJob.status == "queued", EvidenceJob.run_after <= now),
                and_(EvidenceJob.status == "running", EvidenceJob.locked_until < now),
            )
        )
        .order_by(EvidenceJob.run_after)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(EvidenceJob)
        .where(EvidenceJob.id == pick)
        .values(
            status="running",
            attempts=EvidenceJob.attempts + 1,
            locked_until=now + timedelta(seconds=lease_s),
            worker=worker,
            updated_at=now,
        )
        .returning(
            EvidenceJob.id, EvidenceJob.evidence_id, EvidenceJob.county_id, EvidenceJob.attempts
        )
    )
    async with session_factory() as session, session.begin():
        row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return _Claimed(row[0], row[1], row[2], int(row[3]))


def _facts(evidence: Evidence, upload: Upload) -> CaptionFacts:
    meta = evidence.file_meta or {}
    azimuth = meta.get("direction_deg")
    if not isinstance(azimuth, int | float):
        azimuth = upload.heading_deg
    offset = parse_utc_offset(meta.get("captured_offset")) or ASSUMED_OFFSET
    return CaptionFacts(
        lon=evidence.lon,
        lat=evidence.lat,
        accuracy_m=evidence.position_accuracy_m,
        azimuth_deg=float(azimuth) if azimuth is not None else None,
        captured_at=evidence.captured_at,
        offset=offset,
    )


async def _process(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    custody: CustodyLog,
    job: _Claimed,
    *,
    spool_dir: Path | None,
    max_pixels: int,
) -> None:
    async with session_factory() as session:
        evidence = await session.get(Evidence, job.evidence_id)
        if evidence is None:
            msg = "evidence row missing"
            raise LookupError(msg)
        upload = evidence.upload
        existing = {d.kind for d in evidence.derivatives}
        wanted = PHOTO_KINDS if evidence.kind == "photo" else VIDEO_KINDS
        kinds = {k for k in wanted if k not in existing}
        facts = _facts(evidence, upload)
        orientation = (evidence.file_meta or {}).get("orientation")
        args: dict[str, Any] = {
            "key": evidence.original_key,
            "sha256": evidence.sha256,
            "size": evidence.size_bytes,
            "media": declared_media_type(evidence.media_type),
            "orientation": orientation if isinstance(orientation, int) else None,
        }
    made = (
        await asyncio.to_thread(
            make_derivatives,
            store,
            facts=facts,
            kinds=kinds,
            spool_dir=spool_dir,
            max_pixels=max_pixels,
            **args,
        )
        if kinds
        else []
    )
    stored: list[tuple[Made, str, str]] = []
    for item in made:
        key = f"derived/{job.county_id}/{job.evidence_id}/{item.kind}-{uuid7()}.jpg"
        await store.put_bytes(key, item.data, content_type=item.content_type)
        stored.append((item, key, hashlib.sha256(item.data).hexdigest()))
    async with session_factory() as session, session.begin():
        for item, key, digest in stored:
            inserted = await session.scalar(
                insert(Derivative)
                .values(
                    id=uuid7(),
                    county_id=job.county_id,
                    evidence_id=job.evidence_id,
                    kind=item.kind,
                    object_key=key,
                    content_type=item.content_type,
                    size_bytes=len(item.data),
                    sha256=digest,
                    width=item.width,
                    height=item.height,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["evidence_id", "kind"])
                .returning(Derivative.id)
            )
            if inserted is None:  # another worker made this kind meanwhile
                await store.delete(key)
                continue
            await custody.append(
                session,
                county_id=job.county_id,
                action=CustodyAction.DERIVATIVE_CREATED,
                subject_id=job.evidence_id,
                actor_id=None,
                details={"kind": item.kind, "object_key": key, "sha256": digest},
            )
        await session.execute(
            update(EvidenceJob)
            .where(EvidenceJob.id == job.job_id)
            .values(status="done", locked_until=None, last_error=None, updated_at=func.now())
        )


async def _fail(
    session_factory: async_sessionmaker[AsyncSession],
    job: _Claimed,
    error: BaseException,
    *,
    max_attempts: int,
) -> bool:
    final = job.attempts >= max_attempts or isinstance(error, OriginalChangedError)
    backoff = timedelta(seconds=min(3600, 10 * 2 ** (job.attempts - 1)))
    async with session_factory() as session, session.begin():
        await session.execute(
            update(EvidenceJob)
            .where(EvidenceJob.id == job.job_id)
            .values(
                status="failed" if final else "queued",
                run_after=utcnow() + backoff,
                locked_until=None,
                last_error=f"{type(error).__name__}: {error}"[:2000],
                updated_at=func.now(),
            )
        )
    return final


async def run_pending_jobs(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    *,
    custody_key: bytes = b"",
    max_jobs: int = 100,
    worker: str | None = None,
    lease_s: float = 900.0,
    max_attempts: int = 5,
    spool_dir: Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> JobsRun:
    """Run up to ``max_jobs`` due jobs one after another; return what happened.

    Call it in a loop (with a sleep when nothing was done) from the in-process worker or
    ``patrol worker``; several processes may run it at once. ``custody_key`` must be the
    key the service uses (``EvidenceSettings.package_signing_key``).
    """
    name = worker or f"{socket.gethostname()}:{os.getpid()}"
    custody = CustodyLog(custody_key)
    done = retried = failed = 0
    for _ in range(max_jobs):
        job = await _claim(session_factory, name, lease_s)
        if job is None:
            break
        try:
            await _process(
                session_factory, store, custody, job, spool_dir=spool_dir, max_pixels=max_pixels
            )
        except Exception as exc:  # a job failure must not stop the worker
            final = await _fail(session_factory, job, exc, max_attempts=max_attempts)
            log.warning(
                "evidence.job_failed",
                job_id=str(job.job_id),
                evidence_id=str(job.evidence_id),
                attempts=job.attempts,
                final=final,
                error=type(exc).__name__,
            )
            if final:
                failed += 1
            else:
                retried += 1
            continue
        done += 1
        log.info("evidence.derivatives_made", evidence_id=str(job.evidence_id))
    return JobsRun(done=done, retried=retried, failed=failed)
