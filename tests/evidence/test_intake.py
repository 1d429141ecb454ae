"""Upload → verify → evidence, for photos and videos, against PostGIS and rclone S3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import CustodyLog
from evidence.models import CustodyEntry, EvidenceJob, Upload
from infra.objectstore import S3ObjectStore
from infra.settings import EvidenceSettings
from tests.evidence import media
from tests.evidence.conftest import INSIDE, CountyUsers, declaration, send, service

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 11, 20, 16, 0, 0, tzinfo=CST)  # written to EXIF as local time


async def test_photo_upload_is_verified_and_accepted_with_file_metadata(
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    evidence_settings: EvidenceSettings,
    county: CountyUsers,
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
    assert evidence.captured_at_source == "file"
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
        jobs = (
            await session.scalars(select(EvidenceJob).where(EvidenceJob.evidence_id == evidence.id))
        ).all()
        assert [j.status for j in jobs] == ["queued"]
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
