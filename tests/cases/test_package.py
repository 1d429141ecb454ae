"""Evidence packages: streamed ZIP round trip, verification, tampering, custody of exports."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, CaseView, link_evidence, open_case
from evidence.cases.errors import (
    CaseHasNoEvidenceError,
    CaseNotFoundError,
    PackageSigningKeyMissingError,
    PackageSourceMismatchError,
    PackageTamperedError,
)
from evidence.cases.models import CasePackage
from evidence.cases.package import MANIFEST, SIGNATURE, export_referral_package, verify_package
from evidence.cases.package_keys import PackageKeyring
from evidence.cases.referrals import flag_for_referral
from evidence.custody import CustodyLog
from evidence.models import CustodyEntry
from infra.objectstore import S3ObjectStore
from tests.cases.conftest import LAT, LON, SIGNING_KEY, add_evidence, geojson, square
from tests.worlds import World

PHOTO_A = b"\xff\xd8\xff\xe0" + os.urandom(300_000) + b"\xff\xd9"
PHOTO_B = b"\xff\xd8\xff\xe1" + os.urandom(1_500_000) + b"\xff\xd9"


async def case_with_evidence(
    db: AsyncSession, store: S3ObjectStore, world: World
) -> tuple[CaseView, list[bytes]]:
    a = await add_evidence(db, store, world.inspector, PHOTO_A, caption="远景")
    b = await add_evidence(db, store, world.inspector, PHOTO_B, lon=LON + 0.0003, caption="近景")
    data = CaseInput(
        cause="未经批准占用耕地建房",
        violation_kind="land_occupation",
        lon=LON,
        lat=LAT,
        surveyed_geometry=geojson(square(LON, LAT, 60)),
        evidence_ids=[a, b],
    )
    view = await open_case(db, world.captain, data)
    await flag_for_referral(db, world.captain, case_id=view.id, reason="疑似犯罪")
    await db.commit()
    return view, [PHOTO_A, PHOTO_B]


async def export_to(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    case: CaseView,
    path: Path,
    keys: PackageKeyring,
) -> dict[str, Any]:
    package = await export_referral_package(
        db, world.squad, case.id, store=store, custody_key=SIGNING_KEY, keys=keys,
        chunk_size=256 * 1024,
    )  # fmt: skip
    await db.commit()  # the export is logged before a byte is streamed
    size = await package.save(path)
    assert size > len(PHOTO_A)
    return package.manifest


async def test_round_trip_verifies_and_keeps_originals_byte_exact(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    tmp_path: Path,
    package_keys: PackageKeyring,
) -> None:
    case, originals = await case_with_evidence(db, store, world)
    path = tmp_path / "package.zip"
    manifest = await export_to(db, store, world, case, path, package_keys)

    report = verify_package(path, public_keys=package_keys.public_keys())
    assert report.ok, report.problems
    assert report.signature_valid is True
    assert report.case_no == case.case_no
    assert report.files_checked == 7  # 2 originals, 2 GeoJSON, sheet, public key, README

    with zipfile.ZipFile(path) as zf:
        listed = json.loads(zf.read(MANIFEST))
        items = listed["evidence"]
        assert [zf.read(i["path"]) for i in items] == originals
        assert {"evidence.geojson", "case.geojson", "evidence-sheet.html", SIGNATURE} <= set(
            zf.namelist()
        )
        first = items[0]
        assert first["producer"]["name"].endswith("同志")
        assert first["proves"] == "占用耕地建房的位置和范围"
        assert first["heading_deg"] == 135.0
        assert first["custody"][-1]["action"] == "exported"
        assert first["custody"][-1]["details"]["package_id"] == listed["package_id"]
        points = json.loads(zf.read("evidence.geojson"))["features"]
        assert [p["geometry"]["coordinates"][0] for p in points] == [LON, LON + 0.0003]
        shapes = json.loads(zf.read("case.geojson"))["features"]
        assert [s["properties"]["role"] for s in shapes] == ["located", "surveyed"]
        sheet = zf.read("evidence-sheet.html").decode("utf-8")
        assert case.case_no in sheet and "近景" in sheet and "135°" in sheet
        assert "@page" in sheet
    assert listed == manifest

    # the export is in the custody chain, which still verifies
    exported = await db.scalar(
        select(func.count())
        .select_from(CustodyEntry)
        .where(CustodyEntry.county_id == world.county_id, CustodyEntry.action == "exported")
    )
    assert exported == 2
    chain = await CustodyLog(SIGNING_KEY.encode()).verify(db, world.county_id)
    assert chain.ok
    row = await db.scalar(select(CasePackage).where(CasePackage.case_id == case.id))
    assert row is not None and str(row.id) == manifest["package_id"]
    assert row.total_bytes == len(PHOTO_A) + len(PHOTO_B)


def _rewrite(src: Path, dst: Path, *, replace: dict[str, bytes], drop: set[str]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


async def test_tampered_packages_are_reported(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    tmp_path: Path,
    package_keys: PackageKeyring,
) -> None:
    case, _ = await case_with_evidence(db, store, world)
    good = tmp_path / "good.zip"
    manifest = await export_to(db, store, world, case, good, package_keys)
    first = manifest["evidence"][0]["path"]

    changed = tmp_path / "changed-original.zip"
    _rewrite(good, changed, replace={first: b"\xff\xd8 edited \xff\xd9"}, drop=set())
    report = verify_package(changed, public_keys=package_keys.public_keys())
    assert not report.ok
    assert {(p.path, p.problem) for p in report.problems} >= {(first, "file_modified")}
    assert report.signature_valid is True  # the manifest itself is intact

    with zipfile.ZipFile(good) as zf:
        forged = json.loads(zf.read(MANIFEST))
    forged["case"]["cause"] = "无违法行为"
    edited = tmp_path / "changed-manifest.zip"
    _rewrite(good, edited, replace={MANIFEST: json.dumps(forged).encode()}, drop=set())
    report = verify_package(edited, public_keys=package_keys.public_keys())
    assert [(p.path, p.problem) for p in report.problems] == [(MANIFEST, "signature_invalid")]
    assert report.signature_valid is False

    removed = tmp_path / "removed.zip"
    _rewrite(good, removed, replace={}, drop={first})
    report = verify_package(removed, public_keys=package_keys.public_keys())
    assert [(p.path, p.problem) for p in report.problems] == [(first, "file_missing")]
    with pytest.raises(PackageTamperedError) as info:
        report.raise_for_problems()
    assert info.value.code == "package_tampered"

    added = tmp_path / "added.zip"
    _rewrite(good, added, replace={}, drop=set())
    with zipfile.ZipFile(added, "a") as zf:
        zf.writestr("originals/extra.jpg", b"planted")
    problems = verify_package(added, public_keys=package_keys.public_keys()).problems
    assert [(p.path, p.problem) for p in problems] == [("originals/extra.jpg", "unexpected_file")]

    other = PackageKeyring(tmp_path / "other-keys").public_keys()
    assert verify_package(good, public_keys=other).signature_valid is False
    not_zip = tmp_path / "nothing.zip"
    not_zip.write_bytes(b"not a zip at all")
    assert [
        p.problem for p in verify_package(not_zip, public_keys=package_keys.public_keys()).problems
    ] == ["not_a_zip"]
    # flipping a byte inside a stored member (CRC no longer matches) is caught too
    raw = bytearray(good.read_bytes())
    at = raw.index(PHOTO_A[1000:1032])
    raw[at] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    problems = verify_package(flipped, public_keys=package_keys.public_keys()).problems
    assert [(p.path, p.problem) for p in problems] == [(first, "file_modified")]


async def test_case_without_evidence_gets_no_package_and_nothing_is_stored(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    tmp_path: Path,
    package_keys: PackageKeyring,
) -> None:
    data = CaseInput(cause="无证据案件", violation_kind="land_occupation", lon=LON, lat=LAT)
    view = await open_case(db, world.captain, data)
    await flag_for_referral(db, world.captain, case_id=view.id, reason="疑似犯罪")
    await db.commit()
    with pytest.raises(CaseHasNoEvidenceError) as info:
        await export_referral_package(
            db, world.squad, view.id, store=store, custody_key=SIGNING_KEY, keys=package_keys
        )
    assert info.value.code == "case_has_no_evidence"
    with pytest.raises(PackageSigningKeyMissingError):
        await export_referral_package(
            db, world.squad, view.id, store=store, custody_key="", keys=package_keys
        )
    with pytest.raises(PackageSigningKeyMissingError):  # no key pair configured
        await export_referral_package(
            db, world.squad, view.id, store=store, custody_key=SIGNING_KEY, keys=None
        )
    missing = PackageKeyring(tmp_path / "keys", private_key_file=tmp_path / "absent.pem")
    with pytest.raises(PackageSigningKeyMissingError):  # a configured key file that is not there
        await export_referral_package(
            db, world.squad, view.id, store=store, custody_key=SIGNING_KEY, keys=missing
        )
    await db.commit()
    assert (
        await db.scalar(
            select(func.count())
            .select_from(CustodyEntry)
            .where(CustodyEntry.county_id == world.county_id)
        )
        == 0
    )
    assert (
        await db.scalar(
            select(func.count()).select_from(CasePackage).where(CasePackage.case_id == view.id)
        )
        == 0
    )


async def test_squad_cannot_export_unflagged_cases(
    db: AsyncSession, store: S3ObjectStore, world: World, package_keys: PackageKeyring
) -> None:
    evidence_id = await add_evidence(db, store, world.inspector, PHOTO_A)
    data = CaseInput(
        cause="未标记",
        violation_kind="land_occupation",
        lon=LON,
        lat=LAT,
        evidence_ids=[evidence_id],
    )
    view = await open_case(db, world.captain, data)
    await db.commit()
    with pytest.raises(CaseNotFoundError):
        await export_referral_package(
            db, world.squad, view.id, store=store, custody_key=SIGNING_KEY, keys=package_keys
        )
    await db.rollback()


async def test_a_changed_stored_original_stops_the_stream(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    tmp_path: Path,
    package_keys: PackageKeyring,
) -> None:
    case, _ = await case_with_evidence(db, store, world)
    package = await export_referral_package(
        db, world.captain, case.id, store=store, custody_key=SIGNING_KEY, keys=package_keys
    )
    await db.rollback()
    # someone with bucket access rewrites an original behind the application's back
    key = f"originals/{world.county_id}/{package.manifest['evidence'][1]['id']}.jpg"
    await store.put_bytes(key, PHOTO_B[:-1] + b"\x00", content_type="image/jpeg")
    with pytest.raises(PackageSourceMismatchError):
        await package.save(tmp_path / "broken.zip")


async def test_linking_more_evidence_adds_it_to_the_next_package(
    db: AsyncSession,
    store: S3ObjectStore,
    world: World,
    tmp_path: Path,
    package_keys: PackageKeyring,
) -> None:
    case, _ = await case_with_evidence(db, store, world)
    extra = await add_evidence(db, store, world.inspector, b"\xff\xd8third\xff\xd9")
    await link_evidence(db, world.captain, case.id, [extra])
    await db.commit()
    manifest = await export_to(db, store, world, case, tmp_path / "p.zip", package_keys)
    assert [e["id"] for e in manifest["evidence"]][-1] == str(extra)
    assert verify_package(tmp_path / "p.zip", public_keys=package_keys.public_keys()).ok
