"""Demo evidence: photos with real EXIF GPS, taken in the demo county's parcels, at its closed
mine sites and along its patrols, accepted through the normal upload flow.

Every photo is made here (Pillow draws it, piexif writes its EXIF: position, direction,
accuracy, local time with offset, camera), declared with ``create_upload``, stored with the
object store and verified with ``complete_upload``, so it carries the same metadata, trust
flags, location check, custody entries and queued derivatives as a phone's photo. Without
reference layers or patrols the photos are spread over the county outline instead.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import piexif
from PIL import Image, ImageDraw
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.adapters import (
    GeofenceLocationChecker,
    PatrolTrackContext,
    PatrolVisitListener,
    SiteReviewListener,
)
from evidence.service import EvidenceService, original_key
from evidence.trust import ASSUMED_OFFSET
from evidence.uploads import ClaimedFix, NewUpload
from geofence.models import MineSite, Parcel
from infra.ids import uuid7
from infra.messages import label
from infra.objectstore import ObjectStore, md5_b64
from infra.scope import Principal, Role
from infra.settings import EvidenceSettings
from patrol.accounts import principal_of
from patrol.field_models import PatrolSession, TrackPoint
from patrol.models import User

__all__ = ["DemoShot", "demo_photo", "seed_demo_evidence", "shot_exif"]

_FARMLAND = ("permanent_basic_farmland", "cultivated")
_VIEWS = ("far", "close", "corner", "interior")
_SIZE = (1600, 1200)
_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class DemoShot:
    """Where, when and why one demo photo was taken."""

    lon: float
    lat: float
    at: datetime
    heading_deg: float
    caption: str
    proves: str
    view_type: str
    patrol_id: uuid.UUID | None = None
    mine_site_id: uuid.UUID | None = None


def _rational(value: float, precision: int = 10_000) -> tuple[int, int]:
    frac = Fraction(value).limit_denominator(precision)
    return frac.numerator, frac.denominator


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (degrees, 1), (minutes, 1), (round(seconds * 10_000), 10_000)


def shot_exif(shot: DemoShot) -> bytes:
    """The EXIF block of a demo photo: GPS position, direction and accuracy, local time."""
    local = shot.at.astimezone(ASSUMED_OFFSET)
    return bytes(
        piexif.dump(
            {
                "0th": {piexif.ImageIFD.Make: "Huawei", piexif.ImageIFD.Model: "Mate 60 Pro"},
                "Exif": {
                    piexif.ExifIFD.DateTimeOriginal: local.strftime("%Y:%m:%d %H:%M:%S"),
                    piexif.ExifIFD.OffsetTimeOriginal: "+08:00",
                },
                "GPS": {
                    piexif.GPSIFD.GPSLatitudeRef: "N" if shot.lat >= 0 else "S",
                    piexif.GPSIFD.GPSLatitude: _dms(shot.lat),
                    piexif.GPSIFD.GPSLongitudeRef: "E" if shot.lon >= 0 else "W",
                    piexif.GPSIFD.GPSLongitude: _dms(shot.lon),
                    piexif.GPSIFD.GPSImgDirectionRef: "T",
                    piexif.GPSIFD.GPSImgDirection: _rational(shot.heading_deg, 100),
                    piexif.GPSIFD.GPSHPositioningError: _rational(5.0, 100),
                    piexif.GPSIFD.GPSAltitudeRef: 0,
                    piexif.GPSIFD.GPSAltitude: _rational(86.0, 100),
                },
                "1st": {},
            }
        )
    )


def demo_photo(shot: DemoShot, rnd: random.Random, *, size: tuple[int, int] = _SIZE) -> bytes:
    """A field scene (sky, hills, plots, a shed) as a JPEG with the shot's EXIF."""
    width, height = size
    image = Image.new("RGB", size, (150, 190, 225))
    draw = ImageDraw.Draw(image)
    horizon = int(height * rnd.uniform(0.35, 0.5))
    hills = [(0, horizon)]
    for x in range(0, width + 80, 80):
        hills.append((x, horizon - int(60 * abs(math.sin(x / 310 + rnd.random())))))
    hills.append((width, horizon))
    draw.polygon(hills, fill=(70, 110, 80))
    draw.rectangle((0, horizon, width, height), fill=(120, 150, 70))
    for _ in range(14):  # plots of farmland and bare soil
        x, y = rnd.randrange(width), rnd.randrange(horizon, height)
        w, h = rnd.randrange(80, 400), rnd.randrange(30, 140)
        colour = rnd.choice([(150, 180, 80), (160, 120, 80), (110, 140, 60), (180, 160, 110)])
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    x = rnd.randrange(width // 4, width // 2)
    y = horizon + rnd.randrange(40, 160)
    draw.rectangle((x, y, x + 260, y + 150), fill=(200, 200, 190))  # a new building
    draw.polygon([(x - 20, y), (x + 130, y - 70), (x + 280, y)], fill=(90, 90, 110))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, exif=shot_exif(shot))
    return buffer.getvalue()


