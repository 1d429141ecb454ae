"""A county's annual report over a year of demo-scale data ×12.

One county (a township, a contract area, its people) gets :func:`tests.reports.seed.seed` at
``SCALE`` times its size, spread over 2025 and 2026: about 2,900 counted patrols a year
(the demo county's four areas at about 5 a month each, twelve times), with their target
visits, findings, monthly plans, tip-offs, five-to-one checks, petitions, satellite results,
cases with their status history and referrals; then ``ANALYZE``. Measured against 2025:

* the background job of the annual tables (``reports:generate``: the figures of the year, the
  year before and per township, area and person, XLSX, PDF and CSV written to the real S3
  store; p50 of 3 runs, target ≤ 5 s);
* ``GetStatistics``'s domain function for the year, every section, the county's totals with
  the previous year (p50 of 10);
* one section at a time (the slowest section's p50 is the "any single figure" row, target
  ≤ 300 ms), and the year grouped by person.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_reports``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text

from api.models import MODEL_MODULES
from evidence.cases.report_models import Report
from evidence.cases.reports import generate_report
from evidence.cases.statistics import SECTIONS, StatisticsService
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.settings import DatabaseSettings
from patrol.periods import period_of
from tests.reports.seed import seed
from tests.worlds import build_world

SCALE = 45
JOB_TARGET_S = 5.0
FIGURE_TARGET_MS = 300.0
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
YEAR = period_of("year", date(2025, 6, 1))


def _ms(times: list[float]) -> float:
    return statistics.median(times)


async def _measure(found: Any) -> list[tuple[str, str, str]]:
    engine = create_engine(
        DatabaseSettings(url=found.database_url, statement_timeout_s=0.0, pool_size=4)
    )
    await Migrator(engine, MODEL_MODULES).upgrade()
    factory = create_session_factory(engine)
    store = S3ObjectStore(found.object_store)
    await store.ensure_bucket()
    started = time.perf_counter()
    w = await build_world(factory, None)  # type: ignore[arg-type]  # no tokens needed here
    async with factory() as s:
        await seed(s, w, scale=SCALE)
        await s.commit()
    async with factory() as s:
        for table in ("patrol_sessions", "patrol_findings", "tip_offs", "petitions", "cases",
                      "case_events", "referrals", "satellite_tasks", "satellite_results",
                      "patrol_duty_checks", "patrol_target_visits"):  # fmt: skip
            await s.execute(text(f"ANALYZE {table}"))
        await s.commit()
        counted = (
            await s.execute(
                text(
                    "SELECT count(*) FROM patrol_sessions WHERE county_id = :c"
                    " AND started_at >= :lo AND started_at < :hi AND duration_s >= 600"
                ),
                {
                    "c": w.county_id,
                    "lo": datetime(2024, 12, 31, 16, tzinfo=UTC),
                    "hi": datetime(2025, 12, 31, 16, tzinfo=UTC),
                },
            )
        ).scalar_one()
    rows = [(f"seeded (scale {SCALE}; counted patrols in 2025: {counted:,})",
             f"{time.perf_counter() - started:.1f} s", "")]  # fmt: skip

    # the background job of the annual tables
    async with factory() as s:
        report = Report(
            county_id=w.county_id, template="annual_tables", period_kind="year",
            period_key=YEAR.key, period_start=YEAR.start, period_end=YEAR.end,
        )  # fmt: skip
        s.add(report)
        await s.commit()
        report_id: uuid.UUID = report.id
    job: list[float] = []
    for _ in range(3):
        t0 = time.perf_counter()
        await generate_report(factory, store, report_id, clock=lambda: NOW)
        job.append(time.perf_counter() - t0)
    async with factory() as s:
        done = await s.get(Report, report_id)
        assert done is not None
        sizes = ", ".join(f"{k} {v['size'] / 1024:.0f} KB" for k, v in sorted(done.files.items()))
    p50 = statistics.median(job)
    ok = "ok" if p50 <= JOB_TARGET_S else "MISSED"
    rows.append(("annual tables job (figures, XLSX+PDF+CSV, S3)",
                 f"p50 {p50:.2f} s / max {max(job):.2f} s ({sizes})",
                 f"≤ {JOB_TARGET_S:.0f} s {ok}"))  # fmt: skip

    captain = w.captain

    async def timed(group_by: str, sections: tuple[str, ...], n: int) -> list[float]:
        out = []
        for _ in range(n + 1):
            async with factory() as s:
                service = StatisticsService(s, clock=lambda: NOW)
                t0 = time.perf_counter()
                await service.statistics(captain, YEAR, group_by=group_by, sections=sections)
                out.append((time.perf_counter() - t0) * 1000)
        return out[1:]  # the first warms the connection and the plans

    every = await timed("county", SECTIONS, 10)
    rows.append(("GetStatistics, a year, every section (value, previous, last year)",
                 f"p50 {_ms(every):.0f} ms / max {max(every):.0f} ms", ""))  # fmt: skip
    slowest, worst = "", 0.0
    for section in SECTIONS:
        p = _ms(await timed("county", (section,), 10))
        if p > worst:
            slowest, worst = section, p
    ok = "ok" if worst <= FIGURE_TARGET_MS else "MISSED"
    rows.append((f"one section, slowest ({slowest})", f"p50 {worst:.0f} ms",
                 f"≤ {FIGURE_TARGET_MS:.0f} ms {ok}"))  # fmt: skip
    person = await timed("person", SECTIONS, 5)
    rows.append(("GetStatistics, a year, grouped by person",
                 f"p50 {_ms(person):.0f} ms / max {max(person):.0f} ms", ""))  # fmt: skip
    await engine.dispose()
    return rows


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


async def main() -> None:
    with local_services("patrol-bench-reports-") as found:
        rows = await _measure(found)
    _print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
