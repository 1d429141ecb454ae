"""Location-check speed on a synthetic county of 200,000 parcels and 500 mine sites.

Measured in one run, on a scratch PostGIS (or ``DATABASE_URL``):

1. import of 200,000 parcels from a GeoPackage through :func:`geofence.import_layer`
   (target < 60 s);
2. one check through the Python API (:func:`geofence.check_location`, every layer) against a
   raw asyncpg ``ST_DWithin`` lookup of parcels and mine sites with a prepared statement
   (target ≤ 2×);
3. a batch of 100,000 points through :func:`geofence.check_locations` against one PostGIS
   batch query over the same points (target ≥ 10× faster), answers compared pair by pair;
   each side is timed as its best run (PostGIS of 2, the API of 3);
4. over HTTP on loopback (uvicorn in a subprocess, the real app), single checks from 50
   concurrent clients each sending 2 checks a second (target p99 ≤ 10 ms), and the same
   clients back to back for the saturation throughput. Each client is one keep-alive
   connection spoken directly (see :class:`_Phone`); the server's own p99, from the
   ``Server-Timing`` header, is reported beside the client's;
5. ``CheckLocations`` end to end: 10,000 points in one JSON request over HTTP, every answer
   encoded and read by the client, against one PostGIS batch query of the same points (the
   same query as in 3) in the same run (target ≥ 5×); best of 5 requests, best of 2 queries.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import msgspec
import numpy as np
import pyogrio.raw
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import TokenMinter, build_jwt_auth
from api.models import MODEL_MODULES
from geofence import check_location, check_locations, import_layer
from geofence.mines import write_sites
from infra.db import create_engine, create_session_factory
from infra.launchers import free_port, local_services
from infra.migrate import Migrator
from infra.scope import Principal, Role
from infra.settings import AuthSettings, DatabaseSettings
from patrol.models import County, User

PARCELS = 200_000
SITES = 500
BATCH = 100_000
#: the batch is timed as the best of this many runs, PostGIS's and ours alike
PG_RUNS, API_RUNS = 2, 3
SINGLES = 3_000
#: ``CheckLocations`` end to end: points per request (the operation's limit), requests timed
HTTP_BATCH, HTTP_BATCH_RUNS = 10_000, 5
#: seconds between two checks of one client (phone): a fix every 2 s, every 0.5 s, and every
#: 0.05 s (50 clients: 1,000 requests a second offered)
PACES_S = (2.0, 0.5, 0.05)
#: checks per phone at each pace: 50 x 30 = 1,500 latencies, so the p99 rests on 15 of them
PACED_CHECKS = 30
X0, Y0, NX, NY, STEP = 111.8, 28.2, 500, 400, 0.0012  # 0.6° x 0.48°: 59 x 53 km
ROOT = Path(__file__).resolve().parents[2]


def _parcels_file(path: Path) -> Path:
    rng = np.random.default_rng(3)
    gx, gy = np.meshgrid(X0 + np.arange(NX + 1) * STEP, Y0 + np.arange(NY + 1) * STEP)
    gx = gx + rng.uniform(-0.25, 0.25, gx.shape) * STEP
    gy = gy + rng.uniform(-0.25, 0.25, gy.shape) * STEP
    corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)),
               (slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1)),
               (slice(None, -1), slice(None, -1))]  # fmt: skip
    rings = np.stack([np.stack([gx[a, b], gy[a, b]], -1) for a, b in corners], axis=2)
    cells = shapely.polygons(rings.reshape(-1, 5, 2))
    return write_parcels(path, cells, rng, geometry_type="Polygon")


#: land-class codes of the 地类图斑 layer and how often each is drawn
CODES = np.array(["0101", "0103", "0201", "0301", "0702", "0601", "1206", "1101"], dtype=object)
CODE_SHARES = [0.2, 0.1, 0.08, 0.4, 0.08, 0.04, 0.06, 0.04]


def write_parcels(
    path: Path, geoms: np.ndarray[Any, Any], rng: np.random.Generator, *, geometry_type: str
) -> Path:
    """A GeoPackage in CGCS2000 of these parcels, each with a land class (``DLBM``) and 70 %
    of them basic farmland (``JBNT``), drawn from ``rng``."""
    pick = rng.choice(len(CODES), size=len(geoms), p=CODE_SHARES)
    jbnt = np.where(rng.random(len(geoms)) < 0.7, "1", "0").astype(object)
    pyogrio.raw.write(
        str(path), np.array(shapely.to_wkb(geoms), dtype=object),
        [CODES[pick], jbnt], fields=["DLBM", "JBNT"], geometry_type=geometry_type,
        crs="EPSG:4490", driver="GPKG",
    )  # fmt: skip
    return path


async def _county(factory: async_sessionmaker[AsyncSession]) -> Principal:
    box = shapely.box(X0, Y0, X0 + NX * STEP, Y0 + NY * STEP)
    async with factory() as s:
        county = County(
            admin_code=secrets.token_hex(5), name="基准县", province_code="43",
            boundary=from_shape(shapely.MultiPolygon([box]), 4326),
        )  # fmt: skip
        s.add(county)
        await s.flush()
        user = User(county_id=county.id, username=f"b-{secrets.token_hex(4)}",
                    display_name="b", role="admin", password_hash="x", active=True)  # fmt: skip
        s.add(user)
        await s.commit()
        return Principal(user.id, county.id, Role.ADMIN, user.username)


async def _sites(factory: async_sessionmaker[AsyncSession], county_id: uuid.UUID) -> None:
    rng = np.random.default_rng(5)
    sites = []
    for i in range(SITES):
        x = X0 + rng.uniform(0.01, NX * STEP - 0.01)
        y = Y0 + rng.uniform(0.01, NY * STEP - 0.01)
        geom: Any = shapely.Point(x, y) if i % 5 == 0 else shapely.box(x, y, x + 0.001, y + 0.0008)
        sites.append({
            "code": f"KS-{i:04d}", "site_kind": "dredging_boat" if i % 5 == 0 else "mine",
            "name": f"矿点{i}", "mineral": "石料", "closed_on": None, "closure_method": "sealed",
            "status": "closed", "signboard": False, "signboard_text": "", "retired": False,
            "geometry": geom,
        })  # fmt: skip
    async with factory() as s:
        await write_sites(s, county_id, sites)
        await s.commit()


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    lon = X0 + rng.uniform(0.002, NX * STEP - 0.002, n)
    lat = Y0 + rng.uniform(0.002, NY * STEP - 0.002, n)
    acc = rng.uniform(3.0, 30.0, n)
    return np.column_stack([lon, lat, acc])


_RAW_SINGLE = """
SELECT id FROM geofence_parcels
 WHERE layer_version_id = $1
   AND ST_DWithin(geography(geom), geography(ST_SetSRID(ST_MakePoint($2, $3), 4326)), $4)
