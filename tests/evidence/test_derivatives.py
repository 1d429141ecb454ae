"""Derivatives made by the worker from the job queue; originals untouched."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from urllib.parse import unquote

import av
import httpx
import numpy as np
import pytest
from geoalchemy2.shape import from_shape
from PIL import Image, ImageFont
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select, text, update

from evidence.captions import (
    CaptionFacts,
    CaptionFontMissingError,
    caption_lines,
    caption_place,
    draw_caption,
    find_cjk_font,
)
from evidence.derivatives import caption_facts
from evidence.errors import DerivativeNotFoundError
from evidence.models import Derivative, Evidence
from patrol.models import County, Township, User, Village
from tests.evidence import media
from tests.evidence.conftest import INSIDE, Kit
from tests.evidence.test_intake import WHEN
from tests.evidence.test_video_share import LEAKS, TAGS
from tests.jobs import jobs_of, make_due
from tests.worlds import World


async def _fetch(kit: Kit, county: World, evidence_id: object, kind: str) -> bytes:
    return (await _get(kit, county, evidence_id, kind)).content


async def _get(kit: Kit, county: World, evidence_id: object, kind: str) -> httpx.Response:
    async with kit.session_factory() as session:
        request = await kit.service(session).presign_derivative(
            county.inspector,
            evidence_id,  # type: ignore[arg-type]
            kind,
        )
    response = await kit.http.get(request.url)
    assert response.status_code == 200
    return response


async def test_photo_derivatives(kit: Kit, county: World) -> None:
    exif = media.exif_bytes(lon=116.4, lat=39.9, when=WHEN, orientation=6, direction=270)
    data = media.jpeg(1600, 1200, exif=exif)
    evidence = await kit.accept(county.inspector, data, "image/jpeg")
    await kit.run_jobs()

    async with kit.session_factory() as session:
        rows = (
            await session.scalars(select(Derivative).where(Derivative.evidence_id == evidence.id))
        ).all()
    assert sorted(r.kind for r in rows) == ["captioned", "share", "thumbnail"]
    assert [
        (status, attempts)
        for _, status, attempts in await jobs_of(kit.session_factory, evidence.id)
    ] == [("succeeded", 1)]

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
    # the caption band at the bottom is drawn (dark band, white text), the rest is the picture
    drawn = np.asarray(captioned, dtype=np.int16)
    plain = np.asarray(share.convert("RGB"), dtype=np.int16)
    change = np.abs(drawn - plain).mean(axis=(1, 2))
    assert change[: captioned.height // 2].max() < 4
    assert change[-20:].min() > 25
    band = drawn[-captioned.height // 8 :]
    assert (band.min(axis=2) > 200).sum() > 500  # white strokes of the text

    # the original is byte for byte what the phone sent
    async with kit.session_factory() as session:
        request = await kit.service(session).presign_original_download(
            county.inspector, evidence.id
        )
        await session.commit()
    original = (await kit.http.get(request.url)).content
    assert hashlib.sha256(original).hexdigest() == evidence.sha256


async def test_video_poster_and_heic_share_copy(kit: Kit, county: World) -> None:
    clip = media.video(
        "mp4", metadata=TAGS, rotation=90, audio=True, options={"movflags": "use_metadata_tags"}
    )
    video = await kit.accept(county.inspector, clip, "video/mp4")
    heic_exif = media.exif_bytes(lon=116.4, lat=39.9, when=WHEN)
    heic = await kit.accept(county.inspector, media.photo("HEIF", exif=heic_exif), "image/heic")
    await kit.run_jobs()

    poster = Image.open(io.BytesIO(await _fetch(kit, county, video.id, "poster")))
    assert poster.size == (48, 64)  # rotated to portrait
    thumb = Image.open(io.BytesIO(await _fetch(kit, county, video.id, "thumbnail")))
    assert thumb.size == (48, 64)
    await _fetch(kit, county, video.id, "captioned")

    # the share copy is the same video, re-muxed without its location and device tags
    response = await _get(kit, county, video.id, "share")
    assert response.headers["content-type"] == "video/mp4"
    assert unquote(response.headers["content-disposition"]).endswith(f"{video.id}-share.mp4")
    shared = response.content
    for leak in LEAKS:
        assert leak not in shared, leak
    assert b"116.4074" in clip
    with av.open(io.BytesIO(shared)) as copy, av.open(io.BytesIO(clip)) as original:
        assert [s.type for s in copy.streams] == ["video", "audio"]
        assert [bytes(p) for p in copy.demux(video=0) if p.size] == [
            bytes(p) for p in original.demux(video=0) if p.size
        ]
    async with kit.session_factory() as session:
        row = (
            await session.scalars(
                select(Derivative).where(
                    Derivative.evidence_id == video.id, Derivative.kind == "share"
                )
            )
        ).one()
    assert (row.size_bytes, row.sha256) == (len(shared), hashlib.sha256(shared).hexdigest())
    assert (row.content_type, row.width, row.height) == ("video/mp4", 64, 48)

    share_bytes = await _fetch(kit, county, heic.id, "share")
    share = Image.open(io.BytesIO(share_bytes))
    assert share.format == "JPEG"
    assert not share.getexif()
    assert b"GPS" not in share_bytes


async def test_jobs_are_claimed_once(kit: Kit, county: World) -> None:
    await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    await kit.accept(county.inspector, media.jpeg(300, 200), "image/jpeg")
    await asyncio.gather(*(kit.run_jobs() for _ in range(3)))  # three workers at once
    async with kit.session_factory() as session:
        counts = (
            await session.execute(
                select(Derivative.evidence_id, Derivative.kind).where(
                    Derivative.county_id == county.county_id
                )
            )
        ).all()
    assert len(counts) == len(set(counts)) == 6


def _facts(**kw: object) -> CaptionFacts:
    values: dict[str, object] = {
        "lon": 112.018852,
        "lat": 28.436821,
        "accuracy_m": 4.6,
        "azimuth_deg": 135.4,
        "captured_at": WHEN,
        "offset": WHEN.tzinfo,
        "place": ("城关镇", "长岭村", "吴家冲采石场"),
        "inspector": "张三",
        "unit": "示范县自然资源执法监察大队",
    }
    values.update(kw)
    return CaptionFacts(**values)  # type: ignore[arg-type]


def test_caption_text() -> None:
    assert caption_lines(_facts()) == [
        "经度：112.018852°E\u3000纬度：28.436821°N\u3000精度：±5 米",
        "方位角：135°（东南）\u3000时间：2026-11-20 16:00:00（UTC+08:00）",
        "地点：城关镇 长岭村 吴家冲采石场",
        "取证人：张三\u3000单位：示范县自然资源执法监察大队",
    ]
    south_west = _facts(lon=-70.5, lat=-33.45, azimuth_deg=None, place=(), inspector=None)
    assert caption_lines(south_west) == [
        "经度：70.500000°W\u3000纬度：33.450000°S\u3000精度：±5 米",
        "方位角：未知\u3000时间：2026-11-20 16:00:00（UTC+08:00）",
        "单位：示范县自然资源执法监察大队",
    ]
    assert caption_lines(_facts(azimuth_deg=350.0))[1].startswith("方位角：350°（北）")


def test_caption_place_from_a_stored_location_check() -> None:
    mine = {"kind": "mine_sites", "relation": "near", "attributes": {"name": "吴家冲采石场"}}
    parcel = {"kind": "parcels", "relation": "inside", "land_class": "permanent_basic_farmland",
              "attributes": {"source_code": "0101", "source_name": "水田"}}  # fmt: skip
    zone = {"kind": "planning_zones", "relation": "inside", "attributes": {"name": "城镇开发边界"}}
    check = {"features": [zone, parcel, mine]}
    assert caption_place(check, township="城关镇", village="长岭村") == (
        "城关镇", "长岭村", "吴家冲采石场",
    )  # fmt: skip
    assert caption_place({"features": [zone, parcel]}, township="城关镇") == (
        "城关镇", "水田地块（永久基本农田）",
    )  # fmt: skip
    near = {**parcel, "relation": "near"}
    assert caption_place({"features": [near]}, village="长岭村") == ("长岭村",)
    assert caption_place(None) == ()


def test_captions_are_drawn_with_a_cjk_font() -> None:
    path, index = find_cjk_font()
    font = ImageFont.truetype(path, 32, index=index)
    missing = font.getmask("\U000f0000").getbbox()  # a code point no font has: .notdef
    for char in "经纬度方位角时间精地点":
        assert font.getmask(char).getbbox() != missing, char
    picture = Image.new("RGB", (800, 600), (30, 120, 60))
    drawn = np.asarray(draw_caption(picture.copy(), _facts()), dtype=np.int16)
    plain = np.asarray(picture, dtype=np.int16)
    changed_rows = np.flatnonzero(np.abs(drawn - plain).max(axis=(1, 2)) > 0)
    assert changed_rows.min() > 600 // 2  # a band at the bottom, nothing above it
    assert changed_rows.max() == 599
    assert (drawn[changed_rows.min() :].min(axis=2) > 200).sum() > 300  # white text


def test_a_missing_cjk_font_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(CaptionFontMissingError, match="fonts-noto-cjk"):
        find_cjk_font(candidates=[str(tmp_path / "none.ttc")], use_fontconfig=False)
    with pytest.raises(CaptionFontMissingError, match="PATROL_CAPTION_FONT"):
        find_cjk_font(str(tmp_path / "none.ttc"))


async def test_caption_facts_name_the_place_the_inspector_and_the_unit(
    kit: Kit, county: World
) -> None:
    lon, lat = INSIDE
    async with kit.session_factory() as session:
        town_area = box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1)
        village_area = box(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
        town = Township(
            county_id=county.county_id, code="T01", name="城关镇",
            geom=from_shape(MultiPolygon([town_area]), srid=4326),
        )  # fmt: skip
        session.add(town)
        await session.flush()
        session.add(
            Village(
                county_id=county.county_id, township_id=town.id, code="V01", name="长岭村",
                geom=from_shape(MultiPolygon([village_area]), srid=4326),
            )
        )  # fmt: skip
        await session.execute(
            update(User).where(User.id == county.inspector.user_id).values(display_name="张三")
        )
        await session.execute(
            update(County).where(County.id == county.county_id).values(name="示范县")
        )
        await session.commit()
    exif = media.exif_bytes(lon=lon, lat=lat, when=WHEN, direction=90)
    evidence = await kit.accept(county.inspector, media.jpeg(exif=exif), "image/jpeg")
    mine = {"kind": "mine_sites", "relation": "inside", "attributes": {"name": "吴家冲采石场"}}
    async with kit.session_factory() as session:
        await session.execute(
            update(Evidence)
            .where(Evidence.id == evidence.id)
            .values(location_check={**evidence.location_check, "features": [mine]})
        )
        await session.commit()
        row = await session.get(Evidence, evidence.id)
        assert row is not None
        facts = await caption_facts(session, row, row.upload)
    assert facts.place == ("城关镇", "长岭村", "吴家冲采石场")
    assert facts.inspector == "张三"
    assert facts.unit == "示范县自然资源执法监察大队"
    assert facts.azimuth_deg == 90
    assert "地点：城关镇 长岭村 吴家冲采石场" in caption_lines(facts)


async def test_a_failing_kind_holds_back_nothing_else(kit: Kit, county: World) -> None:
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    await kit.run_jobs(caption_font="/nonexistent/font.ttc")
    async with kit.session_factory() as session:
        row = await session.get(Evidence, evidence.id)
        assert row is not None
        assert sorted(d.kind for d in row.derivatives) == ["share", "thumbnail"]
    # the job is queued again for later (exponential backoff), with why it failed
    ((job_id, status, attempts),) = await jobs_of(kit.session_factory, evidence.id)
    assert (status, attempts) == ("todo", 1)
    async with kit.session_factory() as session:
        error = await session.scalar(
            text("SELECT error FROM procrastinate_job_errors WHERE job_id = :id"), {"id": job_id}
        )
        retry_in = await session.scalar(
            text("SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs"
                 " WHERE id = :id"),
            {"id": job_id},
        )  # fmt: skip
    assert "captioned" in (error or "")
    assert "PATROL_CAPTION_FONT" in (error or "")
    assert 0 < float(retry_in) <= 10
    await make_due(kit.session_factory, job_id)
    await kit.run_jobs()
    async with kit.session_factory() as session:
        kinds = (
            await session.scalars(
                select(Derivative.kind).where(Derivative.evidence_id == evidence.id)
            )
        ).all()
    assert sorted(kinds) == ["captioned", "share", "thumbnail"]  # only the missing kind made
    assert await jobs_of(kit.session_factory, evidence.id) == [(job_id, "succeeded", 2)]


async def test_derivative_before_the_worker_ran_is_not_found(kit: Kit, county: World) -> None:
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    async with kit.session_factory() as session:
        with pytest.raises(DerivativeNotFoundError):
            await kit.service(session).presign_derivative(county.inspector, evidence.id, "share")
