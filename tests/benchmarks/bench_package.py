"""Referral package export: memory and throughput, measured in one run.

A case with 1 GiB of originals (16 x 64 MiB) in a real S3 store (``rclone serve s3`` unless
``S3_ENDPOINT_URL`` is set) and a real PostGIS (a throwaway cluster unless ``DATABASE_URL``
is set). Measured, interleaved:

1. raw S3 read throughput: every original through ``ObjectStore.aiter_chunks``, discarded;
2. package throughput: ``export_referral_package`` (custody entries, manifest, signature)
   streamed to a counting sink, every original hashed and checked while it streams.

Resident memory: the peak (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the
export) minus the resident size just before. Target: < 128 MiB for the 1 GiB package.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.models import MODEL_MODULES
from evidence.cases.cases import CaseInput, open_case
from evidence.cases.package import export_referral_package
from evidence.cases.package_keys import PackageKeyring
from evidence.cases.referrals import flag_for_referral
from evidence.models import Evidence, Upload
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.scope import Principal, Role
from infra.settings import DatabaseSettings, ObjectStoreSettings
from patrol.models import County, User

OBJECTS = 16
OBJECT_BYTES = 64 * 1024 * 1024
KEY = "bench-package-signing-key-" + "b" * 20
MIB = 1024 * 1024
LIMIT_MIB = 128


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in bytes (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _users(
    factory: async_sessionmaker[Any],
) -> tuple[Principal, Principal, Principal]:
    async with factory() as db:
        county = County(
            admin_code=f"B{secrets.token_hex(5)}",
            name="基准县",
            province_code="43",
            boundary=from_shape(MultiPolygon([box(112.0, 28.4, 112.2, 28.6)]), srid=4326),
        )
        db.add(county)
        await db.flush()
        out = []
        for role in (Role.CAPTAIN, Role.SECURITY_SQUAD, Role.INSPECTOR):
            user = User(
                county_id=county.id,
                username=f"{role.value}-{secrets.token_hex(4)}",
                display_name=role.value,
                role=role.value,
                password_hash="x",
            )
            db.add(user)
            await db.flush()
            out.append(Principal(user.id, county.id, role, user.username))
        await db.commit()
    return out[0], out[1], out[2]


async def _originals(
    factory: async_sessionmaker[Any], store: S3ObjectStore, owner: Principal
) -> list[tuple[Any, str]]:
    """Upload the originals (one 64 MiB object at a time) and their evidence rows."""
    made = []
    now = datetime.now(UTC)
    for _ in range(OBJECTS):
        evidence_id = uuid7()
        key = f"originals/{owner.county_id}/{evidence_id}.mp4"
        data = os.urandom(OBJECT_BYTES)
        digest = hashlib.sha256(data).hexdigest()
        await store.put_bytes(key, data, content_type="video/mp4")
        del data
        async with factory() as db:
            db.add(
                Upload(
                    id=evidence_id,
                    county_id=owner.county_id,
                    uploader_id=owner.user_id,
                    status="accepted",
                    object_key=key,
                    kind="video",
                    content_type="video/mp4",
                    size_bytes=OBJECT_BYTES,
                    sha256=digest,
                    device_lon=112.1,
                    device_lat=28.5,
                    device_accuracy_m=5.0,
                    completed_at=now,
                )
            )
            await db.flush()
            db.add(
                Evidence(
                    id=evidence_id,
                    county_id=owner.county_id,
                    kind="video",
                    media_type="video/mp4",
                    size_bytes=OBJECT_BYTES,
                    sha256=digest,
                    original_key=key,
                    captured_at=now,
                    captured_at_source="container",
                    received_at=now,
                    geom=WKTElement("POINT(112.1 28.5)", srid=4326),
                    lon=112.1,
                    lat=28.5,
                    position_source="device",
                    position_accuracy_m=5.0,
                    file_meta={},
                    trust={},
                    flags=[],
                    location_check={},
                    accepted_by=owner.user_id,
                )
            )
            await db.commit()
        made.append((evidence_id, key))
    return made


async def _timed(fn: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    began = time.perf_counter()
    n = await fn()
    return n, time.perf_counter() - began


async def run(
    database_url: str, store_settings: ObjectStoreSettings, keys: PackageKeyring
) -> dict[str, float]:
    engine = create_engine(DatabaseSettings(statement_timeout_s=0.0, url=database_url, pool_size=4))
    try:
        migrator = Migrator(engine, MODEL_MODULES)
        await migrator.upgrade()  # every package's head, as the app runs
        factory = create_session_factory(engine)
        store = S3ObjectStore(store_settings)
        await store.ensure_bucket()
        captain, squad, inspector = await _users(factory)
        originals = await _originals(factory, store, inspector)
        async with factory() as db:
            case = await open_case(
                db,
                captain,
                CaseInput(
                    cause="基准：非法采矿",
                    violation_kind="illegal_mining",
                    lon=112.1,
                    lat=28.5,
                    evidence_ids=[e for e, _ in originals],
                ),
            )
            # the captain flags it for the squad (the squad cannot flag what it cannot read yet)
            await flag_for_referral(db, captain, case_id=case.id, reason="基准")
            await db.commit()

        async def raw_read() -> int:
            total = 0
            for _, key in originals:
                async for chunk in store.aiter_chunks(key):
                    total += len(chunk)
            return total

        async def package() -> int:
            async with factory() as db:
                pkg = await export_referral_package(
                    db, squad, case.id, store=store, custody_key=KEY, keys=keys
                )
                await db.commit()
            total = 0
            async for chunk in pkg:
                total += len(chunk)
                rss["max"] = max(rss["max"], _status("VmRSS"))
            return total

        rss = {"max": 0}
        raw1 = await _timed(raw_read)
        gc.collect()
        before = _status("VmRSS")
        peak_reset = _reset_peak()
        rss["max"] = before
        pkg = await _timed(package)
        peak = _status("VmHWM") if peak_reset else rss["max"]
        raw2 = await _timed(raw_read)
    finally:
        await engine.dispose()
    raw_rate = (raw1[0] + raw2[0]) / (raw1[1] + raw2[1])
    return {
        "originals_bytes": float(raw1[0]),
        "package_bytes": float(pkg[0]),
        "package_s": pkg[1],
        "package_rate": pkg[0] / pkg[1],
        "raw_rate": raw_rate,
        "rss_before": float(before),
        "rss_rise": float(max(peak, rss["max"]) - before),
        "peak_source_hwm": 1.0 if peak_reset else 0.0,
    }


def main() -> None:
    with local_services("patrol-bench-package-", bucket="patrol-bench") as found:
        keys = PackageKeyring(found.workdir / "package-keys")
        result = asyncio.run(run(found.database_url, found.object_store, keys))
    rise = result["rss_rise"] / MIB
    ratio = result["package_rate"] / result["raw_rate"]
    rows = [
        ("originals in the package", f"{result['originals_bytes'] / MIB:,.0f} MiB", ""),
        ("package size", f"{result['package_bytes'] / MIB:,.1f} MiB", ""),
        ("raw S3 read (MiB/s)", f"{result['raw_rate'] / MIB:,.0f}", ""),
        ("package export (MiB/s)", f"{result['package_rate'] / MIB:,.0f}", ""),
        ("package / raw read", f"{ratio:.2f}", ""),
        ("RSS before export (MiB)", f"{result['rss_before'] / MIB:,.0f}", ""),
        (
            "RSS rise during export (MiB)",
            f"{rise:,.1f}",
            f"< {LIMIT_MIB} " + ("ok" if rise < LIMIT_MIB else "MISSED"),
        ),
        ("peak measured by", "VmHWM" if result["peak_source_hwm"] else "sampled VmRSS", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | {'value':>15} | target |")
    print(f"|{'-' * (width + 2)}|{'-' * 17}|--------|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value:>15} | {target} |")
    if rise >= LIMIT_MIB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
