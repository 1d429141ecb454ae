"""``patrol counties``: an operator creates a county from a boundary file, then its admin."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.launchers import LocalServices
from infra.settings import Settings
from patrol.models import County, User

PATROL = str(Path(sys.executable).parent / "patrol")
BOX = shapely.box(112.0, 28.4, 112.2, 28.6)
Run = Callable[..., subprocess.CompletedProcess[str]]


def _patrol(
    services: LocalServices, settings: Settings, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_"))}
    env.update(
        DATABASE_URL=services.database_url,
        S3_ENDPOINT_URL=services.object_store.endpoint_url,
        S3_ACCESS_KEY_ID=services.object_store.access_key_id,
        S3_SECRET_ACCESS_KEY=services.object_store.secret_access_key,
        PATROL_SECRET_KEY=settings.auth.secret_key,
        PATROL_DATA_DIR=str(settings.data_dir),
    )
    return subprocess.run(
        [PATROL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _code() -> str:
    """A 12-digit admin code no other test uses."""
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def cli(
    engine: object,  # the schema is migrated
    services: LocalServices,
    settings: Settings,
) -> Run:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _patrol(services, settings, *args)

    return run


async def test_create_county_then_its_admin(
    cli: Run,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    run = cli
    code = _code()
    feature = {"type": "Feature", "properties": {"name": "新县"}, "geometry": mapping(BOX)}
    boundary = _write(tmp_path / "county.geojson", {"type": "FeatureCollection",
                                                    "features": [feature]})  # fmt: skip
    done = run("counties", "create", code, "新县", "--boundary", str(boundary), "--province", "43")
    assert done.returncode == 0, done.stderr
    assert f"created county {code} 新县 (province 43)" in done.stdout

    async with session_factory() as session:
        county = await session.scalar(select(County).where(County.admin_code == code))
        assert county is not None
        assert county.name == "新县"
        assert county.province_code == "43"
        area = await session.scalar(
            select(func.ST_Area(County.boundary)).where(County.id == county.id)
        )
        assert area == pytest.approx(BOX.area)

    listed = run("counties", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith(code) and "新县" in line for line in listed.stdout.splitlines())

    # the same code again: one line, exit 2, nothing changed
    again = run("counties", "create", code, "别的县", "--boundary", str(boundary))
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0
    assert again.stderr.startswith("patrol: duplicate_county:")
    assert code in again.stderr

    # the new county gets its admin from the existing command
    username = f"admin{code}"
    made = run("users", "create", username, "--role", "admin", "--county", code)
    assert made.returncode == 0, made.stderr
    async with session_factory() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        assert user.county_id == county.id
        assert user.role == "admin"


async def test_boundary_in_another_crs(
    cli: Run, session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A CGCS2000 Gauss-Krüger boundary (3° zone 38, EPSG:4526) is stored in WGS84."""
    run = cli
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4526", always_xy=True)
    projected = shapely.Polygon([to_gk.transform(x, y) for x, y in BOX.exterior.coords])
    boundary = _write(tmp_path / "gk.geojson", mapping(projected))
    code = _code()
    done = run("counties", "create", code, "投影县", "--boundary", str(boundary),
               "--crs", "EPSG:4526")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"(province {code[:2]})" in done.stdout
    async with session_factory() as session:
        bounds = (
            await session.execute(
                select(
                    func.ST_XMin(County.boundary), func.ST_YMin(County.boundary),
                    func.ST_XMax(County.boundary), func.ST_YMax(County.boundary),
                ).where(County.admin_code == code)
            )
        ).one()  # fmt: skip
    assert bounds == pytest.approx(BOX.bounds, abs=1e-4)


@pytest.mark.parametrize(
    ("boundary", "code"),
    [
        ({"type": "Point", "coordinates": [112.1, 28.5]}, "invalid_geometry"),
        ({"type": "FeatureCollection", "features": []}, "invalid_boundary"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[112, 28], [113, 29], [112, 29], [113, 28], [112, 28]]],
            },
            "invalid_geometry",
        ),
        (
            {"type": "Polygon", "coordinates": [[[412, 28], [413, 28], [413, 29], [412, 28]]]},
            "invalid_coordinates",
        ),
        ("not json", "invalid_boundary"),
    ],
    ids=["point", "no-feature", "bow-tie", "out-of-range", "not-json"],
)
def test_invalid_boundary_is_one_line(
    cli: Run, tmp_path: Path, boundary: object, code: str
) -> None:
    run = cli
    path = tmp_path / "bad.geojson"
    if isinstance(boundary, str):
        path.write_text(boundary)
    else:
        _write(path, boundary)
    admin_code = _code()
    done = run("counties", "create", admin_code, "坏县", "--boundary", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"patrol: {code}:"), done.stderr
    assert done.stderr.strip().count("\n") == 0
    listed = run("counties", "list")
    assert admin_code not in listed.stdout


def test_unknown_crs_and_bad_code(cli: Run, tmp_path: Path) -> None:
    run = cli
    path = _write(tmp_path / "ok.geojson", mapping(BOX))
    done = run("counties", "create", _code(), "县", "--boundary", str(path), "--crs", "mars")
    assert done.returncode == 2
    assert done.stderr.startswith("patrol: unknown_crs:")
    assert "gcj02" in done.stderr  # the accepted systems are listed
    done = run("counties", "create", "43ab", "县", "--boundary", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith("patrol: invalid_admin_code:")
