"""The statistics service against the seeded records, one period of every kind.

Each figure the service answers for a period, the previous period and the same period last
year is compared with a count made here in SQL over the tables (``_expected``), with the
fixed clock of :mod:`tests.clock`. The groupings, the links and the API answer are checked
on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.statistics import StatisticsService
from infra.scope import COUNTY_TZ, Role
from patrol.periods import Period, parse_period, period_of
from tests import clock
from tests.reports.seed import seed
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]

PERIODS = [
    period_of("week", date(2026, 3, 11)),
    period_of("month", date(2025, 9, 15)),
    period_of("quarter", date(2026, 5, 20)),
    period_of("half", date(2025, 8, 1)),
    period_of("year", date(2026, 1, 10)),
    parse_period(None, None, date(2025, 11, 3), date(2026, 2, 17)),
]


@pytest.fixture(scope="module")
async def world(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[World]:
    w = await build_world(session_factory, app.state.tokens)
    async with session_factory() as session:
        await seed(session, w)
        await session.commit()
    yield w


async def _one(db: AsyncSession, sql: str, **params: Any) -> list[Any]:
    return list((await db.execute(text(sql), params)).one())


async def _by(db: AsyncSession, prefix: str, sql: str, **params: Any) -> dict[str, float]:
    rows = await db.execute(text(sql), params)
    return {f"{prefix}.{k}": float(n) for k, n in rows if k is not None}


async def _expected(db: AsyncSession, county: uuid.UUID, p: Period) -> dict[str, float]:
    """Every figure of the period, counted here."""
    lo, hi = p.bounds(COUNTY_TZ)
    c: dict[str, Any] = {"c": county, "lo": lo, "hi": hi, "s": p.start, "e": p.end}
    out: dict[str, float] = {}
    n, night, km, h = await _one(
        db,
        "SELECT count(*), count(*) FILTER (WHERE is_night), coalesce(sum(distance_m), 0),"
        " coalesce(sum(duration_s), 0) FROM patrol_sessions WHERE county_id = :c"
        " AND started_at >= :lo AND started_at < :hi AND duration_s >= 600",
        **c,
    )
    out |= {"patrols.count": n, "patrols.night": night, "patrols.distance_km": km / 1000,
            "patrols.hours": h / 3600}  # fmt: skip
    (out["patrols.targets_visited"],) = await _one(
        db,
        "SELECT count(DISTINCT v.target_id) FROM patrol_target_visits v, patrol_sessions s"
        " WHERE v.session_id = s.id AND s.county_id = :c AND s.started_at >= :lo"
        " AND s.started_at < :hi AND s.duration_s >= 600",
        **c,
    )
    (quota,) = await _one(
        db, "SELECT sum(quota) FROM patrol_plans WHERE county_id = :c AND month >= :s"
        " AND month <= :e", **c,
    )  # fmt: skip
    out["patrols.quota"] = quota or 0
    finding = "FROM patrol_findings WHERE county_id = :c AND found_at >= :lo AND found_at < :hi"
    n, m2 = await _one(db, f"SELECT count(*), coalesce(sum(occupied_area_m2), 0) {finding}", **c)
    out |= {"findings.count": n, "findings.area_mu": m2 / 666.67}
    build = f"SELECT construction_status, count(*) {finding} GROUP BY 1"
    out |= await _by(db, "findings.construction", build, **c)
    land = f"SELECT coalesce(land_class, 'none'), count(*) {finding} GROUP BY 1"
    out |= await _by(db, "findings.land_class", land, **c)
    (out["stops.count"],) = await _one(
        db, "SELECT count(*) FROM tip_offs WHERE county_id = :c AND handling = 'stop_order'"
        " AND handled_at >= :lo AND handled_at < :hi", **c,
    )  # fmt: skip
    n, night, rebound = await _one(
        db, "SELECT count(*), count(*) FILTER (WHERE is_night),"
        " count(*) FILTER (WHERE status <> 'still_closed') FROM patrol_duty_checks"
        " WHERE county_id = :c AND checked_at >= :lo AND checked_at < :hi", **c,
    )  # fmt: skip
    out |= {"duty.checks": n, "duty.night_checks": night, "duty.rebounds": rebound}
    clue = ("FROM tip_offs WHERE county_id = :c AND duplicate_of IS NULL"
            " AND received_at >= :lo AND received_at < :hi")  # fmt: skip
    (out["tip_offs.count"],) = await _one(db, f"SELECT count(*) {clue}", **c)
    for part, col in (("channel", "channel"), ("type", "clue_type"), ("status", "status")):
        out |= await _by(db, f"tip_offs.{part}", f"SELECT {col}, count(*) {clue} GROUP BY 1", **c)
    pet = "FROM petitions WHERE county_id = :c AND received_on >= :s AND received_on <= :e"
    n, group = await _one(db, f"SELECT count(*), count(*) FILTER (WHERE group_petition) {pet}", **c)
    out |= {"petitions.count": n, "petitions.group": group}
    for part in ("form", "category", "status"):
        out |= await _by(db, f"petitions.{part}", f"SELECT {part}, count(*) {pet} GROUP BY 1", **c)
    sat = ("FROM satellite_tasks k, satellite_results r WHERE r.id = k.result_id"
           " AND k.county_id = :c AND k.status <> 'sent_back'"
           " AND r.verified_at >= :lo AND r.verified_at < :hi")  # fmt: skip
    n, illegal = await _one(
        db, f"SELECT count(*), coalesce(sum(r.overlay_area_m2) FILTER"
        f" (WHERE r.outcome = 'illegal'), 0) {sat}", **c,
    )  # fmt: skip
    out |= {"satellite.verified": n, "satellite.illegal_mu": illegal / 666.67}
    out |= await _by(db, "satellite.outcome", f"SELECT r.outcome, count(*) {sat} GROUP BY 1", **c)
    n, m2 = await _one(
        db, "SELECT count(*), coalesce(sum(area_total_m2), 0) FROM cases WHERE county_id = :c"
        " AND created_at >= :lo AND created_at < :hi", **c,
    )  # fmt: skip
    out |= {"cases.opened": n, "cases.area_mu": m2 / 666.67}
    for to in ("filed", "closed"):
        (out[f"cases.{to}"],) = await _one(
            db, "SELECT count(DISTINCT case_id) FROM case_events WHERE county_id = :c"
            " AND kind = 'status' AND details->>'to' = :to AND at >= :lo AND at < :hi",
            to=to, **c,
        )  # fmt: skip
    out |= await _by(
        db, "cases.stage",
        "SELECT coalesce(last.to, 'clue'), count(*) FROM cases k LEFT JOIN LATERAL"
        " (SELECT details->>'to' AS to FROM case_events e WHERE e.case_id = k.id"
        "  AND e.kind = 'status' AND e.at < :hi ORDER BY e.at DESC LIMIT 1) last ON true"
        " WHERE k.county_id = :c AND k.created_at < :hi GROUP BY 1", **c,
    )  # fmt: skip
    n, decided = await _one(
        db, "SELECT count(*), coalesce(sum(p.fine_total_yuan), 0) FROM case_steps s"
        " LEFT JOIN case_penalties p ON p.case_id = s.case_id WHERE s.county_id = :c"
        " AND s.kind = 'decision' AND s.details->>'option' = 'penalty'"
        " AND s.at >= :lo AND s.at < :hi", **c,
    )  # fmt: skip
    paid, demolished, restored = await _one(
        db, "SELECT coalesce(sum((details->>'paid_yuan')::numeric), 0),"
        " coalesce(sum((details->>'demolished_m2')::float), 0),"
        " coalesce(sum((details->>'farmland_restored_m2')::float), 0) FROM case_steps"
        " WHERE county_id = :c AND kind = 'execution' AND at >= :lo AND at < :hi", **c,
    )  # fmt: skip
    out |= {"cases.penalties": n, "cases.fines_decided_yuan": decided,
            "cases.fines_collected_yuan": paid, "cases.demolished_mu": demolished / 666.67,
            "cases.farmland_restored_mu": restored / 666.67}  # fmt: skip
    inside = "{0} >= :lo AND {0} < :hi"
    for key, cond in (
        ("made", inside.format("reported_at")),
        ("transferred", inside.format("transferred_at")),
        ("transferred_on_time",
         inside.format("transferred_at") + " AND transferred_at <= transfer_due_at"),
        ("accepted", inside.format("police_decided_at") + " AND police_decision = 'filed'"),
    ):  # fmt: skip
        (out[f"referrals.{key}"],) = await _one(
            db, f"SELECT count(*) FROM referrals WHERE county_id = :c AND {cond}", **c
        )
    return {k: float(v) for k, v in out.items()}


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: p.kind)
async def test_each_figure_is_the_count_of_its_records(
    world: World, session_factory: async_sessionmaker[AsyncSession], period: Period
) -> None:
    async with session_factory() as db:
        service = StatisticsService(db, clock=lambda: clock.NOW)
        view = await service.statistics(world.captain, period)
        got = {f.key: f for f in view.figures}
        for which, p in (
            ("value", period), ("previous", period.previous()), ("last_year", period.last_year())
        ):  # fmt: skip
            want = await _expected(db, world.county_id, p)
            for key, value in want.items():
                assert getattr(got[key], which) == pytest.approx(value, abs=0.011), (which, key)
            # a breakdown code counted nowhere is zero in the answer
            for key, f in got.items():
                if key not in want and key.count(".") > 1:
                    assert getattr(f, which) == 0, (which, key)
        # every clue and petition is on time or late
        assert (
            got["tip_offs.on_time"].value + got["tip_offs.late"].value
            == got["tip_offs.count"].value
        )
        assert (
            got["petitions.on_time"].value + got["petitions.late"].value
            == got["petitions.count"].value
        )
        # no five-to-one roster in this county: nobody is due, all are compliant
        assert got["duty.compliance_pct"].value == 100.0
        # every figure has its records
        assert view.missing == ()
    assert view.previous.date_to < view.period.date_from


async def test_the_seed_reaches_every_section(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The year compared above is not a year of zeros."""
    async with session_factory() as db:
        view = await StatisticsService(db, clock=lambda: clock.NOW).statistics(
            world.captain, period_of("year", date(2026, 1, 10))
        )
    got = {f.key: f.value for f in view.figures}
    for key in ("patrols.count", "patrols.quota", "patrols.targets_visited", "findings.count",
                "stops.count", "duty.rebounds", "tip_offs.count", "petitions.count",
                "satellite.verified", "satellite.illegal_mu", "cases.opened", "cases.filed",
                "cases.closed", "cases.penalties", "cases.fines_decided_yuan",
                "cases.fines_collected_yuan", "cases.demolished_mu", "cases.farmland_restored_mu",
                "referrals.transferred", "referrals.accepted"):  # fmt: skip
        assert got[key], key
    assert view.last_year.key == "2025"
    assert view.previous.key == "2025"


