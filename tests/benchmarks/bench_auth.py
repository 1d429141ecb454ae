"""Login floods, measured over HTTP against ``patrol serve`` running as an operator runs it (its
own durable PostGIS cluster and ``rclone serve s3``):

* others' ``CheckLocation`` p50 (two phones, each sending one check every 20 ms on its own
  keep-alive connection) while 20 bad logins a second arrive, each a new name from a new
  address (``X-Forwarded-For`` from 127.0.0.1, which uvicorn believes by default), so every
  one costs a full argon2 check: as a ratio to the quiet p50 (target <= 2x);
* what the flood's logins got (401 checked, 503 ``login_busy`` refused at once), and what a
  rightful user's login, once a second from its own address, got and how long it took.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_auth``).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections import Counter

import httpx

from infra.scope import Role
from tests.conftest import TEST_PASSWORD
from tests.reliability.conftest import served_county

LON, LAT = 112.1, 28.5
PHONES = 2
PHASE_S = 15.0
FLOOD_PER_S = 20


def _address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


async def _phone(base: str, headers: dict[str, str], until: float) -> list[float]:
    times: list[float] = []
    body = {"lon": LON + 0.01, "lat": LAT + 0.01, "accuracyM": 8.0}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            resp = await http.post("/api/v1/geofence/check", json=body, headers=headers)
            times.append(time.perf_counter() - started)
            assert resp.status_code == 200, resp.text
            await asyncio.sleep(0.02)
    return times


async def _phones(base: str, headers: dict[str, str]) -> list[float]:
    until = time.monotonic() + PHASE_S
    runs = await asyncio.gather(*(_phone(base, headers, until) for _ in range(PHONES)))
    return [t for run in runs for t in run]


async def _flood(base: str, stop: asyncio.Event) -> Counter[int]:
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def bad_login() -> None:
            resp = await http.post(
                "/api/v1/auth/token",
                json={"username": f"flood-{secrets.token_hex(6)}", "password": "wrong-password"},
                headers={"X-Forwarded-For": _address()},
            )
            statuses[resp.status_code] += 1

        tasks = []
        next_at = time.monotonic()
        while not stop.is_set():
            tasks.append(asyncio.create_task(bad_login()))
            next_at += 1 / FLOOD_PER_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*tasks)
    return statuses


async def _rightful(base: str, username: str, stop: asyncio.Event) -> list[tuple[int, float]]:
    got: list[tuple[int, float]] = []
    address = _address()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            resp = await http.post(
                "/api/v1/auth/token",
                json={"username": username, "password": TEST_PASSWORD},
                headers={"X-Forwarded-For": address},
            )
            got.append((resp.status_code, time.perf_counter() - started))
            await asyncio.sleep(1.0)
    return got


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main() -> None:
    async with served_county("patrol-bench-auth-") as (api, county):
        headers = county.headers(Role.INSPECTOR)
        await _phones(api.base, headers)  # warm up (first statements, connections)
        quiet = await _phones(api.base, headers)
        stop = asyncio.Event()
        flood = asyncio.create_task(_flood(api.base, stop))
        rightful = asyncio.create_task(
            _rightful(api.base, county.users[Role.CAPTAIN].username, stop)
        )
        await asyncio.sleep(2.0)  # let the flood fill the password queue
        loaded = await _phones(api.base, headers)
        stop.set()
        statuses, logins = await flood, await rightful

    q50, l50 = statistics.median(quiet), statistics.median(loaded)
    q95 = statistics.quantiles(quiet, n=20)[-1]
    l95 = statistics.quantiles(loaded, n=20)[-1]
    ok = [t for s, t in logins if s == 200]
    print("| measure | quiet | during 20 bad logins/s | ratio |")
    print("|---|---|---|---|")
    print(f"| others' CheckLocation p50 | {_ms(q50)} | {_ms(l50)} | {l50 / q50:.2f}x |")
    print(f"| others' CheckLocation p95 | {_ms(q95)} | {_ms(l95)} | {l95 / q95:.2f}x |")
    print(f"\nCheckLocation requests: {len(quiet)} quiet, {len(loaded)} during the flood")
    print(f"flood logins answered: {dict(sorted(statuses.items()))} (401 checked, 503 busy)")
    print(
        f"rightful user's logins during the flood: {Counter(s for s, _ in logins)}; "
        f"200s took median {_ms(statistics.median(ok)) if ok else '-'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
