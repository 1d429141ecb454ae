"""Pushed edits of evidence captions and metadata: who may, conflicts, custody, replays."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.custody import CustodyLog
from evidence.models import CustodyEntry, Evidence, Upload
from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.conftest import CountyFixture
from tests.sync.conftest import Phone


async def _evidence(
    factory: async_sessionmaker[AsyncSession],
    county: CountyFixture,
    role: Role = Role.INSPECTOR,
    *,
    accepted: bool = True,
    case_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Rows of a photo as intake leaves them (the bytes are not needed for an edit)."""
    evidence_id, now = uuid7(), clock.now()
    key = f"originals/{county.id}/{evidence_id}-1"
    digest = hashlib.sha256(evidence_id.bytes).hexdigest()
    async with factory() as session:
        session.add(
            Upload(
                id=evidence_id, county_id=county.id, uploader_id=county.users[role].id,
                status="accepted" if accepted else "open", object_key=key, kind="photo",
                content_type="image/jpeg", size_bytes=1000, sha256=digest, device_lon=112.05,
                device_lat=28.5, device_accuracy_m=5.0, caption="远景", proves="",
                view_type="far", case_id=case_id,
            )
        )  # fmt: skip
        await session.flush()
        if accepted:
            session.add(
                Evidence(
                    id=evidence_id, county_id=county.id, kind="photo", media_type="image/jpeg",
                    size_bytes=1000, sha256=digest, original_key=key, captured_at=now,
                    captured_at_source="exif", received_at=now,
                    geom=WKTElement("POINT(112.05 28.5)", srid=4326), lon=112.05, lat=28.5,
                    position_source="file", position_accuracy_m=5.0,
                    accepted_by=county.users[role].id,
                )
            )  # fmt: skip
        await session.commit()
    return evidence_id


def edit(evidence_id: uuid.UUID, **kw: Any) -> dict[str, Any]:
    return {"type": "updateEvidence", "opId": str(uuid7()), "evidenceId": str(evidence_id), **kw}


async def test_uploader_and_captain_edit_captions_with_conflicts_and_custody(
    make_county: Any,
    phone: Any,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    county: CountyFixture = await make_county()
    ev = await _evidence(session_factory, county)
    inspector: Phone = phone(county.headers(Role.INSPECTOR))
    captain: Phone = phone(county.headers(Role.CAPTAIN))
    inspector.outbox = [edit(ev, caption="远景，西侧", viewType="far", base={"caption": "远景"})]
    batch = list(inspector.outbox)
    first = (await inspector.push())[0]
    assert (first["status"], first["recordId"]) == ("applied", str(ev)) and first["version"] > 0
    inspector.outbox = batch
    assert (await inspector.push())[0] == first  # a replay: the same receipt
    # the captain says what it proves; the inspector, offline, changed the same field
    captain.outbox = [edit(ev, proves="占用耕地", baseVersion=first["version"])]
    assert (await captain.push())[0]["status"] == "applied"
    inspector.outbox = [edit(ev, proves="挖砂", baseVersion=first["version"], base={"proves": ""})]
    clash = (await inspector.push())[0]
    assert clash["status"] == "conflict" and clash["code"] == "version_conflict"
    assert clash["conflict"]["fields"] == ["proves"]
    assert clash["conflict"]["serverValues"] == {"proves": "占用耕地"}
    # an edit of another field on the old version merges; the same values again: duplicate
    inspector.outbox = [
        edit(ev, viewType="close", baseVersion=first["version"], base={"viewType": "far"}),
        edit(ev, viewType="close"),
    ]
    assert [r["status"] for r in await inspector.push()] == ["applied", "duplicate"]
    async with session_factory() as session:
        upload = await session.get(Upload, ev)
        assert upload is not None
        stored = (upload.caption, upload.proves, upload.view_type)
        assert stored == ("远景，西侧", "占用耕地", "close")
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.subject_id == ev, CustodyEntry.action == "annotated")
                .order_by(CustodyEntry.seq)
            )
        ).all()
        assert [e.details["changes"] for e in entries] == [
            {"caption": {"from": "远景", "to": "远景，西侧"}},
            {"proves": {"from": "", "to": "占用耕地"}},
            {"view_type": {"from": "far", "to": "close"}},
        ]
        assert entries[1].actor_id == county.users[Role.CAPTAIN].id
        log = CustodyLog(settings.evidence.package_signing_key.encode())
        assert (await log.verify(session, county.id)).ok
        assert (await session.get(Evidence, ev)) is not None


async def test_who_may_edit_evidence(
    make_county: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    elsewhere: CountyFixture = await make_county()
    ev = await _evidence(session_factory, county)
    on_case = await _evidence(session_factory, county, case_id=uuid7())
    still_open = await _evidence(session_factory, county, accepted=False)
    theirs = await _evidence(session_factory, county, Role.JOINT_TEAM, accepted=False)
    codes = {}
    for name, headers, op in (
        ("team member", county.headers(Role.JOINT_TEAM), edit(ev, caption="x")),
        ("squad", county.headers(Role.SECURITY_SQUAD), edit(ev, caption="x")),
        ("squad, case", county.headers(Role.SECURITY_SQUAD), edit(on_case, caption="x")),
        ("other county", elsewhere.headers(Role.CAPTAIN), edit(ev, caption="x")),
        ("admin", county.headers(Role.ADMIN), edit(ev, caption="管理员改")),
        ("open, own", county.headers(Role.INSPECTOR), edit(still_open, caption="近景")),
        ("open, other's", county.headers(Role.CAPTAIN), edit(theirs, caption="x")),
        ("no such", county.headers(Role.INSPECTOR), edit(uuid7(), caption="x")),
        ("bad view", county.headers(Role.INSPECTOR), edit(ev, viewType="aerial")),
        ("too long", county.headers(Role.INSPECTOR), edit(ev, caption="长" * 4001)),
    ):
        p: Phone = phone(headers)
        p.outbox = [op]
        receipt = (await p.push())[0]
        codes[name] = receipt.get("code") or receipt["status"]
    assert codes == {
        "team member": "evidence_not_found",
        "squad": "evidence_not_found",
        "squad, case": "not_evidence_editor",
        "other county": "evidence_not_found",
        "admin": "applied",
        "open, own": "applied",
        "open, other's": "evidence_not_found",
        "no such": "evidence_not_found",
        "bad view": "invalid_op",
        "too long": "invalid_op",
    }
    async with session_factory() as session:
        upload = await session.get(Upload, still_open)
        assert upload is not None and upload.caption == "近景"
        # an upload not accepted yet has no custody chain of its own
        entries = await session.scalars(
            select(CustodyEntry).where(CustodyEntry.subject_id == still_open)
        )
        assert entries.all() == []
