"""Need-to-know for evidence, answer by answer: which records each role may attach evidence
to (``CreateUpload``'s references), whose evidence of a patrol each one reads, a case's
evidence linked after upload, and the case rule rendered as SQL for sync against the one
REST applies.

One county (and another one) with rows written directly: patrol P led by the inspector with
the joint-team member along, patrol Q led by the second inspector; finding F on P reported by
the companion, G on Q reported by the inspector (not on Q), H on Q flagged for referral; a
mine site of the county.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import shapely
from geoalchemy2.elements import WKTElement
from sqlalchemy import select, text

from evidence import EvidenceFilter
from evidence.access import linked_to, reference_allowed
from evidence.cases.access import visible_cases_sql
from evidence.cases.cases import CaseInput, link_evidence, list_cases, open_case
from evidence.cases.referrals import flag_for_referral
from evidence.errors import ReferenceNotFoundError
from evidence.models import Evidence, Upload
from geofence import SiteInput, create_mine_site
from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol.field_models import Finding, PatrolSession
from tests import clock
from tests.evidence import media
from tests.evidence.conftest import INSIDE, Kit, declaration
from tests.worlds import World


@dataclass
class Records:
    patrol: uuid.UUID  # P: the inspector leads, the joint-team member along
    other_patrol: uuid.UUID  # Q: the second inspector leads, alone
    finding: uuid.UUID  # F on P, reported by the companion
    reported: uuid.UUID  # G on Q, reported by the inspector
    flagged: uuid.UUID  # H on Q, reported by the second inspector, flagged for referral
    site: uuid.UUID


async def _records(kit: Kit, world: World) -> Records:
    now = clock.now()
    point = WKTElement(f"POINT({INSIDE[0]} {INSIDE[1]})", srid=4326)
    async with kit.session_factory() as session:

        def patrol(leader: Principal, companions: list[uuid.UUID]) -> uuid.UUID:
            row = PatrolSession(
                id=uuid7(),
                county_id=world.county_id,
                area_id=world.area.id,
                inspector_id=leader.user_id,
                companion_ids=companions,
                started_at=now,
            )
            session.add(row)
            return row.id

        def finding(patrol_id: uuid.UUID, reporter: Principal) -> uuid.UUID:
            row = Finding(
                id=uuid7(),
                county_id=world.county_id,
                session_id=patrol_id,
                reported_by=reporter.user_id,
                found_at=now,
                project_name="河道采砂点",
                construction_status="active",
                geom=point,
            )
            session.add(row)
            return row.id

        p = patrol(world.inspector, [world.joint_team.user_id])
        q = patrol(world.inspector2, [])
        await session.flush()
        f = finding(p, world.joint_team)
        g = finding(q, world.inspector)
        h = finding(q, world.inspector2)
        await session.flush()
        await flag_for_referral(session, world.captain, finding_id=h, reason="盗采砂石")
        site = await create_mine_site(
            session,
            world.captain,
            SiteInput(code="KS-9", name="老虎冲采石场", geometry=shapely.Point(*INSIDE)),
        )
        await session.commit()
    return Records(p, q, f, g, h, site.id)


async def _allowed(kit: Kit, who: Principal, kind: str, record_id: uuid.UUID) -> bool:
    async with kit.session_factory() as session:
        return await reference_allowed(session, who, kind, record_id)


async def test_each_role_may_attach_evidence_to_the_records_it_works_on(
    kit: Kit, county: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    r = await _records(kit, county)
    stranger = (await other_world()).captain
    c = county
    people = {
        "captain": c.captain,
        "admin": c.admin,
        "inspector": c.inspector,
        "inspector2": c.inspector2,
        "joint_team": c.joint_team,
        "squad": c.squad,
        "clue_desk": c.county.principal(Role.CLUE_DESK),
        "procuratorate": c.county.principal(Role.PROCURATORATE),
        "other county's captain": stranger,
    }
    may = {
        ("patrol", r.patrol): {"captain", "admin", "inspector", "joint_team"},
        ("patrol", r.other_patrol): {"captain", "admin", "inspector2"},
        ("finding", r.finding): {"captain", "admin", "inspector", "joint_team"},
        ("finding", r.reported): {"captain", "admin", "inspector", "inspector2"},
        ("finding", r.flagged): {"captain", "admin", "inspector2", "squad"},
        # the county's register is everyone's reference data, within the county
        ("mine_site", r.site): set(people) - {"other county's captain"},
        # an id that exists nowhere, and records under another kind's name
        ("patrol", uuid7()): set(),
        ("finding", r.patrol): set(),
        ("mine_site", r.finding): set(),
        ("patrol", r.site): set(),
    }
    answers = {
        (kind, record): {
            name for name, who in people.items() if await _allowed(kit, who, kind, record)
        }
        for kind, record in may
    }
    assert answers == may
    # a kind nobody registered is refused, even to a captain
    assert not await _allowed(kit, c.captain, "parcel", r.site)


async def test_an_upload_naming_a_patrol_the_caller_is_not_on_is_refused(
    kit: Kit, county: World
) -> None:
    r = await _records(kit, county)
    new = declaration(media.jpeg(), "image/jpeg", patrol_session_id=r.patrol)
    with pytest.raises(ReferenceNotFoundError) as refused:
        await kit.create(county.inspector2, new)
    assert refused.value.code == "reference_not_found"
    assert refused.value.extra == {"field": "patrol_id"}
    ticket = await kit.create(county.joint_team, new)  # the companion may
    assert ticket.status == "open"


async def test_the_crew_reads_the_evidence_of_its_patrol_and_no_one_else_on_the_field(
    kit: Kit, county: World
) -> None:
    r = await _records(kit, county)
    by_leader = await kit.accept(
        county.inspector, media.jpeg(), "image/jpeg", patrol_session_id=r.patrol
    )
    by_companion = await kit.accept(
        county.joint_team, media.jpeg(90, 60), "image/jpeg", patrol_session_id=r.patrol
    )
    on_q = await kit.accept(
        county.inspector2, media.jpeg(60, 90), "image/jpeg", patrol_session_id=r.other_patrol
    )
    async with kit.session_factory() as session:
        svc = kit.service(session)
        seen = {
            name: {e.id for e in (await svc.list_evidence(getattr(county, name))).items}
            for name in ("inspector", "joint_team", "inspector2", "squad", "captain")
        }
    both = {by_leader.id, by_companion.id}
    assert seen["inspector"] == both  # the leader reads the companion's too
    assert seen["joint_team"] == both  # the companion reads the leader's too
    assert seen["inspector2"] == {on_q.id}  # leading another patrol shows nothing of P
    assert seen["squad"] == set()
    assert seen["captain"] == both | {on_q.id}


async def test_evidence_linked_to_a_case_after_upload_is_listed_under_the_case(
    kit: Kit, county: World
) -> None:
    async with kit.session_factory() as session:
        data = CaseInput(cause="x", violation_kind="other", lon=INSIDE[0], lat=INSIDE[1])
        case = (await open_case(session, county.inspector, data)).id
        await session.commit()
    named = await kit.accept(county.inspector, media.jpeg(), "image/jpeg", case_id=case)
    linked = await kit.accept(county.inspector, media.jpeg(90, 60), "image/jpeg")
    await kit.accept(county.inspector, media.jpeg(60, 90), "image/jpeg")  # neither
    elsewhere = await kit.accept(county.inspector, media.jpeg(70, 70), "image/jpeg")
    async with kit.session_factory() as session:
        await link_evidence(session, county.captain, case, [linked.id])
        data = CaseInput(cause="y", violation_kind="other", lon=INSIDE[0], lat=INSIDE[1])
        another = (await open_case(session, county.captain, data)).id
        await link_evidence(session, county.captain, another, [elsewhere.id])
        await session.commit()
        page = await kit.service(session).list_evidence(
            county.captain, EvidenceFilter(case_id=case)
        )
        # a kind nobody links evidence to holds none
        of_patrol = await session.scalars(
            select(Evidence.id)
            .join(Upload, Upload.id == Evidence.id)
            .where(Evidence.county_id == county.county_id, linked_to("patrol", case))
        )
        assert list(of_patrol) == []
    assert {e.id for e in page.items} == {named.id, linked.id}


async def test_sync_renders_the_case_rule_rest_applies_for_every_role(
    kit: Kit, county: World
) -> None:
    async with kit.session_factory() as session:

        def case(cause: str) -> CaseInput:
            return CaseInput(cause=cause, violation_kind="other", lon=INSIDE[0], lat=INSIDE[1])

        mine = (await open_case(session, county.inspector, case("mine"))).id
        flagged = (await open_case(session, county.inspector2, case("flagged"))).id
        await flag_for_referral(session, county.captain, case_id=flagged, reason="x")
        await session.commit()
        people = {role: county.county.principal(role) for role in Role}
        people_rest = {
            role: {c.id for c in await list_cases(session, who)} for role, who in people.items()
        }
        people_sql: dict[Role, set[uuid.UUID]] = {}
        for role, who in people.items():
            sql = visible_cases_sql(
                county=f"CAST('{county.county_id}' AS UUID)",
                uid=f"CAST('{who.user_id}' AS UUID)",
                role=f"'{role.value}'",
            )
            people_sql[role] = set((await session.execute(text(sql))).scalars())
        inspector2 = {c.id for c in await list_cases(session, county.inspector2)}
    assert (
        people_rest
        == people_sql
        == {
            Role.INSPECTOR: {mine},
            Role.JOINT_TEAM: set(),
            Role.CAPTAIN: {mine, flagged},
            Role.SECURITY_SQUAD: {flagged},
            Role.ADMIN: {mine, flagged},
            Role.CLUE_DESK: set(),
            Role.PROCURATORATE: set(),
        }
    )
    assert inspector2 == {flagged}
