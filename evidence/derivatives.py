"""Derivatives of accepted evidence, made off the request path by a PostgreSQL job queue.

Kinds: ``thumbnail`` (512 px, orientation applied), ``share`` (a photo: full size, every
EXIF/XMP/GPS/ICC block removed, HEIC included: re-encoded as a bare JPEG; a video: the same
audio and video packets re-muxed without any metadata, see :mod:`evidence.video_share`),
``poster`` (a video's first frame, rotation applied) and ``captioned`` (position, accuracy,
azimuth, local time, place, inspector and unit burnt into a copy in Chinese, see
:mod:`evidence.captions`). Originals are only read; every derivative is a new object under
``derived/`` with its own row and custody entry. A video's share copy never sits in memory:
the original is spooled to disk, re-muxed file to file and sent back in 8 MiB parts.

One kind failing (a video FFmpeg cannot re-mux, no CJK font) does not hold back the others:
they are stored, then the job fails and is retried for the missing kinds only.

Queue: one procrastinate job per evidence (``evidence:derivatives``, see :mod:`evidence.tasks`),
queued in the acceptance's own transaction; any number of workers (in-process or ``patrol
worker``) share one database, and the job's lock keeps one evidence to one worker at a time.
Failures retry with exponential backoff, then stay ``failed`` with the error for an operator.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import structlog
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.captions import CaptionFacts, caption_place, draw_caption, unit_name
from evidence.custody import CustodyAction, CustodyLog
from evidence.media import MediaType, declared_media_type
from evidence.metadata import DEFAULT_MAX_PIXELS, open_image, parse_utc_offset
from evidence.models import Derivative, Evidence, Upload
from evidence.readback import spooled_object
from evidence.trust import ASSUMED_OFFSET
from evidence.video_share import strip_video
from infra.db import utcnow
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.tasks import defer_params
from patrol.models import County, Township, User, Village

__all__ = [
    "DERIVATIVES_TASK",
    "PHOTO_KINDS",
    "TASK_NAMESPACE",
    "THUMBNAIL_PX",
    "VIDEO_KINDS",
    "DerivativesFailedError",
    "Made",
    "OriginalChangedError",
    "Outcome",
    "caption_facts",
    "derivatives_job",
    "make_derivatives",
    "make_evidence_derivatives",
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
VIDEO_KINDS = ("poster", "thumbnail", "captioned", "share")


class OriginalChangedError(RuntimeError):
    """The stored original no longer has the SHA-256 recorded at acceptance."""


class DerivativesFailedError(RuntimeError):
    """Some kinds could not be made (the others were stored); the job is tried again."""


@dataclass(frozen=True, slots=True)
class Made:
    """One derivative: in memory (``data``), or on disk (``path``) when it can be large."""

    kind: str
    data: bytes
    content_type: str
    width: int
    height: int
    path: Path | None = None
    extension: str = "jpg"


@dataclass(frozen=True, slots=True)
class Outcome:
    made: list[Made] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # kind -> error


# -- image work (blocking; runs in a worker thread) --------------------------------------------
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


def _captioned(image: Image.Image, facts: CaptionFacts, font_file: str) -> Made:
    copy = _rgb(image).copy()
    copy.thumbnail((_CAPTIONED_MAX_PX, _CAPTIONED_MAX_PX))
    return _jpeg("captioned", draw_caption(copy, facts, font_file=font_file))


def _thumbnail(image: Image.Image) -> Made:
    small = _rgb(image).copy()
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return _jpeg("thumbnail", small)


@dataclass(slots=True)
class _Making:
    """Collects what was made and, per kind, what went wrong."""

    kinds: set[str]
    outcome: Outcome = field(default_factory=Outcome)

    def make(self, kind: str, build: Any, *args: Any) -> None:
        if kind not in self.kinds:
            return
        try:
            self.outcome.made.append(build(*args))
        except Exception as exc:  # one kind failing never loses the others
            self.fail({kind}, exc)

    def fail(self, kinds: set[str], exc: Exception) -> None:
        for kind in sorted(kinds):
            self.outcome.failed[kind] = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("evidence.derivative_failed", kind=kind, error=type(exc).__name__)


def _photo(
    fp: IO[bytes],
    media: MediaType,
    *,
    orientation: int | None,
    facts: CaptionFacts,
    making: _Making,
    max_pixels: int,
    font_file: str,
) -> None:
    if "thumbnail" in making.kinds:
        with open_image(fp, media, max_pixels=max_pixels) as image:
            if media.family == "jpeg":
                image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            image.load()
            making.make("thumbnail", _thumbnail, _oriented(image, orientation))
    if making.kinds & {"share", "captioned"}:
        with open_image(fp, media, max_pixels=max_pixels) as image:
            image.load()
            upright = _oriented(image, orientation)
            making.make("share", _jpeg, "share", upright)
            making.make("captioned", _captioned, upright, facts, font_file)


def _poster(path: str) -> Image.Image:
    import av  # noqa: PLC0415 - heavy import, only for videos

    with av.open(path, mode="r", metadata_errors="replace") as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        poster: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    return poster.rotate(rotation, expand=True) if rotation else poster


def _video_share(path: str, media: MediaType, work_dir: Path) -> Made:
    stripped = strip_video(path, work_dir / f"share.{media.extension}", media)
    return Made(
        "share", b"", media.mime, stripped.width, stripped.height,
        path=stripped.path, extension=media.extension,
    )  # fmt: skip


def _video(
    path: str,
    media: MediaType,
    facts: CaptionFacts,
    making: _Making,
    *,
    work_dir: Path,
    font_file: str,
) -> None:
    from_poster = making.kinds & {"poster", "thumbnail", "captioned"}
    if from_poster:
        try:
            poster = _poster(path)
        except Exception as exc:  # the share copy may still be possible
            making.fail(from_poster, exc)
        else:
            making.make("poster", _jpeg, "poster", poster)
            making.make("thumbnail", _thumbnail, poster)
            making.make("captioned", _captioned, poster, facts, font_file)
    making.make("share", _video_share, path, media, work_dir)


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
    work_dir: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    font_file: str = "",
) -> Outcome:
    """Read the original (checking its SHA-256 again) and make the requested ``kinds``.

    Large derivatives (a video's share copy) are written under ``work_dir``, which must
    outlive their upload. ``font_file`` is the configured caption font (empty: looked up).
    """
    hasher = hashlib.sha256()
    making = _Making(kinds)
    with spooled_object(
        store,
        key,
        on_disk=media.kind == "video",
        spool_dir=work_dir,
        limit=size,
        hasher=hasher,
    ) as (spool, stored_size, _head, _info):
        if stored_size != size or hasher.hexdigest() != sha256:
            msg = f"original {key} no longer matches its recorded SHA-256"
            raise OriginalChangedError(msg)
        if media.kind == "video":
            _video(spool.name, media, facts, making, work_dir=work_dir, font_file=font_file)
        else:
            _photo(
                spool, media, orientation=orientation, facts=facts, making=making,
                max_pixels=max_pixels, font_file=font_file,
            )  # fmt: skip
    return making.outcome


# -- queue ---------------------------------------------------------------------------------------
DERIVATIVES_TASK = "derivatives"  # the task's name in this package's blueprint (evidence.tasks)
TASK_NAMESPACE = "evidence"  # the namespace the composition root gives this package's tasks


def derivatives_job(evidence: Evidence) -> dict[str, Any]:
    """The bound values of :data:`infra.tasks.DEFER_JOB` that queue the derivatives job of
    ``evidence`` (at most one waiting per evidence; never two running at once).

    Intake queues it in the statement that stores the evidence, through the request's own
    transaction (procrastinate's ``procrastinate_defer_jobs_v1``) rather than through
    procrastinate's connector after the commit: the evidence and its job commit together or
    not at all, so acknowledged evidence can never be left without its job by a crash
    between two commits, and no sweep for such evidence is needed.
    """
    return defer_params(
        f"{TASK_NAMESPACE}:{DERIVATIVES_TASK}",
        {"evidence_id": str(evidence.id), "county_id": str(evidence.county_id)},
        lock=f"evidence:{evidence.id}",
        queueing_lock=f"derivatives:{evidence.id}",
    )


@dataclass(frozen=True, slots=True)
class _Target:
    evidence_id: uuid.UUID
    county_id: uuid.UUID


async def caption_facts(session: AsyncSession, evidence: Evidence, upload: Upload) -> CaptionFacts:
    """The caption's facts: the evidence's position and time, the township and village under
    it, the site or parcel from its stored location check, the uploader and the brigade."""
    meta = evidence.file_meta or {}
    azimuth = meta.get("direction_deg")
    if not isinstance(azimuth, int | float):
        azimuth = upload.heading_deg
    offset = parse_utc_offset(meta.get("captured_offset")) or ASSUMED_OFFSET
    county_id = evidence.county_id

    def covering(model: type[Township] | type[Village]) -> Any:
        return (
            select(model.name)
            .where(model.county_id == county_id, func.ST_Covers(model.geom, Evidence.geom))
            .correlate(Evidence)
            .order_by(model.code)
            .limit(1)
            .scalar_subquery()
        )

    row = (
        await session.execute(
            select(
                covering(Township),
                covering(Village),
                select(User.display_name).where(User.id == upload.uploader_id).scalar_subquery(),
                select(County.name).where(County.id == county_id).scalar_subquery(),
            ).where(Evidence.id == evidence.id)
        )
    ).one()
    township, village, inspector, county = row
    return CaptionFacts(
        lon=evidence.lon,
        lat=evidence.lat,
        accuracy_m=evidence.position_accuracy_m,
        azimuth_deg=float(azimuth) if azimuth is not None else None,
        captured_at=evidence.captured_at,
        offset=offset,
        place=caption_place(evidence.location_check, township=township, village=village),
        inspector=inspector,
        unit=unit_name(county),
    )


@dataclass(frozen=True, slots=True)
class _Stored:
    made: Made
    key: str
    sha256: str
    size: int


async def _store(store: ObjectStore, job: _Target, item: Made) -> _Stored:
    key = f"derived/{job.county_id}/{job.evidence_id}/{item.kind}-{uuid7()}.{item.extension}"
    if item.path is None:
        await store.put_bytes(key, item.data, content_type=item.content_type)
        return _Stored(item, key, hashlib.sha256(item.data).hexdigest(), len(item.data))
    hasher = hashlib.sha256()
    info = await store.put_file(key, item.path, content_type=item.content_type, hasher=hasher)
    return _Stored(item, key, hasher.hexdigest(), info.size)


async def _record(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    custody: CustodyLog,
    job: _Target,
    stored: list[_Stored],
) -> None:
    """Rows and custody entries for what was stored."""
    async with session_factory() as session, session.begin():
        for item in stored:
            inserted = await session.scalar(
                insert(Derivative)
                .values(
                    id=uuid7(),
                    county_id=job.county_id,
                    evidence_id=job.evidence_id,
                    kind=item.made.kind,
                    object_key=item.key,
                    content_type=item.made.content_type,
                    size_bytes=item.size,
                    sha256=item.sha256,
                    width=item.made.width,
                    height=item.made.height,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["evidence_id", "kind"])
                .returning(Derivative.id)
            )
            if inserted is None:  # another worker made this kind meanwhile
                await store.delete(item.key)
                continue
            await custody.append(
                session,
                county_id=job.county_id,
                action=CustodyAction.DERIVATIVE_CREATED,
                subject_id=job.evidence_id,
                actor_id=None,
                details={"kind": item.made.kind, "object_key": item.key, "sha256": item.sha256},
            )


async def _process(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    custody: CustodyLog,
    evidence_id: uuid.UUID,
    *,
    spool_dir: Path | None,
    max_pixels: int,
    font_file: str,
) -> None:
    async with session_factory() as session:
        evidence = await session.get(Evidence, evidence_id)
        if evidence is None:
            msg = "evidence row missing"
            raise LookupError(msg)
        job = _Target(evidence.id, evidence.county_id)
        upload = evidence.upload
        existing = {d.kind for d in evidence.derivatives}
        wanted = PHOTO_KINDS if evidence.kind == "photo" else VIDEO_KINDS
        kinds = {k for k in wanted if k not in existing}
        facts = await caption_facts(session, evidence, upload)
        orientation = (evidence.file_meta or {}).get("orientation")
        args: dict[str, Any] = {
            "key": evidence.original_key,
            "sha256": evidence.sha256,
            "size": evidence.size_bytes,
            "media": declared_media_type(evidence.media_type),
            "orientation": orientation if isinstance(orientation, int) else None,
        }
    directory = str(spool_dir) if spool_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="derivatives-", dir=directory) as work:
        outcome = Outcome()
        if kinds:
            outcome = await asyncio.to_thread(
                make_derivatives, store, facts=facts, kinds=kinds, work_dir=Path(work),
                max_pixels=max_pixels, font_file=font_file, **args,
            )  # fmt: skip
        stored = [await _store(store, job, item) for item in outcome.made]
    await _record(session_factory, store, custody, job, stored)
    if outcome.failed:
        failed = ", ".join(f"{kind} ({error})" for kind, error in sorted(outcome.failed.items()))
        msg = f"not made: {failed}"
        raise DerivativesFailedError(msg)


async def make_evidence_derivatives(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    evidence_id: uuid.UUID,
    *,
    custody_key: bytes = b"",
    spool_dir: Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    caption_font: str = "",
) -> None:
    """Make and store the kinds ``evidence_id`` still lacks (the derivatives task's body).

    Raises :class:`DerivativesFailedError` when some kinds could not be made (the others are
    stored; the retry makes only what is missing) and :class:`OriginalChangedError` when the
    original no longer matches (not worth retrying). ``custody_key`` must be the key the
    service uses (``EvidenceSettings.package_signing_key``).
    """
    await _process(
        session_factory, store, CustodyLog(custody_key), evidence_id, spool_dir=spool_dir,
        max_pixels=max_pixels, font_file=caption_font,
    )  # fmt: skip
    log.info("evidence.derivatives_made", evidence_id=str(evidence_id))
