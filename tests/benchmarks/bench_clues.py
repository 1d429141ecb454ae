"""The clue desk's list at 100,000 tip-offs in one county, over HTTP (in-process client).

One county gets 100,000 clues over a year (9 channels, 10 clue types, 8 states, 10
townships; written by one ``INSERT ... SELECT``, then ``ANALYZE``), and ``ListTipOffs`` is
asked, page by page (50 a page), with the desk's filters:

* narrow: status + channel + township + a month received (a page or two);
* broad: status + a quarter received (the first 10 pages);
* overdue: ``overdue=true`` + channel (the first 10 pages);
* unfiltered: the newest first (the first 10 pages).

Times are server time, from the ``Server-Timing`` header of each answer. Target: every page
≤ 100 ms. Run with ``make bench`` (or ``python -m tests.benchmarks bench_clues``).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text

from api.app import create_app
from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Role
from infra.settings import AuthSettings, DatabaseSettings, Settings
from tests.conftest import create_county

CLUES = 100_000
TOWNSHIPS = 10
PAGE = 50
PAGES = 10
TARGET_MS = 100.0
END = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)

_CHANNELS = (
    "phone_12336", "letter", "email", "leadership", "lower_level", "media", "transfer_12345",
    "wechat", "other",
)  # fmt: skip
_TYPES = (
    "land_illegal_approval", "land_illegal_occupation", "land_illegal_transfer",
    "land_farmland_destruction", "land_other", "mineral_illegal_exploration",
    "mineral_illegal_mining", "mineral_illegal_right_approval",
    "mineral_illegal_right_transfer", "mineral_other",
)  # fmt: skip
_STATES = (
    "received", "accepted", "refused", "transferred", "verifying", "verified", "handled",
    "closed",
)  # fmt: skip


def _settings(found: Any) -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=found.workdir,
        database=DatabaseSettings(url=found.database_url, pool_size=5),
        object_store=found.object_store,
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
        server=replace(base.server, run_worker_in_process=False),
    )


async def _fill(factory: Any, county_id: Any, registrar: Any) -> list[str]:
    """The townships and the clues; returns the township ids."""
    async with factory() as s:
        towns = []
        for n in range(TOWNSHIPS):
            x = 112.0 + 0.02 * n
            row = await s.execute(
                text(
                    "INSERT INTO townships (id, county_id, code, name, kind, geom) VALUES "
                    "(gen_random_uuid(), :c, :code, :name, 'town', ST_Multi(ST_MakeEnvelope("
                    ":x, 28.4, :x2, 28.6, 4326))) RETURNING id"
                ),
                {"c": county_id, "code": f"B{n:03d}", "name": f"镇{n}", "x": x, "x2": x + 0.02},
            )
            towns.append(str(row.scalar_one()))
        await s.execute(
            text(
                """
INSERT INTO tip_offs (
  id, county_id, receipt_no, channel, received_at, location_text, crs, location,
  township_id, reported_party, party_key, facts, clue_type, anonymous, status,
  registered_by, decide_due_at, verify_due_at, verify_due_on, feedback_due_at,
  decision, decision_note, decided_at, verification_note, finding_ids,
  verification_evidence_ids, handling_note, feedback_content, created_at, updated_at)
SELECT gen_random_uuid(), :county, '12336-B-' || g, (CAST(:channels AS text[]))[1 + g % 9],
  r.at, '某地', 'wgs84', ST_SetSRID(ST_MakePoint(112.0 + (g % 1000) * 0.0002,
  28.4 + (g / 1000) * 0.002), 4326),
  (CAST(:towns AS text[]))[1 + (g / 7) % 10]::uuid, '当事人' || (g % 5000), 'party' || (g % 5000),
  '群众反映有人违法占地', (CAST(:types AS text[]))[1 + (g / 3) % 10], g % 4 = 0,
  (CAST(:states AS text[]))[1 + (g / 11) % 8],
  :registrar, r.at + interval '1 day', r.at + interval '14 days',
  (r.at + interval '14 days')::date, r.at + interval '21 days',
  CASE WHEN (g / 11) % 8 > 0 THEN 'accept' END, '',
  CASE WHEN (g / 11) % 8 > 0 THEN r.at + interval '3 hours' END, '', '{}', '{}', '', '',
  r.at, r.at
FROM generate_series(1, :n) g,
  LATERAL (SELECT CAST(:end AS timestamptz) - (g * interval '1 second' * 315)) r(at)
"""
            ),
            {
                "county": county_id,
                "channels": list(_CHANNELS),
                "towns": towns,
                "types": list(_TYPES),
                "states": list(_STATES),
                "registrar": registrar,
                "n": CLUES,
                "end": END,
            },
        )
        await s.commit()
        await s.execute(text("ANALYZE tip_offs"))
        await s.commit()
    return towns


async def _pages(
    client: Any, headers: dict[str, str], params: dict[str, Any], pages: int
) -> tuple[list[float], int]:
    """Server times of up to ``pages`` pages, and how many clues they held."""
    times, seen = [], 0
    for page in range(pages):
        resp = await client.get(
            "/api/v1/tip-offs",
            params={**params, "limit": PAGE, "offset": page * PAGE},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text
        times.append(float(resp.headers["server-timing"].partition(";dur=")[2]))
        rows = resp.json()
        seen += len(rows)
        if len(rows) < PAGE:
            break
    return times, seen


async def _measure(found: Any) -> list[tuple[str, str, str]]:
    settings = _settings(found)
    engine = create_engine(
        DatabaseSettings(url=found.database_url, statement_timeout_s=0.0, pool_size=4)
    )
    await Migrator(engine, MODEL_MODULES).upgrade()
    factory = create_session_factory(engine)
    app = create_app(settings)
    county = await create_county(factory, app.state.tokens)
    started = time.perf_counter()
    towns = await _fill(factory, county.id, county.users[Role.CLUE_DESK].id)
    fill_s = time.perf_counter() - started
    month = (END - timedelta(days=120), END - timedelta(days=90))
    quarter = (END - timedelta(days=200), END - timedelta(days=110))
    shapes = {
        "narrow: status+channel+township+month": {
            "status": "accepted", "channel": "letter", "township_id": towns[3],
            "received_from": month[0].isoformat(), "received_to": month[1].isoformat(),
        },
        "broad: status+quarter": {
            "status": "handled",
            "received_from": quarter[0].isoformat(), "received_to": quarter[1].isoformat(),
        },
        "overdue=true+channel": {"overdue": "true", "channel": "wechat"},
        "unfiltered, newest first": {},
    }  # fmt: skip
    rows = [("clues in the county (written in)", f"{CLUES:,} ({fill_s:.1f} s)", "")]
    async with AsyncTestClient(app=app) as client:
        headers = county.headers(Role.CLUE_DESK)
        await _pages(client, headers, {}, 1)  # warm the app and the pool
        for name, params in shapes.items():
            every: list[float] = []
            seen = 0
            for _ in range(5):
                times, seen = await _pages(client, headers, params, PAGES)
                every += times
            worst = max(every)
            verdict = f"≤ {TARGET_MS:.0f} ms " + ("ok" if worst <= TARGET_MS else "MISSED")
            value = (
                f"p50 {statistics.median(every):.1f} / max {worst:.1f} ms "
                f"({len(every) // 5} pages, {seen} clues)"
            )
            rows.append((f"ListTipOffs {name}", value, verdict))
    await engine.dispose()
    return rows


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


async def main() -> None:
    with local_services("patrol-bench-clues-") as found:
        rows = await _measure(found)
    print("Times are server time (the Server-Timing header), 5 runs of each page walk.\n")
    _print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
