"""The custody chain's exact answers: the hash of an entry (which an outside verifier
recomputes, so its payload is pinned byte for byte), the links, the head, and the report of
``verify`` on clean, empty, cut and forged chains."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import custody
from evidence.custody import (
    GENESIS_HASH,
    ChainProblem,
    ChainReport,
    CustodyAction,
    CustodyLog,
    chain_head,
    entry_digest,
)
from evidence.models import CustodyEntry
from tests.worlds import World

KEY = b"custody-answers-key"
COUNTY = uuid.UUID("01900000-0000-7000-8000-000000000001")
SUBJECT = uuid.UUID("01900000-0000-7000-8000-000000000002")
ACTOR = uuid.UUID("01900000-0000-7000-8000-000000000003")
# 16:00 in Beijing is 08:00 UTC: the hash is of the UTC time, whatever zone it was given in
AT = datetime(2026, 11, 20, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
PREV = "ab" * 32
PAYLOAD = (
    '{"action":"viewed","actor_id":"01900000-0000-7000-8000-000000000003",'
    '"at":"2026-11-20T08:00:00.123456+00:00","county_id":"01900000-0000-7000-8000-000000000001",'
    '"details":{"n":1,"片区":"北片"},"prev_hash":"' + PREV + '","seq":7,'
    '"subject_id":"01900000-0000-7000-8000-000000000002"}'
).encode()
Factory = async_sessionmaker[AsyncSession]


def _digest(key: bytes, **kw: object) -> str:
    values: dict[str, object] = {
        "county_id": COUNTY,
        "seq": 7,
        "subject_id": SUBJECT,
        "action": "viewed",
        "actor_id": ACTOR,
        "at": AT,
        "details": {"片区": "北片", "n": 1},
        "prev_hash": PREV,
    } | kw
    return entry_digest(key, **values)  # type: ignore[arg-type]


def test_an_entrys_hash_is_an_hmac_of_its_canonical_json() -> None:
    assert _digest(KEY) == hmac.new(KEY, PAYLOAD, hashlib.sha256).hexdigest()
    assert _digest(KEY, at=AT.astimezone(UTC)) == _digest(KEY)


def test_without_a_key_the_hash_is_plain_sha256() -> None:
    assert _digest(b"") == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def beijing_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is China's (a server set up that way)."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
    assert os.environ.get("TZ") != "Asia/Shanghai"


@pytest.mark.usefixtures("beijing_local_time")
def test_the_hash_is_of_utc_whatever_the_servers_local_zone() -> None:
    assert _digest(KEY) == hmac.new(KEY, PAYLOAD, hashlib.sha256).hexdigest()


def test_a_missing_subject_or_actor_is_null_in_the_payload() -> None:
    payload = PAYLOAD.replace(b'"01900000-0000-7000-8000-000000000003"', b"null").replace(
        b'"01900000-0000-7000-8000-000000000002"', b"null"
    )
    assert _digest(b"", subject_id=None, actor_id=None) == hashlib.sha256(payload).hexdigest()


async def _rows(factory: Factory, county_id: uuid.UUID) -> list[object]:
    async with factory() as session:
        stmt = CustodyEntry.__table__.select().where(CustodyEntry.county_id == county_id)
        return list((await session.execute(stmt.order_by(CustodyEntry.seq))).all())


async def _append(factory: Factory, county: World, n: int) -> list[CustodyEntry]:
    log = CustodyLog(KEY)
    out = []
    async with factory() as session:
        for i in range(n):
            details: dict[str, object] = {"i": i, "名": "北片"}
            entry = await log.append(
                session,
                county_id=county.county_id,
                action=CustodyAction.VIEWED if i % 2 else "exported",
                subject_id=SUBJECT if i % 2 else None,
                actor_id=county.captain.user_id,
                details=details,
                at=AT + timedelta(seconds=i),
            )
            details["i"] = -1  # the stored entry keeps what was appended
            out.append(entry)
        await session.commit()
    return out


@pytest.mark.usefixtures("beijing_local_time")
async def test_appended_entries_link_each_to_the_one_before(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    entries = await _append(session_factory, county, 3)
    prev = GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        assert (entry.seq, entry.prev_hash) == (seq, prev)
        assert entry.action == ("viewed" if seq % 2 == 0 else "exported")
        assert entry.at == AT + timedelta(seconds=seq - 1)
        assert entry.at.utcoffset() == timedelta(0)
        assert entry.details == {"i": seq - 1, "名": "北片"}
        assert entry.entry_hash == entry_digest(
            KEY,
            county_id=cid,
            seq=seq,
            subject_id=entry.subject_id,
            action=entry.action,
            actor_id=county.captain.user_id,
            at=entry.at,
            details={"i": seq - 1, "名": "北片"},
            prev_hash=prev,
        )
        prev = entry.entry_hash
    async with session_factory() as session:
        assert await chain_head(session, cid) == (3, prev)
        report = await CustodyLog(KEY).verify(session, cid)
        history = await CustodyLog(KEY).entries_for(session, cid, SUBJECT)
    assert report == ChainReport(cid, entries=3, head_seq=3, head_hash=prev, problems=[])
    assert report.ok
    assert [e.seq for e in history] == [2]


async def test_an_empty_chain_starts_from_the_genesis_hash(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    async with session_factory() as session:
        assert await chain_head(session, cid) == (0, GENESIS_HASH)
        report = await CustodyLog(KEY).verify(session, cid)
    assert report == ChainReport(cid, entries=0, head_seq=0, head_hash=GENESIS_HASH)
    assert GENESIS_HASH == "0" * 64


async def test_details_that_are_not_json_are_refused_before_anything_is_stored(
    county: World, session_factory: Factory
) -> None:
    async with session_factory() as session:
        with pytest.raises(ValueError, match="JSON"):
            await CustodyLog(KEY).append(
                session,
                county_id=county.county_id,
                action="viewed",
                subject_id=None,
                actor_id=None,
                details={"x": float("nan")},
            )
        await session.rollback()
    assert await _rows(session_factory, county.county_id) == []


async def test_a_chain_cut_at_its_start_is_a_bad_start(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    entries = await _append(session_factory, county, 3)
    async with session_factory() as session:
        await session.execute(text("ALTER TABLE evidence_custody DISABLE TRIGGER USER"))
        await session.execute(
            text("DELETE FROM evidence_custody WHERE county_id = :c AND seq = 1"), {"c": cid}
        )
        report = await CustodyLog(KEY).verify(session, cid)
        await session.rollback()
    assert report == ChainReport(
        cid,
        entries=2,
        head_seq=3,
        head_hash=entries[2].entry_hash,
        problems=[ChainProblem(2, "bad_start"), ChainProblem(2, "broken_link")],
    )
    assert not report.ok


async def test_a_forged_chain_reports_at_most_a_hundred_problems(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    await _append(session_factory, county, 101)
    async with session_factory() as session:
        report = await CustodyLog(b"another key").verify(session, cid)
    assert report.problems == [ChainProblem(seq, "altered") for seq in range(1, 101)]
    assert (report.entries, report.head_seq) == (100, 100)


async def test_without_a_key_the_chain_is_plain_sha256(
    county: World, session_factory: Factory
) -> None:
    async with session_factory() as session:
        entry = await CustodyLog().append(
            session,
            county_id=county.county_id,
            action="viewed",
            subject_id=None,
            actor_id=None,
            details={},
            at=AT,
        )
        stored = entry.entry_hash
        await session.commit()
    assert stored == entry_digest(
        b"",
        county_id=county.county_id,
        seq=1,
        subject_id=None,
        action="viewed",
        actor_id=None,
        at=AT,
        details={},
        prev_hash=GENESIS_HASH,
    )


async def test_concurrent_appends_of_a_county_queue_for_the_next_number(
    county: World, session_factory: Factory
) -> None:
    held = asyncio.Event()

    async def append(i: int, hold: bool) -> int:
        async with session_factory() as session:
            if not hold:
                await held.wait()
            entry = await CustodyLog(KEY).append(
                session,
                county_id=county.county_id,
                action="viewed",
                subject_id=None,
                actor_id=None,
                details={"i": i},
                at=AT,
            )
            if hold:  # the other append starts while this one is uncommitted
                held.set()
                await asyncio.sleep(0.3)
            await session.commit()
            return entry.seq

    assert sorted(await asyncio.gather(append(1, True), append(2, False))) == [1, 2]
    async with session_factory() as session:
        assert (await CustodyLog(KEY).verify(session, county.county_id)).ok


async def _one(
    factory: Factory, cid: uuid.UUID, i: int, *, commit: bool = True
) -> tuple[CustodyEntry, bool]:
    """Append one entry in its own transaction; the entry and whether this process wrote it
    itself (in the session) rather than the database function on a right guess."""
    async with factory() as session:
        entry = await CustodyLog(KEY).append(
            session, county_id=cid, action="viewed", subject_id=SUBJECT, actor_id=None,
            details={"i": i}, at=AT + timedelta(seconds=i),
        )  # fmt: skip
        here = entry in session
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return entry, here


async def test_an_entry_the_database_writes_on_a_right_guess_is_the_one_hashed_here(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    custody._heads.pop(cid, None)  # a process that has not appended to this county yet
    first, first_here = await _one(session_factory, cid, 1)
    second, second_here = await _one(session_factory, cid, 2)
    # the first had nothing to guess (written here after the database answered the head),
    # the second guessed the first and the database wrote it
    assert (first_here, second_here) == (True, False)
    assert custody._heads[cid] == (2, second.entry_hash)
    rows = await _rows(session_factory, cid)
    names = ("id", "county_id", "seq", "subject_id", "action", "actor_id", "at", "details",
             "prev_hash", "entry_hash")  # fmt: skip
    assert [{n: r._mapping[n] for n in names} for r in rows] == [  # type: ignore[attr-defined]
        {"id": e.id, "county_id": cid, "seq": e.seq, "subject_id": SUBJECT, "action": "viewed",
         "actor_id": None, "at": e.at, "details": {"i": i}, "prev_hash": e.prev_hash,
         "entry_hash": e.entry_hash}
        for i, e in ((1, first), (2, second))
    ]  # fmt: skip
    assert (second.seq, second.prev_hash) == (2, first.entry_hash)
    async with session_factory() as session:
        assert (await CustodyLog(KEY).verify(session, cid)).ok


async def test_a_wrong_guess_costs_a_statement_never_a_link(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    await _one(session_factory, cid, 1)
    # another process appended meanwhile: this process's guess is an entry that is not the head
    custody._heads[cid] = (7, "ab" * 32)
    entry, here = await _one(session_factory, cid, 2)
    assert here and (entry.seq, entry.prev_hash) != (8, "ab" * 32)
    assert entry.seq == 2
    # a transaction that rolled back after its append: its entry was guessed on, and is gone
    gone, _ = await _one(session_factory, cid, 3, commit=False)
    assert custody._heads[cid] == (3, gone.entry_hash)
    after, here = await _one(session_factory, cid, 4)
    assert here and (after.seq, after.prev_hash) == (3, entry.entry_hash)
    async with session_factory() as session:
        report = await CustodyLog(KEY).verify(session, cid)
    assert report == ChainReport(cid, entries=3, head_seq=3, head_hash=after.entry_hash)


async def test_a_burst_of_appends_with_rollbacks_among_them_leaves_one_gapless_chain(
    county: World, session_factory: Factory
) -> None:
    cid = county.county_id
    await _one(session_factory, cid, 0)  # the process has appended to this county before
    results = await asyncio.gather(
        *(_one(session_factory, cid, i, commit=i % 10 != 0) for i in range(1, 31))
    )
    kept = [entry for i, (entry, _) in enumerate(results, start=1) if i % 10 != 0]
    async with session_factory() as session:
        report = await CustodyLog(KEY).verify(session, cid)
    assert report.ok and report.entries == len(kept) + 1 == 28
    assert sorted(e.seq for e in kept) == list(range(2, 29))
    # whether guesses were right depends on the order the appends reached the database (new
    # pool connections open at different speeds): not asserted, only that the chain is whole


async def test_the_chain_is_walked_by_sequence_not_by_storage_order(
    county: World, session_factory: Factory
) -> None:
    # a restore or a table rewrite may store the rows in another order: the first two are
    # moved to wherever PostgreSQL finds room (the shared database's free space decides
    # where), again until the storage order is no longer the sequence
    cid = county.county_id
    entries = await _append(session_factory, county, 4)
    async with session_factory() as session:
        await session.execute(text("ALTER TABLE evidence_custody DISABLE TRIGGER USER"))
        stored: list[int] = [1, 2, 3, 4]
        for _ in range(10):
            for seq in (1, 2):
                where = "county_id = :c AND seq = :s"
                await session.execute(
                    text(
                        f"CREATE TEMP TABLE moved AS SELECT * FROM evidence_custody WHERE {where}"
                    ),
                    {"c": cid, "s": seq},
                )
                await session.execute(
                    text(f"DELETE FROM evidence_custody WHERE {where}"), {"c": cid, "s": seq}
                )
                await session.execute(text("INSERT INTO evidence_custody SELECT * FROM moved"))
                await session.execute(text("DROP TABLE moved"))
            stored = list(
                (
                    await session.execute(
                        text("SELECT seq FROM evidence_custody WHERE county_id = :c ORDER BY ctid"),
                        {"c": cid},
                    )
                )
                .scalars()
                .all()
            )
            if stored != sorted(stored):
                break
        report = await CustodyLog(KEY).verify(session, cid)
        history = [e.seq for e in await CustodyLog(KEY).entries_for(session, cid, SUBJECT)]
        await session.rollback()
    assert sorted(stored) == [1, 2, 3, 4] and stored != [1, 2, 3, 4]  # what this test is about
    assert report == ChainReport(cid, entries=4, head_seq=4, head_hash=entries[3].entry_hash)
    assert history == [2, 4]