def _daytime(now: datetime, days_ago: int, rnd: random.Random) -> datetime:
    """A working hour (local time) ``days_ago`` days before ``now``."""
    local = now.astimezone(ASSUMED_OFFSET) - timedelta(days=days_ago)
    return local.replace(hour=rnd.randint(9, 16), minute=rnd.randint(0, 59), second=0)


def _near(lon: float, lat: float, rnd: random.Random, metres: float) -> tuple[float, float]:
    angle, dist = rnd.uniform(0, 2 * math.pi), rnd.uniform(0, metres)
    dlat = dist * math.sin(angle) / _M_PER_DEG
    dlon = dist * math.cos(angle) / (_M_PER_DEG * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


async def _parcel_shots(
    session: AsyncSession, county_id: uuid.UUID, rnd: random.Random, now: datetime
) -> list[DemoShot]:
    point = func.ST_PointOnSurface(Parcel.geom)
    rows = (
        await session.execute(
            select(func.ST_X(point), func.ST_Y(point), Parcel.land_class, Parcel.source_name)
            .where(Parcel.county_id == county_id, Parcel.land_class.in_(_FARMLAND))
            .order_by(Parcel.feature_no)
            .limit(400)
        )
    ).all()
    picked = rnd.sample(list(rows), min(4, len(rows)))
    return [
        DemoShot(
            lon=float(x), lat=float(y),
            at=_daytime(now, 2 + i, rnd),
            heading_deg=rnd.uniform(0, 359), view_type=_VIEWS[i % len(_VIEWS)],
            caption=f"{'基本农田' if land == _FARMLAND[0] else '耕地'}上新建房屋"
            f"（{label('view_type', _VIEWS[i], 'zh')}）",
            proves="占用耕地建设的位置、范围和现状",
        )
        for i, (x, y, land, _name) in enumerate(picked)
    ]  # fmt: skip


async def _site_shots(
    session: AsyncSession, county_id: uuid.UUID, rnd: random.Random, now: datetime
) -> list[DemoShot]:
    point = func.ST_PointOnSurface(MineSite.geom)
    rows = (
        await session.execute(
            select(MineSite.id, MineSite.name, func.ST_X(point), func.ST_Y(point))
            .where(MineSite.county_id == county_id, MineSite.retired.is_(False),
                   MineSite.site_kind == "mine")
            .order_by(MineSite.code)
            .limit(3)
        )
    ).all()  # fmt: skip
    shots = []
    for i, (site_id, name, x, y) in enumerate(rows):
        lon, lat = _near(float(x), float(y), rnd, 15.0)
        shots.append(
            DemoShot(
                lon=lon, lat=lat, at=_daytime(now, 1 + i, rnd),
                heading_deg=rnd.uniform(0, 359), view_type="close",
                caption=f"{name}：封堵的硐口和新的车辙", proves="关闭矿点是否死灰复燃",
                mine_site_id=site_id,
            )
        )  # fmt: skip
    return shots


async def _patrol_shots(
    session: AsyncSession, inspector: User, rnd: random.Random
) -> list[DemoShot]:
    patrols = (
        await session.execute(
            select(PatrolSession.id, PatrolSession.point_count)
            .where(PatrolSession.inspector_id == inspector.id, PatrolSession.point_count > 10)
            .order_by(PatrolSession.started_at.desc())
            .limit(3)
        )
    ).all()
    shots = []
    for patrol_id, count in patrols:
        row = (
            await session.execute(
                select(func.ST_X(TrackPoint.geom), func.ST_Y(TrackPoint.geom), TrackPoint.t)
                .where(TrackPoint.session_id == patrol_id)
                .order_by(TrackPoint.t)
                .offset(count // 2)
                .limit(1)
            )
        ).first()
        if row is None:
            continue
        shots.append(
            DemoShot(
                lon=float(row[0]), lat=float(row[1]), at=row[2], heading_deg=rnd.uniform(0, 359),
                view_type="far", caption="巡查途中：河道两岸现状", proves="巡查到达该位置",
                patrol_id=patrol_id,
            )
        )  # fmt: skip
    return shots


def _outline_shots(outline: BaseGeometry, rnd: random.Random, now: datetime) -> list[DemoShot]:
    minx, miny, maxx, maxy = outline.bounds
    shots: list[DemoShot] = []
    while len(shots) < 4:
        lon, lat = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        if outline.contains(Point(lon, lat)):
            shots.append(
                DemoShot(
                    lon=lon, lat=lat, at=_daytime(now, len(shots) + 1, rnd),
                    heading_deg=rnd.uniform(0, 359), view_type=_VIEWS[len(shots)],
                    caption="现场照片", proves="现场现状",
                )
            )  # fmt: skip
    return shots


async def _accept(service: EvidenceService, principal: Principal, shot: DemoShot,
                  store: ObjectStore, rnd: random.Random) -> uuid.UUID:  # fmt: skip
    data = demo_photo(shot, rnd)
    new = NewUpload(
        evidence_id=uuid7(),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        content_type="image/jpeg",
        content_md5=md5_b64(data),
        fix=ClaimedFix(lon=shot.lon, lat=shot.lat, accuracy_m=6.0, at=shot.at),
        file_name=f"IMG_{shot.at.astimezone(ASSUMED_OFFSET):%Y%m%d_%H%M%S}.jpg",
        claimed_captured_at=shot.at,
        heading_deg=round(shot.heading_deg, 1),
        patrol_session_id=shot.patrol_id,
        mine_site_id=shot.mine_site_id,
        caption=shot.caption,
        proves=shot.proves,
        view_type=shot.view_type,
    )
    ticket = await service.create_upload(principal, new)
    await store.put_bytes(
        original_key(principal.county_id, new.evidence_id, ticket.attempt),
        data,
        content_type="image/jpeg",
    )
    evidence = await service.complete_upload(principal, new.evidence_id)
    return evidence.id


async def seed_demo_evidence(
    session: AsyncSession,
    county_id: uuid.UUID,
    store: ObjectStore,
    settings: EvidenceSettings,
    *,
    outline: BaseGeometry,
    seed: int = 7,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Accept about ten demo photos for the county's first inspector; the caller commits.

    Photos: four in basic farmland or cultivated parcels (far / close / corner / interior),
    three at closed mine sites (each raises the site's rebound review), and one on each of
    the inspector's three latest tracked patrols, at a point of its track.
    """
    rnd = random.Random(seed)
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    inspectors: Sequence[User] = (
        await session.scalars(
            select(User)
            .where(User.county_id == county_id, User.role == Role.INSPECTOR.value, User.active)
            .order_by(User.username)
        )
    ).all()
    if not inspectors:
        return []
    inspector = inspectors[0]
    shots = [
        *await _parcel_shots(session, county_id, rnd, when),
        *await _site_shots(session, county_id, rnd, when),
        *await _patrol_shots(session, inspector, rnd),
    ]
    if not shots:
        shots = _outline_shots(outline, rnd, when)
    principal = principal_of(inspector)
    service = EvidenceService(
        session, store, settings, GeofenceLocationChecker(), patrol=PatrolTrackContext(),
        listeners=(SiteReviewListener(), PatrolVisitListener(principal)),
    )  # fmt: skip
    return [await _accept(service, principal, shot, store, rnd) for shot in shots]
