"""County isolation and roles; abort; someone else's upload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from evidence import EvidenceFilter
from evidence.cases.cases import CaseInput, open_case
from evidence.cases.referrals import flag_for_referral
from evidence.errors import (
    EvidenceNotFoundError,
    NotUploadOwnerError,
    UploadAbortedError,
    UploadAlreadyAcceptedError,
    UploadNotFoundError,
)
from infra.scope import Principal
from tests.evidence import media
from tests.evidence.conftest import INSIDE, Kit, declaration
from tests.worlds import World


async def a_case(kit: Kit, opener: Principal, *, flag_by: Principal | None = None) -> object:
    """A case of the county opened by ``opener`` (flagged by ``flag_by`` when given)."""
    async with kit.session_factory() as session:
        data = CaseInput(cause="x", violation_kind="other", lon=INSIDE[0], lat=INSIDE[1])
        view = await open_case(session, opener, data)
        if flag_by is not None:
            await flag_for_referral(session, flag_by, case_id=view.id, reason="x")
        await session.commit()
    return view.id


async def test_another_county_sees_nothing(
    kit: Kit, county: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    other = await other_world()
    new = declaration(media.jpeg(), "image/jpeg")
    ticket = await kit.create(county.inspector, new)
    with pytest.raises(UploadNotFoundError):
        await kit.get(other.inspector, new)
    with pytest.raises(UploadNotFoundError):
        await kit.complete(other.captain, new)
    await kit.send(ticket, media.jpeg())
    evidence = await kit.complete(county.inspector, new)
    async with kit.session_factory() as session:
        svc = kit.service(session)
        with pytest.raises(EvidenceNotFoundError):
            await svc.get_evidence(other.captain, evidence.id)
        with pytest.raises(EvidenceNotFoundError):
            await svc.presign_original_download(other.captain, evidence.id)
        page = await svc.list_evidence(other.captain)
        assert evidence.id not in [e.id for e in page.items]


async def test_someone_elses_upload_cannot_be_completed_or_aborted(kit: Kit, county: World) -> None:
    new = declaration(media.jpeg(), "image/jpeg")
    await kit.create(county.inspector, new)
    with pytest.raises(NotUploadOwnerError):
        await kit.complete(county.inspector2, new)
    async with kit.session_factory() as session:
        with pytest.raises(NotUploadOwnerError):
            await kit.service(session).abort_upload(county.captain, new.evidence_id)


async def test_roles_see_what_they_need(kit: Kit, county: World) -> None:
    case_id = await a_case(kit, county.inspector, flag_by=county.captain)
    own = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    linked = await kit.accept(county.inspector, media.jpeg(200, 100), "image/jpeg", case_id=case_id)
    theirs = await kit.accept(county.inspector2, media.jpeg(100, 80), "image/jpeg")
    async with kit.session_factory() as session:
        svc = kit.service(session)
        seen = {
            name: {e.id for e in (await svc.list_evidence(getattr(county, name))).items}
            for name in ("inspector", "inspector2", "captain", "squad")
        }
        by_case = await svc.list_evidence(county.captain, EvidenceFilter(case_id=case_id))
    assert seen["inspector"] == {own.id, linked.id}
    assert seen["inspector2"] == {theirs.id}
    assert seen["captain"] == {own.id, linked.id, theirs.id}
    assert seen["squad"] == {linked.id}
    assert [e.id for e in by_case.items] == [linked.id]


async def test_list_filters_and_pages(kit: Kit, county: World) -> None:
    case_id = await a_case(kit, county.inspector)
    made = [
        await kit.accept(county.inspector, media.jpeg(100 + i, 100), "image/jpeg", case_id=case_id)
        for i in range(5)
    ]
    await kit.accept(
        county.inspector, media.jpeg(50, 50), "image/jpeg", lon=118.5, lat=41.5
    )  # outside the county
    async with kit.session_factory() as session:
        svc = kit.service(session)
        first = await svc.list_evidence(county.captain, EvidenceFilter(case_id=case_id), limit=3)
        assert first.next_cursor is not None
        second = await svc.list_evidence(
            county.captain,
            EvidenceFilter(case_id=case_id),
            limit=3,
            cursor=first.next_cursor,
        )
        flagged = await svc.list_evidence(
            county.captain, EvidenceFilter(any_flags=["outside_county"])
        )
        within = await svc.list_evidence(
            county.captain,
            EvidenceFilter(within_wkt="POLYGON((118 41, 119 41, 119 42, 118 42, 118 41))"),
        )
    ids = [e.id for e in first.items] + [e.id for e in second.items]
    assert sorted(ids) == sorted(e.id for e in made)
    assert second.next_cursor is None
    assert len(flagged.items) == 1
    assert [e.id for e in within.items] == [e.id for e in flagged.items]


async def test_abort(kit: Kit, county: World) -> None:
    new = declaration(media.video("mp4"), "video/mp4", part_size=5 * 1024 * 1024)
    await kit.create(county.inspector, new)
    async with kit.session_factory() as session:
        ticket = await kit.service(session).abort_upload(county.inspector, new.evidence_id)
        again = await kit.service(session).abort_upload(county.inspector, new.evidence_id)
        await session.commit()
    assert ticket.status == again.status == "aborted"
    with pytest.raises(UploadAbortedError):
        await kit.complete(county.inspector, new)
    with pytest.raises(UploadAbortedError):
        await kit.create(county.inspector, new)

    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    async with kit.session_factory() as session:
        with pytest.raises(UploadAlreadyAcceptedError):
            await kit.service(session).abort_upload(county.inspector, evidence.id)


async def test_flag_after_intake_is_logged(kit: Kit, county: World) -> None:
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    async with kit.session_factory() as session:
        svc = kit.service(session)
        flagged = await svc.flag_evidence(county.captain, evidence.id, "needs_review", note="x")
        history = await svc.custody_history(county.captain, evidence.id)
        await session.commit()
    assert "needs_review" in flagged.flags
    assert [e.action for e in history] == ["accepted", "flagged"]
