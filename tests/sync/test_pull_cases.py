"""Cases in the pull: the visibility rules of evidence.cases.cases, changes woken by the feed,
and cases that leave a phone's scope arriving as deletions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.cases import CaseInput, Party, change_status, open_case
from evidence.cases.referrals import flag_for_referral
from infra.scope import Role
from tests.sync.conftest import Phone, SyncWorld


async def test_cases_follow_who_may_see_them(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    county = world.county
    async with session_factory() as session:
        own = await open_case(
            session,
            county.principal(Role.INSPECTOR),
            CaseInput(
                cause="未经批准占用耕地建房", violation_kind="land_occupation", lon=112.05,
                lat=28.5, parties=[Party("张三", id_no="430000199001011234", phone="13800000000")],
            ),
        )  # fmt: skip
        other = await open_case(
            session,
            county.principal(Role.CAPTAIN),
            CaseInput(cause="无证采砂", violation_kind="illegal_mining", lon=112.06, lat=28.51),
        )
        await session.commit()
    inspector: Phone = phone(county.headers(Role.INSPECTOR))
    squad: Phone = phone(county.headers(Role.SECURITY_SQUAD), msgpack=True)
    captain: Phone = phone(county.headers(Role.CAPTAIN))
    for p in (inspector, squad, captain):
        await p.sync()
    assert inspector.ids("cases") == {str(own.id)}
    assert squad.ids("cases") == set()
    assert captain.ids("cases") == {str(own.id), str(other.id)}
    record = inspector.store["cases"][str(own.id)]
    assert record["parties"] == [{"name": "张三", "kind": "person"}]  # no ID or phone number
    assert (record["status"], record["flagged"], record["referralStatus"]) == ("clue", False, None)
    # flagged for referral: the squad's phone gets it, the captain's an update
    async with session_factory() as session:
        await flag_for_referral(
            session, county.principal(Role.CAPTAIN), reason="超过基本农田标准", case_id=other.id
        )
        await session.commit()
    before = captain.store["cases"][str(other.id)]["version"]
    await squad.sync()
    await captain.sync()
    assert squad.ids("cases") == {str(other.id)}
    assert squad.store["cases"][str(other.id)]["flagged"] is True
    assert captain.store["cases"][str(other.id)]["version"] != before
    assert inspector.ids("cases") == {str(own.id)}
    # withdrawn, the case stays on the phone for 90 days, then leaves it
    async with session_factory() as session:
        await change_status(
            session, county.principal(Role.CAPTAIN), own.id, "withdrawn", reason="查无实据"
        )
        await session.commit()
    await inspector.sync()
    assert inspector.store["cases"][str(own.id)]["status"] == "withdrawn"
    async with session_factory() as session:
        await session.execute(
            text("UPDATE cases SET status_changed_at = now() - interval '91 days' WHERE id = :c"),
            {"c": own.id},
        )
        await session.commit()
    page = await inspector.pull_page()
    assert page["changes"]["cases"]["deletes"] == [str(own.id)]
    assert inspector.ids("cases") == set()
    fresh: Phone = phone(county.headers(Role.SECURITY_SQUAD), msgpack=True)
    await fresh.sync()
    assert fresh.store == squad.store
