"""The custody log: hash-chained per county, append-only, tampering detected."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from evidence import CustodyLog
from evidence.models import CustodyEntry
from tests.evidence import media
from tests.evidence.conftest import Kit
from tests.worlds import World


async def _three_entries(kit: Kit, county: World) -> None:
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    async with kit.session_factory() as session:
        svc = kit.service(session)
        await svc.presign_original_download(county.captain, evidence.id)
        await svc.presign_original_download(county.inspector, evidence.id, inline=True)
        await session.commit()


async def test_entries_chain_and_verify(kit: Kit, county: World) -> None:
    await _three_entries(kit, county)
    log = CustodyLog(kit.settings.package_signing_key.encode())
    async with kit.session_factory() as session:
        report = await log.verify(session, county.county_id)  # type: ignore[arg-type]
        rows = (
            await session.scalars(
                CustodyEntry.__table__.select()
                .where(CustodyEntry.county_id == county.county_id)
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert report.ok, report.problems
    assert report.entries == 3
    assert report.head_seq == 3
    assert len(rows) == 3


async def test_the_database_refuses_updates_and_deletes(kit: Kit, county: World) -> None:
    await _three_entries(kit, county)
    for statement in (
        "UPDATE evidence_custody SET action = 'x' WHERE county_id = :c",
        "DELETE FROM evidence_custody WHERE county_id = :c",
        "DELETE FROM evidence WHERE county_id = :c",
        "UPDATE evidence SET sha256 = repeat('0', 64) WHERE county_id = :c",
    ):
        async with kit.session_factory() as session:
            with pytest.raises(DBAPIError, match=r"append-only|never"):
                await session.execute(text(statement), {"c": county.county_id})
            await session.rollback()


async def test_altered_or_removed_entries_are_detected(kit: Kit, county: World) -> None:
    await _three_entries(kit, county)
    log = CustodyLog(kit.settings.package_signing_key.encode())
    params = {"c": county.county_id}
    async with kit.session_factory() as session:
        # Someone with the table owner's rights switches the guard off and edits history.
        await session.execute(text("ALTER TABLE evidence_custody DISABLE TRIGGER USER"))
        await session.execute(
            text(
                'UPDATE evidence_custody SET details = details || \'{"role": "admin"}\' '
                "WHERE county_id = :c AND seq = 2"
            ),
            params,
        )
        report = await log.verify(session, county.county_id)  # type: ignore[arg-type]
        assert [(p.seq, p.problem) for p in report.problems] == [(2, "altered")]

        # Recomputing the hash without the key does not help: the HMAC differs.
        await session.execute(
            text(
                "UPDATE evidence_custody SET entry_hash = encode(sha256(details::text::bytea), "
                "'hex') WHERE county_id = :c AND seq = 2"
            ),
            params,
        )
        report = await log.verify(session, county.county_id)  # type: ignore[arg-type]
        assert (2, "altered") in [(p.seq, p.problem) for p in report.problems]
        assert (3, "broken_link") in [(p.seq, p.problem) for p in report.problems]

        await session.rollback()

    async with kit.session_factory() as session:
        await session.execute(text("ALTER TABLE evidence_custody DISABLE TRIGGER USER"))
        await session.execute(
            text("DELETE FROM evidence_custody WHERE county_id = :c AND seq = 2"), params
        )
        report = await log.verify(session, county.county_id)  # type: ignore[arg-type]
        problems = {(p.seq, p.problem) for p in report.problems}
        assert problems == {(3, "missing_entries"), (3, "broken_link")}
        await session.rollback()

    async with kit.session_factory() as session:
        report = await log.verify(session, county.county_id)  # type: ignore[arg-type]
        assert report.ok  # everything above was rolled back


async def test_a_wrong_key_fails_every_entry(kit: Kit, county: World) -> None:
    await _three_entries(kit, county)
    async with kit.session_factory() as session:
        report = await CustodyLog(b"another key").verify(session, county.county_id)  # type: ignore[arg-type]
    assert {p.problem for p in report.problems} == {"altered"}
    assert len(report.problems) == 3
