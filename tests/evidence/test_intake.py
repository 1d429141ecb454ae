"""Upload → verify → evidence, for photos and videos, against PostGIS and rclone S3."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import ClaimedFix, CustodyLog
from evidence.custody import _heads as custody_heads
from evidence.errors import (
    EvidenceHashMismatchError,
    EvidenceIdConflictError,
    EvidenceSizeMismatchError,
    EvidenceTypeMismatchError,
    FileEmptyError,
    InvalidUploadError,
    UnsupportedMediaTypeError,
    UploadAbortedError,
    UploadIncompleteError,
    UploadTooLargeError,
)
from evidence.models import CustodyEntry, Evidence, Upload
from evidence.service import EvidenceService
from infra.objectstore import S3ObjectStore
from infra.settings import EvidenceSettings
from tests.evidence import media
from tests.evidence.conftest import (
    INSIDE,
    OUTSIDE,
    Kit,
    declaration,
    send,
    service,
)
from tests.jobs import jobs_of
from tests.worlds import World

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 11, 20, 16, 0, 0, tzinfo=CST)  # written to EXIF as local time


async def test_photo_upload_is_verified_and_accepted_with_file_metadata(
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    evidence_settings: EvidenceSettings,
    county: World,
    http: httpx.AsyncClient,
) -> None:
    exif = media.exif_bytes(
        lon=INSIDE[0],
        lat=INSIDE[1],
        when=WHEN,
        offset="+08:00",
        direction=135.5,
        hpe=4.5,
        altitude=52.0,
    )
    data = media.jpeg(exif=exif)
    claimed = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
    new = declaration(data, "image/jpeg", claimed_captured_at=claimed, caption="far view")
    async with session_factory() as session:
        ticket = await service(session, store, evidence_settings).create_upload(
            county.inspector, new
        )
        await session.commit()
    assert ticket.method == "single"
    assert ticket.status == "open"
    assert ticket.requests[0].request.headers["Content-MD5"] == new.content_md5
    await send(http, ticket, data)

    async with session_factory() as session:
        evidence = await service(session, store, evidence_settings).complete_upload(
            county.inspector, new.evidence_id
        )
        await session.commit()
    assert evidence.sha256 == new.sha256
    assert evidence.kind == "photo"
    assert evidence.media_type == "image/jpeg"
    assert evidence.position_source == "file"
    assert evidence.lon == pytest.approx(INSIDE[0], abs=1e-6)
    assert evidence.lat == pytest.approx(INSIDE[1], abs=1e-6)
    assert evidence.position_accuracy_m == pytest.approx(4.5)
    assert evidence.captured_at == datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
    assert evidence.captured_at_source == "exif:DateTimeOriginal"
    assert evidence.trust["clock_skew_s"] == pytest.approx(-30.0)
    assert evidence.trust["exif_vs_device_distance_m"] < 1
    assert evidence.flags == []
    assert evidence.file_meta["make"] == "Huawei"
    assert evidence.file_meta["direction_deg"] == pytest.approx(135.5)
    assert evidence.file_meta["gps"]["altitude_m"] == pytest.approx(52.0)
    assert evidence.location_check["layer_versions"] == {}

    async with session_factory() as session:
        upload = await session.get(Upload, new.evidence_id)
        assert upload is not None
        assert upload.status == "accepted"
        assert upload.completed_at == evidence.received_at
        # the row as stored holds every column as the answer had it (one statement writes it)
        stored = await session.get(Evidence, new.evidence_id)
        assert stored is not None
        columns = [c.key for c in Evidence.__table__.columns if c.key != "geom"]
        assert {k: getattr(stored, k) for k in columns} == {
            k: getattr(evidence, k) for k in columns
        }
        assert (
            await session.scalar(
                select(Evidence.geom.ST_AsText()).where(Evidence.id == new.evidence_id)
            )
        ) == (f"POINT({evidence.lon!r} {evidence.lat!r})")
        # the derivatives job was queued in the same transaction as the acceptance
        assert [status for _, status, _ in await jobs_of(session_factory, evidence.id)] == ["todo"]
        entries = (
            await session.scalars(
                select(CustodyEntry).where(CustodyEntry.subject_id == evidence.id)
            )
        ).all()
        assert [e.action for e in entries] == ["accepted"]
        assert entries[0].details["sha256"] == new.sha256
        report = await CustodyLog(evidence_settings.package_signing_key.encode()).verify(
            session,
            county.county_id,  # type: ignore[arg-type]
        )
        assert report.ok
        assert report.entries == 1


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("WEBP", "image/webp"), ("HEIF", "image/heic"), ("AVIF", "image/avif")],
)
async def test_other_photo_formats_give_their_gps_and_time(
    kit: Kit, county: World, fmt: str, content_type: str
) -> None:
    exif = media.exif_bytes(lon=116.3, lat=39.95, when=WHEN, offset="+08:00")
    data = media.photo(fmt, exif=exif)
    evidence = await kit.accept(county.inspector, data, content_type)
    assert evidence.media_type == ("image/heic" if fmt == "HEIF" else content_type)
    assert evidence.position_source == "file"
    assert evidence.lon == pytest.approx(116.3, abs=1e-6)
    assert evidence.lat == pytest.approx(39.95, abs=1e-6)
    assert evidence.captured_at == WHEN
    assert evidence.file_meta["width"] == 320


@pytest.mark.parametrize(
    ("fmt", "metadata", "options", "content_type"),
    [
        # FFmpeg writes "location" as 3GPP 'loci' in MP4/3GP and as '©xyz' in MOV.
        ("mp4", {"location": "+39.9042+116.4074/"}, None, "video/mp4"),
        ("3gp", {"location": "+39.9042+116.4074/"}, None, "video/3gpp"),
        ("mov", {"location": "+39.9042+116.4074+050.000/"}, None, "video/quicktime"),
        (
            "mov",
            {
                "com.apple.quicktime.location.ISO6709": "+39.9042+116.4074+050.000/",
                "com.apple.quicktime.creationdate": "2026-11-20T16:00:00+0800",
                "com.apple.quicktime.make": "Apple",
                "com.apple.quicktime.model": "iPhone 17",
            },
            {"movflags": "use_metadata_tags"},
            "video/quicktime",
        ),
    ],
)
async def test_video_upload_gives_location_time_and_rotation(
    kit: Kit,
    county: World,
    fmt: str,
    metadata: dict[str, str],
    options: dict[str, str] | None,
    content_type: str,
) -> None:
    tags = {"creation_time": "2026-11-20T08:00:00.000000Z", **metadata}
    data = media.video(fmt, metadata=tags, rotation=90, options=options)
    evidence = await kit.accept(county.inspector, data, content_type)
    assert evidence.kind == "video"
    assert evidence.position_source == "file"
    assert evidence.lon == pytest.approx(116.4074, abs=1e-6)
    assert evidence.lat == pytest.approx(39.9042, abs=1e-6)
    assert evidence.captured_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert evidence.file_meta["rotation"] == 90
    assert evidence.file_meta["duration_s"] == pytest.approx(1.0, abs=0.2)
    assert evidence.file_meta["codec"] in {"h264", "mpeg4"}


async def test_multipart_upload_resumes_from_the_parts_received(kit: Kit, county: World) -> None:
    clip = media.video("mp4", metadata={"location": "+39.9042+116.4074/"})
    data = media.padded(clip, 11 * 1024 * 1024)  # 3 parts of 5 MiB: 5 + 5 + 1
    part = 5 * 1024 * 1024
    md5s = [media.md5_b64(data[i : i + part]) for i in range(0, len(data), part)]
    new = declaration(data, "video/mp4", part_size=part, part_md5s=md5s, content_md5=None)
    ticket = await kit.create(county.inspector, new)
    assert ticket.method == "multipart"
    assert ticket.part_count == 3
    assert [r.part_number for r in ticket.requests] == [1, 2, 3]
    assert all(r.request.headers["Content-MD5"] == md5s[i] for i, r in enumerate(ticket.requests))

    # The phone sends part 2 only, loses the network, and asks what is missing.
    only_two = replace(ticket, requests=[ticket.requests[1]])
    await kit.send(only_two, data)
    with pytest.raises(UploadIncompleteError) as info:
        await kit.complete(county.inspector, new)
    assert info.value.extra["missing_parts"] == [1, 3]
    resumed = await kit.get(county.inspector, new)
    assert [p.part_number for p in resumed.parts_received] == [2]
    assert resumed.missing_parts == [1, 3]
    assert [r.part_number for r in resumed.requests] == [1, 3]
    await kit.send(resumed, data)

    evidence = await kit.complete(county.inspector, new)
    assert evidence.size_bytes == len(data)
    assert evidence.sha256 == new.sha256
    again = await kit.get(county.inspector, new)
    assert again.status == "accepted"
    assert again.requests == []


async def test_create_and_complete_are_idempotent(kit: Kit, county: World) -> None:
    data = media.jpeg(exif=media.exif_bytes(lon=116.5, lat=40.0, when=WHEN))
    new = declaration(data, "image/jpeg")
    first = await kit.create(county.inspector, new)
    second = await kit.create(county.inspector, new)
    assert (first.attempt, second.attempt) == (1, 1)
    await kit.send(second, data)
    evidence = await kit.complete(county.inspector, new)
    replay = await kit.complete(county.inspector, new)
    assert replay.id == evidence.id
    assert replay.received_at == evidence.received_at
    after = await kit.create(county.inspector, new)
    assert after.status == "accepted"
    async with kit.session_factory() as session:
        actions = (
            await session.scalars(
                select(CustodyEntry.action).where(CustodyEntry.subject_id == evidence.id)
            )
        ).all()
    assert list(actions) == ["accepted"]
    other = declaration(media.jpeg(320, 200), "image/jpeg", evidence_id=new.evidence_id)
    with pytest.raises(EvidenceIdConflictError):
        await kit.create(county.inspector, other)


async def test_hash_mismatch_keeps_the_bytes_out_and_a_retry_works(kit: Kit, county: World) -> None:
    good = media.jpeg(exif=media.exif_bytes(lon=116.5, lat=40.0, when=WHEN))
    bad = media.jpeg(400, 300)
    # A buggy phone declares the SHA-256 of one file and the MD5 of another.
    new = declaration(good, "image/jpeg", content_md5=media.md5_b64(bad))
    ticket = await kit.create(county.inspector, new)
    await kit.send(ticket, bad)
    with pytest.raises(EvidenceSizeMismatchError):
        await kit.complete(county.inspector, new)
    same_size_bad = media.same_size_other_bytes(good)
    new = replace(new, content_md5=media.md5_b64(same_size_bad))
    ticket = await kit.create(county.inspector, new)
    assert ticket.attempt == 2
    await kit.send(ticket, same_size_bad)
    with pytest.raises(EvidenceHashMismatchError) as info:
        await kit.complete(county.inspector, new)
    assert info.value.code == "evidence_hash_mismatch"
    async with kit.session_factory() as session:
        assert await session.get(Evidence, new.evidence_id) is None
        upload = await session.get(Upload, new.evidence_id)
        assert upload is not None
        assert upload.status == "open"
        rejected_key = upload.object_key

    fixed = replace(new, content_md5=media.md5_b64(good))
    ticket = await kit.create(county.inspector, fixed)
    assert ticket.attempt == 3
    await kit.send(ticket, good)
    evidence = await kit.complete(county.inspector, fixed)
    assert evidence.sha256 == fixed.sha256
    assert evidence.original_key != rejected_key
    assert await kit.store.exists(rejected_key)  # refused bytes are kept, never used


async def test_multipart_hash_mismatch_then_the_same_declaration_starts_over(
    kit: Kit, county: World
) -> None:
    data = media.padded(media.video("mp4"), 6 * 1024 * 1024)
    new = declaration(data, "video/mp4", part_size=5 * 1024 * 1024, content_md5=None)
    ticket = await kit.create(county.inspector, new)
    corrupted = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    await kit.send(ticket, corrupted)  # parts without Content-MD5: corruption gets through
    with pytest.raises(EvidenceHashMismatchError):
        await kit.complete(county.inspector, new)
    retry = await kit.create(county.inspector, new)
    assert retry.attempt == 2
    assert retry.missing_parts == [1, 2]
    await kit.send(retry, data)
    evidence = await kit.complete(county.inspector, new)
    assert evidence.sha256 == new.sha256


async def test_type_mismatch_is_refused(kit: Kit, county: World) -> None:
    png = media.photo("PNG")
    new = declaration(png, "image/jpeg")
    await kit.send(await kit.create(county.inspector, new), png)
    with pytest.raises(EvidenceTypeMismatchError) as info:
        await kit.complete(county.inspector, new)
    assert info.value.extra == {"declared": "image/jpeg", "detected": "image/png"}

    photo = media.jpeg()
    new = declaration(photo, "video/mp4")
    await kit.send(await kit.create(county.inspector, new), photo)
    with pytest.raises(EvidenceTypeMismatchError):
        await kit.complete(county.inspector, new)

    with pytest.raises(UnsupportedMediaTypeError):
        await kit.create(county.inspector, declaration(b"%PDF-1.7", "application/pdf"))


async def test_limits_and_declaration_errors(kit: Kit, county: World) -> None:
    with pytest.raises(UploadTooLargeError):
        await kit.create(
            county.inspector,
            replace(declaration(b"x", "image/jpeg"), size_bytes=kit.settings.max_photo_bytes + 1),
        )
    with pytest.raises(FileEmptyError):
        await kit.create(county.inspector, declaration(b"", "image/jpeg"))
    bad_fix = ClaimedFix(lon=float("nan"), lat=39.0, accuracy_m=5.0)
    with pytest.raises(InvalidUploadError) as info:
        await kit.create(county.inspector, declaration(b"x", "image/jpeg", fix=bad_fix))
    assert info.value.code == "invalid_coordinates"
    with pytest.raises(InvalidUploadError) as info:
        await kit.create(county.inspector, declaration(b"x", "image/jpeg", sha256="ABC"))
    assert info.value.code == "invalid_sha256"
    with pytest.raises(InvalidUploadError) as info:
        await kit.create(county.inspector, declaration(b"x", "image/jpeg", evidence_id=uuid4()))
    assert info.value.code == "invalid_id"


async def test_position_outside_the_county_is_flagged_not_refused(kit: Kit, county: World) -> None:
    data = media.jpeg(exif=media.exif_bytes(lon=OUTSIDE[0], lat=OUTSIDE[1], when=WHEN))
    evidence = await kit.accept(
        county.inspector, data, "image/jpeg", lon=OUTSIDE[0], lat=OUTSIDE[1]
    )
    assert "outside_county" in evidence.flags
    assert evidence.trust["in_county"] is False


async def test_without_exif_gps_the_device_fix_is_used_and_flagged(kit: Kit, county: World) -> None:
    data = media.jpeg(exif=media.exif_bytes(when=WHEN, offset=None))
    evidence = await kit.accept(county.inspector, data, "image/jpeg")
    assert evidence.position_source == "device"
    assert evidence.lon == pytest.approx(INSIDE[0])
    assert evidence.position_accuracy_m == pytest.approx(8.0)
    assert {"exif_gps_missing", "exif_time_offset_assumed"} <= set(evidence.flags)
    assert evidence.captured_at == WHEN  # local time read as UTC+08:00
    assert "exif_gps_missing" in evidence.trust["position_reason"] or evidence.trust[
        "position_reason"
    ].startswith("the file has no GPS")


async def test_gcj02_device_fix_is_converted_and_compared(kit: Kit, county: World) -> None:
    from geofence.gcj02 import wgs84_to_gcj02  # noqa: PLC0415

    gcj_lon, gcj_lat = wgs84_to_gcj02(*INSIDE)
    data = media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN))
    fix = ClaimedFix(lon=gcj_lon, lat=gcj_lat, accuracy_m=5.0, crs="gcj02")
    evidence = await kit.accept(county.inspector, data, "image/jpeg", fix=fix)
    assert evidence.trust["exif_vs_device_distance_m"] < 1  # the GCJ-02 offset is removed
    assert "exif_vs_device_far" not in evidence.flags


async def test_far_apart_file_and_device_positions_are_flagged(kit: Kit, county: World) -> None:
    data = media.jpeg(exif=media.exif_bytes(lon=116.6, lat=40.1, when=WHEN, hpe=5))
    evidence = await kit.accept(county.inspector, data, "image/jpeg")
    assert "exif_vs_device_far" in evidence.flags
    assert evidence.trust["exif_vs_device_distance_m"] > 20_000


async def test_intake_follows_a_custody_head_another_process_moved(
    kit: Kit, county: World, evidence_settings: EvidenceSettings
) -> None:
    """The entry goes in the statement that stores the evidence, hashed on this process's
    guess of the county's head; when another process appended since (here: a stale guess),
    the statement writes nothing at all, and it is sent again with the entry hashed on the
    head answered. The chain stays whole either way."""
    cid = county.county_id
    assert isinstance(cid, UUID)
    photo = media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN))
    first = await kit.accept(county.inspector, photo, "image/jpeg")
    head = custody_heads[cid]
    custody_heads[cid] = (head[0] - 1, "ab" * 32)  # what a process that fell behind holds
    again = media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN))
    second = await kit.accept(county.inspector, again, "image/jpeg")
    custody_heads.pop(cid)  # and one that never appended here
    third = await kit.accept(
        county.inspector,
        media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN)),
        "image/jpeg",
    )
    async with kit.session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.county_id == cid, CustodyEntry.action == "accepted")
                .order_by(CustodyEntry.seq)
            )
        ).all()
        report = await CustodyLog(evidence_settings.package_signing_key.encode()).verify(
            session, cid
        )
    assert [e.subject_id for e in entries][-3:] == [first.id, second.id, third.id]
    assert [e.seq for e in entries][-3:] == [head[0], head[0] + 1, head[0] + 2]
    assert report.ok
    assert custody_heads[cid] == (entries[-1].seq, entries[-1].entry_hash)


def _meanwhile(
    monkeypatch: pytest.MonkeyPatch, step: Callable[[], Awaitable[object]]
) -> list[object]:
    """Run ``step`` (in sessions of its own, committed) once, while the first complete that
    comes is between its read-back of the bytes and its store: a complete holds no lock then."""
    done: list[object] = []
    started: list[bool] = []
    real = EvidenceService._assess

    async def assess(self: EvidenceService, *args: Any, **kw: Any) -> Any:
        if not started:
            started.append(True)
            done.append(await step())
        return await real(self, *args, **kw)

    monkeypatch.setattr(EvidenceService, "_assess", assess)
    return done


async def _stored_for(kit: Kit, evidence_id: UUID) -> tuple[int, list[str], str]:
    async with kit.session_factory() as session:
        count = len(
            (await session.scalars(select(Evidence.id).where(Evidence.id == evidence_id))).all()
        )
        actions = (
            await session.scalars(
                select(CustodyEntry.action).where(CustodyEntry.subject_id == evidence_id)
            )
        ).all()
        upload = await session.get(Upload, evidence_id)
        assert upload is not None
        return count, list(actions), upload.status


async def test_an_abort_while_the_bytes_are_read_back_stores_nothing(
    kit: Kit, county: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN))
    new = declaration(data, "image/jpeg")
    await kit.send(await kit.create(county.inspector, new), data)

    async def abort() -> object:
        async with kit.session_factory() as session:
            ticket = await kit.service(session).abort_upload(county.inspector, new.evidence_id)
            await session.commit()
        return ticket.status

    done = _meanwhile(monkeypatch, abort)
    with pytest.raises(UploadAbortedError):
        await kit.complete(county.inspector, new)
    assert done == ["aborted"]
    assert await _stored_for(kit, new.evidence_id) == (0, [], "aborted")
    assert await jobs_of(kit.session_factory, new.evidence_id) == []


async def test_a_complete_overtaken_by_another_answers_the_evidence_that_one_stored(
    kit: Kit, county: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The phone retried while its first complete was still reading the bytes: both answer
    the same evidence; one row, one custody entry, one job."""
    data = media.jpeg(exif=media.exif_bytes(lon=INSIDE[0], lat=INSIDE[1], when=WHEN))
    new = declaration(data, "image/jpeg")
    await kit.send(await kit.create(county.inspector, new), data)
    done = _meanwhile(monkeypatch, lambda: kit.complete(county.inspector, new))
    first = await kit.complete(county.inspector, new)
    (second,) = done
    assert isinstance(second, Evidence)
    assert (first.id, first.received_at, first.sha256) == (
        second.id,
        second.received_at,
        second.sha256,
    )
    assert await _stored_for(kit, new.evidence_id) == (1, ["accepted"], "accepted")
    assert len(await jobs_of(kit.session_factory, new.evidence_id)) == 1