UNION ALL
SELECT id FROM geofence_mine_sites
 WHERE county_id = $5 AND NOT retired
   AND ST_DWithin(geography(geom), geography(ST_SetSRID(ST_MakePoint($2, $3), 4326)), $4)
"""
_RAW_BATCH = """
SELECT t.n, f.id FROM unnest($1::float8[], $2::float8[], $3::float8[]) WITH ORDINALITY
       AS t(lon, lat, acc, n)
 CROSS JOIN LATERAL (
       SELECT p.id FROM geofence_parcels p
        WHERE ST_DWithin(geography(p.geom),
                         geography(ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)), t.acc)
          AND p.layer_version_id = $4
       UNION ALL
       SELECT m.id FROM geofence_mine_sites m
        WHERE ST_DWithin(geography(m.geom),
                         geography(ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)), t.acc)
          AND m.county_id = $5 AND NOT m.retired) f
"""


async def _singles(
    factory: async_sessionmaker[AsyncSession], dsn: str, county_id: uuid.UUID, version: uuid.UUID
) -> tuple[float, float, float, float]:
    pts = _points(SINGLES, 11)
    conn = await asyncpg.connect(dsn)
    try:
        stmt = await conn.prepare(_RAW_SINGLE)
        raw: list[float] = []
        for rnd in range(2):
            for lon, lat, acc in pts.tolist():
                t = time.perf_counter()
                await stmt.fetch(version, lon, lat, acc, county_id)
                if rnd:
                    raw.append(time.perf_counter() - t)
    finally:
        await conn.close()
    api: list[float] = []
    async with factory() as s:
        for rnd in range(2):
            for lon, lat, acc in pts.tolist():
                t = time.perf_counter()
                await check_location(s, county_id, lon, lat, acc)
                if rnd:
                    api.append(time.perf_counter() - t)
    ms = 1000.0
    return (statistics.median(raw) * ms, statistics.fmean(raw) * ms,
            statistics.median(api) * ms, statistics.fmean(api) * ms)  # fmt: skip


async def _batch(
    factory: async_sessionmaker[AsyncSession], dsn: str, county_id: uuid.UUID, version: uuid.UUID
) -> tuple[float, float, float, int, float]:
    pts = _points(BATCH, 13)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET jit = off")
        pg_s = float("inf")
        for _ in range(PG_RUNS):
            t = time.perf_counter()
            rows = await conn.fetch(_RAW_BATCH, pts[:, 0].tolist(), pts[:, 1].tolist(),
                                    pts[:, 2].tolist(), version, county_id)  # fmt: skip
            pg_s = min(pg_s, time.perf_counter() - t)
        small = _points(HTTP_BATCH, 19)
        pg_small_s = float("inf")
        for _ in range(PG_RUNS):
            t = time.perf_counter()
            await conn.fetch(_RAW_BATCH, small[:, 0].tolist(), small[:, 1].tolist(),
                             small[:, 2].tolist(), version, county_id)  # fmt: skip
            pg_small_s = min(pg_small_s, time.perf_counter() - t)
    finally:
        await conn.close()
    expected = {(int(r[0]) - 1, r[1]) for r in rows}
    kinds = ["parcels", "mine_sites"]
    async with factory() as s:
        await check_locations(s, county_id, pts[:1000], kinds=kinds, max_points=BATCH)  # warm
        api_s = float("inf")
        for _ in range(API_RUNS):
            t = time.perf_counter()
            results = await check_locations(s, county_id, pts, kinds=kinds, max_points=BATCH)
            api_s = min(api_s, time.perf_counter() - t)
        t = time.perf_counter()
        every = list(results)  # every answer as Python objects
        build_s = time.perf_counter() - t
    points, ids = results.feature_pairs()
    got = set(zip(points.tolist(), ids, strict=True))
    assert got == {(i, f.feature_id) for i, r in enumerate(every) for f in r.features}
    if got != expected:
        missing, extra = len(expected - got), len(got - expected)
        raise SystemExit(f"batch answers differ from PostGIS: {missing} missing, {extra} extra")
    return pg_s, api_s, build_s, len(expected), pg_small_s


def serve(port: int) -> None:
    """Run the real app with uvicorn (in the benchmark's subprocess)."""
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    from infra.logging import configure_logging  # noqa: PLC0415
    from infra.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()
    configure_logging("warning")
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="on", timeout_keep_alive=60)  # fmt: skip


