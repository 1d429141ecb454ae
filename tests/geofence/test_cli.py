"""``patrol layers import``: the command imports a file and prints the summary."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import main
from geofence.models import LayerVersion
from infra.db import create_engine, create_session_factory
from infra.launchers import LocalServices
from infra.settings import DatabaseSettings, Settings
from patrol.models import County
from tests.conftest import add_county
from tests.geofence.conftest import BOUNDARY


async def _county(url: str) -> tuple[str, uuid.UUID]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with create_session_factory(engine)() as session:
            county_id = (await add_county(session, boundary=BOUNDARY)).id
            await session.commit()
            admin_code = await session.scalar(
                select(County.admin_code).where(County.id == county_id)
            )
            assert admin_code is not None
            return admin_code, county_id
    finally:
        await engine.dispose()


async def _versions(url: str, county_id: uuid.UUID) -> list[tuple[int, int]]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(LayerVersion.stored_count, LayerVersion.rejected_count).where(
                    LayerVersion.county_id == county_id
                )
            )
            return [(a, b) for a, b in rows]
    finally:
        await engine.dispose()


def test_layers_import_command(
    engine: AsyncEngine,  # the schema is migrated
    services: LocalServices,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin_code, county_id = asyncio.run(_county(services.database_url))
    features = [
        {
            "type": "Feature",
            "properties": {"BM": "0101"},
            "geometry": mapping(shapely.box(112.1 + i * 0.001, 28.5, 112.101 + i * 0.001, 28.501)),
        }
        for i in range(3)
    ] + [{"type": "Feature", "properties": {"BM": "0101"}, "geometry": None}]
    path = tmp_path / "parcels.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    # the command configures process-wide logging onto the captured stdout; keep it as it is
    monkeypatch.setattr("api.cli.configure_logging", lambda *_a, **_k: None)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):  # no locale: the report is in Chinese
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("S3_ENDPOINT_URL", services.object_store.endpoint_url)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", services.object_store.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", services.object_store.secret_access_key)
    monkeypatch.setenv("PATROL_SECRET_KEY", settings.auth.secret_key)
    code = main(["layers", "import", str(path), "--county", admin_code, "--kind", "parcels",
                 "--field-map", "source_code=BM"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "地类图斑 第 1 版" in out and "拒收要素 4：几何图形无效：空几何" in out
    assert asyncio.run(_versions(services.database_url, county_id)) == [(3, 1)]
    # the same report in English, asked for by option or by the locale
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    code = main(["layers", "import", str(path), "--county", admin_code, "--kind", "parcels",
                 "--field-map", "source_code=BM", "--dry-run"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "parcels dry run, nothing stored" in out
    assert "rejected feature 4: empty geometry" in out
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    code = main(["layers", "import", str(path), "--county", admin_code, "--kind", "parcels",
                 "--field-map", "source_code=BM", "--dry-run", "--lang", "en"])  # fmt: skip
    assert code == 0 and "rejected feature 4: empty geometry" in capsys.readouterr().out
    bad = main(["layers", "import", str(path), "--county", admin_code, "--kind", "parcels",
                "--crs", "EPSG:999999"])  # fmt: skip
    assert bad == 2
    failed = capsys.readouterr()
    assert "unknown_crs" in failed.err
    # an error found before any feature is read leaves no empty progress bar behind
    assert "importing parcels.geojson" not in failed.out + failed.err
