"""Evidence through the real app: phones PUT straight to rclone S3, the API verifies.

Every test drives the HTTP API like the phone and the captains' browser do; the bytes go to
the presigned URLs exactly with the headers the server listed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import signal
import sys
import uuid
from asyncio.subprocess import PIPE, STDOUT
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from shapely.geometry import box
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from evidence import (
    ClaimedFix,
    CustodyLog,
    EvidenceService,
    GeofenceLocationChecker,
    NewUpload,
)
from evidence.demo import seed_demo_evidence
from evidence.models import Evidence
from geofence import SiteInput, create_mine_site, parse_geojson_geometry
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.scope import Principal, Role
from infra.settings import Settings
from patrol.areas import AreaService
from patrol.field_models import PatrolAlert, TargetVisit
from patrol.sessions import PatrolService
from patrol.tracks import PointIn, TrackService
from tests import clock
from tests.conftest import CountyFixture
from tests.evidence import media
from tests.jobs import run_jobs

Client = AsyncTestClient[Litestar]

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 11, 20, 10, 30, 0, tzinfo=CST)
LON, LAT = 112.1, 28.5  # the centre of every make_county() county
PATROL = str(Path(sys.executable).with_name("patrol"))


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _photo(lon: float = LON, lat: float = LAT, *, size: tuple[int, int] = (640, 480)) -> bytes:
    exif = media.exif_bytes(lon=lon, lat=lat, when=WHEN, direction=90.0, hpe=5.0)
    return media.jpeg(*size, exif=exif)


def _declaration(
    data: bytes,
    *,
    content_type: str = "image/jpeg",
    lon: float = LON,
    lat: float = LAT,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sizeBytes": len(data),
        "contentType": content_type,
        "fileName": "IMG_0001.jpg",
        "contentMd5": _md5(data),
        "claimedCapturedAt": WHEN.isoformat(),
        "fix": {"lon": lon, "lat": lat, "accuracyM": 6.0, "crs": "wgs84"},
        "headingDeg": 90.0,
        "caption": "东侧远景",
        "proves": "占用耕地建房的位置和现状",
        "viewType": "far",
    }
    body.update(extra)
    return body


async def _put_all(ticket: dict[str, Any], data: bytes, only: set[int] | None = None) -> None:
    """Send what the ticket asks for, exactly with its method, URL and headers."""
    async with httpx.AsyncClient(timeout=60) as http:
        for item in ticket["requests"]:
            number = item.get("partNumber")
            if only is not None and number not in only:
                continue
            if number is None:
                body = data
            else:
                start = (number - 1) * ticket["partSize"]
                body = data[start : start + ticket["partSize"]]
            response = await http.request(
                item["method"], item["url"], content=body, headers=item["headers"]
            )
            assert response.status_code == 200, response.text


async def _upload(
    client: Client, county: CountyFixture, role: Role, data: bytes, **extra: Any
) -> dict[str, Any]:
    """Create, PUT and complete; return the evidence body."""
    evidence_id = uuid7()
    headers = county.headers(role)
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    created = await client.post(url, json=_declaration(data, **extra), headers=headers)
    assert created.status_code == 200, created.text
    await _put_all(created.json(), data)
    done = await client.post(f"{url}/complete", headers=headers)
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body


async def seed_evidence(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    settings: Settings,
    principal: Principal,
    *,
    lon: float,
    lat: float,
    case_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """One accepted photo through the service (create, put the bytes, complete)."""
    data = _photo(lon, lat)
    new = NewUpload(
        evidence_id=uuid7(),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        content_type="image/jpeg",
        content_md5=_md5(data),
        fix=ClaimedFix(lon=lon, lat=lat, accuracy_m=5.0),
        case_id=case_id,
    )
    async with session_factory() as session:
        service = EvidenceService(session, store, settings.evidence, GeofenceLocationChecker())
        await service.create_upload(principal, new)
        await session.commit()
    await store.put_bytes(f"originals/{principal.county_id}/{new.evidence_id}/a1", data,
                          content_type="image/jpeg")  # fmt: skip
    async with session_factory() as session:
        service = EvidenceService(session, store, settings.evidence, GeofenceLocationChecker())
        evidence = await service.complete_upload(principal, new.evidence_id)
        await session.commit()
    return evidence.id


# -- upload flows ------------------------------------------------------------------------------


async def test_single_put_upload_then_complete(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    data = _photo()
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    headers = county.headers(Role.INSPECTOR)

    created = await client.post(url, json=_declaration(data), headers=headers)
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["status"] == "open"
    assert ticket["method"] == "single"
    assert ticket["missingParts"] == [1]
    (put,) = ticket["requests"]
    assert put["method"] == "PUT"
    assert put["headers"]["Content-MD5"] == _md5(data)
    assert put["headers"]["Content-Type"] == "image/jpeg"

    replay = await client.post(url, json=_declaration(data), headers=headers)
    assert replay.status_code == 200
    assert replay.json()["attempt"] == 1

    await _put_all(ticket, data)
    assembled = await client.get(url, headers=headers)
    assert assembled.json()["assembled"] is True

    done = await client.post(f"{url}/complete", headers=headers)
    assert done.status_code == 200, done.text
    evidence = done.json()
    assert evidence["id"] == str(evidence_id)
    assert evidence["sha256"] == hashlib.sha256(data).hexdigest()
    assert evidence["sizeBytes"] == len(data)
    assert evidence["kind"] == "photo"
    assert evidence["positionSource"] == "file"
    assert abs(evidence["lon"] - LON) < 1e-5
    assert abs(evidence["lat"] - LAT) < 1e-5
    assert evidence["capturedAt"].startswith("2026-11-20T02:30:00")
    assert evidence["capturedAtSource"] == "exif:DateTimeOriginal"
    assert evidence["caption"] == "东侧远景"
    assert evidence["viewType"] == "far"
    assert evidence["fileMeta"]["make"] == "Huawei"
    assert evidence["locationCheck"]["outsideCounty"] is False
    assert "exif_gps_missing" not in evidence["flags"]

    again = await client.post(f"{url}/complete", headers=headers)
    assert again.status_code == 200
    assert again.json()["receivedAt"] == evidence["receivedAt"]
    after = await client.get(url, headers=headers)
    assert after.json()["status"] == "accepted"
    assert after.json()["requests"] == []
    fetched = await client.get(f"/api/v1/evidence/{evidence_id}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["sha256"] == evidence["sha256"]


async def test_a_photo_just_over_the_county_line_is_flagged(
    client: Client, make_county: Any
) -> None:
    """The county's boundary (a 0.2° square) decides ``in_county``, to the metre: a photo
    60 m inside its east edge is in, one 60 m outside is flagged (and still accepted,
    well within the 10 km a fix may stray before the location check refuses it)."""
    county: CountyFixture = await make_county()
    edge = LON + 0.1
    inside = await _upload(client, county, Role.INSPECTOR, _photo(edge - 0.0006), lon=edge - 0.0006)
    outside = await _upload(
        client, county, Role.INSPECTOR, _photo(edge + 0.0006), lon=edge + 0.0006
    )
    assert inside["trustInfo"]["inCounty"] is True
    assert "outside_county" not in inside["flags"]
    assert outside["trustInfo"]["inCounty"] is False
    assert "outside_county" in outside["flags"]
    assert outside["locationCheck"]["outsideCounty"] is False  # near: checked, not refused


async def test_multipart_upload_resumes_from_the_parts_received(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    clip = media.video("mp4", metadata={"location": f"+{LAT:.4f}+{LON:.4f}/"})
    data = media.padded(clip, 11 * 1024 * 1024)
    part = 5 * 1024 * 1024
    md5s = [_md5(data[i : i + part]) for i in range(0, len(data), part)]
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    headers = county.headers(Role.INSPECTOR)
    body = _declaration(data, content_type="video/mp4", partSize=part, partMd5s=md5s)
    del body["contentMd5"]

    created = await client.post(url, json=body, headers=headers)
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["method"] == "multipart"
    assert ticket["partCount"] == 3
    assert [r["partNumber"] for r in ticket["requests"]] == [1, 2, 3]
    assert [r["headers"]["Content-MD5"] for r in ticket["requests"]] == md5s

    await _put_all(ticket, data, only={1, 3})  # then the network drops
    early = await client.post(f"{url}/complete", headers=headers)
    assert early.status_code == 409
    assert early.json()["code"] == "upload_incomplete"

    resumed = (await client.get(url, headers=headers)).json()
    assert [p["partNumber"] for p in resumed["partsReceived"]] == [1, 3]
    assert [p["size"] for p in resumed["partsReceived"]] == [part, len(data) - 2 * part]
    assert resumed["missingParts"] == [2]
    assert [r["partNumber"] for r in resumed["requests"]] == [2]
    await _put_all(resumed, data)

    done = await client.post(f"{url}/complete", headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["kind"] == "video"
    assert done.json()["sizeBytes"] == len(data)


async def test_hash_mismatch_then_a_successful_retry(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    good = _photo()
    sent = media.same_size_other_bytes(good)
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    headers = county.headers(Role.INSPECTOR)
    # The phone hashed one version of the file and sent another (same size).
    wrong = _declaration(good)
    wrong["contentMd5"] = _md5(sent)
    ticket = (await client.post(url, json=wrong, headers=headers)).json()
    await _put_all(ticket, sent)

    refused = await client.post(f"{url}/complete", headers=headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "evidence_hash_mismatch"
    missing = await client.get(f"/api/v1/evidence/{evidence_id}", headers=headers)
    assert missing.status_code == 404

    retry = await client.post(url, json=_declaration(good), headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["attempt"] == 2
    assert retry.json()["status"] == "open"
    await _put_all(retry.json(), good)
    done = await client.post(f"{url}/complete", headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == hashlib.sha256(good).hexdigest()


async def test_someone_elses_upload_and_other_counties(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    other: CountyFixture = await make_county(lon=113.0, lat=28.0)
    data = _photo()
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    owner = county.headers(Role.INSPECTOR)
    ticket = (await client.post(url, json=_declaration(data), headers=owner)).json()
    await _put_all(ticket, data)

    colleague = await client.post(f"{url}/complete", headers=county.headers(Role.JOINT_TEAM))
    assert colleague.status_code == 403
    assert colleague.json()["code"] == "not_upload_owner"
    stranger = await client.post(f"{url}/complete", headers=other.headers(Role.INSPECTOR))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "upload_not_found"
    hijack = await client.post(url, json=_declaration(data), headers=other.headers(Role.INSPECTOR))
    assert hijack.status_code == 409
    assert hijack.json()["code"] == "evidence_id_conflict"

    done = await client.post(f"{url}/complete", headers=owner)
    assert done.status_code == 200
    abort = await client.post(f"{url}/abort", headers=owner)
    assert abort.status_code == 409
    assert abort.json()["code"] == "upload_already_accepted"
    for role in Role:
        seen = await client.get(f"/api/v1/evidence/{evidence_id}", headers=other.headers(role))
        # the procuratorate reads no evidence at all (api/guards.py); everyone else not this
        assert seen.status_code == (403 if role is Role.PROCURATORATE else 404), role


async def test_bad_files_are_refused_with_problem_details(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    headers = county.headers(Role.INSPECTOR)

    empty = _declaration(b"")
    resp = await client.post(f"/api/v1/evidence/uploads/{uuid7()}", json=empty, headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "file_empty"

    pdf = _declaration(b"%PDF-1.4 ...", content_type="application/pdf")
    resp = await client.post(f"/api/v1/evidence/uploads/{uuid7()}", json=pdf, headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "unsupported_media_type"

    not_v7 = f"/api/v1/evidence/uploads/{uuid.uuid4()}"
    resp = await client.post(not_v7, json=_declaration(_photo()), headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_id"

    png = media.photo("PNG")
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    ticket = (await client.post(url, json=_declaration(png), headers=headers)).json()
    await _put_all(ticket, png)
    resp = await client.post(f"{url}/complete", headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "evidence_type_mismatch"

    aborted = await client.post(f"{url}/abort", headers=headers)
    assert aborted.status_code == 200
    assert aborted.json()["status"] == "aborted"
    resp = await client.post(f"{url}/complete", headers=headers)
    assert resp.status_code == 409
    assert resp.json()["code"] == "upload_aborted"


# -- reading, custody, roles ---------------------------------------------------------------------


async def test_original_download_is_audited_in_custody(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    data = _photo()
    evidence = await _upload(client, county, Role.INSPECTOR, data)
    base = f"/api/v1/evidence/{evidence['id']}"
    captain = county.headers(Role.CAPTAIN)

    url = await client.post(f"{base}/original-url", json={}, headers=captain)
    assert url.status_code == 200, url.text
    signed = url.json()
    assert datetime.fromisoformat(signed["expiresAt"]) <= clock.now() + timedelta(hours=1)
    async with httpx.AsyncClient(timeout=60) as http:
        got = await http.request(signed["method"], signed["url"], headers=signed["headers"])
    assert got.status_code == 200
    assert got.content == data
    assert "attachment" in got.headers.get("content-disposition", "")

    custody = await client.get(f"{base}/custody", headers=captain)
    assert custody.status_code == 200
    entries = custody.json()["entries"]
    assert [e["action"] for e in entries] == ["accepted", "downloaded"]
    assert entries[1]["actorId"] == str(county.users[Role.CAPTAIN].id)
    assert entries[1]["prevHash"] == entries[0]["entryHash"]


async def test_roles_see_what_they_need(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    own = await _upload(client, county, Role.INSPECTOR, _photo())
    # a flagged case with the joint-team member on its team (evidence references must be
    # records the uploader may add evidence to)
    captain = county.headers(Role.CAPTAIN)
    case = await client.post(
        "/api/v1/cases",
        json={"cause": "联合执法", "violationKind": "other", "lon": LON, "lat": LAT},
        headers=captain,
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    joint = str(county.users[Role.JOINT_TEAM].id)
    team = await client.put(
        f"/api/v1/cases/{case_id}/team",
        json={"members": [{"userId": joint, "roleInTeam": "joint"}]},
        headers=captain,
    )
    assert team.status_code == 200, team.text
    flag = await client.post(
        "/api/v1/referral-flags", json={"caseId": case_id, "reason": "x"}, headers=captain
    )
    assert flag.status_code == 201, flag.text
    linked = await _upload(
        client, county, Role.JOINT_TEAM, _photo(LON + 0.001, LAT), caseId=case_id
    )

    async def ids(role: Role, query: str = "") -> set[str]:
        resp = await client.get(f"/api/v1/evidence{query}", headers=county.headers(role))
        assert resp.status_code == 200, resp.text
        return {e["id"] for e in resp.json()["items"]}

    assert await ids(Role.INSPECTOR) == {own["id"]}
    assert await ids(Role.JOINT_TEAM) == {linked["id"]}
    assert await ids(Role.CAPTAIN) == {own["id"], linked["id"]}
    assert await ids(Role.ADMIN) == {own["id"], linked["id"]}
    assert await ids(Role.SECURITY_SQUAD) == {linked["id"]}
    squad = county.headers(Role.SECURITY_SQUAD)
    hidden = await client.get(f"/api/v1/evidence/{own['id']}", headers=squad)
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "evidence_not_found"

    # filters and pages
    assert await ids(Role.CAPTAIN, f"?case_id={linked['caseId']}") == {linked["id"]}
    assert await ids(Role.CAPTAIN, "?kind=video") == set()
    first = await client.get("/api/v1/evidence?limit=1", headers=county.headers(Role.CAPTAIN))
    page = first.json()
    assert len(page["items"]) == 1
    assert page["nextCursor"]
    rest = await client.get(
        "/api/v1/evidence",
        params={"limit": 1, "cursor": page["nextCursor"]},
        headers=county.headers(Role.CAPTAIN),
    )
    assert {page["items"][0]["id"], rest.json()["items"][0]["id"]} == {own["id"], linked["id"]}
    assert rest.json()["nextCursor"] is None

    # flags: captains and the squad, not inspectors; filterable
    flag_url = f"/api/v1/evidence/{own['id']}/flags"
    body = {"flag": "needs_second_officer", "note": "only one officer on site"}
    refused = await client.post(flag_url, json=body, headers=county.headers(Role.INSPECTOR))
    assert refused.status_code == 403
    flagged = await client.post(flag_url, json=body, headers=county.headers(Role.CAPTAIN))
    assert flagged.status_code == 200, flagged.text
    assert "needs_second_officer" in flagged.json()["flags"]
    query = "?flags=needs_second_officer&flags=other"
    assert await ids(Role.CAPTAIN, query) == {own["id"]}
    # with any trust flag at all, or none
    assert await ids(Role.CAPTAIN, "?flagged=true") == {own["id"]}
    assert await ids(Role.CAPTAIN, "?flagged=false") == {linked["id"]}

    # evidence linked to the case after upload is the case's too: for the case filter and
    # for whoever sees the case
    link = await client.post(
        f"/api/v1/cases/{case_id}/evidence", json={"evidenceIds": [own["id"]]}, headers=captain
    )
    assert link.status_code == 200, link.text
    assert await ids(Role.CAPTAIN, f"?case_id={case_id}") == {own["id"], linked["id"]}
    assert await ids(Role.SECURITY_SQUAD, f"?case_id={case_id}") == {own["id"], linked["id"]}


async def test_the_worker_makes_the_thumbnail(
    client: Client,
    make_county: Any,
    app: Litestar,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    evidence = await _upload(client, county, Role.INSPECTOR, _photo(size=(1600, 1200)))
    url = f"/api/v1/evidence/{evidence['id']}/derivatives/thumbnail"
    headers = county.headers(Role.INSPECTOR)
    before = await client.get(url, headers=headers)
    assert before.status_code == 404
    assert before.json()["code"] == "derivative_not_found"

    await run_jobs(settings.database, session_factory, app.state.store, settings.evidence)
    after = await client.get(url, headers=headers)
    assert after.status_code == 200, after.text
    signed = after.json()
    async with httpx.AsyncClient(timeout=60) as http:
        got = await http.get(signed["url"], headers=signed["headers"])
    assert got.status_code == 200
    thumb = Image.open(io.BytesIO(got.content))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 512
    assert not thumb.getexif()
    detail = (await client.get(f"/api/v1/evidence/{evidence['id']}", headers=headers)).json()
    assert {d["kind"] for d in detail["derivatives"]} >= {"thumbnail", "share", "captioned"}
    bad_kind = await client.get(
        f"/api/v1/evidence/{evidence['id']}/derivatives/nonsense", headers=headers
    )
    assert bad_kind.status_code == 400


async def test_a_video_gets_a_share_copy_without_its_location(
    client: Client,
    make_county: Any,
    app: Litestar,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    clip = media.video(
        "mov",
        metadata={"com.apple.quicktime.location.ISO6709": f"+{LAT:.4f}+{LON:.4f}+050.000/",
                  "com.apple.quicktime.creationdate": "2026-11-20T10:30:00+0800",
                  "com.apple.quicktime.model": "iPhone 15 Pro"},
        options={"movflags": "use_metadata_tags"}, audio=True,
    )  # fmt: skip
    evidence = await _upload(client, county, Role.INSPECTOR, clip, contentType="video/quicktime")
    assert evidence["capturedAtSource"] == "quicktime:com.apple.quicktime.creationdate"
    assert evidence["capturedAt"].startswith("2026-11-20T02:30:00")
    url = f"/api/v1/evidence/{evidence['id']}/derivatives/share"
    headers = county.headers(Role.INSPECTOR)
    assert (await client.get(url, headers=headers)).status_code == 404

    await run_jobs(settings.database, session_factory, app.state.store, settings.evidence)
    answer = await client.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    signed = answer.json()
    async with httpx.AsyncClient(timeout=60) as http:
        got = await http.get(signed["url"], headers=signed["headers"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "video/quicktime"
    assert f"{LON:.4f}".encode() in clip
    for leak in (f"{LON:.4f}".encode(), f"{LAT:.4f}".encode(), b"iPhone", b"com.apple"):
        assert leak not in got.content
    detail = (await client.get(f"/api/v1/evidence/{evidence['id']}", headers=headers)).json()
    share = next(d for d in detail["derivatives"] if d["kind"] == "share")
    assert share["contentType"] == "video/quicktime"
    assert share["sizeBytes"] == len(got.content)
    assert share["sha256"] == hashlib.sha256(got.content).hexdigest()
    assert {d["kind"] for d in detail["derivatives"]} == {"poster", "thumbnail", "captioned",
                                                          "share"}  # fmt: skip


# -- location check, mine sites, patrols ---------------------------------------------------------

_SITE = {
    "type": "Polygon",
    "coordinates": [
        [[112.05, 28.45], [112.052, 28.45], [112.052, 28.452], [112.05, 28.452], [112.05, 28.45]]
    ],
}


async def test_evidence_at_a_closed_mine_site_raises_its_rebound_review(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    async with session_factory() as session:
        site = await create_mine_site(
            session,
            county.principal(Role.ADMIN),
            SiteInput(code="KS-1", name="石门矿", geometry=parse_geojson_geometry(_SITE)),
        )
        await session.commit()
    evidence = await _upload(client, county, Role.INSPECTOR, _photo(112.051, 28.451))
    assert {"at_mine_site", "mine_site_review"} <= set(evidence["flags"])
    hits = [f for f in evidence["locationCheck"]["features"] if f["kind"] == "mine_sites"]
    assert [h["mineSiteId"] for h in hits] == [str(site.id)]
    assert hits[0]["relation"] == "inside"
    assert any(v["kind"] == "mine_sites" for v in evidence["locationCheck"]["layerVersions"])
    async with session_factory() as session:
        alerts = (
            await session.scalars(select(PatrolAlert).where(PatrolAlert.county_id == county.id))
        ).all()
    assert [(a.kind, a.site_id) for a in alerts] == [("site_rebound_review", site.id)]
    listed = await client.get(
        f"/api/v1/evidence?mine_site_id={site.id}", headers=county.headers(Role.CAPTAIN)
    )
    assert listed.json()["items"] == []  # the phone did not link it; the check found it

    away = await _upload(client, county, Role.INSPECTOR, _photo(112.15, 28.55))
    assert "at_mine_site" not in away["flags"]


_AREA = {
    "type": "Polygon",
    "coordinates": [[[112.08, 28.48], [112.12, 28.48], [112.12, 28.52], [112.08, 28.52],
                     [112.08, 28.48]]],
}  # fmt: skip


async def test_patrol_area_track_and_targets_are_cross_checked(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    inspector = county.principal(Role.INSPECTOR)
    patrol_id = uuid7()
    async with session_factory() as session:
        areas = AreaService(session)
        area = await areas.create_area(
            county.principal(Role.CAPTAIN), code="A01", name="一片区", grade=1,
            geometry=_AREA, leader_id=inspector.user_id,
        )  # fmt: skip
        target = await areas.add_target(
            county.principal(Role.CAPTAIN), area.id, kind="custom", name="村口",
            lon=112.1003, lat=28.5, visit_radius_m=100,
        )  # fmt: skip
        await PatrolService(session).start_patrol(
            inspector, patrol_id, area_id=area.id, started_at=WHEN - timedelta(minutes=10)
        )
        # The phone's own track: at the photo's place a minute before it was taken.
        stored = await TrackService(session).append_track_points(
            inspector, patrol_id,
            [PointIn(uuid7(), WHEN - timedelta(seconds=60 * k), 112.1, 28.5, 5.0)
             for k in (1, 2)],
        )  # fmt: skip
        assert stored.stored == 2, stored
        await session.commit()

    inside = await _upload(
        client, county, Role.INSPECTOR, _photo(112.1, 28.5), patrolId=str(patrol_id)
    )
    assert not {"outside_patrol_area", "track_far"} & set(inside["flags"])
    assert inside["trust"]["track_distance_m"] < 1.0
    # the same moment, 10 km away: outside the area and far from the patrol's own track
    outside = await _upload(
        client, county, Role.INSPECTOR, _photo(112.18, 28.56), patrolId=str(patrol_id)
    )
    assert {"outside_patrol_area", "track_far"} <= set(outside["flags"])
    in_area = await client.get(
        f"/api/v1/evidence?area_id={area.id}", headers=county.headers(Role.CAPTAIN)
    )
    assert [e["id"] for e in in_area.json()["items"]] == [inside["id"]]
    by_patrol = await client.get(
        f"/api/v1/evidence?patrol_id={patrol_id}", headers=county.headers(Role.CAPTAIN)
    )
    assert {e["id"] for e in by_patrol.json()["items"]} == {inside["id"], outside["id"]}
    async with session_factory() as session:
        visits = (
            await session.execute(
                select(TargetVisit.target_id, TargetVisit.source).where(
                    TargetVisit.session_id == patrol_id
                )
            )
        ).all()
    assert [tuple(v) for v in visits] == [(target.id, "evidence")]


# -- background work and the CLI -----------------------------------------------------------------


def _cli_env(settings: Settings) -> dict[str, str]:
    store = settings.object_store
    return {
        **os.environ,
        "DATABASE_URL": settings.database.url,
        "S3_ENDPOINT_URL": store.endpoint_url,
        "S3_BUCKET": store.bucket,
        "S3_ACCESS_KEY_ID": store.access_key_id,
        "S3_SECRET_ACCESS_KEY": store.secret_access_key,
        "PATROL_SECRET_KEY": settings.auth.secret_key,
        "PATROL_PACKAGE_SIGNING_KEY": settings.evidence.package_signing_key,
        "PATROL_DATA_DIR": str(settings.data_dir),
        "PATROL_LOG_LEVEL": "warning",
    }


async def _patrol(settings: Settings, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        PATROL, *args, env=_cli_env(settings), stdout=PIPE, stderr=STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _derivative_kinds(
    session_factory: async_sessionmaker[AsyncSession], evidence_id: str
) -> set[str]:
    async with session_factory() as session:
        row = await session.get(Evidence, uuid.UUID(evidence_id))
        assert row is not None
        return {d.kind for d in row.derivatives}


async def test_the_in_process_worker_runs_with_the_app(
    make_county: Any, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    embedded = replace(settings, server=replace(settings.server, run_worker_in_process=True))
    async with AsyncTestClient(app=create_app(embedded)) as own_client:
        evidence = await _upload(own_client, county, Role.INSPECTOR, _photo())
        for _ in range(300):
            if "thumbnail" in await _derivative_kinds(session_factory, evidence["id"]):
                break
            await asyncio.sleep(0.1)
    assert "thumbnail" in await _derivative_kinds(session_factory, evidence["id"])


async def test_patrol_worker_command_makes_derivatives_and_stops_on_ctrl_c(
    app: Litestar,
    make_county: Any,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # Jobs still queued by other tests belong to chains under the test app's key: run them
    # here, so the command (which signs custody with its own key) only sees this test's job.
    await run_jobs(settings.database, session_factory, app.state.store, settings.evidence)
    keyed = replace(settings, evidence=replace(settings.evidence, package_signing_key="w" * 40))
    county: CountyFixture = await make_county()
    async with AsyncTestClient(app=create_app(keyed)) as own_client:
        evidence = await _upload(own_client, county, Role.INSPECTOR, _photo())
    proc = await asyncio.create_subprocess_exec(
        PATROL, "worker", env=_cli_env(keyed), stdout=PIPE, stderr=STDOUT
    )
    try:
        for _ in range(600):
            if "thumbnail" in await _derivative_kinds(session_factory, evidence["id"]):
                break
            await asyncio.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    assert "thumbnail" in await _derivative_kinds(session_factory, evidence["id"])
    assert code == 0  # the job in hand finished, the worker unregistered, a clean exit
    async with session_factory() as session:
        report = await CustodyLog(b"w" * 40).verify(session, county.id)
    assert report.ok, report.problems
    assert report.entries >= 2  # accepted, then the derivatives made by the command


async def test_patrol_audit_verify_finds_an_altered_entry(
    make_county: Any, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # The chain is keyed (HMAC) as in production: the app and the command share the key.
    keyed = replace(settings, evidence=replace(settings.evidence, package_signing_key="k" * 40))
    county: CountyFixture = await make_county()
    async with AsyncTestClient(app=create_app(keyed)) as own_client:
        evidence = await _upload(own_client, county, Role.INSPECTOR, _photo())
        url = f"/api/v1/evidence/{evidence['id']}/original-url"
        headers = county.headers(Role.CAPTAIN)
        assert (await own_client.post(url, json={}, headers=headers)).is_success
    settings = keyed
    code = county.county.admin_code

    status, out = await _patrol(settings, "audit", "verify", "--county", code)
    assert status == 0, out
    assert "2 entries" in out
    assert "1 chain(s) checked, 0 with problems" in out

    async with session_factory() as session:
        await session.execute(text("ALTER TABLE evidence_custody DISABLE TRIGGER USER"))
        await session.execute(
            text(
                'UPDATE evidence_custody SET details = details || \'{"role": "inspector"}\' '
                "WHERE county_id = :c AND seq = 2"
            ),
            {"c": county.id},
        )
        await session.execute(text("ALTER TABLE evidence_custody ENABLE TRIGGER USER"))
        await session.commit()
    status, out = await _patrol(settings, "audit", "verify", "--county", code)
    assert status == 1, out
    assert "seq 2: altered" in out


async def test_demo_photos_carry_real_exif_gps_and_go_through_intake(
    make_county: Any,
    app: Litestar,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    async with session_factory() as session:
        site = await create_mine_site(
            session,
            county.principal(Role.ADMIN),
            SiteInput(code="KS-9", name="青石矿", geometry=parse_geojson_geometry(_SITE)),
        )
        ids = await seed_demo_evidence(
            session, county.id, app.state.store, settings.evidence,
            outline=box(LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1),
        )  # fmt: skip
        await session.commit()
    assert len(ids) == 1  # no parcels or patrols here: the one closed mine
    async with session_factory() as session:
        row = await session.get(Evidence, ids[0])
        assert row is not None
        assert row.position_source == "file"
        assert row.file_meta["make"] == "Huawei"
        assert {"at_mine_site", "mine_site_review"} <= set(row.flags)
        assert row.upload.mine_site_id == site.id
        assert not {"exif_gps_missing", "exif_vs_device_far", "clock_skew"} & set(row.flags)

    empty: CountyFixture = await make_county()
    async with session_factory() as session:
        ids = await seed_demo_evidence(
            session, empty.id, app.state.store, settings.evidence,
            outline=box(LON - 0.05, LAT - 0.05, LON + 0.05, LAT + 0.05),
        )  # fmt: skip
        await session.commit()
        rows = (await session.scalars(select(Evidence).where(Evidence.id.in_(ids)))).all()
    assert len(rows) == 4
    assert all(abs(r.lon - LON) < 0.05 and abs(r.lat - LAT) < 0.05 for r in rows)


def _progressive(data: bytes) -> bytes:
    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.save(out, "JPEG", quality=85, progressive=True, exif=image.info["exif"])
    return out.getvalue()


async def test_a_cut_jpeg_is_refused_and_trailing_data_is_accepted(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    headers = county.headers(Role.INSPECTOR)
    whole = _progressive(_photo(size=(1200, 900)))
    for cut in (whole[: len(whole) * 2 // 3], whole[:-2]):
        url = f"/api/v1/evidence/uploads/{uuid7()}"
        ticket = (await client.post(url, json=_declaration(cut), headers=headers)).json()
        await _put_all(ticket, cut)
        refused = await client.post(f"{url}/complete", headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "file_corrupt"
    # Some cameras append data after the image (a second picture, maker data): still whole.
    appended = whole + b"\x00MAKERDATA" * 100
    accepted = await _upload(client, county, Role.INSPECTOR, appended)
    assert accepted["sizeBytes"] == len(appended)
    assert accepted["fileMeta"]["width"] == 1200
