"""A finding is a located fact: land class and areas, closed mines, visits, layer versions.

The world of :mod:`tests.patrol.conftest` gets a parcels layer (permanent basic farmland at
110.10-110.15 E, cultivated land at 110.15-110.20 E, both 30.10-30.20 N), the closed mine
吴家冲采石场 (a polygon at 110.30 E, 30.30 N) and a target of the inspector's area.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases import ThresholdFindingScreener
from geofence.enums import LayerKind
from geofence.layers import new_layer_version
from geofence.mines import SiteInput, create_mine_site, get_mine_site
from geofence.models import Parcel
from geofence.store import insert_features
from infra.ids import uuid7
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.coverage import CoverageService
from patrol.field_models import PatrolAlert, TargetVisit
from patrol.finding_checks import place_of
from patrol.sessions import PatrolService
from tests.clock import ago
from tests.worlds import World

PBF = box(110.10, 30.10, 110.15, 30.20)
CULTIVATED = box(110.15, 30.10, 110.20, 30.20)
MINE = box(110.298, 30.298, 110.302, 30.302)


@dataclass
class Layers:
    parcels_version: uuid.UUID
    pbf_parcel: uuid.UUID
    mine_id: uuid.UUID


async def add_layers(db: AsyncSession, world: World) -> Layers:
    version = await new_layer_version(db, world.county_id, LayerKind.PARCELS, source_name="t")
    rows = [
        {"feature_no": n, "land_class": cls, "source_code": code, "source_name": name,
         "area_m2": 1000.0, "attrs": {}, "wkb": shapely.to_wkb(MultiPolygon([geom]))}
        for n, (cls, code, name, geom) in enumerate(
            [("permanent_basic_farmland", "0101", "水田", PBF),
             ("cultivated", "0103", "旱地", CULTIVATED)], start=1)
    ]  # fmt: skip
    await insert_features(db, LayerKind.PARCELS, world.county_id, version.id, rows)
    site = await create_mine_site(
        db,
        world.captain,
        SiteInput(code="KS-WJC", name="吴家冲采石场", geometry=MINE, mineral="石料"),
    )
    parcel = await db.scalar(
        select(Parcel.id).where(Parcel.layer_version_id == version.id, Parcel.feature_no == 1)
    )
    assert parcel is not None
    await db.commit()
    return Layers(version.id, parcel, site.id)


def _service(db: AsyncSession) -> PatrolService:
    return PatrolService(db, screener=ThresholdFindingScreener())


async def _start(db: AsyncSession, world: World, *, hours: float = 2) -> uuid.UUID:
    pid = uuid7()
    await _service(db).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=ago(hours=hours)
    )
    return pid


async def test_a_finding_on_basic_farmland_carries_its_land_class_areas_and_versions(
    world: World, db: AsyncSession
) -> None:
    layers = await add_layers(db, world)
    pid = await _start(db, world)
    finding = await _service(db).record_finding(
        world.inspector,
        pid,
        uuid7(),
        found_at=ago(minutes=30),
        project_name="占地建房",
        construction_status="partly_built",
        lon=110.12,
        lat=30.15,
        accuracy_m=5.0,
        occupied_area_m2=800.0,
    )
    await db.commit()
    assert finding.land_class == "permanent_basic_farmland"
    assert finding.areas_by_class == {"permanent_basic_farmland": 800.0}
    place = place_of(finding)
    assert (place.land_class, place.land_class_label) == (
        "permanent_basic_farmland",
        "永久基本农田",
    )
    assert [(u.land_class, u.area_m2, u.area_mu) for u in place.land_use] == [
        ("permanent_basic_farmland", 800.0, 1.2)
    ]
    assert place.land_use_basis == "position"
    check = place.location_check
    assert check is not None and not check.outside_county
    parcels = [h for h in check.features if h.kind == "parcels"]
    assert [(h.feature_id, h.relation, h.land_class) for h in parcels] == [
        (layers.pbf_parcel, "inside", "permanent_basic_farmland")
    ]
    assert parcels[0].attributes == {"source_code": "0101", "source_name": "水田"}
    versions = {v.kind: v.version_id for v in check.layer_versions}
    assert versions["parcels"] == layers.parcels_version
    assert "mine_sites" in versions
    assert finding.areas_source["layer_version_id"] == str(layers.parcels_version)
    assert place.mine_site_ids == () and place.flags == ()


async def test_a_finding_on_a_shared_edge_takes_the_stricter_class(
    world: World, db: AsyncSession
) -> None:
    await add_layers(db, world)
    pid = await _start(db, world)
    finding = await _service(db).record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=30), project_name="棚子",
        construction_status="levelled", lon=110.15, lat=30.15, accuracy_m=3.0,
        occupied_area_m2=100.0,
    )  # fmt: skip
    classes = {h.land_class for h in place_of(finding).location_check.features}  # type: ignore[union-attr]
    assert classes == {"permanent_basic_farmland", "cultivated"}
    assert finding.land_class == "permanent_basic_farmland"


async def test_a_finding_at_the_closed_mine_raises_one_review_and_marks_the_site(
    world: World, db: AsyncSession
) -> None:
    layers = await add_layers(db, world)
    pid = await _start(db, world)
    service = _service(db)
    fid = uuid7()
    args = {
        "found_at": ago(minutes=20), "project_name": "吴家冲采石场复采",
        "construction_status": "other", "lon": 110.3, "lat": 30.3, "accuracy_m": 8.0,
    }  # fmt: skip
    finding = await service.record_finding(world.inspector, pid, fid, **args)  # type: ignore[arg-type]
    again = await service.record_finding(world.inspector, pid, fid, **args)  # type: ignore[arg-type]
    await db.commit()
    assert again.id == finding.id
    place = place_of(finding)
    assert place.mine_site_ids == (layers.mine_id,)
    mines = [h for h in place.location_check.features if h.kind == "mine_sites"]  # type: ignore[union-attr]
    assert [(h.mine_site_id, h.relation) for h in mines] == [(layers.mine_id, "inside")]
    assert mines[0].attributes["name"] == "吴家冲采石场"
    assert set(place.flags) == {"at_mine_site", "mine_site_review"}
    alerts = (
        await db.scalars(select(PatrolAlert).where(PatrolAlert.county_id == world.county_id))
    ).all()
    assert [(a.kind, a.site_id, a.session_id) for a in alerts] == [
        ("site_rebound_review", layers.mine_id, pid)
    ]
    assert "吴家冲采石场" in alerts[0].message
    site = await get_mine_site(db, world.captain, layers.mine_id)
    assert site.status == "signs_of_reopening"
    # what the check saw is kept: the site was still closed when the finding was made
    assert mines[0].attributes["status"] == "closed"

    # near the site (within the fix's accuracy, outside the polygon): reviewed too
    near = await service.record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=10), project_name="堆料",
        construction_status="levelled", lon=110.3025, lat=30.3, accuracy_m=60.0,
    )  # fmt: skip
    await db.commit()
    hit = [h for h in place_of(near).location_check.features if h.kind == "mine_sites"]  # type: ignore[union-attr]
    assert [(h.mine_site_id, h.relation) for h in hit] == [(layers.mine_id, "near")]
    kinds = (
        await db.scalars(select(PatrolAlert.kind).where(PatrolAlert.county_id == world.county_id))
    ).all()
    assert kinds == ["site_rebound_review", "site_rebound_review"]


async def test_a_finding_counts_as_a_visit_of_the_target_it_reaches(
    world: World, db: AsyncSession
) -> None:
    target = await AreaService(db).add_target(
        world.captain, world.area.id, kind="custom", name="河滩", lon=110.4, lat=30.4,
        visit_radius_m=50,
    )  # fmt: skip
    far = await AreaService(db).add_target(
        world.captain, world.area.id, kind="custom", name="远山", lon=110.45, lat=30.45,
        visit_radius_m=50,
    )  # fmt: skip
    await db.commit()
    started = ago(hours=2)
    pid = uuid7()
    service = _service(db)
    await service.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    await service.record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=90), project_name="采砂",
        construction_status="other", lon=110.4003, lat=30.4, accuracy_m=5.0,
    )  # fmt: skip
    await service.end_patrol(world.inspector, pid, ended_at=ago(minutes=60))
    await db.commit()
    visits = (await db.scalars(select(TargetVisit).where(TargetVisit.session_id == pid))).all()
    assert [(v.target_id, v.source) for v in visits] == [(target.id, "finding")]
    assert 28 < visits[0].min_distance_m < 30
    local = started.astimezone(PatrolConfig().tz)
    cov = await CoverageService(db).get_coverage(world.captain, date(local.year, local.month, 1))
    area = next(a for a in cov.areas if a.area_id == world.area.id)
    assert area.targets_visited == [target.id]
    assert area.targets_not_visited == [far.id]


async def test_a_walked_outline_is_overlaid_for_the_areas_by_class(
    world: World, db: AsyncSession
) -> None:
    await add_layers(db, world)
    pid = await _start(db, world)
    outline = Polygon([(110.149, 30.15), (110.151, 30.15), (110.151, 30.151), (110.149, 30.151)])
    finding = await _service(db).record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=30), project_name="厂房",
        construction_status="fully_built", lon=110.1495, lat=30.1505, accuracy_m=5.0,
        outline=shapely.geometry.mapping(outline),
    )  # fmt: skip
    await db.commit()
    place = place_of(finding)
    assert place.land_use_basis == "outline"
    by_class = {u.land_class: u.area_m2 for u in place.land_use}
    assert set(by_class) == {"permanent_basic_farmland", "cultivated"}
    half = by_class["permanent_basic_farmland"]
    assert abs(half - by_class["cultivated"]) < half * 1e-3  # the edge runs down the middle
    total = sum(by_class.values())
    assert finding.occupied_area_m2 == round(finding.areas_source["total_m2"], 2)
    assert abs(total - finding.occupied_area_m2) < 0.05  # no declared area: the outline's
    assert 19_000 < total < 22_000  # about 193 m x 111 m
    assert place.outline is not None and place.outline["type"] == "MultiPolygon"
    assert finding.land_class == "permanent_basic_farmland"


async def test_a_finding_in_a_county_without_layers_is_kept_with_an_empty_check(
    world: World, db: AsyncSession
) -> None:
    pid = await _start(db, world)
    finding = await _service(db).record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=30), project_name="x",
        construction_status="levelled", lon=110.12, lat=30.15, occupied_area_m2=4000.0,
    )  # fmt: skip
    await db.commit()
    place = place_of(finding)
    assert place.location_check is not None
    assert place.location_check.features == () and place.location_check.layer_versions == ()
    assert place.land_class is None and place.land_use == () and place.suggestions == ()
