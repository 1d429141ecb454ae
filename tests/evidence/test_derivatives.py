"""Derivatives made by the worker from the job queue; originals untouched."""

from __future__ import annotations

import asyncio
import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import select

from evidence import run_pending_jobs
from evidence.derivatives import CaptionFacts, caption_lines
from evidence.errors import DerivativeNotFoundError
from evidence.models import Derivative, EvidenceJob
from tests.evidence import media
from tests.evidence.conftest import CountyUsers, Kit
from tests.evidence.test_intake import WHEN


async def _drain(kit: Kit) -> None:
    while True:
        run = await run_pending_jobs(
            kit.session_factory, kit.store, custody_key=kit.settings.package_signing_key.encode()
        )
        assert run.failed == 0
        if run.done == 0 and run.retried == 0:
            return


async def _fetch(kit: Kit, county: CountyUsers, evidence_id: object, kind: str) -> bytes:
    async with kit.session_factory() as session:
        request = await kit.service(session).presign_derivative(
            county.inspector,
            evidence_id,  # type: ignore[arg-type]
            kind,
        )
    response = await kit.http.get(request.url)
    assert response.status_code == 200
    return response.content


async def test_photo_derivatives(kit: Kit, county: CountyUsers) -> None:
    exif = media.exif_bytes(lon=116.4, lat=39.9, when=WHEN, orientation=6, direction=270)
    data = media.jpeg(1600, 1200, exif=exif)
    evidence = await kit.accept(county.inspector, data, "image/jpeg")
    await _drain(kit)

    async with kit.session_factory() as session:
        rows = (
            await session.scalars(select(Derivative).where(Derivative.evidence_id == evidence.id))
        ).all()
        job = (
            await session.scalars(select(EvidenceJob).where(EvidenceJob.evidence_id == evidence.id))
        ).one()
    assert sorted(r.kind for r in rows) == ["captioned", "share", "thumbnail"]
    assert job.status == "done"

    thumb = Image.open(io.BytesIO(await _fetch(kit, county, evidence.id, "thumbnail")))
    assert thumb.size == (384, 512)  # orientation 6 applied: portrait, long side 512
    # the red quarter was top-left before the 90° turn; after it, it is top-right
    assert thumb.getpixel((thumb.width - 10, 10))[0] > 180  # type: ignore[index]

    share_bytes = await _fetch(kit, county, evidence.id, "share")
    share = Image.open(io.BytesIO(share_bytes))
    assert share.size == (1200, 1600)
    assert not share.getexif()
    assert b"Exif" not in share_bytes
    assert b"GPS" not in share_bytes
    assert b"http://ns.adobe.com/xap" not in share_bytes
    assert "icc_profile" not in share.info

    captioned = Image.open(io.BytesIO(await _fetch(kit, county, evidence.id, "captioned")))
    assert captioned.size == (1200, 1600)
    assert captioned.getpixel((5, captioned.height - 5))[0] < 120  # type: ignore[index]

    # the original is byte for byte what the phone sent
    async with kit.session_factory() as session:
        request = await kit.service(session).presign_original_download(
            county.inspector, evidence.id
        )
        await session.commit()
    original = (await kit.http.get(request.url)).content
    assert hashlib.sha256(original).hexdigest() == evidence.sha256


async def test_video_poster_and_heic_share_copy(kit: Kit, county: CountyUsers) -> None:
    clip = media.video("mp4", metadata={"location": "+39.9042+116.4074/"}, rotation=90)
    video = await kit.accept(county.inspector, clip, "video/mp4")
    heic_exif = media.exif_bytes(lon=116.4, lat=39.9, when=WHEN)
    heic = await kit.accept(county.inspector, media.photo("HEIF", exif=heic_exif), "image/heic")
    await _drain(kit)

    poster = Image.open(io.BytesIO(await _fetch(kit, county, video.id, "poster")))
    assert poster.size == (48, 64)  # rotated to portrait
    thumb = Image.open(io.BytesIO(await _fetch(kit, county, video.id, "thumbnail")))
    assert thumb.size == (48, 64)
    await _fetch(kit, county, video.id, "captioned")

    share_bytes = await _fetch(kit, county, heic.id, "share")
    share = Image.open(io.BytesIO(share_bytes))
    assert share.format == "JPEG"
    assert not share.getexif()
    assert b"GPS" not in share_bytes


async def test_jobs_are_claimed_once(kit: Kit, county: CountyUsers) -> None:
    await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    await kit.accept(county.inspector, media.jpeg(300, 200), "image/jpeg")
    key = kit.settings.package_signing_key.encode()
    runs = [
        run_pending_jobs(kit.session_factory, kit.store, custody_key=key, worker=f"w{i}")
        for i in range(3)
    ]
    results = await asyncio.gather(*runs)
    assert sum(r.failed for r in results) == 0
    async with kit.session_factory() as session:
        counts = (
            await session.execute(
                select(Derivative.evidence_id, Derivative.kind).where(
                    Derivative.county_id == county.county_id
                )
            )
        ).all()
    assert len(counts) == len(set(counts)) == 6


def test_caption_text() -> None:
    facts = CaptionFacts(
        lon=116.4074,
        lat=-39.9042,
        accuracy_m=4.6,
        azimuth_deg=135.4,
        captured_at=WHEN,
        offset=WHEN.tzinfo,  # type: ignore[arg-type]
    )
    assert caption_lines(facts) == [
        "E 116.407400°  S 39.904200°  ±5 m",
        "Azimuth 135°",
        "2026-11-20 16:00:00 UTC+08:00",
    ]


async def test_derivative_before_the_worker_ran_is_not_found(kit: Kit, county: CountyUsers) -> None:
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    async with kit.session_factory() as session:
        with pytest.raises(DerivativeNotFoundError):
            await kit.service(session).presign_derivative(county.inspector, evidence.id, "share")