class _Phone:
    """One phone's keep-alive HTTP/1.1 connection, spoken directly (like ``wrk``): a general
    client such as httpx spends a few milliseconds of Python per request, on the same two
    cores as the server, and that would be counted as server latency."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            "POST /api/v1/geofence/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.server_ms: list[float] = []

    async def check(self, lon: float, lat: float, acc: float) -> None:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = json.dumps({"lon": lon, "lat": lat, "accuracyM": acc}).encode()
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        payload = await self.reader.readexactly(int(fields["content-length"]))
        if head[0].split()[1] != "200":
            raise SystemExit(f"HTTP check failed: {head[0]} {payload[:200]!r}")
        if "server-timing" in fields:  # the minimal app sends none
            self.server_ms.append(float(fields["server-timing"].partition(";dur=")[2]))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _client(
    phone: _Phone, pts: list[list[float]], pause_s: float, phase_s: float = 0.0
) -> list[float]:
    """One phone: a check every ``pause_s`` (0: back to back), starting ``phase_s`` late, so
    paced clients are spread over the period instead of all firing at the same instant."""
    out: list[float] = []
    loop = asyncio.get_running_loop()
    await asyncio.sleep(phase_s)
    next_at = loop.time()
    for lon, lat, acc in pts:
        t = time.perf_counter()
        await phone.check(lon, lat, acc)
        out.append(time.perf_counter() - t)
        if pause_s:
            next_at += pause_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
    return out


class _Fix(msgspec.Struct, rename="camel"):
    lon: float
    lat: float
    accuracy_m: float


class _Answer(msgspec.Struct, rename="camel"):
    lon: float
    lat: float
    features: list[str]


def serve_minimal(port: int) -> None:
    """The framework's ceiling: a Litestar + msgspec app that decodes the same body into a
    Struct and answers a Struct, no authentication, no database, served the same way."""
    import uvicorn  # noqa: PLC0415
    from litestar import Litestar, post  # noqa: PLC0415

    @post("/api/v1/geofence/check", status_code=200)
    async def check(data: _Fix) -> _Answer:
        return _Answer(lon=data.lon, lat=data.lat, features=[])

    uvicorn.run(Litestar([check]), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="on", timeout_keep_alive=60)  # fmt: skip


def _start_server(
    port: int, env: dict[str, str], log: Path, *, entry: str = "serve"
) -> subprocess.Popen[bytes]:
    code = f"from tests.benchmarks.bench_geofence import {entry}; {entry}({port})"
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _http(dsn: str, workdir: Path, principal: Principal) -> dict[str, float]:
    secret = secrets.token_urlsafe(48)
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": dsn, "PATROL_SECRET_KEY": secret,
        "S3_ENDPOINT_URL": "http://127.0.0.1:9", "PATROL_INPROCESS_WORKER": "0",
        "PATROL_DATA_DIR": str(workdir), "PATROL_LOG_LEVEL": "warning", "DATABASE_POOL_SIZE": "20",
    }  # fmt: skip
    log = workdir / "server.log"
    proc = _start_server(port, env, log)
    try:
        auth = AuthSettings(secret_key=secret)
        token = TokenMinter(build_jwt_auth(auth), auth).access_token(principal)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        batch_s, batch_server_ms, batch_bytes, batch_hits = await _http_batch(port, token)
        phones = [_Phone(port, token) for _ in range(50)]
        pts = _points(50 * 40, 17).tolist()
        await _client(phones[0], pts[:200], 0.0)  # warm-up: index load, a connection
        per = [pts[i::50] for i in range(50)]
        paced: dict[float, tuple[list[list[float]], float, list[float]]] = {}
        for pace in PACES_S:
            for phone in phones:
                phone.server_ms.clear()
            t = time.perf_counter()
            runs = await asyncio.gather(
                *(
                    _client(phone, p[:PACED_CHECKS], pace, phase_s=pace * i / len(per))
                    for i, (phone, p) in enumerate(zip(phones, per, strict=True))
                )
            )
            server = [ms for phone in phones for ms in phone.server_ms]
            paced[pace] = (runs, time.perf_counter() - t, server)
        t = time.perf_counter()
        busy = await asyncio.gather(
            *(_client(phone, p, 0.0) for phone, p in zip(phones, per, strict=True))
        )
        busy_s = time.perf_counter() - t
        for phone in phones:
            await phone.close()
    except (httpx.TransportError, OSError, asyncio.IncompleteReadError):
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ceiling_rps = await _ceiling(env, workdir, token, per)
    out: dict[str, float] = {"ceiling_rps": ceiling_rps}
    for pace, (runs, took, server) in paced.items():
        lat = np.array([x for c in runs for x in c]) * 1000
        out[f"{pace}_rps"] = len(lat) / took
        out[f"{pace}_p50"] = float(np.percentile(lat, 50))
        out[f"{pace}_p99"] = float(np.percentile(lat, 99))
        out[f"{pace}_server_p99"] = float(np.percentile(server, 99))
    lat_busy = np.array([x for c in busy for x in c]) * 1000
    return out | {
        "batch_s": batch_s,
        "batch_server_ms": batch_server_ms,
        "batch_bytes": batch_bytes,
        "batch_hits": batch_hits,
        "busy_rps": len(lat_busy) / busy_s,
        "busy_p50": float(np.percentile(lat_busy, 50)),
        "busy_p99": float(np.percentile(lat_busy, 99)),
    }


async def _http_batch(port: int, token: str) -> tuple[float, float, float, float]:
    """``CheckLocations`` with :data:`HTTP_BATCH` points: best client time of the runs, the
    server's time of that run, the answer's size and its hits (the answer is parsed, once)."""
    pts = _points(HTTP_BATCH, 19)
    body = json.dumps(
        {"points": [{"lon": x, "lat": y, "accuracyM": a} for x, y, a in pts.tolist()]}
    ).encode()
    head = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    best, server_ms, size, answer = float("inf"), 0.0, 0.0, b""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for _ in range(HTTP_BATCH_RUNS + 1):  # the first request loads nothing new: warm-up
            t = time.perf_counter()
            r = await http.post("/api/v1/geofence/check-batch", content=body, headers=head)
            took = time.perf_counter() - t
            if r.status_code != 200:
                raise SystemExit(f"CheckLocations failed: {r.status_code} {r.text[:300]}")
            if took < best:
                best, answer = took, r.content
                server_ms = float(r.headers["server-timing"].partition(";dur=")[2])
            size = float(len(r.content))
    results = json.loads(answer)["results"]
    if len(results) != HTTP_BATCH:
        raise SystemExit(f"CheckLocations answered {len(results)} of {HTTP_BATCH} points")
    return best, server_ms, size, float(sum(len(r["features"]) for r in results))


async def _ceiling(
    env: dict[str, str], workdir: Path, token: str, per: list[list[list[float]]]
) -> float:
    """Requests a second the minimal app answers to the same 50 clients back to back."""
    port = free_port()
    log = workdir / "minimal.log"
    proc = _start_server(port, env, log, entry="serve_minimal")
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        phones = [_Phone(port, token) for _ in range(50)]
        await _client(phones[0], per[0] * 5, 0.0)  # warm-up
        t = time.perf_counter()
        done = await asyncio.gather(
            *(_client(phone, p, 0.0) for phone, p in zip(phones, per, strict=True))
        )
        took = time.perf_counter() - t
        for phone in phones:
            await phone.close()
    except (OSError, asyncio.IncompleteReadError):
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return sum(len(d) for d in done) / took


def _step(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def _table(rows: list[tuple[str, str, str, str, str]]) -> None:
    print("| benchmark | baseline | result | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


async def main() -> None:
    with local_services("patrol-bench-geofence-", object_store=False) as found:
        workdir, url = found.workdir, found.database_url
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        engine = create_engine(DatabaseSettings(url=url, pool_size=5, statement_timeout_s=0.0))
        await Migrator(engine, MODEL_MODULES).upgrade()
        factory = create_session_factory(engine)
        principal = await _county(factory)
        _step("writing the parcel file")
        gpkg = _parcels_file(workdir / "parcels.gpkg")
        _step("importing")
        async with factory() as s:
            t = time.perf_counter()
            summary = await import_layer(s, principal.county_id, gpkg, "parcels")
            await s.commit()
            import_s = time.perf_counter() - t
        assert summary.stored == PARCELS, summary
        _step(f"imported in {import_s:.1f} s")
        await _sites(factory, principal.county_id)
        async with engine.begin() as conn:  # fresh statistics for the planner
            await conn.exec_driver_sql("ANALYZE")
        version = summary.layer_version_id
        async with factory() as s:
            t = time.perf_counter()
            await check_location(s, principal.county_id, X0 + 0.1, Y0 + 0.1, 10)
            load_s = time.perf_counter() - t
        _step("single checks")
        raw_med, raw_mean, api_med, api_mean = await _singles(
            factory, dsn, principal.county_id, version
        )
        _step(f"raw {raw_med:.3f}/{raw_mean:.3f} ms, API {api_med:.3f}/{api_mean:.3f} ms")
        _step("batch")
        pg_s, api_s, build_s, pairs, pg_small_s = await _batch(
            factory, dsn, principal.county_id, version
        )
        n = BATCH
        await engine.dispose()
        _step(f"batch: PostGIS {pg_s:.2f} s, API {api_s:.3f} s (+{build_s:.3f} s), {pairs} hits")
        _step("HTTP")
        web = await _http(url, workdir, principal)
        _table([
            (f"import {PARCELS:,} parcels (GeoPackage, CGCS2000)", "", f"{import_s:.1f} s",
             "", "< 60 s"),
            ("in-process index load (200k parcels + 500 sites)", "", f"{load_s:.2f} s", "", ""),
            ("single check, Python API vs raw asyncpg ST_DWithin (median)",
             f"{raw_med:.3f} ms", f"{api_med:.3f} ms", f"{api_med / raw_med:.2f}×", "≤ 2×"),
            ("single check, same (mean)", f"{raw_mean:.3f} ms", f"{api_mean:.3f} ms",
             f"{api_mean / raw_mean:.2f}×", ""),
            (f"batch of {n:,} points ({pairs:,} hits, identical answers), best run each",
             f"{n / pg_s:,.0f} pts/s", f"{n / api_s:,.0f} pts/s", f"{pg_s / api_s:.1f}×",
             "≥ 10×"),
            ("same, plus building every answer as Python objects", f"{n / pg_s:,.0f} pts/s",
             f"{n / (api_s + build_s):,.0f} pts/s", f"{pg_s / (api_s + build_s):.1f}×", ""),
            *(
                (f"HTTP single check, 50 clients, one check every {pace:g} s each "
                 f"({web[f'{pace}_rps']:,.0f} req/s), p50 / p99 (server's own p99)", "",
                 f"{web[f'{pace}_p50']:.1f} / {web[f'{pace}_p99']:.1f} ms "
                 f"({web[f'{pace}_server_p99']:.1f} ms)", "", "p99 ≤ 10 ms")
                for pace in PACES_S
            ),
            (f"`CheckLocations` end to end over HTTP, {HTTP_BATCH:,} points "
             f"({web['batch_hits']:,.0f} hits, {web['batch_bytes'] / 1e6:.1f} MB JSON; "
             f"server {web['batch_server_ms']:.0f} ms to its first part), "
             "vs one PostGIS batch query",
             f"{HTTP_BATCH / pg_small_s:,.0f} pts/s",
             f"{HTTP_BATCH / web['batch_s']:,.0f} pts/s",
             f"{pg_small_s / web['batch_s']:.1f}×", "≥ 5×"),
            (f"HTTP single check, 50 clients back to back ({web['busy_rps']:,.0f} req/s), "
             "p50 / p99", "", f"{web['busy_p50']:.1f} / {web['busy_p99']:.1f} ms", "", ""),
            ("HTTP throughput at saturation, one process: authenticated `CheckLocation` vs a "
             "minimal Litestar + msgspec app (same body, no auth, no database), 50 clients",
             f"{web['ceiling_rps']:,.0f} req/s", f"{web['busy_rps']:,.0f} req/s",
             f"{web['busy_rps'] / web['ceiling_rps']:.2f}×", "≥ 0.3×"),
        ])  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
