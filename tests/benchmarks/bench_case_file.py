"""The 案卷 export of a case with 200 photos: time and memory, measured in one run.

A case with 200 real JPEG photos (800 x 600, written by Pillow; every other one with a
captioned copy, as the derivatives job makes them) and three generated documents, in a real
S3 store and a real PostGIS (throwaway ones unless ``S3_ENDPOINT_URL`` / ``DATABASE_URL``
are set). Measured: ``export_case_file`` (the cover, the catalogue and the evidence list
laid out as PDF, custody entries, the signed manifest) streamed to a counting sink, every
original and copy hashed while it streams. Resident memory: the peak (``VmHWM``, reset just
before the export) minus the resident size before. Targets: ≤ 10 s, RSS rise < 128 MiB.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import random
import time
from datetime import UTC, datetime
from typing import Any

from geoalchemy2.elements import WKTElement
from PIL import Image
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.models import MODEL_MODULES
from evidence.cases.case_file import export_case_file
from evidence.cases.cases import CaseInput, open_case
from evidence.cases.documents import DocumentInput, DocumentService
from evidence.cases.package_keys import PackageKeyring
from evidence.models import Derivative, Evidence, Upload
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.scope import Principal
from infra.settings import DatabaseSettings, ObjectStoreSettings, ProcedureSettings
from tests.benchmarks.bench_package import _reset_peak, _status, _users

PHOTOS = 200
KEY = "bench-case-file-signing-key-" + "c" * 20
MIB = 1024 * 1024
LIMIT_MIB = 128
LIMIT_S = 10.0


def _jpeg(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.effect_noise((800, 600), 40 + seed % 30).convert("RGB")
    image.paste((rng.randrange(256), rng.randrange(256), 90), (0, 0, 400, 300))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


async def _photos(
    factory: async_sessionmaker[Any], store: S3ObjectStore, owner: Principal
) -> tuple[list[Any], int]:
    made, total = [], 0
    now = datetime.now(UTC)
    async with factory() as db:
        for n in range(PHOTOS):
            evidence_id = uuid7()
            key = f"originals/{owner.county_id}/{evidence_id}.jpg"
            data = _jpeg(n)
            total += len(data)
            digest = hashlib.sha256(data).hexdigest()
            await store.put_bytes(key, data, content_type="image/jpeg")
            db.add(
                Upload(
                    id=evidence_id, county_id=owner.county_id, uploader_id=owner.user_id,
                    status="accepted", object_key=key, kind="photo", content_type="image/jpeg",
                    size_bytes=len(data), sha256=digest, device_lon=112.1, device_lat=28.5,
                    device_accuracy_m=5.0, completed_at=now, caption=f"照片{n + 1}",
                    proves="占地范围",
                )
            )  # fmt: skip
            await db.flush()
            db.add(
                Evidence(
                    id=evidence_id, county_id=owner.county_id, kind="photo",
                    media_type="image/jpeg", size_bytes=len(data), sha256=digest,
                    original_key=key, captured_at=now, captured_at_source="exif",
                    received_at=now, geom=WKTElement("POINT(112.1 28.5)", srid=4326),
                    lon=112.1, lat=28.5, position_source="file", position_accuracy_m=5.0,
                    file_meta={}, trust={}, flags=[], location_check={},
                    accepted_by=owner.user_id,
                )
            )  # fmt: skip
            if n % 2 == 0:  # a captioned copy, as the derivatives job makes it
                copy = _jpeg(n + 10_000)
                ckey = f"derivatives/{owner.county_id}/{evidence_id}/captioned.jpg"
                await store.put_bytes(ckey, copy, content_type="image/jpeg")
                await db.flush()
                db.add(
                    Derivative(
                        county_id=owner.county_id, evidence_id=evidence_id, kind="captioned",
                        object_key=ckey, content_type="image/jpeg", size_bytes=len(copy),
                        sha256=hashlib.sha256(copy).hexdigest(), width=800, height=600,
                    )
                )  # fmt: skip
                total += len(copy)
            made.append(evidence_id)
        await db.commit()
    return made, total


async def run(
    database_url: str, store_settings: ObjectStoreSettings, keys: PackageKeyring
) -> dict[str, float]:
    engine = create_engine(DatabaseSettings(statement_timeout_s=0.0, url=database_url, pool_size=4))
    try:
        await Migrator(engine, MODEL_MODULES).upgrade()
        factory = create_session_factory(engine)
        store = S3ObjectStore(store_settings)
        await store.ensure_bucket()
        captain, _, inspector = await _users(factory)
        photos, photo_bytes = await _photos(factory, store, inspector)
        async with factory() as db:
            case = await open_case(
                db, captain,
                CaseInput(cause="基准：未经批准占用耕地建房", violation_kind="land_occupation",
                          lon=112.1, lat=28.5, evidence_ids=photos),
            )  # fmt: skip
            documents = DocumentService(db, store, custody_key=KEY, procedure=ProcedureSettings())
            for kind in ("filing_approval", "stop_order", "inspection_record"):
                await documents.generate(captain, case.id, DocumentInput(kind))
            await db.commit()

        async def export() -> tuple[int, float]:
            began = time.perf_counter()
            async with factory() as db:
                made = await export_case_file(
                    db, captain, case.id, store=store, custody_key=KEY, keys=keys
                )
                await db.commit()
            prepared = time.perf_counter() - began
            rss["prepared_hwm"] = _status("VmHWM")
            total = 0
            async for chunk in made:
                total += len(chunk)
                rss["max"] = max(rss["max"], _status("VmRSS"))
            return total, prepared

        rss = {"max": 0}
        gc.collect()
        before = _status("VmRSS")
        peak_reset = _reset_peak()
        rss["max"] = before
        began = time.perf_counter()
        size, prepared = await export()
        elapsed = time.perf_counter() - began
        peak = _status("VmHWM") if peak_reset else rss["max"]
    finally:
        await engine.dispose()
    return {
        "photo_bytes": float(photo_bytes),
        "zip_bytes": float(size),
        "prepare_s": prepared,
        "total_s": elapsed,
        "rss_before": float(before),
        "rss_rise": float(max(peak, rss["max"]) - before),
        "rss_rise_prepare": float(rss["prepared_hwm"] - before) if peak_reset else 0.0,
        "peak_source_hwm": 1.0 if peak_reset else 0.0,
    }


def main() -> None:
    with local_services("patrol-bench-case-file-", bucket="patrol-bench") as found:
        keys = PackageKeyring(found.workdir / "package-keys")
        result = asyncio.run(run(found.database_url, found.object_store, keys))
    rise = result["rss_rise"] / MIB
    rows = [
        ("photos (originals + captioned copies)", f"{result['photo_bytes'] / MIB:,.1f} MiB", ""),
        ("case file size", f"{result['zip_bytes'] / MIB:,.1f} MiB", ""),
        ("prepare: PDFs, custody, manifest (s)", f"{result['prepare_s']:.2f}", ""),
        (
            "export, prepared and streamed (s)",
            f"{result['total_s']:.2f}",
            f"≤ {LIMIT_S:.0f} " + ("ok" if result["total_s"] <= LIMIT_S else "MISSED"),
        ),
        ("RSS before export (MiB)", f"{result['rss_before'] / MIB:,.0f}", ""),
        (
            "RSS rise during export (MiB)",
            f"{rise:,.1f}",
            f"< {LIMIT_MIB} " + ("ok" if rise < LIMIT_MIB else "MISSED"),
        ),
        ("of which while preparing (MiB)", f"{result['rss_rise_prepare'] / MIB:,.1f}", ""),
        ("peak measured by", "VmHWM" if result["peak_source_hwm"] else "sampled VmRSS", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | {'value':>15} | target |")
    print(f"|{'-' * (width + 2)}|{'-' * 17}|--------|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value:>15} | {target} |")


if __name__ == "__main__":
    main()