async def test_groups_add_up_to_the_county(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    period = period_of("year", date(2025, 6, 1))
    async with session_factory() as db:
        service = StatisticsService(db, clock=lambda: clock.NOW)
        total = {f.key: f.value for f in (await service.statistics(world.captain, period)).figures}
        for group_by in ("township", "area", "person"):
            view = await service.statistics(world.captain, period, group_by=group_by)
            sums: dict[str, float] = {}
            for g in view.groups:
                for f in g.figures:
                    sums[f.key] = sums.get(f.key, 0.0) + (f.value or 0.0)
            assert sums["findings.count"] == total["findings.count"], group_by
            assert sums["satellite.verified"] == total["satellite.verified"], group_by
            assert sums["cases.opened"] == total["cases.opened"], group_by
            assert "duty.compliance_pct" not in sums
        area = await service.statistics(world.captain, period, group_by="area")
    (a1,) = [g for g in area.groups if g.key == str(world.area.id)]
    assert a1.name == "A1 west area"
    figs = {f.key: f for f in a1.figures}
    assert figs["patrols.count"].value == total["patrols.count"]
    assert f"area_id={world.area.id}" in figs["patrols.count"].link
    assert "petitions.count" not in figs  # petitions are not kept by contract area


async def test_the_api_answers_figures_with_links_to_their_lists(
    world: World, app: Litestar, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    app.state.clock = lambda: clock.NOW
    try:
        resp = await client.get(
            "/api/v1/statistics",
            params={"period": "quarter", "date": "2026-05-20", "groupBy": "township",
                    "section": ["tip_offs", "cases"]},
            headers=world.county.headers(Role.CAPTAIN),
        )  # fmt: skip
    finally:
        del app.state.clock
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["period"] == {"kind": "quarter", "key": "2026-Q2", "label": "2026年第二季度",
                              "dateFrom": "2026-04-01", "dateTo": "2026-06-30"}  # fmt: skip
    assert body["lastYear"]["key"] == "2025-Q2"
    assert body["previous"]["key"] == "2026-Q1"
    assert {f["section"] for f in body["figures"]} == {"tip_offs", "cases"}
    figs = {f["key"]: f for f in body["figures"]}
    async with session_factory() as db:
        want = await _expected(db, world.county_id, period_of("quarter", date(2026, 5, 20)))
    assert figs["tip_offs.count"]["value"] == want["tip_offs.count"]
    assert figs["cases.opened"]["lastYear"] is not None
    assert {g["name"] for g in body["groups"]} >= {"west town"}
    # the list behind a figure answers, and holds as many clues as the figure counts
    link = figs["tip_offs.channel.letter"]["link"]
    assert link.startswith("/api/v1/tip-offs?") and "channel=letter" in link
    listed = await client.get(link + "&limit=500", headers=world.county.headers(Role.CAPTAIN))
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == figs["tip_offs.channel.letter"]["value"]
    cases = await client.get(figs["cases.stage.closed"]["link"],
                             headers=world.county.headers(Role.CAPTAIN))  # fmt: skip
    assert cases.status_code == 200, cases.text


async def test_a_period_needs_a_date_or_a_range(world: World, client: Client) -> None:
    headers = world.county.headers(Role.CAPTAIN)
    for params in ({"period": "month"}, {"from": "2026-02-01", "to": "2026-01-01"}, {}):
        resp = await client.get("/api/v1/statistics", params=params, headers=headers)
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] == "invalid_figures_period"
    resp = await client.get(
        "/api/v1/statistics", params={"period": "month", "date": "2026-10-01"},
        headers=world.county.headers(Role.SECURITY_SQUAD),
    )  # fmt: skip
    assert resp.status_code == 403
    assert resp.json()["code"] == "role_not_allowed"


def test_periods_know_their_neighbours() -> None:
    week = period_of("week", date(2026, 12, 31))  # ISO week 53 of 2026
    assert (week.key, week.start, week.end) == ("2026-W53", date(2026, 12, 28), date(2027, 1, 3))
    assert week.last_year().key == "2025-W52"
    assert week.previous().key == "2026-W52"
    half = period_of("half", date(2026, 8, 1))
    assert (half.start, half.end, half.label) == (
        date(2026, 7, 1),
        date(2026, 12, 31),
        "2026年下半年",
    )
    assert half.previous().key == "2026-H1"
    q = period_of("quarter", date(2026, 1, 5))
    assert q.previous().key == "2025-Q4" and q.last_year().key == "2025-Q1"
    rng = parse_period(None, None, date(2024, 2, 29), date(2024, 3, 9))
    assert rng.previous() == Period("range", date(2024, 2, 19), date(2024, 2, 28))
    assert rng.last_year() == Period("range", date(2023, 2, 28), date(2023, 3, 9))
    m = period_of("month", date(2026, 12, 15))
    assert m.end == date(2026, 12, 31) and m.previous().key == "2026-11"
    with pytest.raises(ValueError, match="give period"):
        parse_period("month", None)
