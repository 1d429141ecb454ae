"""Need-to-know for cases, answer by answer (:mod:`evidence.cases.access`): which cases each
role reads and may attach evidence to, whose evidence of cases and tip-offs each role reads,
and which findings the security squad sees (flagging them, and the squad's branch of the
finding rule as rendered for REST and sync).

One county, one world per test; cases are opened and flagged through the services, findings
and their screening suggestions are rows written directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence import EvidenceService, NoLayersChecker
from evidence.access import reference_allowed
from evidence.cases.access import _squad_finding_sql
from evidence.cases.cases import (
    CaseChanges,
    CaseInput,
    TeamMember,
    link_evidence,
    list_cases,
    open_case,
    set_case_team,
    update_case,
)
from evidence.cases.errors import CaseNotFoundError
from evidence.cases.models import ReferralRule, ReferralSuggestion
from evidence.cases.referrals import create_referral, flag_for_referral
from evidence.cases.tip_offs import TipOffInput, TipOffService
from evidence.custody import CustodyLog
from infra.objectstore import S3ObjectStore
from infra.scope import Principal, Role
from infra.settings import Settings, TipOffSettings
from tests import clock
from tests.cases.conftest import LAT, LON, add_evidence, make_finding
from tests.evidence import media
from tests.worlds import World


@dataclass
class Cases:
    own: uuid.UUID  # opened by the inspector
    team: uuid.UUID  # opened by the captain; the second inspector and the joint team on its team
    flagged: uuid.UUID  # flagged itself; from finding F6
    by_finding: uuid.UUID  # from finding F1, which is flagged
    unflagged_finding: uuid.UUID  # from finding F2, not flagged
    suggested: uuid.UUID  # ore value over the threshold: a current suggestion; from finding F5
    superseded: uuid.UUID  # ore value over, then lowered: its suggestion superseded
    referred: uuid.UUID  # flagged and referred
    plain: uuid.UUID  # opened by the captain, nothing else
    # of kind "other" (which takes any source id as it comes) naming a finding's id: naming it
    # makes neither the case flagged by the finding's flag nor the finding seen with the case
    other_naming_f1: uuid.UUID  # names flagged F1; not flagged itself
    other_naming_f7: uuid.UUID  # names F7; flagged itself


async def _case(
    db: AsyncSession,
    who: Principal,
    *,
    finding: uuid.UUID | None = None,
    ore: str | None = None,
    kind: str = "finding",
) -> uuid.UUID:
    data = CaseInput(
        cause="非法采矿",
        violation_kind="illegal_mining",
        lon=LON,
        lat=LAT,
        source_kind=kind if finding else "other",
        source_id=finding,
        ore_value_yuan=None if ore is None else Decimal(ore),
    )
    return (await open_case(db, who, data)).id


async def _cases(db: AsyncSession, world: World) -> tuple[Cases, dict[str, uuid.UUID]]:
    """The cases, and the findings by name (F1..F8)."""
    f = {f"F{n}": await make_finding(db, world) for n in range(1, 9)}
    captain = world.captain
    await flag_for_referral(db, captain, finding_id=f["F1"], reason="疑似非法采矿")
    await flag_for_referral(db, captain, finding_id=f["F8"], reason="疑似非法采矿")
    cases = Cases(
        own=await _case(db, world.inspector),
        team=await _case(db, captain),
        flagged=await _case(db, captain, finding=f["F6"]),
        by_finding=await _case(db, captain, finding=f["F1"]),
        unflagged_finding=await _case(db, captain, finding=f["F2"]),
        suggested=await _case(db, captain, finding=f["F5"], ore="180000"),
        superseded=await _case(db, captain, ore="180000"),
        referred=await _case(db, captain),
        plain=await _case(db, captain),
        other_naming_f1=await _case(db, captain, finding=f["F1"], kind="other"),
        other_naming_f7=await _case(db, captain, finding=f["F7"], kind="other"),
    )
    await update_case(db, captain, cases.superseded, CaseChanges(ore_value_yuan=Decimal(1000)))
    team = [
        TeamMember(world.inspector2.user_id, "member"),
        TeamMember(world.joint_team.user_id, "joint"),
    ]
    await set_case_team(db, captain, cases.team, team)
    for case_id in (cases.flagged, cases.referred, cases.other_naming_f7):
        await flag_for_referral(db, captain, case_id=case_id, reason="占用基本农田超过5亩")
    await create_referral(db, world.squad, cases.referred, team_ids=world.team, report="报告")
    # F3 carries a current screening suggestion, F4 one that was superseded
    rule = await db.scalar(select(ReferralRule).where(ReferralRule.province_code == "00"))
    assert rule is not None
    for name, superseded in (("F3", None), ("F4", clock.now())):
        db.add(
            ReferralSuggestion(
                county_id=world.county_id,
                finding_id=f[name],
                rule_id=rule.id,
                rule_code=rule.code,
                crime=rule.crime,
                level=rule.level,
                metric=rule.metric,
                value=rule.threshold,
                threshold=rule.threshold,
                unit=rule.unit,
                citation="x",
                message="x",
                superseded_at=superseded,
            )
        )
    await db.commit()
    return cases, f


def _people(world: World) -> dict[str, Principal]:
    c = world.county
    return {
        "captain": world.captain,
        "admin": world.admin,
        "inspector": world.inspector,
        "inspector2": world.inspector2,
        "joint_team": world.joint_team,
        "squad": world.squad,
        "clue_desk": c.principal(Role.CLUE_DESK),
        "procuratorate": c.principal(Role.PROCURATORATE),
    }


async def test_each_role_reads_and_adds_evidence_to_the_cases_it_works_on(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    cases, f = await _cases(db, world)
    every = set(vars(cases).values())
    people = _people(world)
    seen = {name: {c.id for c in await list_cases(db, who)} for name, who in people.items()}
    assert seen == {
        "captain": every,
        "admin": every,
        "inspector": {cases.own},
        "inspector2": {cases.team},
        "joint_team": {cases.team},
        # flagged (the case or its finding), a current suggestion, or referred
        "squad": {
            cases.flagged,
            cases.by_finding,
            cases.suggested,
            cases.referred,
            cases.other_naming_f7,
        },
        "procuratorate": {cases.referred},
        "clue_desk": set(),
    }
    may = {
        name: {c for c in every if await reference_allowed(db, who, "case", c)}
        for name, who in people.items()
    }
    assert may == {
        "captain": every,
        "admin": every,
        "inspector": {cases.own},
        "inspector2": {cases.team},
        "joint_team": {cases.team},
        # a suggestion alone shows the case, read-only until flagged
        "squad": {cases.flagged, cases.by_finding, cases.referred, cases.other_naming_f7},
        "procuratorate": set(),
        "clue_desk": set(),
    }
    assert not await reference_allowed(db, world.captain, "case", f["F1"])  # a finding's id


async def test_another_countys_captain_adds_no_evidence_to_a_case(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    case = await _case(db, world.captain)
    await db.commit()
    other = await other_world()
    assert await reference_allowed(db, world.captain, "case", case)
    assert not await reference_allowed(db, other.captain, "case", case)


async def test_the_squad_and_the_clue_desk_read_the_evidence_of_their_records(
    db: AsyncSession,
    world: World,
    store: S3ObjectStore,
    settings: Settings,
    other_world: Callable[[], Awaitable[World]],
) -> None:
    cases, _ = await _cases(db, world)
    captain, desk = world.captain, world.county.principal(Role.CLUE_DESK)

    async def photo(
        n: int, *, case_id: uuid.UUID | None = None, tip_off_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        data = media.jpeg(40 + n, 40)
        return await add_evidence(db, store, captain, data, case_id=case_id, tip_off_id=tip_off_id)

    named = await photo(1, case_id=cases.flagged)
    linked = await photo(2)
    of_plain = await photo(3)
    nothing = await photo(4)
    at_intake = await photo(5)
    await link_evidence(db, captain, cases.referred, [linked])
    await link_evidence(db, captain, cases.plain, [of_plain])
    tip_offs = TipOffService(db, TipOffSettings(), CustodyLog(b"k"), clock=lambda: clock.NOW)
    clue = await tip_offs.open_tip_off(
        desk,
        TipOffInput(
            channel="phone_12336",
            received_at=clock.NOW - timedelta(hours=1),
            facts="村东头有人挖耕地建房",
            clue_type="land_illegal_occupation",
            lon=LON,
            lat=LAT,
            evidence_ids=[at_intake],
        ),
    )
    of_clue = await photo(6, tip_off_id=clue.id)
    await db.commit()

    svc = EvidenceService(db, store, settings.evidence, NoLayersChecker())
    seen = {
        name: {e.id for e in (await svc.list_evidence(who)).items}
        for name, who in (("squad", world.squad), ("clue_desk", desk))
    }
    assert seen == {"squad": {named, linked}, "clue_desk": {at_intake, of_clue}}
    # the clue desk adds evidence to the county's tip-offs, as captains do; nobody else
    other = await other_world()
    answers = {
        name: await reference_allowed(db, who, "tip_off", clue.id)
        for name, who in (
            *_people(world).items(),
            ("other county's desk", other.county.principal(Role.CLUE_DESK)),
        )
    }
    assert {name for name, yes in answers.items() if yes} == {"captain", "admin", "clue_desk"}
    assert not await reference_allowed(db, desk, "tip_off", nothing)
    assert nothing not in seen["squad"] | seen["clue_desk"]


async def test_the_squad_sees_flagged_suggested_and_case_findings(
    db: AsyncSession, world: World
) -> None:
    _, f = await _cases(db, world)
    # F1, F8 flagged; F3 a current suggestion; F5 the source of a suggested case, F6 of a
    # flagged one; F2 the source of a case the squad does not see; F4's suggestion superseded;
    # F7 named by a flagged case of another kind
    sees = {"F1", "F3", "F5", "F6", "F8"}

    # what the squad may flag is what it sees (anything else: finding_not_found)
    flaggable = set()
    for name, finding_id in f.items():
        try:
            await flag_for_referral(db, world.squad, finding_id=finding_id, reason="x")
        except CaseNotFoundError as refused:
            assert refused.code == "finding_not_found"
        else:
            flaggable.add(name)
        await db.rollback()
    assert flaggable == sees

    # the squad's branch of the finding read rule, as REST and sync apply it
    async def branch(who: Principal) -> set[str]:
        rule = _squad_finding_sql().format(t="f", uid=f"CAST('{who.user_id}' AS UUID)")
        sql = f"SELECT f.id FROM patrol_findings f WHERE f.county_id = :county AND {rule}"
        ids = set((await db.execute(text(sql), {"county": world.county_id})).scalars())
        return {name for name, finding_id in f.items() if finding_id in ids}

    assert await branch(world.squad) == sees
    for who in (world.captain, world.inspector, world.joint_team):
        assert await branch(who) == set()  # their findings come from the other branches
